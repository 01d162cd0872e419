# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Exit codes (docs/chains.md) and what a step's record says, from the per-stack records the playbook writes.

The command never judges a stack itself: each hosts/<host>.json carries the steps as run and the chain's
`outcome`; here they are only read and combined (the worst stack decides).
"""

from __future__ import annotations

import typing as t

RESOLVED = 0  # resolved and verified (P2/P3: recorded; --check: predicted)
NOT_RESOLVED = 1  # not resolved, or escalated
USAGE = 2
REFUSED = 3  # lock held, breaker tripped, approval missing
RUNNER_FAILED = 4  # ansible-runner or ansible could not run the playbook
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it): the chain was stopped by a person
MEANINGS = {
    RESOLVED: "resolved",
    NOT_RESOLVED: "not resolved or escalated",
    USAGE: "usage error",
    REFUSED: "refused",
    RUNNER_FAILED: "the runner failed",
    INTERRUPTED: "interrupted",
}
# A stack's `outcome` -> exit code ("healthy": nothing to respond to; "dry_run": a --check chain ran to its end and
# recorded its predictions). "open" (the chain did not get to a verdict) and anything unknown are not resolved.
OUTCOME_CODES = {"resolved": RESOLVED, "recorded": RESOLVED, "healthy": RESOLVED, "dry_run": RESOLVED,
                 "refused": REFUSED, "not_resolved": NOT_RESOLVED}


def exit_code(outcomes: t.Mapping[str, t.Optional[str]], ansible_failed: bool = False, cut_short: bool = False,
              dropped: t.Collection[str] = ()) -> int:
    """The command's exit code from each stack's outcome (None: the stack has no record at all).

    A run that ansible could not take to its end is a runner failure, whatever the records say; a chain cut short by
    a failed run, or one that went on without a stack (dropped), is not a success even when the records of the steps
    run so far look like one (a dry run's do). A stack dropped because another incident holds it says `refused`.
    """
    if ansible_failed:
        return RUNNER_FAILED
    codes = [OUTCOME_CODES.get(outcome, NOT_RESOLVED) if isinstance(outcome, str) else NOT_RESOLVED
             for outcome in outcomes.values()]
    if cut_short or dropped:
        codes.append(NOT_RESOLVED)
    return max(codes, default=NOT_RESOLVED)


def meaning(code: int, outcomes: t.Mapping[str, t.Optional[str]]) -> str:
    """The exit code in words; a success says which one (resolved, recorded, dry_run, healthy)."""
    if code == RESOLVED and outcomes:
        return ", ".join(sorted({str(state) for state in outcomes.values()}))
    return MEANINGS[code]


def last_entry(record: t.Optional[t.Mapping[str, t.Any]], step_id: str) -> t.Optional[t.Mapping[str, t.Any]]:
    """The latest entry of step_id in a stack's record (a step re-run after an approval has two)."""
    steps = record.get("steps") if isinstance(record, t.Mapping) else None
    found = [entry for entry in steps or [] if isinstance(entry, t.Mapping) and entry.get("id") == step_id]
    return found[-1] if found else None


def needs_approval(entry: t.Optional[t.Mapping[str, t.Any]]) -> t.Optional[str]:
    """The approval gate a refused step waits for, or None."""
    if entry and entry.get("status") == "refused" and isinstance(entry.get("needs_approval"), str):
        return entry["needs_approval"]
    return None


def lock_refused(record: t.Optional[t.Mapping[str, t.Any]]) -> t.Optional[str]:
    """Why the stack was refused because another incident holds it (the dispatcher's `refused`), or None."""
    refused = record.get("refused") if isinstance(record, t.Mapping) else None
    return str(refused) if refused else None
