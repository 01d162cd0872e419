# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import json
import os
import types

import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _disk
from ansible_collections.usdx.incident.plugins.module_utils._disk import (
    docker_size,
    file_record,
    FileEntry,
    measure_path,
    parse_docker_df_summary,
    read_mounts,
    scan_files,
    shown,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0B", 0), ("68B", 68), ("7.454kB", 7454), ("1.199GB", 1199000000), ("12.5MiB", 13107200),
     ("2TB", 2 * 10**12), (" 3 MB ", 3000000), ("1.5KiB", 1536), ("10", 10)],
    ids=["zero", "bytes", "kB", "GB", "MiB", "TB", "spaces", "KiB", "bare-number"],
)
def test_docker_size(text, expected):
    # _docker.parse_size is the one size parser; docker_size only turns "unparsable" into an error naming it.
    assert docker_size(text) == expected


@pytest.mark.parametrize("text", ["", "N/A", "1.2.3GB", "-1MB", "5XB"], ids=["empty", "na", "two-dots", "negative", "bad-unit"])
def test_docker_size_rejects(text):
    with pytest.raises(ValueError, match="unrecognised size"):
        docker_size(text)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"/data/log/app.log", "/data/log/app.log"),
        (b"/data/log/caf\xc3\xa9.log", "/data/log/caf\u00e9.log"),
        (b"/data/log/\xff\xfe-latin1-\xe9.log", "/data/log/\\xff\\xfe-latin1-\\xe9.log"),
        (b"/data/log/two\nlines.log", "/data/log/two\\x0alines.log"),
        (b"/data/log/\x1b[31mred.log", "/data/log/\\x1b[31mred.log"),
        (b"/data/log/{{ lookup('pipe', 'id') }}.log", "/data/log/{{ lookup('pipe', 'id') }}.log"),
        (b"/data/log/back\\xff.log", "/data/log/back\\\\xff.log"),
        ("/data/log/\u202egol.exe".encode(), "/data/log/\\u202egol.exe"),
    ],
    ids=["plain", "utf-8", "not-utf-8", "newline", "terminal-escape", "template", "backslash", "bidi-override"],
)
def test_shown_escapes_names_of_any_encoding(raw, expected):
    text = shown(os.fsdecode(raw))
    assert text == expected
    json.dumps(text).encode("utf-8")  # valid JSON, valid UTF-8


def test_file_records_show_the_path():
    record = file_record(FileEntry(os.fsdecode(b"/d/\xff.log"), 3, 1_800_000_000.0, 42), 1_800_000_000.0)
    assert record["path"] == "/d/\\xff.log" and record["size"] == 3 and record["inode"] == 42


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("disk/system_df_clean.jsonl", {
            "images": {"total_count": 10, "active": 6, "size_bytes": 1199000000, "reclaimable_bytes": 1199000000},
            "containers": {"total_count": 9, "active": 9, "size_bytes": 7454, "reclaimable_bytes": 0},
            "volumes": {"total_count": 1, "active": 1, "size_bytes": 68, "reclaimable_bytes": 0},
            "build_cache": {"total_count": 30, "active": 0, "size_bytes": 20860, "reclaimable_bytes": 20860},
        }),
        ("disk/system_df_garbage.jsonl", {
            "images": {"total_count": 7, "active": 5, "size_bytes": 3612000000, "reclaimable_bytes": 1199000000},
            "containers": {"total_count": 6, "active": 5, "size_bytes": 2458000, "reclaimable_bytes": 12290},
            "volumes": {"total_count": 1, "active": 1, "size_bytes": 45600000, "reclaimable_bytes": 0},
            "build_cache": {"total_count": 12, "active": 0, "size_bytes": 512000000, "reclaimable_bytes": 512000000},
        }),
    ],
    ids=["recorded-clean", "garbage"],
)
def test_parse_docker_df_summary(fixture_text, fixture, expected):
    rows = [json.loads(line) for line in fixture_text(fixture).splitlines() if line.strip()]
    assert parse_docker_df_summary(rows) == expected


def test_parse_docker_df_summary_ignores_unknown_types():
    assert parse_docker_df_summary([{"Type": "Plugins", "Size": "1GB"}]) == {}


