# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deleting planned files (module_utils/_planned_files.py, the module planned_files_remove).

The decision (why_left) over every way a file can differ from its plan; the input checks; and the remover on real
files in a temporary directory, changed after the plan the ways an attacker or a busy service would change them.
"""

from __future__ import annotations

import os
import pathlib
import time
import typing as t

import pytest

from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError
from ansible_collections.usdx.incident.plugins.module_utils._planned_files import (
    Observed,
    Planned,
    Remover,
    parse_files,
    system_directory,
    why_left,
)
from ansible_collections.usdx.incident.plugins.modules import planned_files_remove

DEV, INODE, SIZE, MTIME = 39, 1404, 8324616, 1_757_548_799
OLD = time.time() - 90 * 86400


def planned(dev: int | None = DEV, inode: int | None = INODE) -> Planned:
    entry = {"path": "/srv/usdx/log/a.log", "dir": "/srv/usdx/log", "size": SIZE, "mtime": MTIME, "dev": dev, "inode": inode}
    return Planned("/srv/usdx/log/a.log", "/srv/usdx/log", SIZE, MTIME, dev, inode, entry)


def now(**change: t.Any) -> Observed:
    return Observed(**{**{"kind": "file", "dev": DEV, "inode": INODE, "size": SIZE, "mtime": MTIME}, **change})


@pytest.mark.parametrize("plan, observed, directory_dev, why", [
    (planned(), now(), DEV, None),
    (planned(dev=None, inode=None), now(inode=1), DEV, None),
    (planned(), None, DEV, "gone"),
    (planned(), now(kind="link"), DEV, "became a symbolic link since the plan"),
    (planned(), now(kind="directory"), DEV, "no longer a regular file (a directory)"),
    (planned(), now(kind="special file"), DEV, "no longer a regular file (a special file)"),
    (planned(), now(dev=DEV + 1), DEV, "not on the filesystem of its directory"),
    (planned(), now(), DEV + 1, "its directory is on another filesystem than at the plan"),
    (planned(dev=None), now(dev=DEV + 1), DEV + 1, None),
    (planned(), now(inode=INODE + 1), DEV, "replaced by another file since the plan (another inode)"),
    (planned(), now(mtime=MTIME + 1), DEV, f"modified since the plan (mtime {MTIME} -> {MTIME + 1})"),
    (planned(), now(mtime=MTIME - 1), DEV, f"modified since the plan (mtime {MTIME} -> {MTIME - 1})"),
    (planned(), now(size=SIZE + 1), DEV, f"grew since the plan ({SIZE} -> {SIZE + 1} bytes)"),
    (planned(), now(size=0), DEV, f"shrank since the plan ({SIZE} -> 0 bytes)"),
    # A link is never a file to delete, whatever else matches.
    (planned(), now(kind="link", size=SIZE), DEV, "became a symbolic link since the plan"),
], ids=["as-planned", "as-planned-without-identity", "gone", "link", "directory", "fifo", "other-fs",
        "directory-moved-fs", "no-planned-dev", "replaced", "newer", "older", "grew", "truncated", "link-same-size"])
def test_why_left(plan: Planned, observed: Observed | None, directory_dev: int, why: str | None) -> None:
    assert why_left(plan, observed, directory_dev) == why


def entry(**change: t.Any) -> dict[str, t.Any]:
    return {**{"path": "/srv/usdx/log/a.log", "dir": "/srv/usdx/log", "size": 1, "mtime": 2, "category": "logs"}, **change}


@pytest.mark.parametrize("files, message", [
    (["/srv/usdx/log/a.log"], "files[0] must be a dict with path, dir, size and mtime, got '/srv/usdx/log/a.log'"),
    ([entry(path="log/a.log")], "files[0]: path 'log/a.log' is not a normalized absolute path"),
    ([entry(path="/srv/usdx/log/../../etc/passwd")], "files[0]: path '/srv/usdx/log/../../etc/passwd' is not a normalized"),
    ([entry(dir="/srv/usdx/log/")], "files[0]: dir '/srv/usdx/log/' is not a normalized absolute path"),
    ([entry(dir=None)], "files[0]: dir None is not a normalized absolute path"),
    ([entry(path="/etc/a.log", dir="/etc")], "files[0] ('/etc/a.log'): dir /etc is / or a system path"),
    ([entry(path="/var/lib/postgresql/data/x", dir="/var/lib/postgresql/data")], "dir /var/lib/postgresql/data is / or a system"),
    ([entry(path="/a.log", dir="/")], "files[0] ('/a.log'): dir / is / or a system path"),
    ([entry(path="/srv/usdx/logs/a.log")], "files[0] ('/srv/usdx/logs/a.log'): the path is not inside its dir /srv/usdx/log"),
    ([entry(path="/srv/usdx/log")], "the path is not inside its dir /srv/usdx/log"),
    ([entry(path="/srv/usdx/log/a\\x1b.log")], "the name has a backslash or a character that is not printable"),
    ([entry(path="/srv/usdx/log/a\n.log")], "the name has a backslash or a character that is not printable"),
    ([entry(size=-1)], "files[0] ('/srv/usdx/log/a.log'): size must be a whole number >= 0, got -1"),
    ([entry(size="12")], "size must be a whole number >= 0, got '12'"),
    ([entry(size=True)], "size must be a whole number >= 0, got True"),
    ([entry(mtime=1.5)], "mtime must be a whole number, got 1.5"),
    ([entry(mtime=None)], "mtime must be a whole number, got None"),
    ([entry(dev="39")], "dev must be a whole number or null, got '39'"),
    ([entry(inode=-3)], "inode must be a whole number >= 0 or null, got -3"),
    ([entry(), entry()], "files[1] ('/srv/usdx/log/a.log'): the path is listed twice"),
    ([entry(), entry(path="/srv/usdx/log/b.log", dir="/usr")], "files[1] ('/srv/usdx/log/b.log'): dir /usr is / or a system"),
])
def test_bad_files_are_refused_naming_the_entry(files: list[t.Any], message: str) -> None:
    with pytest.raises(OptionError) as caught:
        parse_files(files)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_good_files_are_parsed_and_kept_as_given() -> None:
    files = [entry(mtime=1.0e9, dev=39, inode=7, age_days=90.1), entry(path="/srv/usdx/log/sub dir/$(x).log", dev=None)]
    result = parse_files(files)
    assert [(p.path, p.mtime, p.dev, p.inode) for p in result] == [
        ("/srv/usdx/log/a.log", 1_000_000_000, 39, 7), ("/srv/usdx/log/sub dir/$(x).log", 2, None, None)]
    assert result[0].entry is files[0] and result[1].parts == ["sub dir", "$(x).log"]


@pytest.mark.parametrize("path, system", [("/", True), ("/etc", True), ("/etc/nginx", True), ("/var/log", True),
                                          ("/var/log/usdx-wexel", False), ("/usr/local/x", True), ("/srv/usdx", False),
                                          ("/var/lib/docker/volumes/x", True), ("/tmp/x", False)])
def test_system_directories(path: str, system: bool) -> None:
    assert system_directory(path) is system


# ---------------------------------------------------------------- on real files
@pytest.fixture
def tree(tmp_path: pathlib.Path) -> dict[str, pathlib.Path]:
    """A log directory with old files (one in a subdirectory), and a directory outside it that must survive."""
    log, outside = tmp_path / "log", tmp_path / "outside"
    (log / "archive").mkdir(parents=True)
    outside.mkdir()
    paths = {"log": log, "outside": outside, "a": log / "a.log", "b": log / "b.log", "sub": log / "archive" / "c.log",
             "victim": outside / "c.log", "target": outside / "a.log"}
    for key in ("a", "b", "sub", "victim", "target"):
        paths[key].write_bytes(b"x" * 100)
        os.utime(paths[key], (OLD, OLD))
    return paths


def plan_of(path: pathlib.Path, directory: pathlib.Path) -> dict[str, t.Any]:
    """The entry the plan makes of a file (disk_usage_info's record + its directory's dev)."""
    info = os.lstat(path)
    return {"path": str(path), "dir": str(directory), "size": info.st_size, "mtime": info.st_mtime_ns // 1_000_000_000,
            "dev": os.lstat(directory).st_dev, "inode": info.st_ino, "category": "logs"}


def remove(files: list[dict[str, t.Any]], check_mode: bool = False, timeout: float = 60) -> dict[str, t.Any]:
    return Remover(parse_files(files), check_mode, timeout).run()


def test_files_still_as_planned_are_deleted(tree: dict[str, pathlib.Path]) -> None:
    files = [plan_of(tree[k], tree["log"]) for k in ("a", "b", "sub")]
    result = remove(files)
    assert result["deleted"] == files and result["left"] == [] and result["changed"]
    assert result["freed_bytes"] == 300 and not result["timed_out"]
    assert not any(tree[k].exists() for k in ("a", "b", "sub"))
    assert tree["victim"].exists() and tree["target"].exists() and (tree["log"] / "archive").is_dir()


def test_check_mode_deletes_nothing_and_says_what_it_would(tree: dict[str, pathlib.Path]) -> None:
    files = [plan_of(tree[k], tree["log"]) for k in ("a", "sub")]
    tree["b"].write_bytes(b"grown" * 100)
    files.append(plan_of(tree["b"], tree["log"]) | {"size": 100})
    result = remove(files, check_mode=True)
    assert [f["path"] for f in result["deleted"]] == [str(tree["a"]), str(tree["sub"])]
    assert result["left"] == [dict(files[2], why="grew since the plan (100 -> 500 bytes)")]
    assert result["changed"] and result["freed_bytes"] == 200 and result["msg"].startswith("would delete 2 file(s)")
    assert all(tree[k].exists() for k in ("a", "b", "sub"))


def test_a_link_swapped_in_after_the_plan_is_not_followed_nor_its_target_deleted(tree: dict[str, pathlib.Path]) -> None:
    files = [plan_of(tree["a"], tree["log"])]
    tree["a"].unlink()
    tree["a"].symlink_to(tree["target"])
    result = remove(files)
    assert result["deleted"] == [] and result["left"][0]["why"] == "became a symbolic link since the plan"
    assert tree["a"].is_symlink() and tree["target"].read_bytes() == b"x" * 100


def test_a_parent_swapped_for_a_link_after_the_plan_is_not_crossed(tree: dict[str, pathlib.Path]) -> None:
    files = [plan_of(tree["sub"], tree["log"])]
    archive = tree["log"] / "archive"
    tree["sub"].unlink()
    archive.rmdir()
    archive.symlink_to(tree["outside"])
    # The victim has the planned file's name, size and age behind the link.
    os.utime(tree["victim"], (files[0]["mtime"], files[0]["mtime"]))
    result = remove(files)
    assert result["deleted"] == []
    assert result["left"][0]["why"] == f"not reached: {archive} is a symbolic link: not followed"
    assert tree["victim"].exists()


def test_a_configured_directory_reached_through_a_link_is_not_cleaned(tree: dict[str, pathlib.Path], tmp_path: pathlib.Path) -> None:
    link = tmp_path / "log-link"
    link.symlink_to(tree["log"])
    files = [plan_of(link / "a.log", link)]
    result = remove(files)
    assert result["deleted"] == [] and result["left"][0]["why"] == f"not reached: {link} is a symbolic link: not followed"
    assert tree["a"].exists()
    below = [plan_of(link / "archive" / "c.log", link / "archive")]
    assert remove(below)["left"][0]["why"] == f"not reached: {link} is a symbolic link: not followed"
    assert tree["sub"].exists()


def test_a_replaced_file_is_left(tree: dict[str, pathlib.Path]) -> None:
    files = [plan_of(tree["a"], tree["log"])]
    replacement = tree["log"] / "new.tmp"
    replacement.write_bytes(b"y" * 100)
    os.utime(replacement, (OLD, OLD))
    os.replace(replacement, tree["a"])
    result = remove(files)
    assert result["left"][0]["why"] == "replaced by another file since the plan (another inode)"
    assert tree["a"].read_bytes() == b"y" * 100


@pytest.mark.parametrize("change, why", [
    (lambda p: p.write_bytes(b"x" * 101), "modified since the plan"),
    (lambda p: (p.write_bytes(b"x" * 101), os.utime(p, (OLD, OLD))), "grew since the plan (100 -> 101 bytes)"),
    (lambda p: os.utime(p, (OLD + 3600, OLD + 3600)), "modified since the plan"),
    (lambda p: p.unlink(), "gone"),
    (lambda p: (p.unlink(), p.mkdir()), "no longer a regular file (a directory)"),
    (lambda p: (p.unlink(), os.mkfifo(p)), "no longer a regular file (a special file)"),
], ids=["appended", "grown-same-mtime", "touched", "gone", "directory", "fifo"])
def test_a_file_changed_after_the_plan_is_left(tree: dict[str, pathlib.Path], change: t.Callable[[pathlib.Path], t.Any],
                                               why: str) -> None:
    files = [plan_of(tree["a"], tree["log"]), plan_of(tree["b"], tree["log"])]
    change(tree["a"])
    result = remove(files)
    assert result["left"][0]["path"] == str(tree["a"]) and result["left"][0]["why"].startswith(why)
    assert result["deleted"] == [files[1]] and not tree["b"].exists()
    assert os.path.lexists(tree["a"]) or why == "gone"


def test_a_missing_directory_on_the_way_means_gone(tree: dict[str, pathlib.Path]) -> None:
    files = [plan_of(tree["sub"], tree["log"])]
    tree["sub"].unlink()
    (tree["log"] / "archive").rmdir()
    assert remove(files)["left"][0]["why"] == "gone"


def test_past_the_deadline_nothing_more_is_checked(tree: dict[str, pathlib.Path]) -> None:
    files = [plan_of(tree[k], tree["log"]) for k in ("a", "b")]
    result = remove(files, timeout=1e-9)
    assert result["timed_out"] and result["deleted"] == [] and not result["changed"]
    assert [f["why"] for f in result["left"]] == ["not checked: the run's deadline of 1e-09 s passed"] * 2
    assert tree["a"].exists() and tree["b"].exists()


def test_no_descriptor_is_left_open(tree: dict[str, pathlib.Path]) -> None:
    before = len(os.listdir("/proc/self/fd"))
    files = [plan_of(tree[k], tree["log"]) for k in ("a", "b", "sub")]
    tree["b"].write_bytes(b"more")
    remove(files)
    assert len(os.listdir("/proc/self/fd")) == before


# ---------------------------------------------------------------- the module
def test_module_check_mode_changes_nothing(run_module: t.Callable[..., dict[str, t.Any]], tree: dict[str, pathlib.Path]) -> None:
    files = [plan_of(tree["a"], tree["log"])]
    result = run_module(planned_files_remove.main, {"files": files, "_ansible_check_mode": True})
    assert result["changed"] is True and [f["path"] for f in result["deleted"]] == [str(tree["a"])]
    assert tree["a"].exists()
    result = run_module(planned_files_remove.main, {"files": files})
    assert result["changed"] is True and result["freed_bytes"] == 100 and not tree["a"].exists()
    again = run_module(planned_files_remove.main, {"files": files})
    assert again["changed"] is False and again["left"] == [dict(files[0], why="gone")]


@pytest.mark.parametrize("args, message", [
    ({"files": [entry(path="/etc/passwd", dir="/etc")]}, "files[0] ('/etc/passwd'): dir /etc is / or a system path"),
    ({"files": [], "timeout": 0}, "timeout=0.0 is out of range: accepted values are > 0"),
])
def test_module_bad_input_fails_in_one_line_touching_nothing(run_module: t.Callable[..., dict[str, t.Any]], args: dict[str, t.Any],
                                                             message: str) -> None:
    result = run_module(planned_files_remove.main, args)
    assert result["failed"] and result["msg"].startswith(message) and "\n" not in result["msg"]
    assert "deleted" not in result
