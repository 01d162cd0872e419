# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Incident ids stay unique when responses start at the same moment in different processes."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import pathlib
import typing as t

from usdx_incident_cli import cli, collection
from usdx_incident_cli import runner as runner_mod

PROCESSES = 6


def respond_in_a_process(inventory: str, incidents: str, start: t.Any, results: t.Any) -> None:
    """One `usdx-incident respond` in its own process, released together with the others by the barrier."""
    def run(**kwargs: t.Any) -> runner_mod.Run:
        return runner_mod.Run(kwargs["ident"], status="successful", rc=0, started=True, finished=True)

    runner_mod.run = run  # this process only: no ansible, the allocation is what is tested
    found = collection.locate()
    out = io.StringIO()
    context = cli.Context(found, collection.load(found), stdin=io.StringIO(), stdout=out, stderr=io.StringIO(), environ={})
    start.wait(timeout=30)
    cli.main(["respond", "--severity", "P2", "-i", inventory, "--incidents-dir", incidents, "--json"], context)
    results.put(json.loads(out.getvalue())["incident_id"])


def test_responses_started_at_once_get_different_ids(inventory: pathlib.Path, tmp_path: pathlib.Path, lib: t.Any) -> None:
    incidents = tmp_path / "incidents"
    processes_context = multiprocessing.get_context("fork")
    start = processes_context.Barrier(PROCESSES)
    results = processes_context.Queue()
    processes = [processes_context.Process(target=respond_in_a_process, args=(str(inventory), str(incidents), start, results))
                 for _number in range(PROCESSES)]
    for process in processes:
        process.start()
    ids = [results.get(timeout=60) for _process in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    assert len(set(ids)) == PROCESSES, ids
    assert all(lib.incident.INCIDENT_ID.match(incident_id) for incident_id in ids)
    assert sorted(name for name in os.listdir(incidents) if not name.startswith(".")) == sorted(ids)