def _touch(path, size=0, age_days=0.0, now=1_800_000_000.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    stamp = now - age_days * 86400
    os.utime(path, (stamp, stamp))


def test_scan_skips_links_and_filters(tmp_path):
    outside = tmp_path / "outside"
    _touch(outside / "secret.log", 100)
    root = tmp_path / "logs"
    _touch(root / "a.log", 1)
    _touch(root / "sub" / "b.log.1", 2)
    _touch(root / "c.txt", 3)
    (root / "link.log").symlink_to(outside / "secret.log")
    (root / "linkdir").symlink_to(outside)
    scan = scan_files(str(root), 1000, patterns=["*.log", "*.log.*"])
    assert sorted(os.path.relpath(f.path, root) for f in scan.files) == ["a.log", "sub/b.log.1"]
    assert not scan.truncated and scan.errors == []
    everything = scan_files(str(root), 1000)
    assert sorted(os.path.basename(f.path) for f in everything.files) == ["a.log", "b.log.1", "c.txt"]


def test_scan_is_bounded(tmp_path):
    for i in range(10):
        _touch(tmp_path / f"f{i}", i)
    scan = scan_files(str(tmp_path), 4)
    assert scan.truncated and scan.scanned == 4 and len(scan.files) == 4 and scan.stopped == "max_files"
    assert scan_files(str(tmp_path), 10).stopped is None


def test_scan_stops_at_its_deadline(tmp_path):
    for i in range(3):
        _touch(tmp_path / f"d{i}" / "f", 1)
    scan = scan_files(str(tmp_path), 1000, deadline=0.0)
    assert scan.truncated and scan.stopped == "deadline" and scan.files == []


def test_scan_reports_odd_names_and_never_follows_a_link_out(tmp_path):
    outside = tmp_path / "outside"
    _touch(outside / "secret.log", 7)
    root = tmp_path / "logs"
    _touch(root / os.fsdecode(b"bad-\xff.log"), 1)
    _touch(root / "new\nline.log", 2)
    (root / "escape").symlink_to(outside)
    (root / "escape.log").symlink_to(outside / "secret.log")
    scan = scan_files(str(root), 100)
    assert sorted(shown(os.path.relpath(f.path, root)) for f in scan.files) == ["bad-\\xff.log", "new\\x0aline.log"]
    assert scan.errors == [] and scan.stopped is None


def test_scan_missing_root(tmp_path):
    scan = scan_files(str(tmp_path / "nope"), 10)
    assert scan.files == [] and "nope" in scan.errors[0]


def test_scan_tolerates_unreadable_and_vanished(tmp_path, monkeypatch):
    _touch(tmp_path / "locked" / "x", 1)
    _touch(tmp_path / "ok" / "gone", 1)
    _touch(tmp_path / "ok" / "kept", 1)
    real_scandir = os.scandir

    class Entry:
        def __init__(self, entry):
            self._entry = entry
            self.name, self.path = entry.name, entry.path

        def stat(self, follow_symlinks=True):
            if self.name == "gone":
                raise FileNotFoundError(2, "No such file or directory")
            return self._entry.stat(follow_symlinks=follow_symlinks)

    class Wrapper:
        def __init__(self, path):
            if os.path.basename(path) == "locked":
                raise PermissionError(13, "Permission denied")
            self._it = real_scandir(path)

        def __enter__(self):
            return (Entry(e) for e in self._it)

        def __exit__(self, *exc):
            self._it.close()

    monkeypatch.setattr(_disk.os, "scandir", Wrapper)
    scan = scan_files(str(tmp_path), 100)
    assert [os.path.basename(f.path) for f in scan.files] == ["kept"]
    assert scan.errors == [f"{tmp_path / 'locked'}: Permission denied"]


def test_measure_path_like_df(monkeypatch):
    vfs = types.SimpleNamespace(f_frsize=4096, f_blocks=1000, f_bfree=100, f_bavail=50,
                                f_files=500, f_ffree=100, f_favail=100)
    monkeypatch.setattr(_disk.os, "statvfs", lambda path: vfs)
    monkeypatch.setattr(_disk, "mount_point", lambda path: "/data")
    result = measure_path("/data/pg", 90, {"/data": "tmpfs"})
    assert result == {
        "path": "/data/pg", "exists": True, "mount_point": "/data", "fs_type": "tmpfs",
        "total_bytes": 4096000, "used_bytes": 3686400, "free_bytes": 204800,
        "percent_used": 94.7, "inodes_total": 500, "inodes_used": 400, "inodes_free": 100,
        "inodes_percent_used": 80.0, "over_threshold": True, "error": None,
    }
    assert measure_path("/data/pg", 95, {})["over_threshold"] is False


def test_measure_path_inodes_over_threshold(monkeypatch):
    vfs = types.SimpleNamespace(f_frsize=1024, f_blocks=100, f_bfree=90, f_bavail=90, f_files=100, f_ffree=1, f_favail=1)
    monkeypatch.setattr(_disk.os, "statvfs", lambda path: vfs)
    result = measure_path("/", 90, {})
    assert (result["percent_used"], result["inodes_percent_used"], result["over_threshold"]) == (10.0, 99.0, True)


def test_measure_missing_path(tmp_path):
    result = measure_path(str(tmp_path / "nope"), 90, {})
    assert result["exists"] is False and result["error"].endswith("does not exist")
    assert result["over_threshold"] is False and result["percent_used"] is None


def test_measure_real_path(tmp_path):
    result = measure_path(str(tmp_path), 100, read_mounts())
    assert result["exists"] and result["total_bytes"] > 0 and os.path.ismount(result["mount_point"])


def test_read_mounts_unescapes(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/sda1 / ext4 rw 0 0\ntmpfs /srv/my\\040data tmpfs rw 0 0\nbroken\n")
    assert read_mounts(str(mounts)) == {"/": "ext4", "/srv/my data": "tmpfs"}
    assert read_mounts(str(tmp_path / "none")) == {}
