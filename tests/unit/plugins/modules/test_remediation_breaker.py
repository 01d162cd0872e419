# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""usdx.incident.remediation_breaker, run in-process on a temporary state directory (and in parallel processes)."""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import pathlib
import time
import typing as t

import pytest

from core_compat import patch_module_args
from ansible_collections.usdx.incident.plugins.module_utils import _response_state as state
from ansible_collections.usdx.incident.plugins.modules import remediation_breaker

MINE = "INC-2026-11-28-01"


@pytest.fixture
def breaker(run_module: t.Callable[..., dict[str, t.Any]], tmp_path: pathlib.Path) -> t.Callable[..., dict[str, t.Any]]:
    """remediation_breaker for db_connections_exhausted with the state directory tmp_path/state unless given."""
    def run(**args: t.Any) -> dict[str, t.Any]:
        return run_module(remediation_breaker.main, {"scenario": "db_connections_exhausted", "incident": MINE,
                                                     "state_dir": str(tmp_path / "state"), **args})
    return run


def history(tmp_path: pathlib.Path) -> t.Optional[dict[str, t.Any]]:
    path = tmp_path / "state" / state.BREAKER_FILE
    return json.loads(path.read_text()) if path.exists() else None


def plant(tmp_path: pathlib.Path, scenario: str, *ages: float) -> dict[str, t.Any]:
    (tmp_path / "state").mkdir(mode=0o700, exist_ok=True)
    now = time.time()
    document = {scenario: [{"at": now - age, "incident": "INC-2026-11-27-01"} for age in ages]}
    (tmp_path / "state" / state.BREAKER_FILE).write_text(json.dumps(document))
    return document


@pytest.mark.parametrize("maximum", [1, 3])
def test_max_remediations_are_recorded_and_the_next_one_trips(breaker, tmp_path, maximum):
    for count in range(maximum):
        result = breaker(max=maximum, record=True)
        assert (result["changed"], result["tripped"], result["count"]) == (True, False, count)
    tripped = breaker(max=maximum, record=True)
    assert (tripped["changed"], tripped["tripped"], tripped["count"]) == (False, True, maximum)
    assert [entry["incident"] for entry in tripped["recent"]] == [MINE] * maximum
    assert len(history(tmp_path)["db_connections_exhausted"]) == maximum, "the refused remediation was counted"


def test_without_record_the_breaker_only_counts(breaker, tmp_path):
    plant(tmp_path, "db_connections_exhausted", 10, 20)
    before = (tmp_path / "state" / state.BREAKER_FILE).read_text()
    result = breaker()
    assert (result["changed"], result["tripped"], result["count"]) == (False, False, 2)
    assert (tmp_path / "state" / state.BREAKER_FILE).read_text() == before


def test_remediations_older_than_the_window_do_not_count_and_are_dropped(breaker, tmp_path):
    plant(tmp_path, "db_connections_exhausted", 7200, 5000, 3700, 100)
    result = breaker(window=3600, record=True)
    assert (result["tripped"], result["count"]) == (False, 1)
    assert len(history(tmp_path)["db_connections_exhausted"]) == 2


def test_other_scenarios_do_not_trip_this_one(breaker, tmp_path):
    plant(tmp_path, "disk_full", 1, 2, 3, 4)
    result = breaker(record=True)
    assert (result["tripped"], result["count"], result["changed"]) == (False, 0, True)
    assert len(history(tmp_path)["disk_full"]) == 4


@pytest.mark.parametrize("planted", [0, 3], ids=["open", "tripped"])
def test_check_mode_predicts_and_writes_nothing(breaker, tmp_path, planted):
    if planted:
        plant(tmp_path, "db_connections_exhausted", *range(1, planted + 1))
        before = {name: (tmp_path / "state" / name).read_bytes() for name in os.listdir(tmp_path / "state")}
    result = breaker(record=True, _ansible_check_mode=True)
    assert (result["changed"], result["tripped"], result["count"]) == (not planted, bool(planted), planted)
    if planted:
        after = {name: (tmp_path / "state" / name).read_bytes() for name in os.listdir(tmp_path / "state")}
        assert after == before, "check mode wrote into the state directory"
    else:
        assert not (tmp_path / "state").exists(), "check mode created the state directory"


def test_a_symlinked_state_directory_is_refused_and_nothing_is_written(breaker, tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "state").symlink_to(real)
    result = breaker(record=True)
    assert result["failed"] is True
    assert result["msg"] == f"state directory {tmp_path / 'state'}: is a symlink or not a directory"
    assert os.listdir(real) == []


def test_a_broken_history_fails_instead_of_counting_zero(breaker, tmp_path):
    (tmp_path / "state").mkdir(mode=0o700)
    (tmp_path / "state" / state.BREAKER_FILE).write_text("[")
    result = breaker(record=True)
    assert result["failed"] is True and "not JSON" in result["msg"]
    assert (tmp_path / "state" / state.BREAKER_FILE).read_text() == "["


@pytest.mark.parametrize(("args", "message"), [
    ({"incident": "incident-1"}, "incident='incident-1' is not an incident id INC-YYYY-MM-DD-NN"),
    ({"max": 0}, "max=0 must be at least 1"),
    ({"window": 59}, "window=59 is out of range (accepted: 60 to 604800 seconds)"),
    ({"window": 604801}, "window=604801 is out of range (accepted: 60 to 604800 seconds)"),
])
def test_bad_arguments_fail_with_one_line_and_change_nothing(breaker, tmp_path, args, message):
    result = breaker(record=True, **args)
    assert result["failed"] is True and result["msg"] == message
    assert not (tmp_path / "state").exists()


def record_in_a_process(state_dir: str, start: t.Any, results: t.Any) -> None:
    """remediation_breaker's main() recording in its own process, released together with the others by the barrier."""
    out = io.StringIO()
    start.wait(timeout=30)
    args = {"scenario": "disk_full", "incident": MINE, "state_dir": state_dir, "max": 3, "record": True}
    with patch_module_args(args), contextlib.redirect_stdout(out):
        with contextlib.suppress(SystemExit):
            remediation_breaker.main()
    results.put(json.loads(out.getvalue()))


def test_remediations_recorded_at_once_are_all_counted(tmp_path):
    processes = 6
    processes_context = multiprocessing.get_context("fork")
    start = processes_context.Barrier(processes)
    results = processes_context.Queue()
    workers = [processes_context.Process(target=record_in_a_process, args=(str(tmp_path / "state"), start, results))
               for _number in range(processes)]
    for worker in workers:
        worker.start()
    answers = [results.get(timeout=60) for _worker in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert not any(answer.get("failed") for answer in answers), answers
    assert sorted(answer["count"] for answer in answers) == [0, 1, 2, 3, 3, 3]
    assert sum(answer["changed"] for answer in answers) == 3 and sum(answer["tripped"] for answer in answers) == 3
    assert len(history(tmp_path)["disk_full"]) == 3
