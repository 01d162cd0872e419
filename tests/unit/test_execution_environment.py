# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The execution environment definition: what ansible-builder makes of it, without building the image.

ansible-builder builds only on RPM-based images and no registry is reachable here, so `ansible-builder create`
writes the build context and this checks it field by field; ansible-builder's own introspection runs on the
collection installed from its tarball. The image's content is proven at run time by tests/ee/ and
tests/integration/test_ee_isolated.py (docs/execution-environment.md).
"""

from __future__ import annotations

import ast
import json
import os
import pathlib
import re
import subprocess
import sys
import tarfile
import tomllib
import typing as t

import pytest
import yaml
from bindep.depends import Depends
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
DEFINITION = yaml.safe_load((REPO / "execution-environment.yml").read_text())
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
PINS = {Requirement(dep).name: dep for dep in PYPROJECT["dependencies"]}
TARBALL = f"usdx-incident-{GALAXY['version']}.tar.gz"
BASE_IMAGE = "quay.io/ansible/awx-ee:24.6.1"
EE_PYTHON = "/usr/bin/python3.11"
ORIGIN = "  # from collection usdx.incident"


def bundle() -> pathlib.Path:
    """The collections of the venv's ansible bundle: the versions CI tests."""
    import ansible  # pylint: disable=import-outside-toplevel

    return pathlib.Path(ansible.__file__).resolve().parents[1] / "ansible_collections"


def bundled_version(name: str) -> str:
    return json.loads((bundle().joinpath(*name.split(".")) / "MANIFEST.json").read_text())["collection_info"]["version"]


def requirement_lines(path: pathlib.Path) -> list[str]:
    """The requirement lines of a pip or bindep file, comments and blank lines dropped."""
    lines = (raw.strip() for raw in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def run(*command: str, cwd: pathlib.Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, check=False, timeout=300)
    assert proc.returncode == 0, f"{' '.join(command)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


class Context(t.NamedTuple):
    root: pathlib.Path
    tarball: pathlib.Path
    context: pathlib.Path
    collections: pathlib.Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Context:
    """The tarball and the build context, as `make ee-context` makes them, in a directory of their own; and a
    collections directory with the tarball installed next to its dependencies, as the image's galaxy stage has it."""
    root = tmp_path_factory.mktemp("ee")
    (root / "execution-environment.yml").write_text((REPO / "execution-environment.yml").read_text())
    run(str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(root / "build"), str(REPO), cwd=root)
    run(str(BIN / "ansible-builder"), "create", "-f", "execution-environment.yml", "--context", "context",
        "--output-filename", "Containerfile", cwd=root)

    collections = root / "collections"
    for name in ("community.docker", "community.library_inventory_filtering_v1", "community.postgresql",
                 "community.general"):
        namespace, collection = name.split(".")
        (collections / "ansible_collections" / namespace).mkdir(parents=True, exist_ok=True)
        (collections / "ansible_collections" / namespace / collection).symlink_to(bundle() / namespace / collection)
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(collections)}
    run(str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "--no-deps", "-p", str(collections),
        str(root / "build" / TARBALL), cwd=root, env=env)
    return Context(root, root / "build" / TARBALL, root / "context", collections)


# ------------------------------------------------------------------------------------------------ the definition

def test_definition_pins_what_ci_tests() -> None:
    dependencies = DEFINITION["dependencies"]
    assert DEFINITION["version"] == 3
    assert DEFINITION["images"]["base_image"]["name"] == BASE_IMAGE
    assert dependencies["ansible_core"]["package_pip"] == PINS["ansible-core"]
    assert dependencies["ansible_runner"]["package_pip"] == PINS["ansible-runner"]
    assert dependencies["python_interpreter"]["python_path"] == EE_PYTHON
    # The collection from the tarball of this version, copied into the context under the path the galaxy stage reads.
    collections = {c["name"]: c for c in dependencies["galaxy"]["collections"]}
    assert collections[f"collections/{TARBALL}"]["type"] == "file"
    assert DEFINITION["additional_build_files"] == [{"src": f"build/{TARBALL}", "dest": "collections"}]
    # Every dependency of galaxy.yml, at the version pyproject.toml's ansible bundle has, within galaxy.yml's range.
    named = {name: c["version"] for name, c in collections.items() if "type" not in c}
    assert sorted(named) == sorted(GALAXY["dependencies"])
    for name, version in named.items():
        assert version == bundled_version(name), f"{name}: the EE pins {version}, CI tests {bundled_version(name)}"
        assert version in SpecifierSet(GALAXY["dependencies"][name]), f"{name} {version} outside galaxy.yml's range"


