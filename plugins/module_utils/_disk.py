# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Read-only disk measurements: statvfs, bounded directory scans, C(docker system df).

File names are host data of any encoding and content: they are reported through L(shown), never as raw bytes.
"""

from __future__ import annotations

import datetime
import fnmatch
import heapq
import os
import re
import stat
import time
import typing as t

from ansible_collections.usdx.incident.plugins.module_utils._docker import parse_size

SECONDS_PER_DAY = 86400.0
# `docker system df` summary Type -> key of the result.
DOCKER_DF_KINDS = {
    "Images": "images",
    "Containers": "containers",
    "Local Volumes": "volumes",
    "Build Cache": "build_cache",
}


def iso_utc(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).isoformat(timespec="seconds")


def percent(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 1) if whole > 0 else 0.0


def read_mounts(mounts_file: str = "/proc/self/mounts") -> dict[str, str]:
    """Mount point -> filesystem type (the last mount of a point wins); empty when unreadable."""
    result: dict[str, str] = {}
    try:
        with open(mounts_file, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) >= 3:
                    # Octal escapes (\040 for a space) as the kernel writes them.
                    point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1])
                    result[point] = fields[2]
    except OSError:
        pass
    return result


def mount_point(path: str) -> str:
    """The mount point a (real, existing) path lives on."""
    current = os.path.realpath(path)
    while not os.path.ismount(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current


def measure_path(path: str, threshold_percent: float, mounts: dict[str, str]) -> dict[str, t.Any]:
    """What C(df -h) and C(df -i) say about the filesystem holding O(path)."""
    result: dict[str, t.Any] = {
        "path": path, "exists": False, "mount_point": None, "fs_type": None,
        "total_bytes": None, "used_bytes": None, "free_bytes": None, "percent_used": None,
        "inodes_total": None, "inodes_used": None, "inodes_free": None, "inodes_percent_used": None,
        "over_threshold": False, "error": None,
    }
    try:
        vfs = os.statvfs(path)
    except FileNotFoundError:
        result["error"] = f"{path} does not exist"
        return result
    except OSError as exc:
        result["exists"] = os.path.lexists(path)
        result["error"] = f"statvfs({path}) failed: {exc.strerror or exc}"
        return result
    point = mount_point(path)
    total = vfs.f_blocks * vfs.f_frsize
    free_root = vfs.f_bfree * vfs.f_frsize
    avail = vfs.f_bavail * vfs.f_frsize
    used = total - free_root
    # Like df: the share of the space that unprivileged users can use that is used.
    usable = used + avail
    inodes_used = vfs.f_files - vfs.f_ffree
    result.update({
        "exists": True,
        "mount_point": point,
        "fs_type": mounts.get(point),
        "total_bytes": total,
        "used_bytes": used,
        "free_bytes": avail,
        "percent_used": percent(used, usable),
        "inodes_total": vfs.f_files,
        "inodes_used": inodes_used,
        "inodes_free": vfs.f_favail,
        "inodes_percent_used": percent(inodes_used, inodes_used + vfs.f_favail),
    })
    result["over_threshold"] = result["percent_used"] >= threshold_percent or (
        vfs.f_files > 0 and result["inodes_percent_used"] >= threshold_percent)
    return result


def shown(path: str) -> str:
    """A path as text that is safe everywhere (JSON, a terminal, a log line) and unambiguous.

    Bytes that are not UTF-8 (os.scandir hands them over as surrogates) become C(\\xNN); control and other
    invisible characters C(\\xNN), C(\\uNNNN) or C(\\UNNNNNNNN); a backslash C(\\\\), so no name can spell an escape.
    """
    if path.isprintable() and "\\" not in path:
        return path
    return "".join(_escape(char) for char in path)


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if char == "\\":
        return "\\\\"
    if char.isprintable():
        return char
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class FileEntry(t.NamedTuple):
    path: str
    size: int
    mtime: float
    # Its identity on its filesystem: a clean-up deletes the file the plan saw, not another one put in its place.
    inode: int


class ScanResult(t.NamedTuple):
    files: list[FileEntry]
    scanned: int
    truncated: bool
    errors: list[str]
    # Why the walk stopped early: "max_files" or "deadline"; None when it saw everything.
    stopped: str | None = None


def scan_files(root: str, max_files: int, patterns: list[str] | None = None, one_filesystem: bool = False,
               max_errors: int = 20, deadline: float | None = None) -> ScanResult:
    """Regular files under O(root), recursively, never following symbolic links.

    Symbolic links (to files or directories) are skipped, so the scan never leaves O(root).
    Unreadable directories are counted as errors (paths L(shown)), files and directories that vanish during the
    scan are left out; nothing is raised. At most O(max_files) directory entries are examined, and none after the
    absolute time.monotonic() O(deadline) (C(truncated) and C(stopped) say so).
    With O(patterns), only files whose base name matches one of the shell patterns are returned.
    """
    files: list[FileEntry] = []
    errors: list[str] = []
    scanned = 0
    stopped: str | None = None
    try:
        root_dev = os.lstat(root).st_dev
    except OSError as exc:
        return ScanResult([], 0, False, [f"{shown(root)}: {exc.strerror or exc}"])
    stack = [root]
    while stack and stopped is None:
        directory = stack.pop()
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if scanned >= max_files:
                        stopped = "max_files"
                        break
                    # The clock is read every 256 entries: a walk of a million files stays linear and cheap.
                    if deadline is not None and scanned % 256 == 0 and time.monotonic() >= deadline:
                        stopped = "deadline"
                        break
                    scanned += 1
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError as exc:
                        if not isinstance(exc, FileNotFoundError) and len(errors) < max_errors:
                            errors.append(f"{shown(entry.path)}: {exc.strerror or exc}")
                        continue
                    if stat.S_ISDIR(info.st_mode):
                        if not one_filesystem or info.st_dev == root_dev:
                            stack.append(entry.path)
                    elif stat.S_ISREG(info.st_mode):
                        if patterns is None or any(fnmatch.fnmatchcase(entry.name, p) for p in patterns):
                            files.append(FileEntry(entry.path, info.st_size, info.st_mtime, info.st_ino))
        except FileNotFoundError:
            continue
        except OSError as exc:
            if len(errors) < max_errors:
                errors.append(f"{shown(directory)}: {exc.strerror or exc}")
            continue
    return ScanResult(files, scanned, stopped is not None, errors, stopped)


def file_record(entry: FileEntry, now: float) -> dict[str, t.Any]:
    return {
        "path": shown(entry.path),
        "size": entry.size,
        "mtime": iso_utc(entry.mtime),
        "age_days": round((now - entry.mtime) / SECONDS_PER_DAY, 2),
        "inode": entry.inode,
    }


def largest_files(files: t.Iterable[FileEntry], count: int) -> list[FileEntry]:
    return heapq.nlargest(count, files, key=lambda f: (f.size, f.path))


def docker_size(text: str) -> int:
    """A size as docker prints it, in bytes (L(parse_size)); raises ValueError naming anything else."""
    size = parse_size(text)
    if size is None:
        raise ValueError(f"unrecognised size {text!r}")
    return size


def _int_or_none(value: t.Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_docker_df_summary(lines: t.Iterable[dict[str, t.Any]]) -> dict[str, dict[str, t.Any]]:
    """Rows of C(docker system df --format '{{json .}}') -> kind -> counts and sizes in bytes.

    C(Reclaimable) looks like C(1.199GB (100%)); the percentage is dropped.
    """
    kinds: dict[str, dict[str, t.Any]] = {}
    for row in lines:
        kind = DOCKER_DF_KINDS.get(str(row.get("Type", "")))
        if kind is None:
            continue
        reclaimable = str(row.get("Reclaimable", "0B")).split("(", maxsplit=1)[0].strip() or "0B"
        kinds[kind] = {
            "total_count": _int_or_none(row.get("TotalCount")),
            "active": _int_or_none(row.get("Active")),
            "size_bytes": docker_size(str(row.get("Size", "0B"))),
            "reclaimable_bytes": docker_size(reclaimable),
        }
    return kinds
