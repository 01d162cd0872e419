# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident folder (plugin_utils/_incident.py): ids per UTC day, allocation by mkdir, and the records, on real files."""

from __future__ import annotations

import datetime
import json
import multiprocessing
import os
import pathlib
import stat
import typing as t

import pytest

from ansible_collections.usdx.incident.plugins.plugin_utils import _incident
from ansible_collections.usdx.incident.plugins.plugin_utils._findings_file import Unsafe

UTC = datetime.timezone.utc
LATE = datetime.datetime(2026, 11, 28, 23, 59, 59, tzinfo=UTC)
PROCESSES = 8


def incident_folders(directory: pathlib.Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if not name.startswith("."))


def test_ids_count_up_per_utc_day_and_start_again_the_next_day(tmp_path: pathlib.Path) -> None:
    incidents = tmp_path / "incidents"
    first = _incident.allocate(str(incidents), LATE)
    second = _incident.allocate(str(incidents), LATE)
    next_day = _incident.allocate(str(incidents), LATE + datetime.timedelta(seconds=1))
    assert [first[0], second[0], next_day[0]] == ["INC-2026-11-28-01", "INC-2026-11-28-02", "INC-2026-11-29-01"]
    assert first[1] == str(incidents / "INC-2026-11-28-01") and os.path.isdir(first[1])
    assert incident_folders(incidents) == ["INC-2026-11-28-01", "INC-2026-11-28-02", "INC-2026-11-29-01"]


def test_the_day_is_the_utc_one_whatever_the_clocks_zone(tmp_path: pathlib.Path) -> None:
    # 01:30 in UTC+02:00 on the 29th is still the 28th in UTC.
    east = datetime.datetime(2026, 11, 29, 1, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    assert _incident.allocate(str(tmp_path), east)[0] == "INC-2026-11-28-01"


def test_taken_numbers_are_skipped_and_other_entries_ignored(tmp_path: pathlib.Path) -> None:
    for name in ("INC-2026-11-28-01", "INC-2026-11-28-07", "INC-2026-11-27-42", "notes", "INC-2026-11-28-xx"):
        (tmp_path / name).mkdir(mode=0o750)
    assert _incident.allocate(str(tmp_path), LATE)[0] == "INC-2026-11-28-08"


def test_numbers_go_past_99(tmp_path: pathlib.Path) -> None:
    (tmp_path / "INC-2026-11-28-99").mkdir(mode=0o750)
    incident_id, _folder = _incident.allocate(str(tmp_path), LATE)
    assert incident_id == "INC-2026-11-28-100"
    assert _incident.channel(incident_id) == "#incident-2026-11-28"


def allocate_in_a_process(incidents: str, start: t.Any, results: t.Any) -> None:
    """One allocation in its own process, released together with the others by the barrier."""
    start.wait(timeout=30)
    results.put(_incident.allocate(incidents, LATE)[0])


def test_processes_allocating_at_once_get_distinct_ids(tmp_path: pathlib.Path) -> None:
    incidents = tmp_path / "incidents"
    processes_context = multiprocessing.get_context("fork")
    start = processes_context.Barrier(PROCESSES)
    results = processes_context.Queue()
    processes = [processes_context.Process(target=allocate_in_a_process, args=(str(incidents), start, results))
                 for _number in range(PROCESSES)]
    for process in processes:
        process.start()
    ids = [results.get(timeout=60) for _process in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    assert sorted(ids) == [f"INC-2026-11-28-{number:02d}" for number in range(1, PROCESSES + 1)]
    assert incident_folders(incidents) == sorted(ids)


def test_a_symlinked_incidents_dir_is_refused_and_nothing_is_created(tmp_path: pathlib.Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o750)
    (tmp_path / "incidents").symlink_to(elsewhere)
    with pytest.raises(Unsafe, match="is a symlink") as refused:
        _incident.allocate(str(tmp_path / "incidents"), LATE)
    assert len(str(refused.value).splitlines()) == 1
    assert os.listdir(elsewhere) == []


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o757])
def test_an_incidents_dir_others_can_write_is_refused_and_nothing_is_created(tmp_path: pathlib.Path, mode: int) -> None:
    incidents = tmp_path / "incidents"
    incidents.mkdir()
    incidents.chmod(mode)
    with pytest.raises(Unsafe, match=f"is group- or world-writable \\(mode {mode:04o}\\)"):
        _incident.allocate(str(incidents), LATE)
    assert os.listdir(incidents) == []


