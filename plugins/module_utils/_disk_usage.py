# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The worker of usdx.incident.disk_usage_info (and of triage_info's C(disk) check)."""

from __future__ import annotations

import json
import os
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.usdx.incident.plugins.module_utils._disk import (
    ScanResult,
    file_record,
    largest_files,
    measure_path,
    parse_docker_df_summary,
    read_mounts,
    scan_files,
    shown,
)
from ansible_collections.usdx.incident.plugins.module_utils._docker import DockerCli, DockerError
from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError
from ansible_collections.usdx.incident.plugins.module_utils._shared_reading import shared_reading

# The engine runs one disk-usage operation at a time and refuses another at once with this error: several stacks
# triaged side by side on one engine (a fleet) ask together. The running one answers within a second or so, so the
# call is repeated for up to DF_BUSY_SECONDS (and never past the module's deadline, which each call keeps).
DF_BUSY = "a disk usage operation is already running"
DF_BUSY_SECONDS = 20.0
DF_BUSY_PAUSE = 0.5

DOCKER_KINDS = ("images", "containers", "volumes", "build_cache")
# Seconds all directory walks of one run may take together, unless the options say otherwise.
SCAN_SECONDS = 20.0
# Seconds kept from the caller's deadline (triage_info's check deadline) for what follows the walks.
DEADLINE_MARGIN = 1.0


def system_df(client: DockerCli) -> tuple[str, bool]:
    """(C(docker system df --format '{{json .}}')'s output, whether another module's reading was used).

    The modules of this host that ask one engine together share one reading that started after each asked
    (module_utils/_shared_reading): a fleet's eight triages would otherwise queue eight.
    """
    give_up = time.monotonic() + DF_BUSY_SECONDS
    if client.deadline is not None:
        give_up = min(give_up, client.deadline)
    engine = "\0".join([client.docker, os.environ.get("DOCKER_HOST", ""), os.environ.get("DOCKER_CONTEXT", "")])
    return shared_reading("docker system df\0" + engine, lambda: _system_df_retrying(client), give_up)


def _system_df_retrying(client: DockerCli) -> str:
    """C(docker system df)'s output, repeated while the engine is busy with another's (DF_BUSY)."""
    give_up = time.monotonic() + DF_BUSY_SECONDS
    while True:
        try:
            return client.run(["system", "df", "--format", "{{json .}}"])[1]
        except DockerError as exc:
            next_try = time.monotonic() + DF_BUSY_PAUSE
            if DF_BUSY not in str(exc) or next_try >= give_up or (client.deadline is not None and next_try >= client.deadline):
                raise
        time.sleep(DF_BUSY_PAUSE)


