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
    the dispatcher would (incident_record open / step_start / step_end / finish), with the step's scripted result.

    script maps a step id to a result dict for usdx.incident's end_step, or to a callable(host, extravars) -> result;
    a step not in it is ok. lock_holder makes the first run refuse every stack as the dispatcher does.
    """

    def __init__(self, lib: t.Any) -> None:
        self.lib = lib
        self.calls: list[dict[str, t.Any]] = []
        self.script: dict[str, t.Any] = {}
        self.lock_holder: t.Optional[str] = None
        self.status = "successful"
        self.started = True
        self.started_at: t.Optional[datetime.datetime] = None

    def __call__(self, **kwargs: t.Any) -> runner_mod.Run:
        self.calls.append(kwargs)
        extravars = kwargs["extravars"]
        folder = os.path.join(extravars["respond_incidents_dir"], extravars["respond_incident_id"])
        incident, chain = self.lib.incident, self.lib.chain
        now = incident.utc_now()
        if not os.path.exists(os.path.join(folder, incident.INCIDENT_FILE)):
            incident.write_json(folder, incident.INCIDENT_FILE, {
                "id": extravars["respond_incident_id"], "channel": incident.channel(extravars["respond_incident_id"]),
                "started_at": incident.iso(self.started_at or now), "severity": extravars["respond_severity"], "check_mode": kwargs["check"]})
        result = runner_mod.Run(kwargs["ident"], status=self.status, rc=0 if self.status == "successful" else 2,
                                started=self.started, finished=self.started)
        if not self.started:
            return result
        started_at = incident.read_json(os.path.join(folder, incident.INCIDENT_FILE))["started_at"]
        for host in (kwargs["limit"] or ",".join(HOSTS)).split(","):
            record = incident.read_json(incident.host_file(folder, host)) or {
                "host": host, "severity": extravars["respond_severity"], "steps": [], "escalations": [], "stopped": None,
                "check_mode": kwargs["check"]}
            if self.lock_holder:
                record["refused"] = f"incident {self.lock_holder} is in progress on this stack"
                result.status, result.rc = "failed", 2
            else:
                for step in chain.selected_steps(extravars["respond_severity"], extravars["respond_steps"]):
                    scripted = self.script.get(step["id"], {"status": "ok", "summary": "done"})
                    chain.start_step(record, step, now)
                    chain.end_step(record, started_at, scripted(host, extravars) if callable(scripted) else scripted, now)
            record["outcome"] = chain.outcome(record, record["severity"])
            incident.write_json(os.path.join(folder, incident.HOSTS_DIR), f"{host}.json", record)
        return result

    def steps_run(self) -> list[list[str]]:
        return [call["extravars"]["respond_steps"] for call in self.calls]


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