def test_collection_metadata_names_its_dependency_files() -> None:
    meta = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text())
    assert meta == {"version": 1, "dependencies": {"python": "requirements.txt", "system": "bindep.txt"}}
    for line in requirement_lines(REPO / "requirements.txt"):
        Requirement(line)  # pip's format, or InvalidRequirement


def third_party_imports(paths: t.Iterable[pathlib.Path]) -> dict[str, set[str]]:
    """Top-level modules these files import that are neither the standard library nor Ansible's: module -> files."""
    found: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("ansible", "ansible_collections", "__future__"):
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def test_requirements_are_what_the_content_imports() -> None:
    """requirements.txt names what the collection's plugins import, and what the community code they rely on needs;
    nothing else."""
    declared = {Requirement(line).name for line in requirement_lines(REPO / "requirements.txt")}
    plugin_files = sorted((REPO / "plugins").rglob("*.py"))
    imported = third_party_imports(plugin_files)
    assert set(imported) <= declared, f"imported but not declared: {sorted(set(imported) - declared)}"

    plugin_text = "\n".join(p.read_text() for p in plugin_files)
    role_text = "\n".join(p.read_text() for p in (REPO / "roles").rglob("*.yml"))
    # psycopg2: the collection's TCP path connects through community.postgresql's module_utils, which needs it.
    needs = {"psycopg2-binary": "ansible_collections.community.postgresql.plugins.module_utils" in plugin_text}
    # requests: the Engine API client of the community.docker modules the roles call.
    docker_modules = set(re.findall(r"community\.docker\.(\w+)", role_text))
    modules_dir = bundle() / "community" / "docker" / "plugins" / "modules"
    needs["requests"] = any("module_utils.common_api" in (modules_dir / f"{name}.py").read_text()
                            for name in docker_modules)
    assert declared == set(imported) | {name for name, needed in needs.items() if needed}, (declared, imported, needs)


@pytest.mark.parametrize("profiles, packages", [
    (["platform:rpm", "platform:redhat", "platform:rhel", "platform:rhel-9"],
     ["docker-ce-cli", "docker-compose-plugin", "git-core", "python3.11", "openssh-clients"]),
    (["platform:dpkg", "platform:debian", "platform:debian-12"],
     ["docker-cli", "docker-compose", "git", "python3", "openssh-client"]),
], ids=["el9", "debian"])
def test_bindep_chooses_the_packages_of_each_platform(profiles: list[str], packages: list[str]) -> None:
    rules = Depends((REPO / "bindep.txt").read_text()).active_rules(["default", *profiles])
    assert [rule[0] for rule in rules] == packages


# ------------------------------------------------------------------------------------------------ ansible-builder

