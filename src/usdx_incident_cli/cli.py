# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The usdx-incident command line: arguments, checks of every value before anything runs, and dispatch."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import typing as t

from usdx_incident_cli import collection as collection_mod
from usdx_incident_cli import incidents, outcome, respond, triage, validate
from usdx_incident_cli import notify as notify_command
from usdx_incident_cli import postmortem as postmortem_command
from usdx_incident_cli.progress import Progress
from usdx_incident_cli.render import Painter, use_colour

EXIT_CODES = "\n".join(f"  {code}  {meaning}" for code, meaning in (
    (outcome.RESOLVED, "resolved and verified (P2/P3: recorded; --check: dry run done; auto: healthy); triage: no stack "
                       "has a severity"),
    (outcome.NOT_RESOLVED, "not resolved or escalated, or a stack was dropped; triage: a stack has a severity or gave no verdict"),
    (outcome.USAGE, "usage error: nothing was run and no incident was created"),
    (outcome.REFUSED, "refused: another incident holds a stack (dropped or not), the circuit breaker tripped, an approval "
                      "is missing"),
    (outcome.RUNNER_FAILED, "the runner failed: ansible could not run the playbook to its end"),
    (outcome.INTERRUPTED, "interrupted (Ctrl-C): the chain stopped; the stack's lock expires after its TTL"),
))
INCIDENTS_DIR_ENV = "USDX_INCIDENTS_DIR"
# The chain's messages name the dispatcher's variables; the user typed these options.
VARIABLE_OPTIONS = {"respond_fix_option=": "--fix-option ", "respond_deploy_ref": "--deploy-ref"}


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (no usage dump) through UsageError."""

    def error(self, message: str) -> t.NoReturn:
        raise validate.UsageError(f"{self.prog}: {message}")


@dataclasses.dataclass
class Context:
    collection: collection_mod.Collection
    lib: t.Any
    stdin: t.Any = dataclasses.field(default_factory=lambda: sys.stdin)
    stdout: t.Any = dataclasses.field(default_factory=lambda: sys.stdout)
    stderr: t.Any = dataclasses.field(default_factory=lambda: sys.stderr)
    environ: t.Mapping[str, str] = dataclasses.field(default_factory=lambda: os.environ)

    @property
    def paint(self) -> Painter:
        return Painter(use_colour(self.stdout, self.environ))

    def progress(self, quiet: bool, check: bool = False) -> Progress:
        live = bool(getattr(self.stdout, "isatty", lambda: False)())
        return Progress(self.stdout, live=live, paint=self.paint, quiet=quiet, check=check)

    def default_incidents_dir(self) -> str:
        """$USDX_INCIDENTS_DIR, else the dispatcher role's respond_incidents_dir default."""
        if self.environ.get(INCIDENTS_DIR_ENV):
            return self.environ[INCIDENTS_DIR_ENV]
        return str(self.collection.role_options("respond")["respond_incidents_dir"]["default"])


