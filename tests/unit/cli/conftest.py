# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""usdx-incident without a sandbox: a small inventory of its own, and ansible-runner replaced by a stand-in that
writes the stacks' records the way playbooks/respond.yml does (through the collection's own _chain and _incident).
"""

from __future__ import annotations

import datetime
import io
import os
import pathlib
import typing as t

import pytest

from usdx_incident_cli import cli, collection
from usdx_incident_cli import runner as runner_mod

HOSTS = ("stack-a", "stack-b")


@pytest.fixture(scope="session")
def lib() -> t.Any:
    return collection.load(collection.locate())


@pytest.fixture
def inventory(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "inventory.yml"
    path.write_text("usdx_stacks:\n  hosts:\n" + "".join(f"    {host}:\n      ansible_connection: local\n" for host in HOSTS)
                    + "others:\n  hosts:\n    bystander:\n")
    return path


class TtyStream(io.StringIO):
    def isatty(self) -> bool:
        return True


class Outcome(t.NamedTuple):
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(lib: t.Any) -> t.Callable[..., Outcome]:
    """main(argv) with captured streams; stdin and the environment as given (no terminal, no NO_COLOR by default)."""
    def run(*argv: str, stdin: t.Any = None, stdout: t.Any = None, environ: t.Optional[dict[str, str]] = None) -> Outcome:
        out = stdout if stdout is not None else io.StringIO()
        err = io.StringIO()
        context = cli.Context(collection.locate(), lib, stdin=stdin if stdin is not None else io.StringIO(), stdout=out,
                              stderr=err, environ=environ if environ is not None else {"TERM": "xterm"})
        code = cli.main(list(argv), context)
        return Outcome(code, out.getvalue(), err.getvalue())
    return run


class FakeRunner:
    """Stands in for usdx_incident_cli.runner.run: records each call and writes each stack's record of the step as
    the dispatcher would (incident_record open / host / step_start / step_end / finish, _chain.response_plan for
    the steps), with the step's scripted result, and hands back the run's recap (processed, failures, dark).

    script maps a step id to a result dict for usdx.incident's end_step, or to a callable(host, extravars) -> result;
    a step not in it is ok. assessed maps a host to the severity its assess step decides (None: healthy; a host not
    in it: P0). fail maps (step id, host) to "failed" or "unreachable": the run fails on that host there. lock_holder
    makes every stack refused, held_by the stacks it names (host -> incident holding it). locked: the stacks whose
    lock this incident holds (taken after the assessment of a stack that is not healthy, released at its chain's end),
    ever_locked those that took it at all.
    """

    def __init__(self, lib: t.Any) -> None:
        self.lib = lib
        self.calls: list[dict[str, t.Any]] = []
        self.script: dict[str, t.Any] = {}
        self.assessed: dict[str, t.Optional[str]] = {}
        self.fail: dict[tuple[str, str], str] = {}
        self.lock_holder: t.Optional[str] = None
        self.held_by: dict[str, str] = {}
        self.locked: set[str] = set()
        self.ever_locked: set[str] = set()
        self.errors: dict[str, str] = {}  # this run's: host -> the dispatcher's error that failed it
        self.status = "successful"
        self.started = True
        self.recap = True
        self.started_at: t.Optional[datetime.datetime] = None

    def __call__(self, **kwargs: t.Any) -> runner_mod.Run:
        self.calls.append(kwargs)
        extravars = kwargs["extravars"]
        folder = os.path.join(extravars["respond_incidents_dir"], extravars["respond_incident_id"])
        incident = self.lib.incident
        now = incident.utc_now()
        if not os.path.exists(os.path.join(folder, incident.INCIDENT_FILE)):
            incident.write_json(folder, incident.INCIDENT_FILE, {
                "id": extravars["respond_incident_id"], "channel": incident.channel(extravars["respond_incident_id"]),
                "started_at": incident.iso(self.started_at or now), "severity": extravars["respond_severity"],
                "scenario": extravars["respond_scenario"], "check_mode": kwargs["check"]})
        result = runner_mod.Run(kwargs["ident"], status=self.status, rc=0 if self.status == "successful" else 2,
                                started=self.started, finished=self.started)
        if not self.started:
            return result
        started_at = incident.read_json(os.path.join(folder, incident.INCIDENT_FILE))["started_at"]
        hosts = (kwargs["limit"] or ",".join(HOSTS)).split(",")
        recap: dict[str, dict[str, int]] = {"processed": {}, "failures": {}, "dark": {}}
        self.errors = {}
        for host in hosts:
            kind = self._host(folder, host, extravars, kwargs["check"], started_at, now)
            if kind == "unreachable":
                recap["dark"][host] = 1
                continue
            recap["processed"][host] = 1
            if kind == "failed":
                recap["failures"][host] = 1
                result.errors[host] = self.errors.get(host, f"Step role runs: {extravars['respond_steps']} failed on {host}")
        if recap["failures"] or recap["dark"]:
            result.status, result.rc = "failed", 2
        result.recap = recap if self.recap else None
        return result

    def _host(self, folder: str, host: str, extravars: dict[str, t.Any], check: bool, started_at: str,
              now: datetime.datetime) -> t.Optional[str]:
        """One stack's part of the run, as the dispatcher does it; "failed" or "unreachable" when the run fails on it."""
        incident, chain = self.lib.incident, self.lib.chain
        steps = extravars["respond_steps"]
        if any(self.fail.get((step, host)) == "unreachable" for step in steps):
            return "unreachable"
        record = incident.read_json(incident.host_file(folder, host)) or {
            "host": host, "severity": extravars["respond_severity"], "steps": [], "escalations": [], "stopped": None,
            "check_mode": check}
        try:
            plan = chain.response_plan(extravars["respond_severity"], record, steps)
            if plan["assess"]:  # read-only: before the lock, which a healthy stack never takes
                self._step(record, chain.selected_steps("P0", [chain.ASSESS])[0], host, extravars, started_at, now)
                plan = chain.response_plan(extravars["respond_severity"], record, steps)
        except chain.ChainError as exc:  # the dispatcher's task fails the stack
            plan = {"healthy": False, "steps": []}
            self.errors[host] = f"Settle the severity and the steps to run: response_plan: {exc}"
        holder = self.lock_holder or self.held_by.get(host)
        if plan["healthy"]:
            record.update(severity=None, healthy=True)
        elif host in self.errors:
            pass
        elif holder:
            record["refused"] = f"incident {holder} is in progress on this stack"
            self.errors[host] = f"Stop here: {host}: refused, incident {holder} is already being handled"
        else:
            self.locked.add(host)
            self.ever_locked.add(host)
            for step in plan["steps"]:
                self._step(record, step, host, extravars, started_at, now)
        failed = host in self.errors or any(self.fail.get((step, host)) == "failed" for step in steps)
        record["outcome"] = chain.outcome(record, record["severity"])
        if record.get("severity") in self.lib.runbook.LEVELS and \
                chain.chain_steps(record["severity"])[-1]["id"] in [entry["id"] for entry in record["steps"]]:
            self.locked.discard(host)
            # The dispatcher fails a stack its chain did not resolve, at the chain's end.
            failed = failed or record["outcome"] in ("not_resolved", "refused")
        incident.write_json(os.path.join(folder, incident.HOSTS_DIR), f"{host}.json", record)
        return "failed" if failed else None

    def _step(self, record: dict[str, t.Any], step: dict[str, t.Any], host: str, extravars: dict[str, t.Any],
              started_at: str, now: datetime.datetime) -> None:
        chain = self.lib.chain
        scripted = self.script.get(step["id"], {"status": "ok", "summary": "done"})
        chain.start_step(record, step, now)
        chain.end_step(record, started_at, scripted(host, extravars) if callable(scripted) else scripted, now)
        if step["id"] == chain.ASSESS and record["steps"][-1]["status"] == "ok":
            level = self.assessed.get(host, "P0") if extravars["respond_severity"] == "auto" else extravars["respond_severity"]
            record["severity"] = level
            record["decision"] = {"severity": {"level": level, "reason": "scripted"},
                                  "scenario": {"scenario": "api_unavailable" if level else None, "reason": "scripted"}}

    def steps_run(self) -> list[list[str]]:
        return [call["extravars"]["respond_steps"] for call in self.calls]

    def limits(self) -> list[t.Optional[str]]:
        return [call["limit"] for call in self.calls]


def gate_on(host: str, gate: str, summary: str) -> t.Callable[[str, dict[str, t.Any]], dict[str, t.Any]]:
    """A gated step as the step role decides it: refused on host until gate is approved, summary otherwise."""
    def result(name: str, extravars: dict[str, t.Any]) -> dict[str, t.Any]:
        if name == host and gate not in extravars["respond_approve"]:
            return {"status": "refused", "summary": f"{gate} needs an approval", "needs_approval": gate,
                    "escalations": [{"trigger": "approval_missing", "reason": f"{gate} not approved"}]}
        return {"status": "changed", "summary": summary}
    return result


class TtyPipe:
    """stdin on a terminal, answering with the text given (None: the person never answers)."""

    def __init__(self, answer: t.Optional[str]) -> None:
        read_end, self.write_end = os.pipe()
        self.reader = os.fdopen(read_end)
        if answer is not None:
            os.write(self.write_end, answer.encode())

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.reader.fileno()

    def readline(self) -> str:
        return self.reader.readline()

    def close(self) -> None:
        self.reader.close()
        os.close(self.write_end)


@pytest.fixture
def terminal_stdin() -> t.Iterator[t.Callable[[t.Optional[str]], TtyPipe]]:
    made: list[TtyPipe] = []

    def make(answer: t.Optional[str]) -> TtyPipe:
        made.append(TtyPipe(answer))
        return made[-1]
    yield make
    for pipe in made:
        pipe.close()


@pytest.fixture
def tty_stream() -> t.Callable[[], TtyStream]:
    """A text stream that says it is a terminal."""
    return TtyStream


@pytest.fixture(name="gate_on")
def gate_on_fixture() -> t.Callable[[str, str, str], t.Callable[[str, dict[str, t.Any]], dict[str, t.Any]]]:
    """gate_on(host, gate, summary) for FakeRunner.script (a fixture: test files cannot import conftest safely)."""
    return gate_on


@pytest.fixture
def fake_runner(monkeypatch: pytest.MonkeyPatch, lib: t.Any) -> FakeRunner:
    fake = FakeRunner(lib)
    monkeypatch.setattr(runner_mod, "run", fake)
    return fake


@pytest.fixture
def no_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    """ansible-runner must not be reached at all."""
    def refuse(**_kwargs: t.Any) -> t.NoReturn:
        raise AssertionError("ansible-runner was started")
    monkeypatch.setattr(runner_mod, "run", refuse)
