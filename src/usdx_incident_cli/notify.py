# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`usdx-incident notify --test`: playbooks/notify_test.yml through ansible-runner, one line per notifier.

Run as `triage` is (a temporary private data dir, kept when ansible failed). Each stack hands over its
notify_results, or the one-line error that refused its notify_backends, through set_stats (usdx_notify_test).
A stack that reported nothing is never counted as delivered.
"""

from __future__ import annotations

import json
import typing as t

from usdx_incident_cli import outcome, triage
from usdx_incident_cli import runner as runner_mod

ARTIFACT = "usdx_notify_test"
# Where the filter's own line starts inside ansible's "Task failed: ... failed: " wrapping.
FILTER_PREFIX = "notifier_config: "


def config_error(message: t.Any) -> str:
    """The configuration error as one line: the filter's own message when it is one (its line: before ansible-core
    2.19 ansible adds where the task is on the lines after it), else ansible's, joined."""
    text = str(message)
    if FILTER_PREFIX in text:
        text = text[text.rfind(FILTER_PREFIX):].splitlines()[0]
    return " ".join(text.split())


def result_line(host: str, result: t.Mapping[str, t.Any], paint: t.Any) -> str:
    head = f"{host}: {result.get('name')} ({result.get('backend')}): "
    if result.get("delivered") is True:
        return head + paint("delivered", "green")
    return head + paint("NOT delivered", "red") + f": {result.get('error') or 'no result'}"


def exit_code(reports: t.Mapping[str, t.Any], run: runner_mod.Run) -> int:
    if run.interrupted:
        return outcome.INTERRUPTED
    if any(isinstance(r, t.Mapping) and r.get("error") for r in reports.values()):
        return outcome.USAGE
    if run.ansible_failed:
        return outcome.RUNNER_FAILED
    # No notifier at all is no success either: an incident would reach nobody.
    delivered = all(isinstance(r, t.Mapping) and isinstance(r.get("results"), list) and r["results"]
                    and all(isinstance(x, t.Mapping) and x.get("delivered") is True for x in r["results"])
                    for r in reports.values())
    return outcome.RESOLVED if delivered else outcome.NOT_RESOLVED


def command(args: t.Any, context: t.Any) -> int:
    run, reports, progress, private_data_dir = triage.run_on_stacks(args, context, "notify_test.yml", "notify_test",
                                                                    "notifier test for", ARTIFACT)
    for report in reports.values():
        if isinstance(report, dict) and report.get("error"):
            report["error"] = config_error(report["error"])
    code = exit_code(reports, run)
    if args.json:
        json.dump({"stacks": reports, "exit_code": code, "runner": run.as_dict()}, context.stdout, indent=2, sort_keys=True)
        context.stdout.write("\n")
        return code
    lines = []
    for host, report in reports.items():
        if not isinstance(report, t.Mapping):
            lines.append(f"{host}: {progress.paint('no result', 'red')} (the test did not finish on this stack)")
        elif report.get("error"):
            print(f"usdx-incident notify: {host}: {report['error']}", file=context.stderr)
        elif not report.get("results"):
            lines.append(f"{host}: {progress.paint('no notifier configured', 'red')} (notify_backends is empty)")
        else:
            lines += [result_line(host, result, progress.paint) for result in report["results"]]
    if run.ansible_failed:
        lines.append(f"the runner failed: status {run.status}, rc {run.rc}; "
                     f"its output: {private_data_dir}/artifacts/notify_test/stdout")
    context.stdout.write("\n".join(lines) + "\n" if lines else "")
    return code
