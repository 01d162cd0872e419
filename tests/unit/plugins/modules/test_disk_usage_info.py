# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os
import time
import types

import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _disk, _disk_usage
from ansible_collections.usdx.incident.plugins.modules import disk_usage_info

DAY = 86400.0


def _file(path, size, age_days):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    stamp = time.time() - age_days * DAY
    os.utime(path, (stamp, stamp))
    return str(path)


@pytest.fixture
def data(tmp_path):
    """A data directory laid out like the sandbox's after the disk-full fault."""
    root = tmp_path / "data"
    _file(root / "log" / "indexer.log", 300, 0.1)
    _file(root / "log" / "indexer.log.1", 200, 31)
    _file(root / "log" / "archive" / "webapp.log.2026-08-01", 500, 119)
    _file(root / "log" / "notes.txt", 50, 400)
    _file(root / "backups" / "usdx_wexel-2026-11-27.sql.gz", 1000, 1.2)
    _file(root / "backups" / "usdx_wexel-2026-09-01.sql.gz", 900, 88)
    _file(root / "backups" / "usdx_wexel-2026-08-01.sql.gz", 800, 119)
    (root / "log" / "escape.log").symlink_to(tmp_path)
    return root


def _args(data, **extra):
    args = {"paths": [str(data)], "log_dirs": [str(data / "log")], "backup_dirs": [str(data / "backups")], "largest": 3}
    args.update(extra)
    return args


def test_finds_old_logs_and_backups_and_keeps_the_newest(run_module, fake_docker, fixture_text, data):
    docker = fake_docker({("system", "df"): (0, fixture_text("disk/system_df_garbage.jsonl"), "")})
    result = run_module(disk_usage_info.main, _args(data), docker)
    assert result["changed"] is False
    logs = result["logs"]["dirs"][0]
    assert [os.path.basename(f["path"]) for f in logs["old_files"]] == ["webapp.log.2026-08-01", "indexer.log.1"]
    assert (logs["old_count"], logs["old_bytes"], logs["file_count"], logs["total_bytes"]) == (2, 700, 3, 1000)
    assert result["logs"]["max_age_days"] == 30
    assert all(f["newest"] is False and f["age_days"] > 30 for f in logs["old_files"])
    backups = result["backups"]["dirs"][0]
    assert os.path.basename(backups["newest"]["path"]) == "usdx_wexel-2026-11-27.sql.gz"
    assert backups["newest"]["newest"] is True
    assert [os.path.basename(f["path"]) for f in backups["old_files"]] == ["usdx_wexel-2026-08-01.sql.gz", "usdx_wexel-2026-09-01.sql.gz"]
    assert (backups["old_count"], backups["old_bytes"]) == (2, 1700)
    assert [f["size"] for f in result["largest_files"]] == [1000, 900, 800]
    assert result["docker"]["available"] is True
    assert result["docker"]["images"]["reclaimable_bytes"] == 1199000000
    assert result["docker"]["reclaimable_bytes"] == 1199000000 + 12290 + 512000000
    assert result["summary"] == {"old_log_bytes": 700, "old_backup_bytes": 1700,
                                 "docker_reclaimable_bytes": 1711012290, "reclaimable_bytes": 1711014690}
    assert docker.called("system", "df") == [["/usr/bin/docker", "system", "df", "--format", "{{json .}}"]]


def test_newest_backup_is_flagged_even_when_old(run_module, tmp_path):
    _file(tmp_path / "b" / "one.dump", 10, 200)
    _file(tmp_path / "b" / "two.dump", 20, 100)
    result = run_module(disk_usage_info.main, {"paths": [str(tmp_path)], "backup_dirs": [str(tmp_path / "b")], "docker": False, "largest": 0})
    backups = result["backups"]["dirs"][0]
    assert [(os.path.basename(f["path"]), f["newest"]) for f in backups["old_files"]] == [("one.dump", False), ("two.dump", True)]
    assert (backups["old_count"], backups["old_bytes"]) == (1, 10)
    assert result["summary"]["old_backup_bytes"] == 10
    assert result["docker"] is None and result["largest_files"] == []


def test_full_lists_paths_over_the_threshold(run_module, monkeypatch, tmp_path):
    full = types.SimpleNamespace(f_frsize=4096, f_blocks=65536, f_bfree=2000, f_bavail=2000, f_files=1000, f_ffree=900, f_favail=900)
    roomy = types.SimpleNamespace(f_frsize=4096, f_blocks=65536, f_bfree=60000, f_bavail=60000, f_files=1000, f_ffree=900, f_favail=900)
    monkeypatch.setattr(_disk.os, "statvfs", lambda path: full if path.endswith("data") else roomy)
    (tmp_path / "data").mkdir()
    result = run_module(disk_usage_info.main, {"paths": [str(tmp_path / "data"), str(tmp_path)], "docker": False, "largest": 0})
    assert result["full"] == [str(tmp_path / "data")]
    assert result["paths"][0]["percent_used"] == 96.9 and result["paths"][0]["over_threshold"] is True
    assert result["paths"][1]["over_threshold"] is False
    assert result["threshold_percent"] == 90.0
    strict = run_module(disk_usage_info.main, {"paths": [str(tmp_path / "data")], "docker": False, "largest": 0, "threshold_percent": 98})
    assert strict["full"] == []