class DiskUsage:
    """Collects the facts; touches nothing.

    O(params) holds the options of usdx.incident.disk_usage_info (checked by validate()). Unreadable paths are
    results; only an unexpected OSError escapes run().
    """

    def __init__(self, module: t.Any, params: t.Mapping[str, t.Any]) -> None:
        self.module = module
        self.params = params
        self.now = time.time()
        deadline = time.monotonic() + params.get("scan_seconds", SCAN_SECONDS)
        caller = getattr(module, "deadline", None)
        self.deadline = deadline if caller is None else min(deadline, caller - DEADLINE_MARGIN)
        self.partial: list[str] = []

    def measure(self, path: str, mounts: dict[str, str]) -> dict[str, t.Any]:
        """L(measure_path), with the path (also inside its error) L(shown)."""
        result = measure_path(path, self.params["threshold_percent"], mounts)
        result["path"] = shown(path)
        if result["error"]:
            result["error"] = result["error"].replace(path, result["path"])
        return result

    def scan(self, root: str, **kwargs: t.Any) -> ScanResult:
        """One bounded walk; one stopped early or unable to read a directory is a C(partial) reason."""
        result = scan_files(root, self.params["max_files"], deadline=self.deadline, **kwargs)
        if result.stopped == "max_files":
            self.partial.append(f"the walk of {shown(root)} stopped after max_files={self.params['max_files']} entries: "
                                "files beyond them were not seen")
        elif result.stopped == "deadline":
            self.partial.append(f"the walk of {shown(root)} stopped at its deadline after {result.scanned} entries: "
                                "files beyond them were not seen")
        if result.errors:
            self.partial.append(f"{len(result.errors)} entries under {shown(root)} could not be read, "
                                f"the first: {result.errors[0]}")
        return result

    def old_files(self, directory: str, patterns: list[str], max_age_days: int, mark_newest: bool) -> dict[str, t.Any]:
        entry: dict[str, t.Any] = {
            "path": shown(directory), "exists": os.path.isdir(directory), "file_count": 0, "total_bytes": 0,
            "newest": None, "old_files": [], "old_count": 0, "old_bytes": 0, "truncated": False, "errors": [],
            # What a clean-up needs to know of the directory itself: reached through a link, and its filesystem.
            "symlinked": os.path.realpath(directory) != os.path.abspath(directory),
            "dev": _lstat_dev(directory),
        }
        if not entry["exists"]:
            entry["errors"] = [f"{shown(directory)}: " + ("not a directory" if os.path.lexists(directory) else "does not exist")]
            return entry
        scan = self.scan(directory, patterns=patterns)
        newest = max(scan.files, key=lambda f: (f.mtime, f.path)) if (mark_newest and scan.files) else None
        limit = self.now - max_age_days * 86400.0
        old = sorted((f for f in scan.files if f.mtime < limit), key=lambda f: (f.mtime, f.path))
        records = []
        for item in old:
            record = file_record(item, self.now)
            record["newest"] = item == newest
            records.append(record)
        counted = [r for r in records if not r["newest"]]
        if newest is not None:
            entry["newest"] = dict(file_record(newest, self.now), newest=True)
        entry.update({
            "file_count": len(scan.files),
            "total_bytes": sum(f.size for f in scan.files),
            "old_files": records,
            "old_count": len(counted),
            "old_bytes": sum(r["size"] for r in counted),
            "truncated": scan.truncated,
            "errors": scan.errors,
        })
        return entry

    def old_files_section(self, dirs: list[str], patterns: list[str], max_age_days: int, mark_newest: bool) -> dict[str, t.Any]:
        entries = [self.old_files(d, patterns, max_age_days, mark_newest) for d in dirs]
        return {
            "max_age_days": max_age_days,
            "dirs": entries,
            "old_count": sum(e["old_count"] for e in entries),
            "old_bytes": sum(e["old_bytes"] for e in entries),
        }

    def largest(self) -> tuple[list[dict[str, t.Any]], dict[str, t.Any]]:
        count = self.params["largest"]
        info: dict[str, t.Any] = {"files_scanned": 0, "truncated": False, "errors": []}
        if count == 0:
            return [], info
        seen: dict[str, t.Any] = {}
        for root in self.params["paths"]:
            scan = self.scan(root, one_filesystem=True)
            info["files_scanned"] += scan.scanned
            info["truncated"] = info["truncated"] or scan.truncated
            info["errors"].extend(scan.errors)
            for item in largest_files(scan.files, count):
                seen[item.path] = item
        return [file_record(f, self.now) for f in largest_files(seen.values(), count)], info

    def docker(self) -> dict[str, t.Any] | None:
        if not self.params["docker"]:
            return None
        result: dict[str, t.Any] = {"available": False, "shared": False, "error": None, "reclaimable_bytes": 0}
        result.update({kind: None for kind in DOCKER_KINDS})
        if not self.module.get_bin_path(self.params["docker_cli"]):
            result["error"] = f"docker CLI {self.params['docker_cli']!r} not found"
            return result
        client = DockerCli(self.module, docker_cli=self.params["docker_cli"], project_name=self.params["project_name"])
        try:
            out, result["shared"] = system_df(client)
            kinds = parse_docker_df_summary(json.loads(line) for line in out.splitlines() if line.strip())
        except DockerError as exc:
            result["error"] = str(exc)
            return result
        except (ValueError, TypeError, AttributeError) as exc:
            # A row that is not an object, or not the shape docker prints.
            result["error"] = f"cannot parse docker system df output: {exc}"
            return result
        result.update(kinds)
        result["available"] = True
        result["reclaimable_bytes"] = sum(v["reclaimable_bytes"] for v in kinds.values())
        return result

    def run(self) -> dict[str, t.Any]:
        params = self.params
        # docker system df (a second or so inside the engine) runs while the directories are walked.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="usdx-disk") as pool:
            docker_future = pool.submit(self.docker)
            mounts = read_mounts()
            measured = [self.measure(p, mounts) for p in params["paths"]]
            logs = self.old_files_section(params["log_dirs"], params["log_patterns"], params["log_max_age_days"], False)
            backups = self.old_files_section(params["backup_dirs"], params["backup_patterns"], params["backup_max_age_days"], True)
            largest, scan = self.largest()
            docker = docker_future.result()
        if docker and not docker["available"]:
            self.partial.append(f"docker's reclaimable space is unknown: {docker['error']}")
        docker_bytes = docker["reclaimable_bytes"] if docker else 0
        result = {
            "changed": False,
            "paths": measured,
            "full": [m["path"] for m in measured if m["over_threshold"]],
            "threshold_percent": float(params["threshold_percent"]),
            "logs": logs,
            "backups": backups,
            "largest_files": largest,
            "scan": scan,
            "docker": docker,
            "summary": {
                "old_log_bytes": logs["old_bytes"],
                "old_backup_bytes": backups["old_bytes"],
                "docker_reclaimable_bytes": docker_bytes,
                "reclaimable_bytes": logs["old_bytes"] + backups["old_bytes"] + docker_bytes,
            },
        }
        if self.partial:
            result["partial"] = self.partial
        return result


def _lstat_dev(path: str) -> int | None:
    try:
        return os.lstat(path).st_dev
    except OSError:
        return None


def validate(params: t.Mapping[str, t.Any]) -> None:
    """Raise OptionError naming the first option out of range."""
    if not 0 < params["threshold_percent"] <= 100:
        raise OptionError(f"threshold_percent={params['threshold_percent']!r} is out of range: accepted values are > 0 and <= 100", option="threshold_percent")
    for name in ("log_max_age_days", "backup_max_age_days", "largest"):
        if params[name] < 0:
            raise OptionError(f"{name}={params[name]!r} is negative: accepted values are integers >= 0", option=name)
    if not params.get("scan_seconds", SCAN_SECONDS) > 0:
        raise OptionError(f"scan_seconds={params['scan_seconds']!r} is out of range: accepted values are > 0", option="scan_seconds")
    if params["max_files"] < 1:
        raise OptionError(f"max_files={params['max_files']!r} is out of range: accepted values are integers >= 1", option="max_files")
