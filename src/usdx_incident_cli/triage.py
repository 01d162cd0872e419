# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`usdx-incident triage`: playbooks/triage.yml through ansible-runner, each stack's verdict from its set_stats.

A triage is no incident: its private data dir is temporary, as ansible-navigator's is when none is given (kept
when the run failed, for its stdout); the findings documents the role writes stay where the inventory puts them.
A stack without a verdict (unreachable, the triage failed on it) is reported as such, never as healthy.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import typing as t

from usdx_incident_cli import outcome, validate
from usdx_incident_cli import runner as runner_mod


def verdict_line(host: str, verdict: t.Optional[t.Mapping[str, t.Any]], response_times: t.Mapping[str, str],
                 paint: t.Any) -> str:
    if not isinstance(verdict, t.Mapping):
        return f"{host}: {paint('no verdict', 'red')} (the triage did not finish on this stack)"
    level = verdict.get("severity")
    head = (paint(f"{level} (respond: {response_times.get(level, '?')})", "red" if level in ("P0", "P1") else "yellow")
            if level else paint("no severity", "green"))
    parts = [f"{host}: {head}: {verdict.get('reason')}"]
    if verdict.get("scenario"):
        parts.append(f"scenario {verdict['scenario']}")
    parts.append("data at risk" if verdict.get("data_at_risk") else "no data at risk")
    parts.append(f"findings {verdict.get('findings')}")
    return "; ".join(parts)


def exit_code(verdicts: t.Mapping[str, t.Any], run: runner_mod.Run) -> int:
    if run.interrupted:
        return outcome.INTERRUPTED
    if run.ansible_failed:
        return outcome.RUNNER_FAILED
    healthy = all(isinstance(v, t.Mapping) and not v.get("severity") for v in verdicts.values())
    return outcome.RESOLVED if healthy else outcome.NOT_RESOLVED


class StacksRun(t.NamedTuple):
    """One read-only playbook over the stacks: the run, each stack's report, the progress, the private data dir."""

    run: runner_mod.Run
    reports: dict[str, t.Any]
    progress: t.Any
    private_data_dir: str


def run_on_stacks(args: t.Any, context: t.Any, playbook_name: str, ident: str, title: str, artifact: str) -> StacksRun:
    """Run playbook_name on the stacks of args' inventories (and --limit) in a temporary private data dir (kept when
    ansible failed, for its stdout); each stack's report is its part of the set_stats mapping named artifact, None
    when it handed over nothing."""
    playbook = context.collection.playbook(playbook_name)
    inventories = validate.inventories(args.inventory, context.collection.default_inventory)
    hosts = validate.hosts(inventories, args.limit, validate.play_hosts(playbook), context.collection.search_paths)
    progress = context.progress(quiet=args.json)
    started = time.monotonic()
    progress.begin(f"{title} {', '.join(hosts)}", None, lambda: time.monotonic() - started)
    private_data_dir = tempfile.mkdtemp(prefix=f"usdx-incident-{ident}-")
    try:
        run = runner_mod.run(private_data_dir=private_data_dir, playbook=playbook, ident=ident,
                             inventories=inventories, limit=args.limit, extravars={}, check=False,
                             envvars=context.collection.runner_env(), on_event=progress.event)
    finally:
        progress.end()
    if not run.ansible_failed:  # kept otherwise: its stdout says why
        shutil.rmtree(private_data_dir, ignore_errors=True)
    reported = run.artifact_data.get(artifact)
    reports = {host: reported.get(host) if isinstance(reported, t.Mapping) else None for host in hosts}
    return StacksRun(run, reports, progress, private_data_dir)


def command(args: t.Any, context: t.Any) -> int:
    run, verdicts, progress, private_data_dir = run_on_stacks(args, context, "triage.yml", "triage", "triage of", "usdx_triage")
    code = exit_code(verdicts, run)
    if args.json:
        json.dump({"stacks": verdicts, "exit_code": code, "runner": run.as_dict()}, context.stdout, indent=2, sort_keys=True)
        context.stdout.write("\n")
    else:
        lines = [verdict_line(host, verdict, context.lib.runbook.RESPONSE_TIMES, progress.paint)
                 for host, verdict in verdicts.items()]
        if run.ansible_failed:
            lines.append(f"the runner failed: status {run.status}, rc {run.rc}; "
                         f"its output: {private_data_dir}/artifacts/triage/stdout")
        context.stdout.write("\n".join(lines) + "\n")
    return code
