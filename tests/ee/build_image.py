# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build the image that holds the execution environment's content from Debian packages (tests/ee/Dockerfile).

ansible-builder builds only on RPM-based images, and no registry is reachable here, so the image of
execution-environment.yml cannot be built here. This one holds the same content on usdx-sandbox/base:bookworm
(sandbox/images/base/build.sh, made from Debian packages): the collection from the tarball `ansible-galaxy collection
build` makes, the collections it depends on (copied from the controller's ansible bundle: no Galaxy here), what
`ansible-builder introspect` finds in all of them (with execution-environment.yml's exclusions), and ansible-core,
ansible-runner and those requirements at pyproject.toml's pins.

The build context is assembled in build/ee-image/. The image carries a label with the hash of everything that goes
into it (the collections by their MANIFEST.json, which holds the checksum of every file), and an image whose label
matches is not rebuilt: the collection unchanged, a run takes about a second.

    .venv/bin/python tests/ee/build_image.py [--image NAME] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import shutil
import ssl
import subprocess
import sys
import tarfile
import time
import tomllib
import typing as t

import yaml
from packaging.requirements import Requirement

REPO = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent
VENV_BIN = pathlib.Path(sys.executable).parent
CONTEXT = REPO / "build" / "ee-image"
DEFAULT_IMAGE = "usdx-incident/ee:bookworm"
BASE_IMAGE = "usdx-sandbox/base:bookworm"
BASE_BUILD = REPO / "sandbox" / "images" / "base" / "build.sh"
LABEL = "io.usdx-incident.ee.content"
TARBALL = "usdx-incident.tar.gz"
# Deadlines of the outside calls: the base image is built from Debian packages (~1 min), the image downloads its
# packages from Debian and PyPI (~2 min on this machine).
BASE_TIMEOUT = 1200
BUILD_TIMEOUT = 1800
TOOL_TIMEOUT = 300
# Files of the context that are hashed by their bytes; the collections are hashed by their MANIFEST.json.
HASHED_FILES = ("Dockerfile", "constraints.txt", "requirements.txt", "bindep.txt", "ca-certificates.crt")


def log(message: str) -> None:
    print(f"[ee-image] {message}", flush=True)


def run(command: list[str], timeout: float, **kwargs: t.Any) -> subprocess.CompletedProcess[str]:
    """A command that must succeed; its output is shown only when it fails."""
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if proc.returncode != 0:
        sys.exit(f"build_image.py: {' '.join(command[:4])} ... failed (rc {proc.returncode}):\n"
                 f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def bundle_collections() -> pathlib.Path:
    """The collections of this Python's ansible bundle (.venv/lib/python3.11/site-packages/ansible_collections)."""
    import ansible  # pylint: disable=import-outside-toplevel  # the venv's ansible-core, only to find its site-packages

    path = pathlib.Path(ansible.__file__).resolve().parents[1] / "ansible_collections"
    if not path.is_dir():
        sys.exit(f"build_image.py: no ansible bundle next to ansible-core ({path} is missing): pip install ansible")
    return path


def ca_bundle() -> pathlib.Path:
    """The certificate authorities this machine's pip trusts: pip in the image build reaches PyPI the same way
    (through whatever TLS-inspecting proxy the machine's own trust store accounts for)."""
    for candidate in (os.environ.get("PIP_CERT"), os.environ.get("SSL_CERT_FILE"),
                      ssl.get_default_verify_paths().openssl_cafile):
        if candidate and os.path.isfile(candidate):
            return pathlib.Path(candidate)
    sys.exit("build_image.py: no CA bundle found (PIP_CERT, SSL_CERT_FILE, the OpenSSL default): "
             "pip could not verify PyPI")


def pinned_requirements() -> list[str]:
    """pyproject.toml's dependencies, the ansible bundle aside (its collections are copied, not installed)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [dep for dep in project["dependencies"] if Requirement(dep).name != "ansible"]


def excluded_python() -> list[str]:
    """The Python requirements execution-environment.yml excludes from the introspected ones."""
    definition = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    return list(((definition.get("dependencies") or {}).get("exclude") or {}).get("python") or [])


def manifest(path: pathlib.Path) -> dict[str, t.Any]:
    return json.loads((path / "MANIFEST.json").read_text())


def tarball_manifest(tarball: pathlib.Path) -> bytes:
    with tarfile.open(tarball) as archive:
        member = archive.extractfile("MANIFEST.json")
        if member is None:
            sys.exit(f"build_image.py: {tarball} has no MANIFEST.json")
        return member.read()


def dependencies(tarball: pathlib.Path, bundle: pathlib.Path) -> dict[str, pathlib.Path]:
    """Every collection the tarball depends on, directly or not, from the bundle: name -> its directory."""
    found: dict[str, pathlib.Path] = {}
    pending = list(json.loads(tarball_manifest(tarball))["collection_info"]["dependencies"])
    while pending:
        name = pending.pop()
        if name in found:
            continue
        path = bundle.joinpath(*name.split("."))
        if not (path / "MANIFEST.json").is_file():
            sys.exit(f"build_image.py: the collection needs {name}, which the ansible bundle at {bundle} does not have")
        found[name] = path
        pending.extend(manifest(path)["collection_info"]["dependencies"])
    return found


def stage(context: pathlib.Path) -> pathlib.Path:
    """Assemble the build context; returns the collection's tarball in it."""
    shutil.rmtree(context, ignore_errors=True)
    dist = context / "dist"
    run([str(VENV_BIN / "ansible-galaxy"), "collection", "build", "--force", "--output-path", str(dist), str(REPO)],
        TOOL_TIMEOUT)
    tarball = context / TARBALL
    shutil.copy2(next(dist.glob("usdx-incident-*.tar.gz")), tarball)
    shutil.copy2(HERE / "Dockerfile", context / "Dockerfile")
    shutil.copytree(HERE / "apt", context / "apt")
    shutil.copy2(ca_bundle(), context / "ca-certificates.crt")

    collections = context / "collections" / "ansible_collections"
    for name, path in sorted(dependencies(tarball, bundle_collections()).items()):
        shutil.copytree(path, collections.joinpath(*name.split(".")),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))

    # What ansible-builder's introspection finds in the installed collections, as the EE build runs it.
    introspect = context / "introspect"
    shutil.copytree(collections, introspect / "ansible_collections", symlinks=True)
    # The collections path set to that directory alone: ansible-galaxy would take a usdx.incident found on the
    # configured one (the checkout's link) for installed already.
    run([str(VENV_BIN / "ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "-p", str(introspect),
         str(tarball)], TOOL_TIMEOUT, env={**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(introspect)})
    exclude = context / "exclude-requirements.txt"
    exclude.write_text("".join(f"{name}\n" for name in excluded_python()))
    run([str(VENV_BIN / "ansible-builder"), "introspect", str(introspect), f"--exclude-pip-reqs={exclude}",
         f"--write-pip={context / 'requirements.txt'}", f"--write-bindep={context / 'bindep.txt'}"], TOOL_TIMEOUT)
    (context / "constraints.txt").write_text("".join(f"{dep}\n" for dep in pinned_requirements()))
    return tarball


def content_hash(context: pathlib.Path, tarball: pathlib.Path) -> str:
    """The hash of what the image is made of: the base image, the context's files, every collection's manifest."""
    digest = hashlib.sha256()
    base_id = run(["docker", "image", "inspect", "-f", "{{.Id}}", BASE_IMAGE], TOOL_TIMEOUT).stdout.strip()
    digest.update(base_id.encode())
    parts = [(name, (context / name).read_bytes()) for name in HASHED_FILES]
    parts += [(str(p.relative_to(context)), p.read_bytes())
              for p in sorted((context / "apt").rglob("*")) if p.is_file()]
    parts += [(str(p.relative_to(context)), p.read_bytes())
              for p in sorted((context / "collections").glob("ansible_collections/*/*/MANIFEST.json"))]
    parts.append((TARBALL, tarball_manifest(tarball)))
    for name, data in parts:
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:16]


def image_id_and_label(image: str) -> tuple[str, str]:
    """The image's id and content label; empty strings when there is no such image."""
    proc = subprocess.run(["docker", "image", "inspect", "-f", f'{{{{.Id}}}} {{{{ index .Config.Labels "{LABEL}" }}}}',
                           image], capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False)
    image_id, label = (proc.stdout.strip().split(" ", 1) + [""])[:2]
    return (image_id, label) if proc.returncode == 0 else ("", "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default=os.environ.get("USDX_EE_IMAGE", DEFAULT_IMAGE),
                        help=f"image name (default $USDX_EE_IMAGE or {DEFAULT_IMAGE})")
    parser.add_argument("--force", action="store_true", help="build even when the image's content label matches")
    options = parser.parse_args()

    started = time.monotonic()
    run([str(BASE_BUILD)], BASE_TIMEOUT)  # usdx-sandbox/base:bookworm, skipped when up to date
    tarball = stage(CONTEXT)
    wanted = content_hash(CONTEXT, tarball)
    previous, label = image_id_and_label(options.image)
    if not options.force and label == wanted:
        log(f"{options.image} is up to date (content {wanted}), checked in {time.monotonic() - started:.1f}s")
        return 0
    log(f"building {options.image} (content {wanted}) from {CONTEXT}")
    build_started = time.monotonic()
    # The legacy builder, whatever the client's default: Debian's docker.io has no buildx. --force-rm: a failing
    # step leaves no stopped container behind.
    proc = subprocess.run(["docker", "build", "--force-rm", "--label", f"{LABEL}={wanted}", "-t", options.image,
                           str(CONTEXT)],
                          capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False,
                          env={**os.environ, "DOCKER_BUILDKIT": "0"})
    if proc.returncode != 0:
        sys.exit(f"build_image.py: docker build failed (rc {proc.returncode}):\n"
                 f"{proc.stdout[-6000:]}\n{proc.stderr[-4000:]}")
    cached = proc.stdout.count("Using cache")
    if previous and previous != image_id_and_label(options.image)[0]:
        # The image this one replaces, untagged now: removed unless a container still uses it.
        subprocess.run(["docker", "image", "rm", previous], capture_output=True, timeout=TOOL_TIMEOUT, check=False)
    log(f"built {options.image} in {time.monotonic() - build_started:.0f}s ({cached} steps from the cache), "
        f"{time.monotonic() - started:.0f}s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
