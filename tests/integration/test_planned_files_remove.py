# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""planned_files_remove through ansible-playbook, on real files planned the way the disk_full role plans them.

Each test lays out a log directory of old files, runs disk_usage_info on it (through ansible-playbook, as the role
does) and the disk_full_plan filter on the result, then changes the files after the plan the ways a busy service or
an attacker would - a link swapped in for a file, a file appended to, a subdirectory swapped for a link out of the
directory, the configured directory reached through a link - and runs planned_files_remove on the plan. What must
not be deleted is still there, what points out of the directory is untouched, and the files nobody changed are
deleted (so every test can fail). No sandbox service is used: the files live in a temporary directory.

Run: .venv/bin/pytest -m sandbox tests/integration/test_planned_files_remove.py
"""

from __future__ import annotations

import copy
import os
import pathlib
import sys
import time
import typing as t

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
if str(REPO / "build" / "collections") not in sys.path:
    sys.path.insert(0, str(REPO / "build" / "collections"))
from ansible_collections.usdx.incident.plugins.filter.disk_full_plan import disk_full_plan  # noqa: E402

pytestmark = pytest.mark.sandbox

OLD = time.time() - 90 * 86400


@pytest.fixture
def layout(tmp_path: pathlib.Path) -> dict[str, pathlib.Path]:
    """data/log with old logs (one in a subdirectory), data/backups, and data/outside that must never be touched."""
    data = tmp_path / "data"
    paths = {"data": data, "log": data / "log", "backups": data / "backups", "outside": data / "outside"}
    for key in ("log", "backups", "outside"):
        paths[key].mkdir(parents=True)
    (paths["log"] / "archive").mkdir()
    files = {"a": paths["log"] / "a.log", "b": paths["log"] / "b.log", "c": paths["log"] / "archive" / "c.log",
             "target": paths["outside"] / "a.log", "victim": paths["outside"] / "c.log"}
    for path in files.values():
        path.write_bytes(b"x" * 4096)
        os.utime(path, (OLD, OLD))
    return {**paths, **files}


def plan(module_runner: t.Callable[..., t.Any], log_dir: pathlib.Path, backups: pathlib.Path,
         data: pathlib.Path) -> dict[str, t.Any]:
    """disk_usage_info on the directories, then the role's decision."""
    run = module_runner("disk_usage_info", {"paths": [str(data)], "log_dirs": [str(log_dir)], "backup_dirs": [str(backups)],
                                            "largest": 0, "docker": False})
    usage = copy.deepcopy(run.result)
    assert not usage.get("failed"), usage.get("msg")
    # The plan acts only on a full filesystem; that gate is the role's tests' business, not this one's.
    usage["paths"][0]["over_threshold"] = True
    options = {"disk_full_threshold_percent": 90, "disk_full_log_max_age_days": 30, "disk_full_backup_max_age_days": 60,
               "disk_full_keep_backups": 3, "disk_full_allow_unused_images": False, "disk_full_db_data_dirs": [],
               "disk_full_remove_seconds": 60, "usdx_log_dirs": [str(log_dir)], "usdx_backup_dirs": [str(backups)],
               "usdx_compose_project_name": "usdx-wexel"}
    return disk_full_plan(usage, options)


def remove(module_runner: t.Callable[..., t.Any], files: list[dict[str, t.Any]], check_mode: bool = False) -> dict[str, t.Any]:
    result = module_runner("planned_files_remove", {"files": files}, check_mode=check_mode).result
    assert not result.get("failed"), result.get("msg")
    return result


def why(result: dict[str, t.Any], path: pathlib.Path) -> str:
    return {entry["path"]: entry["why"] for entry in result["left"]}[str(path)]


