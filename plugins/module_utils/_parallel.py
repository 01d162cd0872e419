# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Run the diagnostic workers side by side in threads of one module process, each with its own deadline.

AnsibleModule.fail_json() and exit_json() print the module's single JSON answer and exit; called from a worker
thread they would end the module with a partial answer. A worker therefore never gets the AnsibleModule itself,
only a L(CheckModule): its run_command() raises instead of failing the module, and its fail_json() raises
L(CheckFailed), so one broken check is reported under its own key and the others go on.

Every check has a deadline (an absolute time.monotonic() time, C(CheckModule.deadline)) that bounds each command
it runs (L(_proc)). A worker still running at its deadline is given up: its result is C(timed_out), the process
groups still running are killed, and since workers are daemon threads the module process can exit without them.
"""

from __future__ import annotations

import threading
import time
import traceback
import typing as t

from ansible_collections.usdx.incident.plugins.module_utils import _proc
from ansible_collections.usdx.incident.plugins.module_utils._errors import CheckFailed, CheckTimedOut, DeadlineExceeded


class CheckModule:
    """What a worker may use of the AnsibleModule from a worker thread; C(params) are the check's own options.

    C(deadline) is the absolute time.monotonic() time by which every call of the check must be over.
    """

    def __init__(self, module: t.Any, name: str, params: t.Mapping[str, t.Any], deadline: float | None = None) -> None:
        self._module = module
        self.name = name
        self.params = params
        self.check_mode = module.check_mode
        self.deadline = deadline

    def run_command(self, args: list[str], check_rc: bool = False, data: str | None = None,
                    environ_update: dict[str, str] | None = None) -> tuple[int, str, str]:
        """A command (an argument list) run under the check's deadline; raises CheckFailed when it is killed there."""
        done = _proc.run(args, deadline=self.deadline, data=data, env=environ_update)
        if done.timed_out:
            raise CheckTimedOut(f"{args[0]} did not finish by the check's deadline and was killed")
        if check_rc and done.rc != 0:
            raise CheckFailed(f"{args[0]} failed (rc={done.rc}): {done.err.strip() or done.out.strip()}")
        return done.rc, done.out, done.err

    def get_bin_path(self, arg: str, required: bool = False, opt_dirs: list[str] | None = None) -> str | None:
        path = self._module.get_bin_path(arg, required=False, opt_dirs=opt_dirs)
        if required and not path:
            raise CheckFailed(f"failed to find required executable {arg!r}")
        return path

    def warn(self, warning: str) -> None:
        self._module.warn(f"{self.name}: {warning}")

    def fail_json(self, msg: str, **_kwargs: t.Any) -> t.NoReturn:
        raise CheckFailed(msg)


class Outcome(t.NamedTuple):
    result: dict[str, t.Any]
    seconds: float


Job = t.Callable[[], t.Dict[str, t.Any]]
Explain = t.Callable[[BaseException], t.Optional[str]]


def run_one(job: Job, explain: Explain) -> Outcome:
    """Run one job; an exception becomes C({failed: true, msg}) with the message L(explain) gives for it.

    L(explain) returns None for an exception it does not know: the message then names its type and the result
    carries the traceback in C(exception).
    """
    started = time.monotonic()
    try:
        result = job()
    except Exception as exc:  # pylint: disable=broad-exception-caught  # one broken check must not sink the others
        message = explain(exc)
        result = {"changed": False, "failed": True, "msg": message}
        if isinstance(exc, DeadlineExceeded):
            result["timed_out"] = True
        if message is None:
            result["msg"] = f"{type(exc).__name__}: {exc}"
            result["exception"] = traceback.format_exc()
    return Outcome(result, round(time.monotonic() - started, 3))


def run_parallel(jobs: t.Mapping[str, Job], explain: t.Callable[[str, BaseException], str | None],
                 deadline: float | None = None) -> dict[str, Outcome]:
    """Run every job in its own daemon thread, all at once; the outcomes are keyed and ordered as O(jobs).

    A job not finished by the absolute time.monotonic() C(deadline) is given up: its outcome is
    C({failed: true, timed_out: true, msg}) and every process group still running is killed.
    """
    started = time.monotonic()
    outcomes: dict[str, Outcome] = {}

    def target(name: str, job: Job) -> None:
        outcomes[name] = run_one(job, lambda exc: explain(name, exc))

    threads = {name: threading.Thread(target=target, args=(name, job), name=f"usdx-check-{name}", daemon=True)
               for name, job in jobs.items()}
    for thread in threads.values():
        thread.start()
    for thread in threads.values():
        thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
    late = [name for name, thread in threads.items() if thread.is_alive()]
    if late:
        _proc.kill_all()
    budget = round(t.cast(float, deadline) - started, 1) if late else 0.0
    waited = round(time.monotonic() - started, 3)
    return {
        name: outcomes[name] if name not in late else Outcome(
            {"changed": False, "failed": True, "timed_out": True, "msg": f"{name} did not finish within {budget:g}s"}, waited)
        for name in jobs
    }
