# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`usdx-incident postmortem INC-ID`: the post-mortem of an existing incident, through playbooks/postmortem.yml.

For a run that was killed before its post-mortem step, or to write the post-mortem again (other templates, a
timeline that grew): one ansible-runner run with the incident folder as its private data dir (its artifacts in
artifacts/postmortem-N/), no step of the chain runs and no stack is contacted. The file names and how the
post-mortem is built are the collection's (plugin_utils/_postmortem.py); this command prints where they are.
"""

from __future__ import annotations

import importlib
import json
import os
import time
import typing as t

from usdx_incident_cli import collection as collection_mod
from usdx_incident_cli import incidents, outcome, validate
from usdx_incident_cli import runner as runner_mod

IDENT = "postmortem"


def _postmortem_lib() -> t.Any:
    """The collection's _postmortem (collection.load() has put the collection's root on sys.path)."""
    return importlib.import_module(f"{collection_mod.PACKAGE}.plugin_utils._postmortem")


def _ident(folder: str) -> str:
    """postmortem-N, one more than the post-mortem runs the folder's artifacts already hold."""
    try:
        taken = [name for name in os.listdir(os.path.join(folder, "artifacts")) if name.startswith(f"{IDENT}-")]
    except FileNotFoundError:
        taken = []
    numbers = [int(name.rsplit("-", 1)[1]) for name in taken if name.rsplit("-", 1)[1].isdigit()]
    return f"{IDENT}-{max(numbers, default=0) + 1}"


class Failure:
    """The first failed task's message, from ansible-runner's events (what a broken template says)."""

    def __init__(self, forward: t.Callable[[dict[str, t.Any]], None]) -> None:
        self.forward = forward
        self.message: t.Optional[str] = None

    def event(self, event: dict[str, t.Any]) -> None:
        data = event.get("event_data") or {}
        if event.get("event") == "runner_on_failed" and self.message is None and not data.get("ignore_errors"):
            result = data.get("res") if isinstance(data.get("res"), dict) else {}
            self.message = " ".join(str(result.get("msg") or "the task failed").split())
        self.forward(event)


def command(args: t.Any, context: t.Any) -> int:
    lib = context.lib
    folder = incidents.existing_folder(lib, args.incidents_dir, args.incident_id)
    playbook = context.collection.playbook("postmortem.yml")
    inventories = validate.inventories(args.inventory, context.collection.default_inventory)
    # The play reads the stacks' inventory settings (templates); it needs one stack to run for.
    validate.hosts(inventories, None, validate.play_hosts(playbook), context.collection.search_paths)
    names = _postmortem_lib()
    paths = {"markdown": os.path.join(folder, names.MARKDOWN_FILE), "html": os.path.join(folder, names.HTML_FILE)}
    progress = context.progress(quiet=args.json)
    failure = Failure(progress.event)
    started = time.time()
    incident = lib.incident.read_json(os.path.join(folder, lib.incident.INCIDENT_FILE)) or {}
    opened = lib.incident.parse_iso(incident.get("started_at"))
    progress.begin(f"post-mortem of {args.incident_id}", None,
                   lambda: (lib.incident.utc_now() - opened).total_seconds() if opened else None)
    try:
        run = runner_mod.run(private_data_dir=folder, playbook=playbook, ident=_ident(folder), inventories=inventories,
                             limit=None, extravars={"respond_incident_id": args.incident_id,
                                                    "respond_incidents_dir": os.path.abspath(args.incidents_dir)},
                             check=False, envvars=context.collection.runner_env(), on_event=failure.event)
    finally:
        progress.end()
    # Written by this run: a post-mortem left from an earlier run is not this one's result.
    written = all(os.path.isfile(path) and os.path.getmtime(path) >= started - 1 for path in paths.values())
    if run.interrupted:
        code = outcome.INTERRUPTED
    elif run.status == "successful" and written:
        code = outcome.RESOLVED
    else:
        code = outcome.RUNNER_FAILED
    error = None if code == outcome.RESOLVED else (
        failure.message or f"the runner ended {run.status} (rc {run.rc}); see {folder}/artifacts/{run.ident}/stdout")
    if args.json:
        json.dump({"incident_id": args.incident_id, "folder": folder, "exit_code": code, "error": error,
                   "markdown": paths["markdown"] if code == outcome.RESOLVED else None,
                   "html": paths["html"] if code == outcome.RESOLVED else None, "runner": run.as_dict()},
                  context.stdout, indent=2, sort_keys=True)
        context.stdout.write("\n")
    elif code == outcome.RESOLVED:
        context.stdout.write(f"{paths['markdown']}\n{paths['html']}\n")
    else:
        context.stderr.write(f"usdx-incident postmortem: {args.incident_id}: {error}\n")
    return code
