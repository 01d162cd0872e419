# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One ansible-playbook run through ansible-runner, the way AWX and ansible-navigator drive it.

Every run of an incident shares its private data dir and has its own ident, so its artifacts (stdout, job events,
status, rc, command) sit in artifacts/<ident>/. Nothing is written to env/: a reused private data dir would feed one
run's extra vars and --check to the next, so they go on each run's own command line (recorded in its artifacts).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import sys
import threading
import typing as t

import ansible_runner

# The last resort against a hung ansible-playbook; the roles bound every outside call themselves. The runbook's
# whole P0 response is due by T+60 min.
RUN_TIMEOUT = 3600
# ansible-runner records the whole environment of the run in artifacts/<ident>/command. As AWX does for the
# environment it shows, values are kept only for variables known to hold no secret.
KEPT_ENV = re.compile(r"^(ANSIBLE_|RUNNER_|LC_)|^(PATH|HOME|LANG|USER|LOGNAME|SHELL|TERM|TZ|PWD|VIRTUAL_ENV|PYTHONPATH)$")
SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|KEY|CRED|AUTH|COOKIE|SESSION|PRIVATE", re.IGNORECASE)
HIDDEN = "**********"
RECAP_KEYS = ("processed", "failures", "dark")
ERROR_CHARS = 300
# Writes the incident's timeline.jsonl as each run happens (docs/timeline.md).
TIMELINE_CALLBACK = "usdx.incident.incident_timeline"


@dataclasses.dataclass
class Run:
    """What one run told us: runner status and rc, and whether ansible started and finished the playbook."""

    ident: str
    status: str = "unstarted"
    rc: t.Optional[int] = None
    started: bool = False
    finished: bool = False
    artifact_data: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    interrupted: bool = False
    # The recap (playbook_on_stats): per host, its failed tasks ("failures") and whether it was unreachable ("dark");
    # None when ansible never got to it.
    recap: t.Optional[dict[str, dict[str, int]]] = None
    # Per host, the last task that failed it (name and message, shortened), for the hosts the recap says failed.
    errors: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def ansible_failed(self) -> bool:
        """Ansible did not take the playbook from its start to its recap (bad syntax, a crash, killed, timed out)."""
        return not (self.started and self.finished) or self.status in ("timeout", "canceled")

    def failed_hosts(self, hosts: t.Iterable[str]) -> t.Optional[dict[str, str]]:
        """Of the hosts this run was given, those it failed on (a failed task, unreachable, or missing from the
        recap), each with why; None without a recap: no data is never read as "these failed, the others went on"."""
        if self.recap is None:
            return None
        processed, failures, dark = (self.recap.get(key) or {} for key in RECAP_KEYS)
        failed = {}
        for host in hosts:
            if dark.get(host):
                failed[host] = "unreachable" + (f": {self.errors[host]}" if host in self.errors else "")
            elif failures.get(host):
                failed[host] = "a task failed" + (f": {self.errors[host]}" if host in self.errors else "")
            elif host not in processed:
                failed[host] = "not in the run's recap"
        return failed

    def as_dict(self) -> dict[str, t.Any]:
        return {"ident": self.ident, "status": self.status, "rc": self.rc, "ansible_failed": self.ansible_failed}


def ansible_path() -> dict[str, str]:
    """PATH with this Python's own bin directory first when ansible-playbook is there: ansible-runner starts
    `ansible-playbook` by name, and it must be the ansible this command imported (the venv's), activated or not."""
    bin_dir = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", os.defpath)
    if not os.access(os.path.join(bin_dir, "ansible-playbook"), os.X_OK) or path.split(os.pathsep)[0] == bin_dir:
        return {}
    return {"PATH": bin_dir + os.pathsep + path}


def timeline_callback() -> dict[str, str]:
    """ANSIBLE_CALLBACKS_ENABLED: the callbacks enabled already (by the environment, else the configuration file,
    whose list the variable replaces) and the timeline callback."""
    from ansible import constants as C  # pylint: disable=import-outside-toplevel  # reads ansible.cfg: only when needed

    enabled = [name for name in C.CALLBACKS_ENABLED or () if name]
    if TIMELINE_CALLBACK not in enabled:
        enabled.append(TIMELINE_CALLBACK)
    return {"ANSIBLE_CALLBACKS_ENABLED": ",".join(enabled)}


def safe_env(env: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    return {name: value if KEPT_ENV.search(name) and not SECRET_NAME.search(name) else HIDDEN
            for name, value in env.items()}


def scrub_command_artifact(artifact_dir: str) -> None:
    """Rewrite artifacts/<ident>/command with the environment's values hidden (see KEPT_ENV)."""
    path = os.path.join(artifact_dir, "command")
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError):
        return
    if isinstance(document, dict) and isinstance(document.get("env"), dict):
        document["env"] = safe_env(document["env"])
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(document, handle)


def note_error(result: Run, data: t.Mapping[str, t.Any]) -> None:
    """Keep the task that failed a host, and its message (ansible shows it on stdout too; a no_log task's is hidden
    by ansible already). A rescued failure is overwritten by what fails later, and is ignored when nothing does."""
    if data.get("ignore_errors") or not isinstance(data.get("host"), str):
        return
    res = data.get("res") if isinstance(data.get("res"), t.Mapping) else {}
    message = " ".join(str(res.get("msg") or "").split())
    text = f"{data.get('task') or 'a task'}: {message}" if message else str(data.get("task") or "a task")
    result.errors[data["host"]] = text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS - 3] + "..."


def run(*, private_data_dir: str, playbook: str, ident: str, inventories: t.Sequence[str], limit: t.Optional[str],
        extravars: t.Mapping[str, t.Any], check: bool, envvars: t.Mapping[str, str],
        on_event: t.Callable[[dict[str, t.Any]], None]) -> Run:
    result = Run(ident)
    interrupted = threading.Event()

    def event_handler(event: dict[str, t.Any]) -> bool:
        kind = event.get("event")
        if kind == "playbook_on_start":
            result.started = True
        elif kind == "playbook_on_stats":
            result.finished = True
            data = event.get("event_data") or {}
            result.artifact_data = dict(data.get("artifact_data") or {})
            result.recap = {key: dict(data.get(key) or {}) for key in RECAP_KEYS}
        elif kind in ("runner_on_failed", "runner_on_unreachable"):
            note_error(result, event.get("event_data") or {})
        on_event(event)
        return True  # keep every event in artifacts/<ident>/job_events, as AWX does

    def status_handler(data: t.Mapping[str, t.Any], runner_config: t.Any) -> None:
        result.status = str(data.get("status"))
        if result.status != "starting":  # the command artifact is written right after "starting"
            scrub_command_artifact(runner_config.artifact_dir)

    def interrupt(_signum: int, _frame: t.Any) -> None:
        interrupted.set()

    # Ctrl-C or a TERM cancels the run (ansible-runner kills ansible-playbook's process group) instead of leaving it
    # running; our own handler, put back afterwards, so a later prompt can still be interrupted.
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        runner = ansible_runner.run(
            private_data_dir=private_data_dir, playbook=playbook, ident=ident, inventory=list(inventories), limit=limit,
            extravars=dict(extravars), cmdline="--check" if check else None,
            envvars={**ansible_path(), **timeline_callback(), **envvars},
            suppress_env_files=True, quiet=True, timeout=RUN_TIMEOUT,
            event_handler=event_handler, status_handler=status_handler, cancel_callback=interrupted.is_set)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    result.status, result.rc, result.interrupted = runner.status, runner.rc, interrupted.is_set()
    scrub_command_artifact(runner.config.artifact_dir)
    return result