def test_create_writes_the_containerfile(built: Context) -> None:
    containerfile = (built.context / "Containerfile").read_text()
    args = dict(re.findall(r'^ARG (\w+)="(.*)"$', containerfile, re.MULTILINE))
    assert args["EE_BASE_IMAGE"] == BASE_IMAGE
    assert args["PYCMD"] == EE_PYTHON
    assert args["PKGMGR"] == "/usr/bin/dnf"
    assert args["ANSIBLE_INSTALL_REFS"] == f"{PINS['ansible-core']} {PINS['ansible-runner']}"
    stages = re.findall(r"^FROM (\S+) AS (\w+)$", containerfile, re.MULTILINE)
    assert stages == [("$EE_BASE_IMAGE", "base"), ("base", "galaxy"), ("base", "builder"), ("base", "final")]
    base, galaxy, builder, final = re.split(r"^FROM .*$", containerfile, flags=re.MULTILINE)[1:]
    # Docker's EL 9 repository before anything is installed, for bindep.txt's docker packages.
    repo = base.index("/etc/yum.repos.d/docker-ce.repo")
    assert "baseurl=https://download.docker.com/linux/rhel/9/$basearch/stable" in base
    assert repo < base.index("RUN $PYCMD -m pip install --no-cache-dir $ANSIBLE_INSTALL_REFS")
    assert ('ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml '
            '--collections-path "/usr/share/ansible/collections"') in galaxy
    # The collection's requirements come from introspection, with execution-environment.yml's exclusion.
    assert ("RUN $PYCMD /output/scripts/introspect.py introspect --exclude-pip-reqs=exclude-requirements.txt "
            "--write-bindep=/tmp/src/bindep.txt --write-pip=/tmp/src/requirements.txt") in builder
    assert "--user-pip" not in builder and "--user-bindep" not in builder
    assert "RUN /output/scripts/install-from-bindep" in final
    assert "LABEL ansible-execution-environment=true" in final


def test_create_copies_the_tarball_and_requirements(built: Context) -> None:
    build = built.context / "_build"
    assert (build / "collections" / TARBALL).read_bytes() == built.tarball.read_bytes()
    requirements = yaml.safe_load((build / "requirements.yml").read_text())
    assert requirements == {"collections": DEFINITION["dependencies"]["galaxy"]["collections"]}
    assert requirement_lines(build / "exclude-requirements.txt") == ["pytest-mock"]
    assert not (build / "requirements.txt").exists() and not (build / "bindep.txt").exists()
    # The installed copy of the tarball holds the files introspection reads, as they are in the checkout.
    with tarfile.open(built.tarball) as archive:
        for name in ("meta/execution-environment.yml", "requirements.txt", "bindep.txt"):
            member = archive.extractfile(name)
            assert member is not None, f"{name} is not in {TARBALL}"
            assert member.read() == (REPO / name).read_bytes(), f"{name} in {TARBALL} differs from the checkout"


def test_introspect_finds_the_collection_dependencies(built: Context) -> None:
    """`ansible-builder introspect --sanitize`, as collection authors check it, on the collection installed from its
    tarball next to its dependencies."""
    output = run(str(BIN / "ansible-builder"), "introspect", "--sanitize", str(built.collections), cwd=built.root)
    found = yaml.safe_load(output.split("---", 1)[1])
    ours = {"python": [line + ORIGIN for line in requirement_lines(REPO / "requirements.txt")],
            "system": [line + ORIGIN for line in requirement_lines(REPO / "bindep.txt")]}
    for kind, lines in ours.items():
        assert [line for line in found[kind] if line.endswith(ORIGIN)] == lines, kind


def test_build_introspection_installs_them(built: Context) -> None:
    """The introspection step of the build context, run as the builder stage runs it: the files it writes are what
    the image's pip and package manager install."""
    pip, system = built.root / "introspected-requirements.txt", built.root / "introspected-bindep.txt"
    scripts = built.context / "_build" / "scripts"
    run(sys.executable, str(scripts / "introspect.py"), "introspect", str(built.collections),
        f"--exclude-pip-reqs={built.context / '_build' / 'exclude-requirements.txt'}",
        f"--write-bindep={system}", f"--write-pip={pip}", cwd=built.root)
    python = requirement_lines(pip)
    assert [line for line in python if line.endswith(ORIGIN)] == \
        [line + ORIGIN for line in requirement_lines(REPO / "requirements.txt")]
    assert not [line for line in python if line.startswith("pytest-mock")], "the excluded test dependency stayed"
    rules = Depends(system.read_text()).active_rules(["default", "platform:rpm", "platform:redhat"])
    assert [rule[0] for rule in rules] == ["docker-ce-cli", "docker-compose-plugin", "git-core", "python3.11",
                                           "openssh-clients"]