def test_an_incidents_dir_under_a_world_writable_directory_is_refused(tmp_path: pathlib.Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # not sticky: anyone could swap the incidents directory
    with pytest.raises(Unsafe, match="without the sticky bit"):
        _incident.allocate(str(shared / "incidents"), LATE)
    assert os.listdir(shared) == []


def test_the_incident_folder_is_not_readable_by_others(tmp_path: pathlib.Path) -> None:
    _incident_id, folder = _incident.allocate(str(tmp_path / "incidents"), LATE)
    assert stat.S_IMODE(os.stat(folder).st_mode) & 0o027 == 0


@pytest.mark.parametrize(("incident_id", "channel"), [
    ("INC-2026-11-28-01", "#incident-2026-11-28"),
    ("INC-2026-01-02-1234", "#incident-2026-01-02"),
])
def test_the_channel_is_the_incidents_day(incident_id: str, channel: str) -> None:
    assert _incident.channel(incident_id) == channel
    assert _incident.check_id(incident_id) == incident_id


@pytest.mark.parametrize("incident_id", ["INC-2026-11-28-1", "INC-2026-11-28-12345", "inc-2026-11-28-01", "INC-26-11-28-01",
                                         "INC-2026-11-28-01/../x", "../INC-2026-11-28-01", "INC-2026-11-28-01\n", "", None, 7])
def test_a_malformed_id_is_refused_naming_it_and_the_format(tmp_path: pathlib.Path, incident_id: t.Any) -> None:
    with pytest.raises(ValueError) as refused:
        _incident.folder(str(tmp_path), incident_id)
    assert str(refused.value) == f"incident id {incident_id!r} is not INC-YYYY-MM-DD-NN (for example INC-2026-11-28-01)"


@pytest.mark.parametrize("host", ["../etc", "a/b", ".", "..", "", "-rf", "stack a", "stack\n", None])
def test_a_host_name_that_cannot_name_a_file_is_refused(tmp_path: pathlib.Path, host: t.Any) -> None:
    with pytest.raises(ValueError, match="cannot name a file in the incident folder"):
        _incident.host_file(str(tmp_path), host)


@pytest.mark.parametrize("host", ["sandbox", "stack-a.example.com", "10.0.0.5", "user@host:22", "_local"])
def test_host_files_are_in_the_hosts_folder(tmp_path: pathlib.Path, host: str) -> None:
    assert _incident.host_file(str(tmp_path), host) == str(tmp_path / "hosts" / f"{host}.json")


def test_records_are_written_and_read_back(tmp_path: pathlib.Path) -> None:
    incident_id, folder = _incident.allocate(str(tmp_path / "incidents"), LATE)
    incident = {"id": incident_id, "channel": _incident.channel(incident_id), "started_at": _incident.iso(LATE)}
    _incident.write_json(folder, _incident.INCIDENT_FILE, incident)
    _incident.write_json(os.path.join(folder, "hosts"), "stack-b.json", {"host": "stack-b", "outcome": "open"})
    _incident.write_json(os.path.join(folder, "hosts"), "stack-a.json", {"host": "stack-a", "outcome": "resolved"})
    assert _incident.read_incident(folder) == {"incident": incident, "hosts": {
        "stack-a": {"host": "stack-a", "outcome": "resolved"}, "stack-b": {"host": "stack-b", "outcome": "open"}}}
    text = pathlib.Path(folder, _incident.INCIDENT_FILE).read_text(encoding="utf-8")
    assert text == json.dumps(incident, indent=2, sort_keys=True) + "\n"


def test_a_folder_without_incident_json_is_not_an_incident(tmp_path: pathlib.Path) -> None:
    with pytest.raises(Unsafe, match="no incident.json; not an incident folder"):
        _incident.read_incident(str(tmp_path))


@pytest.mark.parametrize(("content", "reason"), [(b"{not json", "cannot be read as JSON"), (b"[1, 2]", "is not a JSON object"),
                                                 (b"\xff\xfe", "cannot be read as JSON")])
def test_a_broken_record_is_an_error_never_an_empty_record(tmp_path: pathlib.Path, content: bytes, reason: str) -> None:
    path = tmp_path / "stack.json"
    path.write_bytes(content)
    with pytest.raises(Unsafe, match=reason) as refused:
        _incident.read_json(str(path))
    assert str(refused.value).startswith(f"{path}: ") and len(str(refused.value).splitlines()) == 1
    assert _incident.read_json(str(tmp_path / "missing.json")) is None


@pytest.mark.parametrize(("text", "parsed"), [
    ("2026-11-28T03:00:00Z", datetime.datetime(2026, 11, 28, 3, 0, tzinfo=UTC)),
    ("2026-11-28T03:00:00+00:00", None),
    ("2026-11-28 03:00:00", None),
    ("", None),
    (None, None),
    (1764298800, None),
])
def test_times_are_read_only_in_the_records_own_format(text: t.Any, parsed: t.Optional[datetime.datetime]) -> None:
    assert _incident.parse_iso(text) == parsed


def test_times_are_written_in_utc() -> None:
    east = datetime.datetime(2026, 11, 29, 1, 30, 5, 999, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    assert _incident.iso(east) == "2026-11-28T23:30:05Z"
    assert _incident.parse_iso(_incident.iso(east)) == east.replace(microsecond=0)