def test_a_clean_up_learns_each_directory_s_links_and_filesystem_and_each_file_s_inode(run_module, data, tmp_path):
    (tmp_path / "log-link").symlink_to(data / "log")
    (tmp_path / "parent-link").symlink_to(data)
    dirs = [str(data / "log"), str(tmp_path / "log-link"), str(tmp_path / "parent-link" / "log"), str(tmp_path / "nolog")]
    result = run_module(disk_usage_info.main, {"paths": [str(data)], "log_dirs": dirs, "docker": False, "largest": 0})
    real, link, below_link, missing = result["logs"]["dirs"]
    assert (real["symlinked"], link["symlinked"], below_link["symlinked"], missing["symlinked"]) == (False, True, True, False)
    assert real["dev"] == os.lstat(data / "log").st_dev and missing["dev"] is None
    assert {f["path"]: f["inode"] for f in real["old_files"]} == {f["path"]: os.lstat(f["path"]).st_ino for f in real["old_files"]}


def test_missing_dirs_are_reported(run_module, tmp_path):
    result = run_module(disk_usage_info.main, {"paths": [str(tmp_path / "nope")], "log_dirs": [str(tmp_path / "nolog")],
                                               "docker": False})
    assert result["paths"][0]["exists"] is False and result["full"] == []
    assert result["logs"]["dirs"][0]["exists"] is False
    assert result["logs"]["dirs"][0]["errors"] == [f"{tmp_path / 'nolog'}: does not exist"]
    assert result["scan"]["errors"]


def test_docker_failure_is_reported(run_module, fake_docker, tmp_path):
    docker = fake_docker({("system", "df"): (1, "", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock")})
    result = run_module(disk_usage_info.main, {"paths": [str(tmp_path)], "largest": 0}, docker)
    assert result.get("failed") is not True
    assert result["docker"]["available"] is False
    assert "Cannot connect to the Docker daemon" in result["docker"]["error"]
    assert result["docker"]["images"] is None and result["summary"]["docker_reclaimable_bytes"] == 0
    assert result["partial"] == ["docker's reclaimable space is unknown: " + result["docker"]["error"]]


def test_docker_garbage_output_is_reported(run_module, fake_docker, tmp_path):
    docker = fake_docker({("system", "df"): (0, "not json\n", "")})
    result = run_module(disk_usage_info.main, {"paths": [str(tmp_path)], "largest": 0}, docker)
    assert result["docker"]["available"] is False and "cannot parse" in result["docker"]["error"]
    assert result["partial"] == ["docker's reclaimable space is unknown: " + result["docker"]["error"]]


@pytest.mark.parametrize("output", ['[1, 2]\n', '{"Type": "Images", "Size": "lots"}\n', '"text"\n'],
                         ids=["list-row", "bad-size", "string-row"])
def test_docker_rows_of_any_shape_are_reported(run_module, fake_docker, tmp_path, output):
    docker = fake_docker({("system", "df"): (0, output, "")})
    result = run_module(disk_usage_info.main, {"paths": [str(tmp_path)], "largest": 0}, docker)
    assert result["docker"]["available"] is False and result["docker"]["error"].startswith("cannot parse docker system df")
    assert len(result["partial"]) == 1


def test_a_walk_stopped_at_max_files_is_partial(run_module, data):
    result = run_module(disk_usage_info.main, _args(data, max_files=2, docker=False))
    assert result["scan"]["truncated"] is True and result["logs"]["dirs"][0]["truncated"] is True
    assert any(reason.startswith(f"the walk of {data / 'log'} stopped after max_files=2 entries") for reason in result["partial"])


def test_a_walk_stopped_at_its_deadline_is_partial(run_module, data, monkeypatch):
    # The run starts at 0 on its clock; the walk finds itself at 100, past the 0.5 s it was given.
    monkeypatch.setattr(_disk_usage, "time", types.SimpleNamespace(time=time.time, monotonic=lambda: 0.0))
    monkeypatch.setattr(_disk, "time", types.SimpleNamespace(monotonic=lambda: 100.0))
    result = run_module(disk_usage_info.main, _args(data, docker=False, scan_seconds=0.5))
    assert result["logs"]["dirs"][0]["truncated"] is True
    assert any("stopped at its deadline" in reason for reason in result["partial"])


def test_odd_file_names_are_reported_escaped(run_module, tmp_path):
    logs = tmp_path / "log"
    _file(logs / os.fsdecode(b"old-\xff\xfe.log"), 10, 40)
    _file(logs / "line\nbreak.log", 10, 40)
    result = run_module(disk_usage_info.main, {"paths": [str(tmp_path)], "log_dirs": [str(logs)], "docker": False,
                                               "largest": 5})
    old = sorted(f["path"] for f in result["logs"]["dirs"][0]["old_files"])
    assert old == [f"{logs}/line\\x0abreak.log", f"{logs}/old-\\xff\\xfe.log"]
    assert sorted(f["path"] for f in result["largest_files"]) == old and "partial" not in result


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"threshold_percent": 0}, "threshold_percent=0.0 is out of range: accepted values are > 0 and <= 100"),
        ({"threshold_percent": 150}, "threshold_percent=150.0 is out of range"),
        ({"log_max_age_days": -1}, "log_max_age_days=-1 is negative: accepted values are integers >= 0"),
        ({"backup_max_age_days": -5}, "backup_max_age_days=-5 is negative"),
        ({"largest": -1}, "largest=-1 is negative"),
        ({"max_files": 0}, "max_files=0 is out of range: accepted values are integers >= 1"),
        ({"scan_seconds": 0}, "scan_seconds=0.0 is out of range: accepted values are > 0"),
    ],
    ids=["threshold-zero", "threshold-over-100", "log-age", "backup-age", "largest", "max-files", "scan-seconds"],
)
def test_bad_options_fail_naming_the_value(run_module, args, message):
    result = run_module(disk_usage_info.main, {"docker": False, **args})
    assert result["failed"] is True
    assert message in result["msg"]
