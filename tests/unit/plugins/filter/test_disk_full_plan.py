# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The disk_full_plan filter: the decision of the disk_full role.

Over what the role reads on the sandbox (tests/unit/fixtures/disk_full/: disk_usage_info and docker_host_info,
healthy and right after `sandbox.sh fault disk-full`, recorded under the integration lock with the playbook in
tests/integration/test_disk_full_role.py's docstring) and over hostile variants: links, odd names, paths outside
the configured directory, database data directories, `/`, failed and partial diagnoses. Whether a planned file is
still as planned when it is deleted is tests/unit/plugins/module_utils/test_planned_files.py.
"""

from __future__ import annotations

import copy
import json
import pathlib
import typing as t

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.filter.disk_full_plan import FilterModule, disk_full_plan

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "disk_full"
DATA = "/work/main/sandbox/.state/data"
LOG, BACKUPS, PGDATA = f"{DATA}/log", f"{DATA}/backups", f"{DATA}/pgdata"
OPTIONS: dict[str, t.Any] = {
    "disk_full_threshold_percent": 90, "disk_full_log_max_age_days": 30, "disk_full_backup_max_age_days": 60,
    "disk_full_keep_backups": 3, "disk_full_allow_unused_images": False, "disk_full_db_data_dirs": [],
    "disk_full_remove_seconds": 60, "usdx_log_dirs": [LOG], "usdx_backup_dirs": [BACKUPS],
    "usdx_compose_project_name": "usdx-wexel",
}


def recorded(name: str) -> dict[str, t.Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def options(**overrides: t.Any) -> dict[str, t.Any]:
    return {**OPTIONS, **overrides}


def full_plan(usage: dict[str, t.Any] | None = None, docker: t.Any = "recorded", **opts: t.Any) -> dict[str, t.Any]:
    usage = recorded("disk_full") if usage is None else usage
    listing = recorded("disk_full_docker") if docker == "recorded" else docker
    return disk_full_plan(usage, options(**opts), docker=listing)


def old_names(usage: dict[str, t.Any], section: str) -> list[str]:
    return [f["path"] for d in usage[section]["dirs"] for f in d["old_files"]]


def test_registered() -> None:
    assert FilterModule().filters()["disk_full_plan"] is disk_full_plan


def test_recorded_fault_plans_every_old_log_and_the_old_backups_beyond_the_newest() -> None:
    usage = recorded("disk_full")
    result = full_plan(usage)
    assert result["act"] and not result["refused"]
    planned = {f["path"]: f for f in result["delete"]}
    assert {p for p, f in planned.items() if f["category"] == "logs"} == set(old_names(usage, "logs"))
    # Three recent backups (7 and 14 days, and today's real one) already make the newest 3: all old ones go.
    assert {p for p, f in planned.items() if f["category"] == "backups"} == set(old_names(usage, "backups"))
    assert result["predicted"]["logs"] == usage["logs"]["old_bytes"]
    assert result["predicted"]["backups"] == usage["backups"]["old_bytes"]
    devs = {d["path"]: d["dev"] for section in ("logs", "backups") for d in usage[section]["dirs"]}
    assert all(f["dev"] == devs[f["dir"]] for f in planned.values())
    inodes = {f["path"]: f["inode"] for section in ("logs", "backups") for d in usage[section]["dirs"] for f in d["old_files"]}
    assert all(f["inode"] == inodes[f["path"]] for f in planned.values())
    # Recent files are not old_files, so never planned.
    assert not [p for p in planned if p.endswith(("-1.log",))]
    fs = result["filesystems"][0]
    assert fs["predicted_free_bytes"] == fs["free_bytes"] + usage["logs"]["old_bytes"] + usage["backups"]["old_bytes"]
    assert fs["predicted_percent_used"] < 90
    assert any(line.startswith("PREDICTED bytes freed: logs ") for line in result["report"])


def test_recorded_fault_discovers_the_database_directory_from_the_db_container() -> None:
    result = full_plan()
    assert PGDATA in result["db_data_dirs"]
    assert any(line.startswith("NEVER TOUCHED (database data): ") and PGDATA in line for line in result["report"])


def test_recorded_fault_images_keep_current_and_previous_release_and_remove_only_dangling_others() -> None:
    listing = recorded("disk_full_docker")
    result = full_plan()
    kept = {i["id"]: i["why"] for i in result["images_kept"]}
    project = [c for c in listing["containers"] if c["Labels"].get("com.docker.compose.project") == "usdx-wexel"]
    for container in project:
        assert kept[container["ImageID"]].startswith("current release of service")
    assert sum(why.startswith("previous release") for why in kept.values()) >= 1
    removed = result["images_remove"]
    assert removed, "the fault's dangling image is planned"
    assert all(not i["tags"] and i["why"] == "dangling" for i in removed)
    assert not {i["id"] for i in removed} & set(kept)
    fault_image = [i["Id"] for i in listing["images"] if i["Labels"].get("io.usdx-sandbox.fault") == "disk-full"]
    assert fault_image and fault_image[0] in {i["id"] for i in removed}
    assert result["prune_containers"] and result["predicted"]["images"] == sum(i["size"] for i in removed)


def test_unused_tagged_images_only_when_allowed_and_never_the_releases() -> None:
    listing = copy.deepcopy(recorded("disk_full_docker"))
    listing["images"].append({"Id": "sha256:" + "e" * 64, "RepoTags": ["someone/else:1"], "Size": 1000, "Created": 1,
                              "Labels": {}, "Containers": 0})
    without = full_plan(docker=listing)
    assert "sha256:" + "e" * 64 not in {i["id"] for i in without["images_remove"]}
    allowed = full_plan(docker=listing, disk_full_allow_unused_images=True)
    removed = {i["id"]: i for i in allowed["images_remove"]}
    assert removed["sha256:" + "e" * 64]["why"].startswith("unused")
    assert not set(removed) & {i["id"] for i in allowed["images_kept"]}


def test_recorded_healthy_does_nothing() -> None:
    result = disk_full_plan(recorded("healthy"), OPTIONS, docker=recorded("healthy_docker"))
    assert not result["act"] and not result["changes"] and not result["refused"]
    assert result["delete"] == [] and result["images_remove"] == []
    assert result["report"][-1].startswith("HEALTHY")


@pytest.mark.parametrize("change, why", [
    ({"failed": True, "msg": "boom"}, "the disk diagnosis failed: 'boom'"),
    ({"failed": True, "msg": "deadline", "timed_out": True}, "the disk diagnosis failed (timed out)"),
    ({"partial": ["the walk of /x stopped at its deadline"]}, "the disk diagnosis is partial"),
    ({"paths": []}, "could not measure every filesystem"),
])
def test_incomplete_diagnosis_refuses(change: dict[str, t.Any], why: str) -> None:
    usage = {**recorded("disk_full"), **change}
    result = full_plan(usage)
    assert not result["act"] and result["delete"] == [] and result["images_remove"] == []
    assert why in result["refused"][0]
    assert result["report"][-1] == "Nothing will be deleted or pruned."


def test_failed_docker_listing_refuses() -> None:
    result = full_plan(docker={"failed": True, "msg": "cannot connect"})
    assert not result["act"] and "Docker listing failed" in result["refused"][0]


def with_old(section: str, *entries: dict[str, t.Any], file_count: int | None = None) -> dict[str, t.Any]:
    usage = copy.deepcopy(recorded("disk_full"))
    directory = usage[section]["dirs"][0]
    directory["old_files"] = list(entries)
    if file_count is not None:
        directory["file_count"] = file_count
    return usage


def old(path: str, days: int = 90, newest: bool = False, size: int = 10) -> dict[str, t.Any]:
    return {"path": path, "size": size, "mtime": f"2026-08-{days % 28 + 1:02d}T03:00:00+00:00", "age_days": days,
            "newest": newest, "inode": 1000 + days}


@pytest.mark.parametrize("path, why", [
    (LOG + "/bad\\x1b[31m.log", "name not printable"),
    (LOG + "/tab\\x09.log", "name not printable"),
    ("/etc/passwd", "not inside"),
    (LOG + "/../pgdata/base/1", "not inside"),
    (DATA + "/logother/x.log", "not inside"),
])
def test_hostile_log_entries_are_kept(path: str, why: str) -> None:
    result = full_plan(with_old("logs", old(path)))
    assert path not in {f["path"] for f in result["delete"]}
    assert [k["why"] for k in result["kept"] if k["path"] == path][0].startswith(why)


def test_odd_but_printable_names_are_planned() -> None:
    odd = [LOG + "/a b 'c' $(rm -rf ~).log", LOG + "/ünïcødé.log", LOG + "/-rf.log", LOG + "/sub dir/x.log"]
    result = full_plan(with_old("logs", *(old(p) for p in odd)))
    assert {f["path"] for f in result["delete"] if f["category"] == "logs"} == set(odd)


@pytest.mark.parametrize("keep, recent, expected_deleted", [
    (3, 0, 2),   # 5 old, no recent backup: the newest 3 old ones stay
    (3, 1, 3),   # 1 recent counts among the 3: 2 old ones stay
    (3, 3, 5),   # 3 recent: every old one may go
    (1, 0, 4),
    (10, 0, 0),  # fewer backups than N: none deleted
])
def test_newest_backups_are_kept_whatever_their_age(keep: int, recent: int, expected_deleted: int) -> None:
    entries = [old(f"{BACKUPS}/b{i}.sql.gz", days=200 - i) for i in range(5)]
    entries.sort(key=lambda e: e["mtime"])
    result = full_plan(with_old("backups", *entries, file_count=5 + recent), disk_full_keep_backups=keep)
    deleted = [f["path"] for f in result["delete"] if f["category"] == "backups"]
    assert len(deleted) == expected_deleted
    newest = [e["path"] for e in entries][len(entries) - (len(entries) - expected_deleted):]
    assert not set(deleted) & set(newest)


@pytest.mark.parametrize("change, why", [
    ({"symlinked": True}, f"{LOG} is a symbolic link or under one: not followed"),
    ({"symlinked": None}, f"{LOG}: the diagnosis does not say whether it is reached through a symbolic link"),
    ({"symlinked": "no"}, f"{LOG}: the diagnosis does not say whether it is reached through a symbolic link"),
    ({"exists": False}, f"{LOG} does not exist or is not a directory"),
    ({"dev": None}, f"{LOG}: the diagnosis does not give its filesystem (dev)"),
    ({"dev": True}, f"{LOG}: the diagnosis does not give its filesystem (dev)"),
], ids=["link", "link-unknown", "link-not-bool", "missing", "dev-unknown", "dev-not-int"])
def test_a_configured_directory_that_is_a_link_or_unknown_is_not_followed(change: dict[str, t.Any], why: str) -> None:
    usage = copy.deepcopy(recorded("disk_full"))
    usage["logs"]["dirs"][0].update(change)
    if change.get("symlinked") is None and "symlinked" in change:
        del usage["logs"]["dirs"][0]["symlinked"]
    result = disk_full_plan(usage, OPTIONS, docker=None)
    assert not [f for f in result["delete"] if f["category"] == "logs"]
    assert why in result["skipped"]
    assert any(line == f"SKIP: {why}" for line in result["report"])
    assert [f for f in result["delete"] if f["category"] == "backups"]


@pytest.mark.parametrize("inode", [None, "12", -1, True], ids=["missing", "text", "negative", "bool"])
def test_a_file_without_an_inode_is_kept(inode: t.Any) -> None:
    entry = old(LOG + "/x.log")
    if inode is None:
        del entry["inode"]
    else:
        entry["inode"] = inode
    result = full_plan(with_old("logs", entry))
    assert LOG + "/x.log" not in {f["path"] for f in result["delete"]}
    assert {"path": LOG + "/x.log", "why": "inode unknown: the deletion could not tell it from a replacement"} in result["kept"]


def test_a_configured_directory_mounted_as_database_data_refuses() -> None:
    listing = copy.deepcopy(recorded("disk_full_docker"))
    listing["containers"][0]["Mounts"] = [{"Source": LOG, "Destination": "/var/lib/postgresql/data"}]
    result = full_plan(docker=listing)
    assert not result["act"] and "usdx_log_dirs" in result["refused"][0]


@pytest.mark.parametrize("name, value, message", [
    ("usdx_backup_dirs", ["/"], "usdx_backup_dirs: / is / or a system path"),
    ("usdx_log_dirs", ["/etc/nginx"], "usdx_log_dirs: /etc/nginx is / or a system path"),
    ("usdx_log_dirs", ["/var/lib/postgresql/15/main"], "usdx_log_dirs: /var/lib/postgresql/15/main is / or a system"),
    ("usdx_backup_dirs", ["/usr"], "usdx_backup_dirs: /usr is"),
    ("usdx_backup_dirs", ["/boot"], "usdx_backup_dirs: /boot is"),
    ("usdx_log_dirs", ["relative/log"], "usdx_log_dirs: 'relative/log' is not a normalized absolute path"),
    ("usdx_log_dirs", ["/srv/x/../../etc"], "usdx_log_dirs: '/srv/x/../../etc' is not a normalized absolute path"),
    ("usdx_backup_dirs", ["//"], "usdx_backup_dirs: '//' is not a normalized absolute path"),
    ("usdx_log_dirs", ["/srv/log/"], "usdx_log_dirs: '/srv/log/' is not a normalized absolute path"),
    ("usdx_log_dirs", "/srv/log", "usdx_log_dirs must be a list"),
    ("usdx_backup_dirs", [PGDATA], f"usdx_backup_dirs: {PGDATA} overlaps the database data directory"),
    ("usdx_backup_dirs", [DATA], f"usdx_backup_dirs: {DATA} overlaps the database data directory"),
    ("disk_full_threshold_percent", "ninety", "disk_full_threshold_percent must be a number > 0 and <= 100, got 'ninety'"),
    ("disk_full_threshold_percent", 0, "disk_full_threshold_percent must be"),
    ("disk_full_threshold_percent", 101, "disk_full_threshold_percent must be"),
    ("disk_full_threshold_percent", True, "disk_full_threshold_percent must be"),
    ("disk_full_log_max_age_days", -1, "disk_full_log_max_age_days must be an integer from 1 to 36500, got -1"),
    ("disk_full_backup_max_age_days", 2.5, "disk_full_backup_max_age_days must be an integer"),
    ("disk_full_keep_backups", 0, "disk_full_keep_backups must be an integer from 1"),
    ("disk_full_allow_unused_images", "yes", "disk_full_allow_unused_images must be true or false"),
    ("usdx_compose_project_name", "", "usdx_compose_project_name must be a non-empty string"),
    ("disk_full_remove_seconds", 0, "disk_full_remove_seconds must be a number of seconds > 0, got 0"),
    ("disk_full_remove_seconds", "soon", "disk_full_remove_seconds must be a number of seconds > 0, got 'soon'"),
    ("disk_full_remove_seconds", False, "disk_full_remove_seconds must be"),
])
def test_bad_options_name_the_variable(name: str, value: t.Any, message: str) -> None:
    opts = options(**{name: value}, disk_full_db_data_dirs=[PGDATA])
    with pytest.raises(AnsibleFilterError, match="^" + __import__("re").escape(message)):
        disk_full_plan(None, opts)


def test_no_input_returns_the_checked_options() -> None:
    checked = disk_full_plan(None, options(disk_full_threshold_percent="85"))
    assert checked["threshold_percent"] == 85.0 and checked["usdx_log_dirs"] == [LOG]


def after_of(percent: float, free: int, failed: bool = False) -> dict[str, t.Any]:
    usage = copy.deepcopy(recorded("healthy"))
    usage["paths"][0].update(percent_used=percent, free_bytes=free, over_threshold=percent >= 90)
    if failed:
        return {"failed": True, "msg": "statvfs failed"}
    return usage


def test_outcome_reports_freed_per_category_against_the_prediction() -> None:
    result = full_plan()
    deleted = result["delete"][:2]
    outcome = disk_full_plan(result, OPTIONS, after=after_of(30.0, 180_000_000), deleted=deleted)
    assert outcome["healthy"]
    assert outcome["freed"]["logs"] == sum(d["size"] for d in deleted)
    assert f"FREED logs: {outcome['freed']['logs']} bytes (predicted {result['predicted']['logs']})" in outcome["report"]


@pytest.mark.parametrize("percent, failed, summary", [
    (93.0, False, "VOLUME NEEDS EXTENDING: /work/main/sandbox/.state/data is 93.0% used (5000 of"),
    (30.0, True, "NOT VERIFIED: the measurement after the clean-up failed"),
])
def test_outcome_still_full_escalates(percent: float, failed: bool, summary: str) -> None:
    outcome = disk_full_plan(full_plan(), OPTIONS, after=after_of(percent, 5000, failed), deleted=[])
    assert not outcome["healthy"] and outcome["summary"].startswith(summary)
