# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What Galaxy's checks share: where things are, and the tools run as Galaxy's side runs them."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text(encoding="utf-8"))
FQCN = f"{GALAXY['namespace']}.{GALAXY['name']}"


class Tools:
    """Runs the virtualenv's tools with Ansible seeing only the installed tarball, as on Galaxy's side."""

    def __init__(self, work: pathlib.Path) -> None:
        self.work = work
        self.collections = work / "collections"
        empty_config = work / "ansible.cfg"
        empty_config.write_text("[defaults]\n", encoding="utf-8")
        # galaxy-importer and antsibull-docs find ansible-doc, ansible-lint and ansible-galaxy on PATH.
        self.env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_CONFIG": str(empty_config),
            "ANSIBLE_COLLECTIONS_PATH": str(self.collections),
            # antsibull-docs copies a collection that is inside a git work tree with `git ls-files`: the
            # dependencies bundled in the virtualenv (.venv, ignored by git) would come out empty.
            "GIT_CEILING_DIRECTORIES": str(pathlib.Path(sys.prefix).parent),
        }

    def run(self, *command: str | pathlib.Path, cwd: pathlib.Path | None = None, timeout: int = 300,
            extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """The command's result; a command still running after `timeout` seconds fails the test."""
        return subprocess.run([str(c) for c in command], cwd=cwd or self.work, env={**self.env, **(extra_env or {})},
                              capture_output=True, text=True, check=False, timeout=timeout)

    def check(self, *command: str | pathlib.Path, timeout: int = 300) -> str:
        proc = self.run(*command, timeout=timeout)
        assert proc.returncode == 0, f"{' '.join(map(str, command))} failed:\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout
