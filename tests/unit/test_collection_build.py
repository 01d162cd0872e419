# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection builds into a tarball that installs and whose content Ansible loads."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tarfile

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
MODULES = sorted(p.stem for p in (REPO / "plugins/modules").glob("*.py"))
ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if p.is_dir())


def run(*command: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env, check=False, timeout=300)
    assert proc.returncode == 0, f"{' '.join(command)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_tarball_installs_and_loads(tmp_path: pathlib.Path) -> None:
    run(str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), str(REPO))
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    tarball = tmp_path / f"usdx-incident-{version}.tar.gz"
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert "galaxy.yml" not in names and "MANIFEST.json" in names
    assert {f"plugins/modules/{m}.py" for m in MODULES} <= names
    assert {f"roles/{r}/meta/argument_specs.yml" for r in ROLES} <= names
    assert not any(n.startswith(("sandbox/", "bench/", ".venv/", "build/", "src/")) for n in names), "development files were packed"

    # Only the installed copy counts, not this checkout's build/collections link.
    installed = tmp_path / "collections"
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\n")
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(installed), "ANSIBLE_CONFIG": str(config)}
    # --no-deps: the dependencies come with the ansible package; Galaxy is not reachable here.
    run(str(BIN / "ansible-galaxy"), "collection", "install", "--no-deps", "-p", str(installed), str(tarball), env=env)
    docs = json.loads(run(str(BIN / "ansible-doc"), "--json", *[f"usdx.incident.{m}" for m in MODULES], env=env))
    assert sorted(docs) == [f"usdx.incident.{m}" for m in MODULES]
    assert "usdx.incident.severity" in run(str(BIN / "ansible-doc"), "-t", "filter", "--list", "usdx.incident", env=env)
    role_doc = json.loads(run(str(BIN / "ansible-doc"), "-t", "role", "--json", "usdx.incident.triage", env=env))
    assert "usdx_api_url" in role_doc["usdx.incident.triage"]["entry_points"]["main"]["options"]
