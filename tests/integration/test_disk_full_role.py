# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The disk_full role (playbooks/disk_full.yml) against the live sandbox.

The disk-full fault fills the stack's 256 MiB data filesystem to >= 95 % with old (35-80 days) and recent logs,
old (65-120 days) and recent backups, and leaves a dangling image and a stopped container. The test also plants
an old marker in the database's data directory and, in the log directory, old links to a file and a directory
outside it. Check mode predicts exactly the old files and their bytes and changes nothing; the real run frees
the space, deletes only those files, keeps the recent logs, the newest backups, the marker, the links' targets and
every image the project's containers use (and the previous release's); a second run changes nothing. Bad variables
are rejected before anything is read. The fixtures `sandbox` and `sandbox_fault` (conftest.py) take the integration
lock and always clear the fault.

The unit tests' fixtures (tests/unit/fixtures/disk_full/) were recorded under the same lock with
disk_usage_info and community.docker.docker_host_info (verbose) after `sandbox.sh fault clear` and
`sandbox.sh fault disk-full`.

Run: .venv/bin/pytest -m sandbox tests/integration/test_disk_full_role.py
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import stat
import subprocess
import time
import typing as t

import pytest

from playbook_run import HOST, PlaybookRun, run_playbook  # noqa: E402
from sandbox_stack import REPO, STACK  # noqa: E402

pytestmark = pytest.mark.sandbox

PLAYBOOK = REPO / "playbooks" / "disk_full.yml"
DATA = STACK.data_dir
LOG, BACKUPS, PGDATA = DATA / "log", DATA / "backups", DATA / "pgdata"
DAY = 86400.0
PROJECT = STACK.project


class Run(PlaybookRun):
    @property
    def result(self) -> dict[str, t.Any]:
        done = self.task("Record the outcome") or self.task("Record what was done")
        assert done is not None, f"the role did not finish (rc={self.rc}): {self.stderr[-2000:]}"
        return done["ansible_facts"]["disk_full_result"]


def run_role(*args: str, check: bool = False) -> Run:
    return run_playbook(PLAYBOOK, Run, *args, check=check)


def snapshot(*roots: pathlib.Path) -> dict[str, tuple[str, int, float]]:
    """Every entry under roots, links not followed: path -> (kind, size, mtime)."""
    seen = {}
    for root in roots:
        for directory, subdirs, files in os.walk(root):
            for name in subdirs + files:
                info = os.lstat(os.path.join(directory, name))
                kind = "link" if stat.S_ISLNK(info.st_mode) else "dir" if stat.S_ISDIR(info.st_mode) else "file"
                seen[os.path.join(directory, name)] = (kind, info.st_size, info.st_mtime)
    return seen


def free_bytes() -> int:
    vfs = os.statvfs(DATA)
    return vfs.f_bavail * vfs.f_frsize


