# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The triage's findings directory: made with safe permissions, never written through a planted path.

The playbook tests run the real triage on the sandbox with the findings directory in a tmp dir made unsafe
the way another user would (a symlink to somewhere else, a world-writable directory). The script tests
run roles/triage/files/write_findings.py on real files for each rule, without the sandbox.
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
WRITER = REPO / "roles/triage/files/write_findings.py"
SAFE_DIRECTORY_MODES = {0o700, 0o750}
IS_ROOT = os.geteuid() == 0
OTHER_UID = 65534  # nobody: "another user" for chown, which only root can do
needs_root = pytest.mark.skipif(not IS_ROOT, reason="giving a path to another user needs root")


class Run(t.NamedTuple):
    rc: int
    stdout: str
    stderr: str


def write_findings(directory: pathlib.Path, name: str = "sandbox.json", document: str = '{"severity": null}\n') -> Run:
    proc = subprocess.run([sys.executable, str(WRITER), str(directory), name], input=document,
                          capture_output=True, text=True, timeout=30, check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def run_triage(helpers: t.Any, findings_dir: pathlib.Path) -> Run:
    command = [str(REPO / ".venv/bin/ansible-playbook"), "-i", str(REPO / "inventories/sandbox"),
               str(REPO / "playbooks/triage.yml"), "-e", f"triage_findings_dir={findings_dir}"]
    proc = subprocess.run(command, cwd=REPO, env=helpers.ansible_env(), capture_output=True, text=True, timeout=300, check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr)


def assert_refused(run: Run, path: pathlib.Path, why: str) -> None:
    output = run.stdout + run.stderr
    assert run.rc != 0, f"the write was not refused:\n{output[-3000:]}"
    # The callback folds long values over lines; the refusal itself is one line of the writer's stderr.
    unfolded = " ".join(output.split())
    assert f"findings directory {path}: {why}" in unfolded, f"no refusal naming {path} and '{why}':\n{output[-3000:]}"


# --- the real triage on the sandbox ---------------------------------------------------------------------------

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


# --- write_findings.py, one rule at a time, on real files -------------------------------------------------------

def test_writes_the_document_and_replaces_it(tmp_path: pathlib.Path) -> None:
    findings_dir = tmp_path / "a" / "b"
    first = write_findings(findings_dir, document="one\n")
    second = write_findings(findings_dir, document="two\n")
    assert (first.rc, second.rc) == (0, 0), first.stderr + second.stderr
    assert second.stdout.strip() == str(findings_dir / "sandbox.json")
    assert (findings_dir / "sandbox.json").read_text() == "two\n"
    assert stat.S_IMODE((findings_dir / "sandbox.json").stat().st_mode) == 0o640
    assert stat.S_IMODE(findings_dir.stat().st_mode) in SAFE_DIRECTORY_MODES


def test_accepts_an_existing_private_directory_under_a_sticky_world_writable_one(tmp_path: pathlib.Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp and /var/tmp: others can create entries but not move ours
    run = write_findings(shared / "findings")
    assert run.rc == 0, run.stderr


def _symlinked_dir(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    victim = tmp_path / "victim"
    victim.mkdir()
    (tmp_path / "findings").symlink_to(victim)
    return tmp_path / "findings", tmp_path / "findings"


def _symlinked_file(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    (tmp_path / "victim").write_text("precious\n")
    findings_dir = tmp_path / "findings"
    findings_dir.mkdir(mode=0o750)
    (findings_dir / "sandbox.json").symlink_to(tmp_path / "victim")
    return findings_dir, findings_dir / "sandbox.json"


def _mode(mode: int) -> t.Callable[[pathlib.Path], tuple[pathlib.Path, pathlib.Path]]:
    def make(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
        findings_dir = tmp_path / "findings"
        findings_dir.mkdir()
        findings_dir.chmod(mode)
        return findings_dir, findings_dir
    return make


def _open_parent(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    parent = tmp_path / "open"
    parent.mkdir()
    parent.chmod(0o777)
    return parent / "findings", parent


def _not_a_directory(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    (tmp_path / "findings").write_text("")
    return tmp_path / "findings", tmp_path / "findings"


def _writable_file(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    findings_dir = tmp_path / "findings"
    findings_dir.mkdir(mode=0o750)
    (findings_dir / "sandbox.json").write_text("old\n")
    (findings_dir / "sandbox.json").chmod(0o666)
    return findings_dir, findings_dir / "sandbox.json"


@pytest.mark.parametrize("make, why", [
    (_symlinked_dir, "is a symlink"),
    (_symlinked_file, "is a symlink"),
    (_mode(0o777), "world-writable (mode 0777)"),
    (_mode(0o770), "group- or world-writable (mode 0770)"),
    (_open_parent, "without the sticky bit (mode 0777)"),
    (_not_a_directory, "is not a directory"),
    (_writable_file, "group- or world-writable (mode 0666)"),
], ids=["symlinked-dir", "symlinked-file", "world-writable", "group-writable", "open-parent", "not-a-dir", "writable-file"])
def test_refuses_before_writing(tmp_path: pathlib.Path, make: t.Callable[[pathlib.Path], tuple[pathlib.Path, pathlib.Path]],
                                why: str) -> None:
    findings_dir, named = make(tmp_path)
    contents = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    run = write_findings(findings_dir)
    assert run.rc == 1 and len(run.stderr.splitlines()) == 1, run
    assert str(named) in run.stderr and why in run.stderr, run.stderr
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before, "something was created"
    assert {p: p.read_bytes() for p in contents} == contents, "a file was changed"


@needs_root
@pytest.mark.parametrize("target", ["findings", "symlink-above", "parent"], ids=["own-dir", "symlink-above", "parent"])
def test_refuses_a_path_another_user_controls(tmp_path: pathlib.Path, target: str) -> None:
    if target == "findings":
        findings_dir = tmp_path / "findings"
        findings_dir.mkdir(mode=0o750)
        os.chown(findings_dir, OTHER_UID, OTHER_UID)
        named, why = findings_dir, f"owned by uid {OTHER_UID}"
    elif target == "symlink-above":
        (tmp_path / "real").mkdir(mode=0o750)
        (tmp_path / "link").symlink_to(tmp_path / "real")
        os.lchown(tmp_path / "link", OTHER_UID, OTHER_UID)
        findings_dir = tmp_path / "link" / "findings"
        named, why = tmp_path / "link", f"is a symlink owned by uid {OTHER_UID}"
    else:
        (tmp_path / "theirs").mkdir(mode=0o755)
        os.chown(tmp_path / "theirs", OTHER_UID, OTHER_UID)
        findings_dir = tmp_path / "theirs" / "findings"
        named, why = tmp_path / "theirs", f"is a directory owned by uid {OTHER_UID}"
    run = write_findings(findings_dir)
    assert run.rc == 1 and str(named) in run.stderr and why in run.stderr, run
    assert not (findings_dir / "sandbox.json").exists()


@pytest.mark.parametrize("name", ["", ".", "..", "../escape.json", "a/b.json"], ids=["empty", "dot", "dotdot", "up", "nested"])
def test_refuses_a_file_name_that_is_not_one_component(tmp_path: pathlib.Path, name: str) -> None:
    run = write_findings(tmp_path / "findings", name=name)
    assert run.rc == 1 and "must be one path component" in run.stderr, run
    assert not (tmp_path / "findings").exists(), "the directory was made for a refused name"
