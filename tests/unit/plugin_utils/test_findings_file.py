# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The findings writer (plugin_utils/_findings_file.py), one rule at a time, on real files.

The triage on the sandbox with an unsafe findings directory is tested in tests/integration/test_findings_dir.py.
"""

from __future__ import annotations

import os
import pathlib
import stat
import typing as t

import pytest

from ansible_collections.usdx.incident.plugins.plugin_utils._findings_file import Unsafe, write

SAFE_DIRECTORY_MODES = {0o700, 0o750}
IS_ROOT = os.geteuid() == 0
OTHER_UID = 65534  # nobody: "another user" for chown, which only root can do
needs_root = pytest.mark.skipif(not IS_ROOT, reason="giving a path to another user needs root")


def write_findings(directory: pathlib.Path, name: str = "sandbox.json", document: bytes = b'{"severity": null}\n') -> str:
    return write(str(directory), name, document, os.geteuid())


def refusal(directory: pathlib.Path, name: str = "sandbox.json") -> str:
    with pytest.raises(Unsafe) as refused:
        write_findings(directory, name)
    reason = str(refused.value)
    assert len(reason.splitlines()) == 1, reason
    return reason


def test_writes_the_document_and_replaces_it(tmp_path: pathlib.Path) -> None:
    findings_dir = tmp_path / "a" / "b"
    write_findings(findings_dir, document=b"one\n")
    assert write_findings(findings_dir, document=b"two\n") == str(findings_dir / "sandbox.json")
    assert (findings_dir / "sandbox.json").read_bytes() == b"two\n"
    assert stat.S_IMODE((findings_dir / "sandbox.json").stat().st_mode) == 0o640
    assert stat.S_IMODE(findings_dir.stat().st_mode) in SAFE_DIRECTORY_MODES
    assert sorted(os.listdir(findings_dir)) == ["sandbox.json"], "a temporary file was left behind"


def test_accepts_an_existing_private_directory_under_a_sticky_world_writable_one(tmp_path: pathlib.Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp and /var/tmp: others can create entries but not move ours
    assert write_findings(shared / "findings") == str(shared / "findings" / "sandbox.json")


def test_a_write_the_system_refuses_is_one_line_naming_the_path(tmp_path: pathlib.Path) -> None:
    findings_dir = tmp_path / "findings"
    findings_dir.mkdir(mode=0o750)
    (findings_dir / "sandbox.json").mkdir(mode=0o750)  # os.replace cannot put a file over a directory
    reason = refusal(findings_dir)
    assert reason.startswith(f"findings file {findings_dir / 'sandbox.json'}: "), reason
    assert sorted(os.listdir(findings_dir)) == ["sandbox.json"], "the temporary file was left behind"


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
    reason = refusal(findings_dir)
    assert str(named) in reason and why in reason, reason
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
    reason = refusal(findings_dir)
    assert str(named) in reason and why in reason, reason
    assert not (findings_dir / "sandbox.json").exists()


@pytest.mark.parametrize("name", ["", ".", "..", "../escape.json", "a/b.json"], ids=["empty", "dot", "dotdot", "up", "nested"])
def test_refuses_a_file_name_that_is_not_one_component(tmp_path: pathlib.Path, name: str) -> None:
    assert "must be one path component" in refusal(tmp_path / "findings", name)
    assert not (tmp_path / "findings").exists(), "the directory was made for a refused name"
