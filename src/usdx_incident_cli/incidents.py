# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`usdx-incident show` and `usdx-incident list`: incident folders read back with the collection's read_incident()."""

from __future__ import annotations

import json
import os
import typing as t

from usdx_incident_cli import outcome, validate
from usdx_incident_cli.render import incident_summary, stack_rows, stacks_table, table

SHOWN_IDS = 5


def incident_ids(lib: t.Any, incidents_dir: str) -> list[str]:
    """The incident folders' ids, newest first (by day, then number: the id's own order)."""
    try:
        names = os.listdir(incidents_dir)
    except FileNotFoundError:
        return []
    matches = [m for m in map(lib.incident.INCIDENT_ID.match, names) if m]
    matches.sort(key=lambda m: tuple(int(part) for part in m.groups()), reverse=True)
    return [m.group(0) for m in matches if os.path.isdir(os.path.join(incidents_dir, m.group(0)))]


def existing_folder(lib: t.Any, incidents_dir: str, incident_id: str) -> str:
    """The folder of an incident that exists; a usage error naming the newest ones otherwise."""
    try:
        folder = lib.incident.folder(incidents_dir, incident_id)
    except ValueError as exc:
        raise validate.UsageError(str(exc)) from exc
    if not os.path.isdir(folder):
        newest = incident_ids(lib, incidents_dir)[:SHOWN_IDS]
        raise validate.UsageError(f"no incident {validate.show(incident_id)} in {incidents_dir} "
                                  f"(accepted: {', '.join(newest) + ', ...' if newest else 'none: no incident yet'})")
    return folder


def show(args: t.Any, context: t.Any) -> int:
    lib = context.lib
    folder = existing_folder(lib, args.incidents_dir, args.incident_id)
    try:
        document = lib.incident.read_incident(folder)
    except lib.incident.Unsafe as exc:
        context.stderr.write(f"usdx-incident show: {exc}\n")
        return outcome.NOT_RESOLVED
    if args.json:
        json.dump({"folder": folder, "stacks": stack_rows(document), **document}, context.stdout, indent=2, sort_keys=True, default=str)
        context.stdout.write("\n")
    else:
        lines = incident_summary(document, context.paint)
        if len(document.get("hosts") or {}) > 1:
            lines += ["", *stacks_table(stack_rows(document), context.paint)]
        context.stdout.write("\n".join(lines + ["", f"folder: {folder}"]) + "\n")
    return 0


def list_incidents(args: t.Any, context: t.Any) -> int:
    lib = context.lib
    rows = []
    for incident_id in incident_ids(lib, args.incidents_dir):
        folder = os.path.join(args.incidents_dir, incident_id)
        try:
            document = lib.incident.read_incident(folder)
        except lib.incident.Unsafe as exc:
            rows.append({"id": incident_id, "folder": folder, "error": str(exc)})
            continue
        incident = document["incident"]
        rows.append({"id": incident_id, "folder": folder, "started_at": incident.get("started_at"),
                     "severity": incident.get("severity"), "check_mode": incident.get("check_mode"),
                     "outcomes": {host: (record or {}).get("outcome") for host, record in document["hosts"].items()}})
    if args.json:
        json.dump(rows, context.stdout, indent=2, sort_keys=True, default=str)
        context.stdout.write("\n")
        return 0
    if not rows:
        context.stdout.write(f"no incident in {args.incidents_dir}\n")
        return 0
    plain = [["incident", "started", "severity", "mode", "outcome"]]
    for row in rows:
        outcomes = row.get("outcomes") or {}
        plain.append([row["id"], str(row.get("started_at") or "-"), str(row.get("severity") or "-"),
                      "check" if row.get("check_mode") else "-" if "error" in row else "live",
                      row["error"] if "error" in row else
                      ", ".join(f"{host} {state or 'open'}" for host, state in outcomes.items()) or "no stack recorded"])
    paint = context.paint
    coloured = [[paint(cell, "bold") for cell in plain[0]]] + plain[1:]
    context.stdout.write("\n".join(table(coloured, plain)) + "\n")
    return 0
