# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The triage's findings directory: made with safe permissions, never written through a planted path.

These tests run the real triage on the sandbox with the findings directory in a tmp dir made unsafe the way
another user would (a symlink to somewhere else, a world-writable directory). Each rule of the writer
(plugins/plugin_utils/_findings_file.py) is tested on real files in tests/unit/plugin_utils/test_findings_file.py.
"""

from __future__ import annotations

import os
import pathlib
import stat
import subprocess
import sys
import typing as t

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SAFE_DIRECTORY_MODES = {0o700, 0o750}
IS_ROOT = os.geteuid() == 0
OTHER_UID = 65534  # nobody: "another user" for chown, which only root can do


class Run(t.NamedTuple):
    rc: int
    stdout: str
    stderr: str


def run_triage(helpers: t.Any, findings_dir: pathlib.Path) -> Run:
    command = [str(pathlib.Path(sys.executable).with_name("ansible-playbook")), "-i", str(REPO / "inventories/sandbox"),
               str(REPO / "playbooks/triage.yml"), "-e", f"triage_findings_dir={findings_dir}"]
    proc = subprocess.run(command, cwd=REPO, env=helpers.ansible_env(), capture_output=True, text=True, timeout=300, check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def assert_refused(run: Run, path: pathlib.Path, why: str) -> None:
    output = run.stdout + run.stderr
    assert run.rc != 0, f"the write was not refused:\n{output[-3000:]}"
    # The callback folds long values over lines; the refusal itself is the one-line msg of findings_write.
    unfolded = " ".join(output.split())
    assert f"findings directory {path}: {why}" in unfolded, f"no refusal naming {path} and '{why}':\n{output[-3000:]}"


@pytest.mark.sandbox
def test_triage_makes_the_findings_directory_private(sandbox: dict[str, str], helpers: t.Any, tmp_path: pathlib.Path) -> None:
    findings_dir = tmp_path / "new" / "findings"
    run = run_triage(helpers, findings_dir)
    assert run.rc == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for directory in (findings_dir.parent, findings_dir):
        info = directory.lstat()
        assert stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()
        assert stat.S_IMODE(info.st_mode) in SAFE_DIRECTORY_MODES, f"{directory}: mode {stat.S_IMODE(info.st_mode):04o}"
    document = (findings_dir / "sandbox.json").lstat()
    assert stat.S_ISREG(document.st_mode) and document.st_mode & 0o022 == 0
    assert sorted(os.listdir(findings_dir)) == ["sandbox.json"], "a temporary file was left behind"


@pytest.mark.sandbox
def test_triage_refuses_a_planted_symlink(sandbox: dict[str, str], helpers: t.Any, tmp_path: pathlib.Path) -> None:
    victim = tmp_path / "somewhere-else"
    victim.mkdir(mode=0o750)
    findings_dir = tmp_path / "findings"
    findings_dir.symlink_to(victim, target_is_directory=True)
    if IS_ROOT:
        os.lchown(findings_dir, OTHER_UID, OTHER_UID)
    run = run_triage(helpers, findings_dir)
    assert_refused(run, findings_dir, "is a symlink")
    assert list(victim.iterdir()) == [], "the findings were written through the symlink"
    assert findings_dir.is_symlink(), "the planted symlink was replaced instead of refused"


@pytest.mark.sandbox
def test_triage_refuses_a_world_writable_directory(sandbox: dict[str, str], helpers: t.Any, tmp_path: pathlib.Path) -> None:
    findings_dir = tmp_path / "findings"
    findings_dir.mkdir()
    findings_dir.chmod(0o777)
    run = run_triage(helpers, findings_dir)
    assert_refused(run, findings_dir, "is group- or world-writable (mode 0777)")
    assert list(findings_dir.iterdir()) == []
    assert stat.S_IMODE(findings_dir.stat().st_mode) == 0o777, "the triage changed a directory it refused"
