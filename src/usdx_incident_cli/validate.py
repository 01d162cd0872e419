# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input is refused before anything runs: one line naming the bad value and the accepted ones.

The hosts a run would reach are worked out with ansible's own inventory API (what ansible-playbook will parse), so
a --limit that matches nothing is refused here instead of becoming an incident with no stack in it. Variables are not
loaded (no vault password is needed, no secret is read).
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import re
import sys
import typing as t

import yaml

# A git ref or release name as a value, never as shell: what respond_deploy_ref may be (Fix option C).
DEPLOY_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")
MAX_SHOWN = 80
# Seconds the inventory may take to parse (a dynamic inventory asks a cloud API).
INVENTORY_TIMEOUT = 60


class UsageError(Exception):
    """Bad input; str() is the one-line message."""


def show(value: t.Any) -> str:
    """A value as the user typed it, quoted and on one line (a newline or an escape sequence stays visible)."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 4] + "...'"


def choice(what: str, value: t.Any, accepted: t.Sequence[str]) -> str:
    if value not in accepted:
        raise UsageError(f"unknown {what} {show(value)} (accepted: {', '.join(accepted)})")
    return value


def deploy_ref(value: t.Optional[str]) -> t.Optional[str]:
    if value is not None and (not DEPLOY_REF.match(value) or ".." in value):
        raise UsageError(f"--deploy-ref {show(value)} is not a git ref or release name "
                         "(accepted: letters, digits and . _ / -, starting with a letter or digit, no '..')")
    return value


# -e KEY=VALUE: a role variable of the chain's roles (a threshold, a timeout). The chain's own respond_* variables
# have their flags, and ansible_* connection variables do not belong to a response.
EXTRA_VAR_NAME = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
RESERVED_PREFIXES = ("respond_", "ansible_")


def extra_vars(given: t.Optional[t.Sequence[str]]) -> dict[str, str]:
    """-e KEY=VALUE pairs as a mapping of strings (the roles' argument specs convert them to their types)."""
    result: dict[str, str] = {}
    for item in given or []:
        name, sep, value = item.partition("=")
        if not sep or not EXTRA_VAR_NAME.match(name):
            raise UsageError(f"-e {show(item)} is not KEY=VALUE with a variable name (accepted: for example "
                             "-e db_connections_exhausted_idle_threshold=5)")
        if name.startswith(RESERVED_PREFIXES):
            raise UsageError(f"-e {show(name)}: respond_* variables have their own options and ansible_* are the "
                             "inventory's (accepted: the scenario and step roles' variables)")
        result[name] = value
    return result


def inventories(given: t.Optional[t.Sequence[str]], default: t.Sequence[str]) -> list[str]:
    """The inventory sources as absolute paths (ansible-runner takes a relative path for inventory content)."""
    sources = list(given or default)
    if not sources:
        raise UsageError("no inventory given and ansible has none configured (accepted: -i an inventory file or directory)")
    for source in sources:
        if not os.path.exists(source):
            raise UsageError(f"inventory {show(source)} does not exist (accepted: an inventory file or directory)")
    return [os.path.abspath(source) for source in sources]


def play_hosts(playbook: str) -> str:
    """The host pattern a playbook's plays run on, joined as one pattern (their union)."""
    with open(playbook, encoding="utf-8") as handle:
        plays = yaml.safe_load(handle) or []
    patterns = [play["hosts"] for play in plays if isinstance(play, dict) and isinstance(play.get("hosts"), str)]
    return ":".join(dict.fromkeys(patterns))


def _parse(sources: t.Sequence[str], limit: t.Optional[str], pattern: str, collections: t.Sequence[str],
           answer: t.Any) -> None:
    """In a child process: the hosts of pattern in the inventory, all of them and within limit, or ansible's error."""
    # pylint: disable=import-outside-toplevel  # ansible's inventory code, in the child only
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader

    # As ansible's own commands do: inventory plugins of collections (a cloud's dynamic inventory) load only then,
    # through ansible's collection loader, which must import every collection itself: this copy of the parent
    # forgets the ones the parent imported by path.
    for name in [name for name in sys.modules if name.split(".", 1)[0] == "ansible_collections"]:
        del sys.modules[name]
    init_plugin_loader(list(collections))
    # Ansible's own warnings ("Could not match supplied host pattern") are answered by the caller's one line.
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            inventory = InventoryManager(loader=DataLoader(), sources=list(sources))
            every = [host.name for host in inventory.get_hosts(pattern)]
            inventory.subset(limit)
            answer.send((every, [host.name for host in inventory.get_hosts(pattern)], None))
        except AnsibleError as exc:
            answer.send(([], [], " ".join(str(exc).split())))


def hosts(sources: t.Sequence[str], limit: t.Optional[str], pattern: str, collections: t.Sequence[str]) -> list[str]:
    """The inventory hosts of pattern within --limit, in inventory order; UsageError when there are none.

    Ansible's inventory API runs in a forked child: its collection loader, once installed, would take over this
    process's imports of the collection, and a dynamic inventory that hangs must not hang the command.
    """
    processes = multiprocessing.get_context("fork")
    receiver, sender = processes.Pipe(duplex=False)
    child = processes.Process(target=_parse, args=(sources, limit, pattern, collections, sender), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(INVENTORY_TIMEOUT):
            raise UsageError(f"inventory {', '.join(sources)} gave no hosts within {INVENTORY_TIMEOUT} s "
                             "(accepted: an inventory ansible can parse)")
        every, chosen, error = receiver.recv()
    except EOFError as exc:
        raise UsageError(f"inventory {', '.join(sources)} could not be read (accepted: an inventory ansible can parse)") from exc
    finally:
        child.kill()
        child.join()
    if error:
        raise UsageError(f"inventory {', '.join(sources)} or --limit {show(limit)}: {error}")
    if not every:
        raise UsageError(f"inventory {', '.join(sources)} has no host in {pattern} "
                         f"(accepted: an inventory whose group {pattern} has hosts)")
    if not chosen:
        names = ", ".join(every[:10]) + (f" and {len(every) - 10} more" if len(every) > 10 else "")
        raise UsageError(f"--limit {show(limit)} matches no host of {pattern} (accepted: {names})")
    return chosen