def build_parser(lib: t.Any, default_incidents_dir: str) -> Parser:
    chain, runbook = lib.chain, lib.runbook
    parser = Parser(
        prog="usdx-incident", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the USDX/Wexel incident-response runbook's severity chains (the usdx.incident collection) "
                    "through ansible-runner, one step per run, and read back what each step did.",
        epilog=f"exit codes:\n{EXIT_CODES}\n\nSee docs/chains.md of the usdx.incident collection.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def hosts_options(sub: Parser) -> None:
        sub.add_argument("-i", "--inventory", action="append", metavar="INVENTORY",
                         help="inventory file or directory (repeatable); default: ansible's configured inventory")
        sub.add_argument("--limit", metavar="HOSTS", help="ansible host pattern limiting the stacks the playbook runs on")

    def incidents_option(sub: Parser) -> None:
        sub.add_argument("--incidents-dir", metavar="DIR", default=default_incidents_dir,
                         help=f"folder holding one folder per incident; default: ${INCIDENTS_DIR_ENV} or the "
                              f"dispatcher role's respond_incidents_dir ({default_incidents_dir})")

    def json_option(sub: Parser) -> None:
        sub.add_argument("--json", action="store_true", help="print one JSON document (no progress, no colour)")

    sub = commands.add_parser("triage", help="read-only triage of every stack: severity, scenario, evidence",
                              description="Run playbooks/triage.yml and print each stack's verdict (its set_stats).")
    hosts_options(sub)
    json_option(sub)

    sub = commands.add_parser("notify", help="send a test message through every configured notifier",
                              description="Run playbooks/notify_test.yml: a test message through every backend of "
                                          "each stack's notify_backends; one line per backend (exit 0: all delivered, "
                                          "1: one was not, 2: a configuration error, named).")
    sub.add_argument("--test", action="store_true", required=True, help="send the test message (the only action)")
    hosts_options(sub)
    json_option(sub)

    sub = commands.add_parser(
        "respond", help="run a severity's chain on the stacks, one step at a time", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Allocate an incident and run the chain of --severity through playbooks/respond.yml, one\n"
                    "ansible-runner run per step (artifacts in the incident folder).\n\n"
                    "--severity auto: the assess step runs first on every stack, then each stack gets the chain of\n"
                    "the severity it was assessed at (the chains merged in the runbook's order, each step limited to\n"
                    "the stacks whose chain holds it); a healthy stack is recorded as healthy and left alone (no\n"
                    "lock, no page, no restart).\n\n"
                    "A stack a run fails on (held by another incident, a failed task, unreachable) is dropped and the\n"
                    "others go on; the exit code counts it. A step refused for a missing approval is asked about on a\n"
                    "terminal until its T+ deadline. With several stacks the result ends with one row per stack:\n"
                    "host, severity, scenario, outcome, steps run, T+ of the last step.",
        epilog="chains:\n" + "\n".join(f"  {level}: {' -> '.join(s['id'] for s in chain.chain_steps(level))}"
                                       for level in runbook.LEVELS)
               + f"\n  auto: {chain.ASSESS} on every stack, then each stack's own chain without {chain.ASSESS}"
               + f"\n\nexit codes:\n{EXIT_CODES}")
    sub.add_argument("--severity", required=True, metavar="LEVEL",
                     help=f"one of {', '.join(runbook.LEVELS)}, or auto: each stack's severity from its assessment")
    sub.add_argument("--scenario", default="auto", metavar="NAME",
                     help=f"one of {', '.join(chain.RESPONSE_SCENARIOS)} (auto: the triage's top-ranked); default auto")
    sub.add_argument("--fix-option", default="auto", metavar="OPTION",
                     help=f"the runbook's Fix option: {', '.join(f'{o} {n}' for o, n in chain.FIX_OPTION_TITLES.items())}, "
                          "or auto (chosen from the diagnosis); default auto")
    sub.add_argument("--deploy-ref", metavar="REF", help="the git ref or release Fix option C deploys")
    sub.add_argument("--approve", action="append", default=[], metavar="GATE",
                     help=f"approve a gate in advance (repeatable): {', '.join(chain.GATES)}")
    sub.add_argument("-e", "--extra-var", action="append", default=[], metavar="KEY=VALUE", dest="extra_vars",
                     help="a variable of the scenario or step roles (repeatable), e.g. "
                          "db_connections_exhausted_idle_threshold=5; not respond_* (they have options) nor ansible_*")
    sub.add_argument("--check", action="store_true",
                     help="dry run: every step in check mode, predicted actions recorded, nothing changed on the stacks")
    hosts_options(sub)
    incidents_option(sub)
    json_option(sub)

    sub = commands.add_parser("show", help="one incident: its steps with T+ times and deadline verdicts",
                              description="Print an incident's record: per stack, each step with its T+ end, its "
                                          "deadline and whether it was met, escalations and the outcome; with "
                                          "several stacks, one summary row per stack at the end.")
    sub.add_argument("incident_id", metavar="INC-ID", help="for example INC-2026-11-28-01")
    incidents_option(sub)
    json_option(sub)

    sub = commands.add_parser("list", help="the incidents, newest first", description="List the incidents, newest first.")
    incidents_option(sub)
    json_option(sub)

    sub = commands.add_parser("postmortem", help="write an incident's post-mortem (Markdown and HTML) from its folder",
                              description="Run playbooks/postmortem.yml for an existing incident (no step runs, no "
                                          "stack is contacted) and print the paths of postmortem.md and postmortem.html.")
    sub.add_argument("incident_id", metavar="INC-ID", help="for example INC-2026-11-28-01")
    sub.add_argument("-i", "--inventory", action="append", metavar="INVENTORY",
                     help="inventory file or directory (repeatable; its stacks' settings name the templates); "
                          "default: ansible's configured inventory")
    incidents_option(sub)
    json_option(sub)
    return parser


def check_respond(args: argparse.Namespace, lib: t.Any) -> None:
    """Every value of `respond` that can be judged before a run (UsageError names the first bad one)."""
    validate.choice("severity", args.severity, lib.runbook.LEVELS + ("auto",))
    validate.choice("scenario", args.scenario, lib.chain.RESPONSE_SCENARIOS)
    validate.choice("fix option", args.fix_option, lib.chain.FIX_OPTIONS)
    for gate in args.approve:
        validate.choice("approval gate (--approve)", gate, lib.chain.GATES)
    validate.deploy_ref(args.deploy_ref)
    validate.extra_vars(args.extra_vars)
    # The option's own rules (C needs a ref; D and A fit only some scenarios) as the chain applies them; with the
    # scenario left to the triage only C's can be judged now.
    if args.fix_option != "auto" and (args.scenario != "auto" or args.fix_option == "C"):
        try:
            lib.chain.fix_option(args.fix_option, args.scenario, args.deploy_ref or "")
        except lib.chain.ChainError as exc:
            message = str(exc)
            for variable, option in VARIABLE_OPTIONS.items():
                message = message.replace(variable, option)
            raise validate.UsageError(message) from exc


def main(argv: t.Optional[t.Sequence[str]] = None, context: t.Optional[Context] = None) -> int:
    prog = "usdx-incident"
    try:
        if context is None:
            found = collection_mod.locate()
            context = Context(found, collection_mod.load(found))
        args = build_parser(context.lib, context.default_incidents_dir()).parse_args(argv)
        prog = f"usdx-incident {args.command}"
        if args.command == "respond":
            check_respond(args, context.lib)
        return COMMANDS[args.command](args, context)
    except validate.UsageError as exc:
        message = str(exc)
        print(message if message.startswith("usdx-incident") else f"{prog}: {message}",
              file=context.stderr if context else sys.stderr)
        return outcome.USAGE
    except collection_mod.NotFound as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return outcome.RUNNER_FAILED
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return outcome.INTERRUPTED


COMMANDS: dict[str, t.Callable[[argparse.Namespace, Context], int]] = {
    "triage": triage.command,
    "notify": notify_command.command,
    "respond": respond.command,
    "show": incidents.show,
    "list": incidents.list_incidents,
    "postmortem": postmortem_command.command,
}
