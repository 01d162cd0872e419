# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The incident folder on the controller: its id, its record, and the per-stack record of the chain.

One incident is one folder C(<incidents_dir>/INC-YYYY-MM-DD-NN/) (UTC date, sequence per day). The id is taken by
creating its folder: mkdir is atomic, so two responses starting in the same second get different ids. The folder is
also the ansible-runner private data dir of the C(usdx-incident) wrapper, which allocates the id with allocate()
before its first run; a plain ansible-playbook run allocates it in its first step (usdx.incident.incident_record).

C(incident.json) holds what the whole incident shares (id, channel, severity, scenario, start); C(hosts/<host>.json)
holds each stack's steps, written only by that host's task, so forks never write the same file.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import typing as t

from ansible_collections.usdx.incident.plugins.plugin_utils._findings_file import Unsafe, write

INCIDENT_ID = re.compile(r"^INC-(\d{4})-(\d{2})-(\d{2})-(\d{2,4})\Z")
HOST_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@:-]{0,252}\Z")
INCIDENT_FILE = "incident.json"
HOSTS_DIR = "hosts"
MAX_PER_DAY = 9999


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: t.Any) -> t.Optional[datetime.datetime]:
    """A time written by iso() back as an aware datetime; None for anything else."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def channel(incident_id: str) -> str:
    """The runbook's incident channel, #incident-YYYY-MM-DD, for an incident id."""
    match = INCIDENT_ID.match(incident_id)
    if not match:
        raise ValueError(f"incident id {incident_id!r} is not INC-YYYY-MM-DD-NN")
    return "#incident-{0}-{1}-{2}".format(*match.groups()[:3])


def check_id(incident_id: t.Any) -> str:
    if not isinstance(incident_id, str) or not INCIDENT_ID.match(incident_id):
        raise ValueError(f"incident id {incident_id!r} is not INC-YYYY-MM-DD-NN (for example INC-2026-11-28-01)")
    return incident_id


def folder(incidents_dir: str, incident_id: str) -> str:
    return os.path.join(incidents_dir, check_id(incident_id))


def allocate(incidents_dir: str, now: t.Optional[datetime.datetime] = None) -> t.Tuple[str, str]:
    """Take the next free id of the UTC day by creating its folder; returns (id, folder).

    The parent directory is checked and created the way findings are (no symlink, owned by the running user, not
    writable by others). Numbers already taken are skipped; the first mkdir that succeeds owns the id.
    """
    moment = now or utc_now()
    day = moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d")
    _ensure_dir(incidents_dir)
    taken = [int(m.group(4)) for m in map(INCIDENT_ID.match, os.listdir(incidents_dir))
             if m and "-".join(m.groups()[:3]) == day]
    number = max(taken, default=0) + 1
    while number <= MAX_PER_DAY:
        incident_id = f"INC-{day}-{number:02d}"
        path = os.path.join(incidents_dir, incident_id)
        try:
            os.mkdir(path, 0o750)
        except FileExistsError:
            number += 1
            continue
        return incident_id, path
    raise Unsafe(f"incidents directory {incidents_dir}: no free incident number left for {day}")


def _ensure_dir(directory: str) -> None:
    # write() checks the directory and every one above it; writing a marker is how it is reused for a directory.
    write(directory, ".usdx-incidents", b"usdx.incident incidents directory\n", os.getuid())


def read_json(path: str) -> t.Optional[t.Dict[str, t.Any]]:
    """A JSON object from path; None when the file does not exist. A broken file raises Unsafe."""
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise Unsafe(f"{path}: cannot be read as JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise Unsafe(f"{path}: is not a JSON object")
    return data


def host_file(incident_folder: str, host: str) -> str:
    if not isinstance(host, str) or not HOST_NAME.match(host) or host in (".", ".."):
        raise ValueError(f"inventory host name {host!r} cannot name a file in the incident folder")
    return os.path.join(incident_folder, HOSTS_DIR, f"{host}.json")


def read_incident(incident_folder: str) -> t.Dict[str, t.Any]:
    """incident.json and every hosts/*.json of one incident folder, as {'incident': ..., 'hosts': {name: ...}}."""
    incident = read_json(os.path.join(incident_folder, INCIDENT_FILE))
    if incident is None:
        raise Unsafe(f"{incident_folder}: no {INCIDENT_FILE}; not an incident folder")
    hosts: t.Dict[str, t.Any] = {}
    hosts_dir = os.path.join(incident_folder, HOSTS_DIR)
    if os.path.isdir(hosts_dir):
        for name in sorted(os.listdir(hosts_dir)):
            if name.endswith(".json"):
                hosts[name[:-5]] = read_json(os.path.join(hosts_dir, name))
    return {"incident": incident, "hosts": hosts}


def write_json(directory: str, name: str, content: t.Mapping[str, t.Any]) -> str:
    """Write content as pretty JSON (atomically, safely: see _findings_file.write); returns the path."""
    write(directory, name, (json.dumps(content, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8"), os.getuid())
    return os.path.join(directory, name)
