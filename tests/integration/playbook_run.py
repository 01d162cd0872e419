# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A playbook run against the sandbox, read through the ansible.posix.json callback (shared by the role tests).

Not in conftest.py: "conftest" may name tests/unit/conftest.py when both trees are collected.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import typing as t

REPO = pathlib.Path(__file__).resolve().parents[2]
INVENTORY = REPO / "inventories" / "sandbox"
VENV_BIN = pathlib.Path(sys.executable).parent
HOST = "sandbox"

R = t.TypeVar("R", bound="PlaybookRun")


class PlaybookRun:
    """rc and the json callback's document of one ansible-playbook run."""

    def __init__(self, rc: int, doc: dict[str, t.Any], stderr: str) -> None:
        self.rc = rc
        self.doc = doc
        self.stderr = stderr

    @property
    def stats(self) -> dict[str, int]:
        return self.doc["stats"][HOST]

    def tasks(self, suffix: str) -> list[dict[str, t.Any]]:
        """The results of every task whose name ends with suffix, in order."""
        return [task["hosts"][HOST] for play in self.doc["plays"] for task in play["tasks"]
                if task["task"]["name"].endswith(suffix) and HOST in task["hosts"]]

    def task(self, suffix: str) -> dict[str, t.Any] | None:
        """The result of the last task whose name ends with suffix, or None when it did not run."""
        found = self.tasks(suffix)
        return found[-1] if found else None

    def failure(self) -> str:
        """The first failed task (ignored failures aside): its name and messages."""
        for play in self.doc["plays"]:
            for task in play["tasks"]:
                result = task["hosts"].get(HOST, {})
                if result.get("failed") and not result.get("ignore_errors"):
                    items = [str(i.get("msg", "")) for i in result.get("results", []) if i.get("failed")]
                    return " | ".join([task["task"]["name"], str(result.get("msg", "")), *items])
        raise AssertionError("no task failed")


def run_playbook(playbook: pathlib.Path, cls: type[R], *args: str, check: bool = False,
                 extra_vars: dict[str, t.Any] | None = None, inventory: pathlib.Path = INVENTORY,
                 timeout: float = 300, secrets: t.Iterable[str] = ()) -> R:
    """ansible-playbook with the json callback; extra variables (passwords among them) go through a file, never argv.

    Fails the test when one of C(secrets) appears in the output.
    """
    with tempfile.TemporaryDirectory(prefix="usdx-play-") as tmp:
        command = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), *args]
        if extra_vars:
            varfile = pathlib.Path(tmp, "vars.json")
            varfile.write_text(json.dumps(extra_vars))
            command += ["-e", f"@{varfile}"]
        proc = subprocess.run(
            command + (["--check"] if check else []), capture_output=True, text=True, timeout=timeout, cwd=REPO,
            check=False, env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
                              "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_RETRY_FILES_ENABLED": "0"},
        )
    try:
        doc = json.loads(proc.stdout)
    except ValueError as exc:
        raise AssertionError(f"no json from ansible-playbook (rc={proc.returncode}):\n{proc.stdout[-3000:]}\n"
                             f"{proc.stderr[-3000:]}") from exc
    for secret in secrets:
        assert secret not in proc.stdout and secret not in proc.stderr, "a password appears in the output"
    return cls(proc.returncode, doc, proc.stderr)