def percent_used() -> float:
    vfs = os.statvfs(DATA)
    used = (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize
    return 100.0 * used / (used + vfs.f_bavail * vfs.f_frsize)


def docker_lines(*args: str) -> list[str]:
    out = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, check=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def project_image_ids() -> set[str]:
    containers = docker_lines("ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}")
    return set(docker_lines("inspect", "--format", "{{.Image}}", *containers))


def expected_old() -> tuple[set[str], set[str]]:
    """Old logs (> 30 days, *.log) and the old backups (> 60 days) beyond the newest 3, found independently."""
    now = time.time()
    logs = {p for p, (kind, _s, m) in snapshot(LOG).items()
            if kind == "file" and p.endswith(".log") and m < now - 30 * DAY}
    backups = sorted(((m, p) for p, (kind, _s, m) in snapshot(BACKUPS).items() if kind == "file"), reverse=True)
    return logs, {p for m, p in backups[3:] if m < now - 60 * DAY}


@pytest.fixture
def planted(sandbox_fault: t.Callable[[str], str]) -> t.Iterator[dict[str, pathlib.Path]]:
    """The disk-full fault, plus old survivors: a marker in the database's directory, links out of the log dir."""
    sandbox_fault("disk-full")
    paths = {"marker": PGDATA / "usdx-disk-full-marker.log", "target": DATA / "outside-target.log",
             "dir": DATA / "outside-dir", "link": LOG / "zz-old-link.log", "dirlink": LOG / "zz-linked-dir"}
    old = time.time() - 90 * DAY
    try:
        paths["dir"].mkdir(exist_ok=True)
        for path in (paths["marker"], paths["target"], paths["dir"] / "old.log"):
            path.write_text("must survive\n")
            os.utime(path, (old, old))
        paths["link"].symlink_to(paths["target"])
        paths["dirlink"].symlink_to(paths["dir"])
        for link in (paths["link"], paths["dirlink"]):
            os.utime(link, (old, old), follow_symlinks=False)
        yield paths
    finally:
        for key in ("link", "dirlink", "marker", "target"):
            if paths[key].is_symlink() or paths[key].exists():
                paths[key].unlink()
        shutil.rmtree(paths["dir"], ignore_errors=True)


@pytest.mark.newest
def test_disk_full_check_mode_predicts_then_the_fix_frees_space_and_harms_nothing(planted: dict[str, pathlib.Path]) -> None:
    old_logs, old_backups = expected_old()
    before, free_before = snapshot(LOG, BACKUPS, planted["dir"]), free_bytes()
    marker_before = os.lstat(planted["marker"])
    assert percent_used() >= 95 and old_logs and old_backups

    check = run_role(check=True)
    assert check.rc == 0, check.stderr[-2000:]
    plan = check.result
    assert plan["check_mode"] and plan["refused"] == []
    planned = {f["path"]: f for f in plan["planned"]}
    assert {p for p, f in planned.items() if f["category"] == "logs"} == old_logs
    assert {p for p, f in planned.items() if f["category"] == "backups"} == old_backups
    assert plan["predicted"]["logs"] == sum(before[p][1] for p in old_logs)
    assert plan["predicted"]["backups"] == sum(before[p][1] for p in old_backups)
    assert not {str(planted[k]) for k in ("marker", "target", "link", "dirlink")} & set(planned)
    after_check = snapshot(LOG, BACKUPS, planted["dir"])
    for path in set(planned) | {str(planted["link"]), str(planted["dir"] / "old.log")}:
        assert after_check.get(path) == before.get(path), f"check mode changed {path}"
    assert set(after_check) >= set(before)
    assert os.lstat(planted["marker"]).st_mtime == marker_before.st_mtime
    # One module run re-checked every planned file and would delete each of them (check mode: it deleted none).
    would = check.task("Delete the planned old logs and backups (find -mtime -delete, re-checked)")
    assert would is not None and "results" not in would
    assert {f["path"] for f in would["deleted"]} == set(planned) and would["left"] == [] and would["changed"]
    # The stack keeps writing its live logs (a few KiB); nothing was deleted.
    assert abs(free_bytes() - free_before) < 1024 * 1024
    dangling = set(docker_lines("images", "-q", "--no-trunc", "--filter", "label=io.usdx-sandbox.fault"))
    assert dangling <= {i["id"] for i in plan["images_planned"]}
    assert docker_lines("ps", "-aq", "--filter", "label=io.usdx-sandbox.fault"), "check mode removed the stopped container"
    protected = project_image_ids()
    assert protected <= {i["id"] for i in plan["images_kept"]}

    fix = run_role()
    assert fix.rc == 0, fix.stderr[-2000:]
    done = fix.result
    assert {f["path"] for f in done["deleted"]} == set(planned) and done["left"] == []
    removed = fix.task("Delete the planned old logs and backups (find -mtime -delete, re-checked)")
    assert removed["freed_bytes"] == plan["predicted"]["logs"] + plan["predicted"]["backups"] and not removed["timed_out"]
    assert done["freed"]["logs"] == plan["predicted"]["logs"] and done["freed"]["backups"] == plan["predicted"]["backups"]
    assert done["healthy"] and percent_used() < 90
    after = snapshot(LOG, BACKUPS, planted["dir"])
    assert not set(planned) & set(after)
    recent = [p for p, (kind, _s, m) in before.items() if kind == "file" and p.startswith(str(LOG) + "/") and p not in planned]
    assert recent and all(p in after for p in recent)
    newest_backups = sorted((m, p) for p, (_k, _s, m) in before.items() if p.startswith(str(BACKUPS) + "/"))[-3:]
    assert all(p in after for _m, p in newest_backups)
    assert planted["marker"].read_text() == "must survive\n"
    assert planted["target"].read_text() == "must survive\n" and (planted["dir"] / "old.log").exists()
    assert planted["link"].is_symlink() and planted["dirlink"].is_symlink()
    assert (PGDATA / "PG_VERSION").exists()
    assert protected <= set(docker_lines("images", "-q", "--no-trunc"))
    # The current and previous release of every service (and images in use) are all still there. A machine that
    # built the sandbox once has no previous release: then there is none to keep, and the plan must not invent one.
    previous = {i["id"] for i in plan["images_kept"] if i["why"].startswith("previous release")}
    assert previous <= {i["id"] for i in done["images_kept"] if i["why"].startswith("previous release")}
    assert previous <= set(docker_lines("images", "-qa", "--no-trunc"))
    assert {i["id"] for i in done["images_kept"]} <= set(docker_lines("images", "-qa", "--no-trunc"))
    assert not set(docker_lines("images", "-q", "--no-trunc", "--filter", "label=io.usdx-sandbox.fault"))
    assert not docker_lines("ps", "-aq", "--filter", "label=io.usdx-sandbox.fault")

    again = run_role()
    assert again.rc == 0 and again.stats["changed"] == 0, again.stderr[-2000:]


@pytest.mark.parametrize("variable, value, message", [
    ("disk_full_threshold_percent", "ninety", "disk_full_threshold_percent"),
    ("disk_full_log_max_age_days", -1, "disk_full_log_max_age_days must be an integer from 1 to 36500, got -1"),
    ("disk_full_backup_max_age_days", -5, "disk_full_backup_max_age_days must be an integer from 1"),
    ("usdx_backup_dirs", ["/"], "usdx_backup_dirs: / is / or a system path"),
    ("usdx_log_dirs", ["/var/lib/postgresql/data"], "usdx_log_dirs: /var/lib/postgresql/data is / or a system path"),
    ("usdx_backup_dirs", [str(PGDATA)], "overlaps"),
    ("disk_full_remove_seconds", 0, "disk_full_remove_seconds must be a number of seconds > 0, got 0"),
])
def test_bad_variables_are_rejected_before_anything_is_read(sandbox: dict[str, str], variable: str, value: t.Any,
                                                            message: str) -> None:
    extra = {variable: value}
    if variable == "usdx_backup_dirs" and message == "overlaps":
        extra["disk_full_db_data_dirs"] = [str(PGDATA)]
    run = run_role("-e", json.dumps(extra))
    assert run.rc != 0 and run.stats["changed"] == 0
    failures = [h for play in run.doc["plays"] for task in play["tasks"] for name, h in task["hosts"].items()
                if name == HOST and h.get("failed")]
    assert failures and message in failures[0]["msg"]
    assert run.task("Diagnose the disk (disk_usage_info; runbook df -h, docker system df, find -mtime)") is None
