# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""What the runbook scenario "Out of Disk Space" deletes and prunes, decided from what the host reports.

L(check_options) checks the role's variables (each error names the variable). L(plan) reads

- the diagnosis: a M(usdx.incident.disk_usage_info) result (with each configured directory's C(symlinked) and
  C(dev), and each old file's C(inode)). Failed, timed out or partial: the plan refuses;
- C(docker): C(community.docker.docker_host_info) (containers_all, images, verbose) or V(None) without Docker;

and returns exactly the files to delete (what M(usdx.incident.planned_files_remove) takes: it re-checks each just
before deleting it), the images to remove, and the bytes each category is expected to free. L(outcome) judges the
measurement after the clean-up (freed per category against the plan, "volume needs extending").

Rules: act only while a measured filesystem is at or over the threshold; logs older than the log age, backups older
than the backup age but never the newest O(disk_full_keep_backups) of a directory; a file is planned only when it
is strictly inside its configured directory, that directory is a real directory (neither a link nor under one), not
inside a database data directory, its name is printable (an escaped name cannot be passed back to the host safely)
and the diagnosis gave its inode (what the deletion checks it by). Images: the
current image of every service of the project and its previous release (the newest older image labelled for the
same service) are never removed; dangling images otherwise are, unused tagged ones only with
O(disk_full_allow_unused_images). Containers: only stopped ones of no compose project are pruned (L(prunable_containers)),
never one of any project: this stack's killed indexer is its incident's evidence, and on a host running several
stacks another stack's stopped container is that stack's. Host data is read leniently and never raises.
"""

from __future__ import annotations

import posixpath
import typing as t
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.module_utils._planned_files import (
    inside,
    normalized_absolute,
    system_directory,
    system_paths_text,
)
from ansible_collections.usdx.incident.plugins.plugin_utils._compat import fromisoformat
from ansible_collections.usdx.incident.plugins.plugin_utils._values import as_mapping, as_number, show

NAME = "disk_full_plan"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
DIR_LISTS = ("usdx_log_dirs", "usdx_backup_dirs")
# A container mount at one of these destinations is a database data directory on the host.
DB_DATA_DESTINATIONS = ("/var/lib/postgresql", "/var/lib/mysql", "/data/db")
# The states docker container prune removes: every container that is not running, paused or restarting.
STOPPED_STATES = ("created", "exited", "dead")


def _int_var(options: Mapping[str, t.Any], key: str, low: int, high: int) -> int:
    value = options.get(key)
    number = as_number(value) if not isinstance(value, bool) else None
    if number is None or number != int(number) or not low <= number <= high:
        raise AnsibleFilterError(f"{key} must be an integer from {low} to {high}, got {show(value)}")
    return int(number)


def _dir_list(options: Mapping[str, t.Any], key: str) -> list[str]:
    value = options.get(key)
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise AnsibleFilterError(f"{key} must be a list of absolute directory paths, got {show(value)}")
    result = []
    for item in value:
        if not normalized_absolute(item):
            raise AnsibleFilterError(f"{key}: {show(item)} is not a normalized absolute path (no '..', '.', '//')")
        result.append(item)
    return result


def check_options(options: t.Any) -> dict[str, t.Any]:
    """The role's variables, checked: raise AnsibleFilterError naming the first bad one."""
    if not isinstance(options, Mapping):
        raise AnsibleFilterError(f"{NAME}: options must be a dict, got {show(options)}")
    threshold = options.get("disk_full_threshold_percent")
    number = as_number(threshold) if not isinstance(threshold, bool) else None
    if number is None or not 0 < number <= 100:
        raise AnsibleFilterError(f"disk_full_threshold_percent must be a number > 0 and <= 100, got {show(threshold)}")
    seconds = options.get("disk_full_remove_seconds")
    remove_seconds = as_number(seconds) if not isinstance(seconds, bool) else None
    if remove_seconds is None or remove_seconds <= 0:
        raise AnsibleFilterError(f"disk_full_remove_seconds must be a number of seconds > 0, got {show(seconds)}")
    opts: dict[str, t.Any] = {
        "threshold_percent": float(number),
        "remove_seconds": remove_seconds,
        "log_max_age_days": _int_var(options, "disk_full_log_max_age_days", 1, 36500),
        "backup_max_age_days": _int_var(options, "disk_full_backup_max_age_days", 1, 36500),
        "keep_backups": _int_var(options, "disk_full_keep_backups", 1, 100000),
        "allow_unused_images": options.get("disk_full_allow_unused_images", False),
        "project": options.get("usdx_compose_project_name"),
        "db_data_dirs": _dir_list(options, "disk_full_db_data_dirs"),
    }
    if not isinstance(opts["allow_unused_images"], bool):
        raise AnsibleFilterError(f"disk_full_allow_unused_images must be true or false, got {show(opts['allow_unused_images'])}")
    if not isinstance(opts["project"], str) or not opts["project"]:
        raise AnsibleFilterError(f"usdx_compose_project_name must be a non-empty string, got {show(opts['project'])}")
    for key in DIR_LISTS:
        dirs = _dir_list(options, key)
        for directory in dirs:
            if system_directory(directory):
                raise AnsibleFilterError(f"{key}: {directory} is / or a system path; accepted: a directory of the "
                                         f"project's own, outside {system_paths_text()}")
            for data_dir in opts["db_data_dirs"]:
                if inside(directory, data_dir) or inside(data_dir, directory):
                    raise AnsibleFilterError(f"{key}: {directory} overlaps the database data directory {data_dir} "
                                             "(disk_full_db_data_dirs): accepted: a directory outside it")
        opts[key] = dirs
    return opts


def _list(value: t.Any) -> list[t.Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


def _int(value: t.Any) -> int:
    number = as_number(value)
    return int(number) if number is not None and not isinstance(value, bool) else 0


def _epoch(iso: t.Any) -> int | None:
    try:
        return int(fromisoformat(str(iso)).timestamp())
    except ValueError:
        return None


def diagnosis_problem(usage: Mapping[str, t.Any]) -> str | None:
    """Why the disk diagnosis cannot be acted on, or None."""
    if not usage:
        return "the disk diagnosis (disk_usage_info) returned nothing"
    if usage.get("failed"):
        timed = " (timed out)" if usage.get("timed_out") else ""
        return f"the disk diagnosis failed{timed}: {show(usage.get('msg'))}"
    if _list(usage.get("partial")):
        return "the disk diagnosis is partial: " + "; ".join(show(p) for p in _list(usage["partial"]))
    if not _list(usage.get("paths")) or any(as_mapping(p).get("error") for p in _list(usage.get("paths"))):
        return "the disk diagnosis could not measure every filesystem"
    return None


def _dir_problem(directory: str, entry: Mapping[str, t.Any]) -> str | None:
    """Why the files of a configured directory may not be planned (its disk_usage_info entry), or None."""
    symlinked = entry.get("symlinked")
    if not isinstance(symlinked, bool):
        return f"{directory}: the diagnosis does not say whether it is reached through a symbolic link"
    if symlinked:
        return f"{directory} is a symbolic link or under one: not followed"
    if entry.get("exists") is not True:
        return f"{directory} does not exist or is not a directory"
    if not isinstance(entry.get("dev"), int) or isinstance(entry.get("dev"), bool):
        return f"{directory}: the diagnosis does not give its filesystem (dev)"
    return None


def _inode(item: Mapping[str, t.Any]) -> int | None:
    value = item.get("inode")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _files(usage: Mapping[str, t.Any], section: str, dirs_key: str, opts: Mapping[str, t.Any],
           kept: list[dict[str, t.Any]], skipped: list[str]) -> list[dict[str, t.Any]]:
    """The old files of one section (logs or backups) that may be deleted."""
    category = "logs" if section == "logs" else "backups"
    entries = {str(as_mapping(e).get("path")): as_mapping(e) for e in _list(as_mapping(usage.get(section)).get("dirs"))}
    planned = []
    for directory in opts[dirs_key]:
        entry = entries.get(directory)
        if entry is None:
            skipped.append(f"{directory}: not in the diagnosis")
            continue
        problem = _dir_problem(directory, entry)
        if problem:
            skipped.append(problem)
            continue
        dev = entry["dev"]
        old = sorted((as_mapping(f) for f in _list(entry.get("old_files"))), key=lambda f: (str(f.get("mtime")), str(f.get("path"))))
        keep_old = 0
        if category == "backups":
            # Backups newer than the age limit are not in old_files; the newest N are kept whatever their age.
            recent = max(0, _int(entry.get("file_count")) - len(old))
            keep_old = max(0, opts["keep_backups"] - recent)
        for index, item in enumerate(old):
            path = str(item.get("path"))
            if keep_old and index >= len(old) - keep_old:
                kept.append({"path": path, "why": f"one of the newest {opts['keep_backups']} backups"})
            elif item.get("newest"):
                kept.append({"path": path, "why": "the newest backup of its directory"})
            elif "\\" in path or not path.isprintable():
                kept.append({"path": path, "why": "name not printable: left for a human"})
            elif not path.startswith(directory + "/") or ".." in path.split("/"):
                kept.append({"path": path, "why": f"not inside {directory}"})
            elif _epoch(item.get("mtime")) is None:
                kept.append({"path": path, "why": "modification time unreadable"})
            elif _inode(item) is None:
                kept.append({"path": path, "why": "inode unknown: the deletion could not tell it from a replacement"})
            else:
                planned.append({"path": path, "category": category, "size": _int(item.get("size")),
                                "mtime": _epoch(item.get("mtime")), "age_days": item.get("age_days"),
                                "dir": directory, "dev": dev, "inode": _inode(item)})
    return planned


def _images(docker: Mapping[str, t.Any], opts: Mapping[str, t.Any]) -> tuple[list[dict[str, t.Any]], list[dict[str, t.Any]]]:
    """Images to remove and images protected (current and previous release of every service of the project)."""
    containers = [as_mapping(c) for c in _list(docker.get("containers"))]
    images = [as_mapping(i) for i in _list(docker.get("images"))]
    used = {str(c.get("ImageID")) for c in containers}
    protected: dict[str, str] = {}
    by_service: dict[str, list[Mapping[str, t.Any]]] = {}
    for image in images:
        labels = as_mapping(image.get("Labels"))
        if labels.get(PROJECT_LABEL) == opts["project"] and labels.get(SERVICE_LABEL):
            by_service.setdefault(str(labels[SERVICE_LABEL]), []).append(image)
    for container in containers:
        labels = as_mapping(container.get("Labels"))
        if labels.get(PROJECT_LABEL) != opts["project"]:
            continue
        current = str(container.get("ImageID"))
        protected[current] = f"current release of service {show(labels.get(SERVICE_LABEL))}"
        created = next((_int(i.get("Created")) for i in images if i.get("Id") == current), None)
        older = [i for i in by_service.get(str(labels.get(SERVICE_LABEL)), [])
                 if i.get("Id") != current and created is not None and _int(i.get("Created")) <= created]
        if older:
            previous = max(older, key=lambda i: (_int(i.get("Created")), str(i.get("Id"))))
            protected.setdefault(str(previous.get("Id")), f"previous release of service {show(labels.get(SERVICE_LABEL))}")
    remove, kept = [], []
    for image in sorted(images, key=lambda i: str(i.get("Id"))):
        image_id = str(image.get("Id"))
        tags = [str(tag) for tag in _list(image.get("RepoTags")) if tag != "<none>:<none>"]
        view = {"id": image_id, "tags": tags, "size": _int(image.get("Size"))}
        if image_id in protected:
            kept.append(dict(view, why=protected[image_id]))
        elif image_id in used or _int(image.get("Containers")) > 0:
            kept.append(dict(view, why="used by a container"))
        elif tags and not opts["allow_unused_images"]:
            continue
        else:
            remove.append(dict(view, why="dangling" if not tags else "unused (disk_full_allow_unused_images)"))
    return remove, kept


def prunable_containers(docker: Mapping[str, t.Any]) -> list[str]:
    """Names (or ids) of the stopped containers a prune may remove: those without a compose project label. A
    container whose labels cannot be read is not one (the prune's filter would judge it, the plan cannot)."""
    found = []
    for container in _list(docker.get("containers")):
        container = as_mapping(container)
        labels = container.get("Labels")
        if container.get("State") not in STOPPED_STATES or not isinstance(labels, Mapping) or PROJECT_LABEL in labels:
            continue
        names = [str(n).lstrip("/") for n in _list(container.get("Names")) if isinstance(n, str)]
        found.append(names[0] if names else str(container.get("Id", "?"))[:12])
    return sorted(found)


def db_data_mounts(docker: Mapping[str, t.Any]) -> list[str]:
    """Host directories that containers mount as a database data directory (C(/var/lib/postgresql/data), ...)."""
    found = set()
    for container in _list(docker.get("containers")):
        for mount in _list(as_mapping(container).get("Mounts")):
            mount = as_mapping(mount)
            source, destination = mount.get("Source"), str(mount.get("Destination", ""))
            if isinstance(source, str) and source.startswith("/") and any(inside(destination, d) for d in DB_DATA_DESTINATIONS):
                found.add(posixpath.normpath(source))
    return sorted(found)


def plan(usage: t.Any, options: t.Any, docker: t.Any = None) -> dict[str, t.Any]:
    """What to delete and prune; see the module docstring."""
    opts = check_options(options)
    usage = as_mapping(usage)
    discovered = db_data_mounts(as_mapping(docker)) if docker is not None else []
    opts["db_data_dirs"] = sorted(set(opts["db_data_dirs"]) | set(discovered))
    result: dict[str, t.Any] = {
        "refused": [], "act": False, "full": [], "delete": [], "kept": [], "skipped": [],
        "images_remove": [], "images_kept": [], "prune_containers": False, "containers_prune": [],
        "prune_build_cache": False,
        "predicted": {"logs": 0, "backups": 0, "images": 0, "containers": 0, "build_cache": 0},
        "filesystems": [],
        "docker_before": {k: v for k, v in as_mapping(usage.get("docker")).items() if isinstance(v, Mapping)},
    }
    problem = diagnosis_problem(usage)
    if problem:
        result["refused"].append(problem)
    if docker is not None and (as_mapping(docker).get("failed") or not as_mapping(docker).get("can_talk_to_docker", True)):
        result["refused"].append(f"the Docker listing failed: {show(as_mapping(docker).get('msg'))}")
    for key in DIR_LISTS:
        for directory in opts[key]:
            for data_dir in discovered:
                if inside(directory, data_dir) or inside(data_dir, directory):
                    result["refused"].append(f"{key}: {directory} overlaps {data_dir}, which a container mounts "
                                             "as a database data directory")
    result["db_data_dirs"] = opts["db_data_dirs"]
    paths = [as_mapping(p) for p in _list(usage.get("paths"))]
    result["full"] = [str(p.get("path")) for p in paths if p.get("over_threshold")
                      or _int(p.get("percent_used")) >= opts["threshold_percent"]]
    result["act"] = not result["refused"] and bool(result["full"])
    if result["act"]:
        kept, skipped = result["kept"], result["skipped"]
        result["delete"] = (_files(usage, "logs", "usdx_log_dirs", opts, kept, skipped)
                            + _files(usage, "backups", "usdx_backup_dirs", opts, kept, skipped))
        if docker is not None:
            result["images_remove"], result["images_kept"] = _images(as_mapping(docker), opts)
            kinds = as_mapping(usage.get("docker"))
            result["containers_prune"] = prunable_containers(as_mapping(docker))
            result["prune_containers"] = bool(result["containers_prune"])
            result["prune_build_cache"] = _int(as_mapping(kinds.get("build_cache")).get("reclaimable_bytes")) > 0
            if result["prune_containers"]:
                result["predicted"]["containers"] = _int(as_mapping(kinds.get("containers")).get("reclaimable_bytes"))
            result["predicted"]["build_cache"] = _int(as_mapping(kinds.get("build_cache")).get("reclaimable_bytes"))
            result["predicted"]["images"] = sum(i["size"] for i in result["images_remove"])
    for category in ("logs", "backups"):
        result["predicted"][category] = sum(f["size"] for f in result["delete"] if f["category"] == category)
    for path in paths:
        freed = sum(f["size"] for f in result["delete"] if inside(f["path"], str(path.get("mount_point") or "/")))
        total, free = _int(path.get("total_bytes")), _int(path.get("free_bytes"))
        used = _int(path.get("used_bytes"))
        usable = used + free
        result["filesystems"].append({
            "path": str(path.get("path")), "total_bytes": total, "free_bytes": free,
            "percent_used": path.get("percent_used"),
            "predicted_free_bytes": free + freed,
            "predicted_percent_used": round(100.0 * (used - freed) / usable, 1) if usable > 0 else None,
        })
    result["changes"] = bool(result["delete"] or result["images_remove"] or result["prune_containers"]
                             or result["prune_build_cache"])
    result["report"] = report(result, opts)
    return result


def report(result: Mapping[str, t.Any], opts: Mapping[str, t.Any]) -> list[str]:
    if result["refused"]:
        return ["REFUSED: " + r for r in result["refused"]] + ["Nothing will be deleted or pruned."]
    lines = [f"{f['path']}: {f['percent_used']}% used, {f['free_bytes']} bytes free; predicted after the file "
             f"clean-up: {f['predicted_percent_used']}% used, {f['predicted_free_bytes']} bytes free"
             for f in result["filesystems"]]
    if not result["act"]:
        return lines + [f"HEALTHY: no filesystem is at or over {opts['threshold_percent']}%; nothing to do."]
    predicted = result["predicted"]
    lines += [f"DELETE {f['category']}: {f['path']} ({f['size']} bytes, {f['age_days']} days old)" for f in result["delete"]]
    lines += [f"KEEP: {k['path']} ({k['why']})" for k in result["kept"]]
    lines += [f"SKIP: {s}" for s in result["skipped"]]
    lines += [f"REMOVE image {i['id'][:19]} {i['tags'] or '<untagged>'} ({i['size']} bytes, {i['why']})" for i in result["images_remove"]]
    lines += [f"KEEP image {i['id'][:19]} {i['tags'] or '<untagged>'} ({i['why']})" for i in result["images_kept"]]
    if result["prune_containers"]:
        lines.append("PRUNE stopped containers of no compose project: " + ", ".join(result["containers_prune"]))
    if result["prune_build_cache"]:
        lines.append("PRUNE the build cache")
    lines.append("PREDICTED bytes freed: " + ", ".join(f"{k} {v}" for k, v in predicted.items())
                 + " (images and containers are upper bounds: a layer shared with a kept image stays, and docker's"
                 " reclaimable containers include the stopped ones of compose projects, which are kept)")
    lines.append("NEVER TOUCHED (database data): " + (", ".join(opts["db_data_dirs"]) or "none known"))
    return lines


def outcome(plan_result: t.Any, deleted: t.Any, after: t.Any, options: t.Any) -> dict[str, t.Any]:
    """What the clean-up freed per category against the plan, and whether every filesystem is below the threshold.

    O(after) is M(usdx.incident.disk_usage_info) run again; a failed or unmeasured one is not healthy.
    """
    opts = check_options(options)
    plan_result, after = as_mapping(plan_result), as_mapping(after)
    predicted = as_mapping(plan_result.get("predicted"))
    deleted = [as_mapping(d) for d in _list(deleted)]
    freed = {category: sum(_int(d.get("size")) for d in deleted if d.get("category") == category)
             for category in ("logs", "backups")}
    before_docker = {k: _int(as_mapping(v).get("size_bytes")) for k, v in as_mapping(plan_result.get("docker_before")).items()}
    after_docker = as_mapping(after.get("docker"))
    for kind, key in (("images", "images"), ("containers", "containers"), ("build_cache", "build_cache")):
        freed[kind] = max(0, before_docker.get(key, 0) - _int(as_mapping(after_docker.get(key)).get("size_bytes"))) \
            if before_docker else 0
    lines = [f"FREED {k}: {freed[k]} bytes (predicted {_int(predicted.get(k))})" for k in freed]
    before = {str(f.get("path")): as_mapping(f) for f in _list(plan_result.get("filesystems"))}
    problem = None if not after.get("failed") else f"the measurement after the clean-up failed: {show(after.get('msg'))}"
    measured = [as_mapping(p) for p in _list(after.get("paths"))]
    if not measured and problem is None:
        problem = "the measurement after the clean-up returned no filesystem"
    still_full = []
    for path in measured:
        name = str(path.get("path"))
        free_before = _int(before.get(name, {}).get("free_bytes"))
        lines.append(f"{name}: {path.get('percent_used')}% used, {_int(path.get('free_bytes'))} bytes free "
                     f"(+{_int(path.get('free_bytes')) - free_before} bytes; predicted "
                     f"{before.get(name, {}).get('predicted_percent_used')}%)")
        if path.get("error") or path.get("over_threshold") or as_number(path.get("percent_used")) is None \
                or float(as_number(path.get("percent_used")) or 0) >= opts["threshold_percent"]:
            still_full.append(f"{name} is {path.get('percent_used')}% used ({_int(path.get('free_bytes'))} of "
                              f"{_int(path.get('total_bytes'))} bytes free, threshold {opts['threshold_percent']}%)")
    healthy = problem is None and not still_full
    if problem:
        summary = f"NOT VERIFIED: {problem}"
    elif still_full:
        summary = ("VOLUME NEEDS EXTENDING: " + "; ".join(still_full)
                   + " after the safe clean-up; escalate: extend the volume or free space by hand.")
    else:
        summary = f"every filesystem is below {opts['threshold_percent']}%"
    return {"healthy": healthy, "freed": freed, "predicted": dict(predicted), "summary": summary,
            "report": lines + [summary]}
