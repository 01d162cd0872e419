# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Run the diagnostic workers side by side in threads of one module process.

AnsibleModule.fail_json() and exit_json() print the module's single JSON answer and exit; called from a worker
thread they would end the module with a partial answer. A worker therefore never gets the AnsibleModule itself,
only a L(CheckModule): its run_command() raises OSError instead of failing the module, and its fail_json() raises
L(CheckFailed), so one broken check is reported under its own key and the others go on.

AnsibleModule.run_command() is safe to call from several threads in ansible-core 2.19: it copies os.environ instead
of changing it, applies C(umask) in the child (preexec_fn) and hands C(cwd) to Popen, so nothing process-wide
changes. Warnings are appended to a list, which is atomic.
"""

from __future__ import annotations

import time
import traceback
import typing as t
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.usdx.incident.plugins.module_utils._errors import CheckFailed


class CheckModule:
    """What a worker may use of the AnsibleModule from a worker thread; C(params) are the check's own options."""

    def __init__(self, module: t.Any, name: str, params: t.Mapping[str, t.Any]) -> None:
        self._module = module
        self.name = name
        self.params = params
        self.check_mode = module.check_mode

    def run_command(self, args: t.Any, **kwargs: t.Any) -> tuple[int, str, str]:
        check_rc = kwargs.pop("check_rc", False)
        kwargs["handle_exceptions"] = False
        rc, out, err = self._module.run_command(args, **kwargs)
        if check_rc and rc != 0:
            raise CheckFailed(f"{args[0] if isinstance(args, list) else args} failed (rc={rc}): {str(err).strip() or str(out).strip()}")
        return rc, out, err

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
        if message is None:
            result["msg"] = f"{type(exc).__name__}: {exc}"
            result["exception"] = traceback.format_exc()
    return Outcome(result, round(time.monotonic() - started, 3))


def run_parallel(jobs: t.Mapping[str, Job], explain: t.Callable[[str, BaseException], str | None]) -> dict[str, Outcome]:
    """Run every job in its own thread, all at once; the outcomes are keyed and ordered as O(jobs)."""
    if not jobs:
        return {}
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="usdx-check") as pool:
        futures = {name: pool.submit(run_one, job, lambda exc, name=name: explain(name, exc)) for name, job in jobs.items()}
        return {name: future.result() for name, future in futures.items()}
