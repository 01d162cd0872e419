# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`usdx-incident respond`: the severities' chains, one ansible-runner run of playbooks/respond.yml per step.

The incident folder is allocated first and is the private data dir of every run (artifacts/<NN-step>/). After each
run the stacks' records (hosts/<host>.json) say what the step did; the command only decides whether to go on:

- with --severity auto the assess step runs first on every stack; each stack's severity, as the assessment kept it in
  its record, gives it its own chain (_chain.response_plan, the dispatcher's own rule); a stack found healthy is left
  alone. The chains are merged in the runbook's order, and each step runs limited to the stacks whose chain holds it;
- a stack a run failed on (another incident holds its lock, a task failed, unreachable: the run's recap) is dropped
  and the other stacks go on; a run without a recap, or one that failed without naming a stack, ends the chain, as
  does an interrupted one (no data is never read as "some stacks failed");
- a step refused for a missing approval is asked about once on a terminal, no longer than the step's T+ deadline;
  a yes re-runs that step once, on the refused stacks only, with the gate added; otherwise the chain goes on and
  the record keeps the escalation the playbook wrote.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing as t

from usdx_incident_cli import outcome, prompt, validate
from usdx_incident_cli import runner as runner_mod
from usdx_incident_cli.progress import Progress
from usdx_incident_cli.render import incident_summary, stack_rows, stacks_table, step_line

AUTO = "auto"


@dataclasses.dataclass(frozen=True)
class Request:
    severity: str
    scenario: str
    fix_option: str
    deploy_ref: t.Optional[str]
    approve: tuple[str, ...]
    check: bool
    inventories: tuple[str, ...]
    limit: t.Optional[str]
    incidents_dir: str
    hosts: tuple[str, ...]
    extra_vars: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass
class Response:
    incident_id: str
    folder: str
    runs: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)
    stopped_by: t.Optional[str] = None
    ansible_failed: bool = False
    interrupted: bool = False
    # host -> why the chain went on without it ("<ident>: <reason>")
    dropped: dict[str, str] = dataclasses.field(default_factory=dict)


class Chain:
    """One incident's chain, step by step, over the stacks still in it."""

    def __init__(self, request: Request, response: Response, context: t.Any, progress: Progress) -> None:
        """context: the command's (collection, lib, stdin, stderr: where the approval is asked)."""
        self.request = request
        self.response = response
        self.lib = context.lib
        self.playbook = context.collection.playbook("respond.yml")
        self.envvars = context.collection.runner_env()
        self.stdin = context.stdin
        self.prompt_out = context.stderr
        self.progress = progress
        self.approve = list(request.approve)
        self.started_at = self.lib.incident.utc_now()
        self.started_at_recorded = False
        self.assessed = request.severity == AUTO
        # Each stack's severity and the step ids of its chain; the stacks the next steps run on.
        self.levels: dict[str, str] = {}
        self.chains: dict[str, list[str]] = {}
        self.active: list[str] = list(request.hosts)

    def run(self) -> None:
        self.progress.line(f"{self.response.incident_id}: "
                           f"{'severity auto (each stack assessed first)' if self.assessed else self.request.severity} "
                           f"on {', '.join(self.request.hosts)}"
                           f"{' (check mode: nothing is changed)' if self.request.check else ''}; "
                           f"folder {self.response.folder}")
        offset = 0
        if self.assessed:
            assess = self.lib.chain.selected_steps("P0", [self.lib.chain.ASSESS])[0]
            offset = 1
            if not self._step(assess, f"01-{assess['id']}", f"[1/?] {assess['id']} ({assess['title']})", list(self.active)):
                return
            self._plan_assessed()
        else:
            ids = [step["id"] for step in self.lib.chain.chain_steps(self.request.severity)]
            self.levels = {host: self.request.severity for host in self.active}
            self.chains = {host: list(ids) for host in self.active}
        order = self.lib.chain.merged_order(sorted(set(self.levels.values())), self.assessed)
        for index, step_id in enumerate(order, offset + 1):
            hosts = [host for host in self.active if step_id in self.chains[host]]
            if not hosts:  # its stacks were dropped
                continue
            step = self._definition(step_id, hosts)
            label = f"[{index}/{len(order) + offset}] {step_id} ({step['title']})" + (
                f" on {', '.join(hosts)}" if hosts != list(self.request.hosts) else "")
            if not self._step(step, f"{index:02d}-{step_id}", label, hosts):
                break

    def _plan_assessed(self) -> None:
        """Each assessed stack's severity and chain from its record, as the dispatcher reads them; a healthy stack
        leaves the chain (the dispatcher recorded it and took no lock). A record without an assessment is no
        healthy stack: it is dropped."""
        records = self.records()
        ident = f"01-{self.lib.chain.ASSESS}"
        for host in list(self.active):
            try:
                plan = self.lib.chain.response_plan(AUTO, records[host])
            except self.lib.chain.ChainError as exc:  # the dispatcher failed on it too: the recap dropped it already
                self._drop(host, f"{ident}: {exc}")
                continue
            if plan["assess"]:
                self._drop(host, f"{ident}: the run succeeded but the stack's record holds no assessment")
                continue
            if plan["healthy"]:
                self.active.remove(host)
                self.chains[host] = [self.lib.chain.ASSESS]
                self.progress.line(f"  {host}: healthy (no severity): left alone")
                continue
            self.levels[host] = plan["severity"]
            self.chains[host] = [self.lib.chain.ASSESS] + [step["id"] for step in plan["steps"]]
            self.progress.line(f"  {host}: {plan['severity']}: {' -> '.join(self.chains[host][1:]) or 'nothing more'}")

    def _definition(self, step_id: str, hosts: t.Sequence[str]) -> dict[str, t.Any]:
        """A merged step as its stacks' chains have it; the earliest T+ deadline among them (record's differs)."""
        steps = [self.lib.chain.selected_steps(self.levels[host], [step_id], self.assessed)[0] for host in hosts]
        return dict(steps[0], deadline_seconds=min(step["deadline_seconds"] for step in steps))

    def _step(self, step: t.Mapping[str, t.Any], ident: str, label: str, hosts: list[str]) -> bool:
        """Run one step (and its approved re-run) on hosts; False when the chain must end here."""
        run = self._run(step, ident, label, hosts)
        if not self._may_go_on(run, step["id"], hosts):
            return False
        entries = self._entries(step["id"], [host for host in hosts if host in self.active])
        refused = {host: gate for host, gate in ((host, outcome.needs_approval(entry)) for host, entry in entries.items()) if gate}
        if not refused or not prompt.can_ask(self.stdin):
            return True
        gates = sorted(set(refused.values()))
        question = (f"{step['id']} needs the approval {', '.join(gates)} on {', '.join(refused)}. "
                    f"Approve and run {step['id']} again")
        if not prompt.ask(question, self._seconds_left(step), self.stdin, self.prompt_out):
            self.progress.line(f"{step['id']}: not approved; the refusal and its escalation stay recorded")
            return True
        self.approve.extend(gate for gate in gates if gate not in self.approve)
        run = self._run(step, f"{ident}-approved", f"{label} approved", list(refused))
        return self._may_go_on(run, step["id"], list(refused))

    def _run(self, step: t.Mapping[str, t.Any], ident: str, label: str, hosts: t.Sequence[str]) -> runner_mod.Run:
        self.progress.begin(label, step["deadline_seconds"], self._tplus)
        # The user's own pattern while it still names exactly these stacks; their names once some are left out.
        limit = self.request.limit if list(hosts) == list(self.request.hosts) else ",".join(hosts)
        try:
            run = runner_mod.run(
                private_data_dir=self.response.folder, playbook=self.playbook, ident=ident,
                inventories=self.request.inventories, limit=limit, extravars=self._extravars(step),
                check=self.request.check, envvars=self.envvars, on_event=self.progress.event)
        finally:
            self.progress.end()
        self.response.runs.append({"step": step["id"], "hosts": list(hosts), **run.as_dict()})
        for host, entry in self._entries(step["id"], hosts).items():
            self.progress.line(step_line(host, entry, self.progress.paint))
        return run

    def _may_go_on(self, run: runner_mod.Run, step_id: str, hosts: t.Sequence[str]) -> bool:
        """Drop the stacks the run failed on; False when the whole chain must end (or no stack is left)."""
        failed = None if run.interrupted or run.ansible_failed else run.failed_hosts(hosts)
        if run.interrupted:
            self.response.interrupted = True
            self.response.stopped_by = f"{run.ident}: interrupted (runner status {run.status})"
        elif run.ansible_failed:
            self.response.ansible_failed = True
            self.response.stopped_by = (f"{run.ident}: ansible did not run the playbook to its end (runner status "
                                        f"{run.status}, rc {run.rc}; see {self.response.folder}/artifacts/{run.ident}/stdout)")
        elif failed is None:
            self.response.stopped_by = (f"{run.ident}: the run left no recap, so which stacks it failed on is unknown "
                                        f"(runner status {run.status}, rc {run.rc})")
        elif run.status != "successful" and not failed:
            self.response.stopped_by = (f"{run.ident}: the run ended {run.status} (rc {run.rc}) and its recap names no "
                                        f"stack; see {self.response.folder}/artifacts/{run.ident}/stdout")
        else:
            records = self.records()
            for host, why in failed.items():
                if not self._chain_ended(host, step_id, records.get(host)):
                    refused = outcome.lock_refused(records.get(host))
                    self._drop(host, f"{run.ident}: {'refused, ' + refused if refused else why}")
            if self.active:
                return True
            self.response.stopped_by = "every stack was dropped: " + "; ".join(
                f"{host}: {why}" for host, why in self.response.dropped.items())
        self.progress.line(f"chain stopped: {self.response.stopped_by}")
        return False

    def _chain_ended(self, host: str, step_id: str, record: t.Optional[t.Mapping[str, t.Any]]) -> bool:
        """The run failed the stack at its chain's last step for the verdict alone (the dispatcher fails a stack not
        resolved there, for ansible's rc and AWX): its outcome says it; nothing was cut short."""
        chain = self.chains.get(host) or []
        return bool(chain) and chain[-1] == step_id and not outcome.lock_refused(record) and \
            (record or {}).get("outcome") not in (None, "open")

    def _drop(self, host: str, why: str) -> None:
        if host in self.active:
            self.active.remove(host)
        self.response.dropped[host] = why
        self.progress.line(f"  {host}: {self.progress.paint('dropped', 'red')}, the other stacks go on: {why}")

    def _extravars(self, step: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        """The dispatcher's variables (usdx.incident.respond's argument spec) for one step; nothing secret."""
        extravars: dict[str, t.Any] = dict(self.request.extra_vars)
        extravars.update({
            "respond_incident_id": self.response.incident_id, "respond_incidents_dir": self.request.incidents_dir,
            "respond_severity": self.request.severity, "respond_scenario": self.request.scenario,
            "respond_fix_option": self.request.fix_option, "respond_approve": list(self.approve),
            "respond_steps": [step["id"]],
        })
        if self.request.deploy_ref is not None:
            extravars["respond_deploy_ref"] = self.request.deploy_ref
        return extravars

    def records(self) -> dict[str, t.Optional[dict[str, t.Any]]]:
        return {host: self.lib.incident.read_json(self.lib.incident.host_file(self.response.folder, host))
                for host in self.request.hosts}

    def incident(self) -> t.Optional[dict[str, t.Any]]:
        return self.lib.incident.read_json(os.path.join(self.response.folder, self.lib.incident.INCIDENT_FILE))

    def _entries(self, step_id: str, hosts: t.Sequence[str]) -> dict[str, t.Optional[t.Mapping[str, t.Any]]]:
        records = self.records()
        return {host: outcome.last_entry(records.get(host), step_id) for host in hosts}

    def _tplus(self) -> float:
        """Seconds on the incident's T+ clock: from incident.json's started_at once the first run wrote it (read
        once), until then from this command's start."""
        if not self.started_at_recorded:
            started = self.lib.incident.parse_iso((self.incident() or {}).get("started_at"))
            if started is not None:
                self.started_at, self.started_at_recorded = started, True
        return (self.lib.incident.utc_now() - self.started_at).total_seconds()

    def _seconds_left(self, step: t.Mapping[str, t.Any]) -> float:
        return float(step["deadline_seconds"]) - self._tplus()


def command(args: t.Any, context: t.Any) -> int:
    """`usdx-incident respond`: checks the inventory and the hosts, then runs the chain and reports it."""
    lib = context.lib
    playbook = context.collection.playbook("respond.yml")
    if not os.path.isfile(playbook):
        context.stderr.write(f"usdx-incident respond: {playbook} does not exist in the collection\n")
        return outcome.RUNNER_FAILED
    inventories = validate.inventories(args.inventory, context.collection.default_inventory)
    hosts = validate.hosts(inventories, args.limit, validate.play_hosts(playbook), context.collection.search_paths)
    for host in hosts:
        try:
            lib.incident.host_file(".", host)
        except ValueError as exc:
            raise validate.UsageError(str(exc)) from exc
    request = Request(
        severity=args.severity, scenario=args.scenario, fix_option=args.fix_option, deploy_ref=args.deploy_ref,
        approve=tuple(dict.fromkeys(args.approve)), check=args.check, inventories=tuple(inventories), limit=args.limit,
        incidents_dir=os.path.abspath(args.incidents_dir), hosts=tuple(hosts),
        extra_vars=tuple(validate.extra_vars(args.extra_vars).items()))
    try:
        response = Response(*lib.incident.allocate(request.incidents_dir))
    except lib.incident.Unsafe as exc:  # nothing allocated: another --incidents-dir is the way out
        raise validate.UsageError(f"--incidents-dir {validate.show(args.incidents_dir)}: {exc}") from exc
    chain = Chain(request, response, context, context.progress(quiet=args.json, check=args.check))
    try:
        chain.run()
        document = {"incident": chain.incident(), "hosts": chain.records()}
    except lib.incident.Unsafe as exc:  # a record the playbook wrote cannot be read safely
        context.stderr.write(f"usdx-incident respond: {exc}\n")
        return outcome.RUNNER_FAILED
    outcomes = {host: (record or {}).get("outcome") for host, record in document["hosts"].items()}
    code = outcome.INTERRUPTED if response.interrupted else outcome.exit_code(
        outcomes, response.ansible_failed, cut_short=response.stopped_by is not None, dropped=response.dropped)
    report(response, document, code, outcome.meaning(code, outcomes), args.json, context.stdout, chain.progress.paint)
    return code


def report(response: Response, document: dict[str, t.Any], code: int, result: str, as_json: bool, out: t.Any,
           paint: t.Any) -> None:
    """The final result: one JSON document, or the summary table and the exit code's meaning."""
    stacks = stack_rows(document, response.dropped)
    if as_json:
        json.dump({"incident_id": response.incident_id, "folder": response.folder, "exit_code": code,
                   "result": result, "stopped_by": response.stopped_by, "dropped": response.dropped,
                   "stacks": stacks, "runs": response.runs, **document}, out, indent=2, sort_keys=True, default=str)
        out.write("\n")
        return
    lines = ["", *incident_summary(document, paint)]
    if len(stacks) > 1:
        lines += ["", *stacks_table(stacks, paint)]
    lines += ["", f"{response.incident_id}: exit {code} ({paint(result, 'green' if code == 0 else 'red')})"
              + (f"; stopped: {response.stopped_by}" if response.stopped_by else ""),
              *(f"dropped {host}: {why}" for host, why in response.dropped.items()),
              f"folder: {response.folder} (usdx-incident show {response.incident_id})"]
    out.write("\n".join(lines) + "\n")