def test_unchanged_files_are_deleted_and_check_mode_deletes_nothing(
        module_runner: t.Callable[..., t.Any], layout: dict[str, pathlib.Path]) -> None:
    planned = plan(module_runner, layout["log"], layout["backups"], layout["data"])
    assert {f["path"] for f in planned["delete"]} == {str(layout[k]) for k in ("a", "b", "c")}

    check = remove(module_runner, planned["delete"], check_mode=True)
    assert check["changed"] is True and {f["path"] for f in check["deleted"]} == {str(layout[k]) for k in ("a", "b", "c")}
    assert check["freed_bytes"] == 3 * 4096 and check["left"] == []
    assert all(layout[k].read_bytes() == b"x" * 4096 for k in ("a", "b", "c")), "check mode deleted a file"

    done = remove(module_runner, planned["delete"])
    assert done["changed"] is True and done["deleted"] == planned["delete"] and done["freed_bytes"] == 3 * 4096
    assert not any(os.path.lexists(layout[k]) for k in ("a", "b", "c"))
    assert layout["target"].exists() and layout["victim"].exists() and layout["log"].is_dir()

    again = remove(module_runner, planned["delete"])
    assert again["changed"] is False and {e["why"] for e in again["left"]} == {"gone"}


def test_a_link_swapped_in_after_the_plan_is_neither_followed_nor_its_target_deleted(
        module_runner: t.Callable[..., t.Any], layout: dict[str, pathlib.Path]) -> None:
    planned = plan(module_runner, layout["log"], layout["backups"], layout["data"])
    layout["a"].unlink()
    layout["a"].symlink_to(layout["target"])
    for check_mode in (True, False):
        result = remove(module_runner, planned["delete"], check_mode=check_mode)
        assert why(result, layout["a"]) == "became a symbolic link since the plan"
    assert layout["a"].is_symlink() and layout["target"].read_bytes() == b"x" * 4096
    assert not layout["b"].exists(), "the unchanged file next to it is deleted"


def test_a_file_grown_after_the_plan_is_left(module_runner: t.Callable[..., t.Any], layout: dict[str, pathlib.Path]) -> None:
    planned = plan(module_runner, layout["log"], layout["backups"], layout["data"])
    with open(layout["b"], "ab") as log:
        log.write(b"a late line\n")
    # Also one that grew with its old modification time put back: the size alone keeps it.
    with open(layout["c"], "ab") as log:
        log.write(b"another\n")
    os.utime(layout["c"], (OLD, OLD))
    result = remove(module_runner, planned["delete"])
    assert why(result, layout["b"]).startswith("modified since the plan")
    assert why(result, layout["c"]) == "grew since the plan (4096 -> 4104 bytes)"
    assert layout["b"].exists() and layout["c"].exists()
    assert [f["path"] for f in result["deleted"]] == [str(layout["a"])] and not layout["a"].exists()


def test_a_file_reached_through_a_link_is_never_deleted(module_runner: t.Callable[..., t.Any],
                                                        layout: dict[str, pathlib.Path]) -> None:
    planned = plan(module_runner, layout["log"], layout["backups"], layout["data"])
    # After the plan, the subdirectory becomes a link out of the log directory to a file of the same name, size and age.
    archive = layout["log"] / "archive"
    layout["c"].unlink()
    archive.rmdir()
    archive.symlink_to(layout["outside"])
    mtime = next(f["mtime"] for f in planned["delete"] if f["path"] == str(layout["c"]))
    os.utime(layout["victim"], (mtime, mtime))
    result = remove(module_runner, planned["delete"])
    assert why(result, layout["c"]) == f"not reached: {archive} is a symbolic link: not followed"
    assert layout["victim"].read_bytes() == b"x" * 4096

    # A configured directory reached through a link: the plan skips it, and the module would not go through it either.
    link = layout["data"].parent / "log-link"
    link.symlink_to(layout["log"])
    (layout["log"] / "d.log").write_bytes(b"x" * 10)
    os.utime(layout["log"] / "d.log", (OLD, OLD))
    through = plan(module_runner, link, layout["backups"], layout["data"])
    assert through["delete"] == [] and through["skipped"] == [f"{link} is a symbolic link or under one: not followed"]
    direct = plan(module_runner, layout["log"], layout["backups"], layout["data"])["delete"]
    forged = [dict(f, path=f["path"].replace(str(layout["log"]), str(link)), dir=str(link)) for f in direct]
    result = remove(module_runner, forged)
    assert result["deleted"] == [] and {e["why"] for e in result["left"]} == {f"not reached: {link} is a symbolic link: not followed"}
    assert (layout["log"] / "d.log").exists()
