# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The usdx.incident collection this command drives: where it is, and its code imported from there (never copied).

ansible-playbook finds the collection through ansible's configured collections paths, so this command uses the
same copy: the first root of COLLECTIONS_PATHS holding ansible_collections/usdx/incident, else the
build/collections link of the checkout this package is installed from (`make collection-link`).
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pathlib
import sys
import types
import typing as t

import yaml

CHECKOUT_COLLECTIONS = pathlib.Path(__file__).resolve().parents[2] / "build" / "collections"
COLLECTION = os.path.join("ansible_collections", "usdx", "incident")
PACKAGE = "ansible_collections.usdx.incident.plugins"
# What this command imports from the collection; a root without it holds no usable copy.
MARKER = os.path.join("plugins", "plugin_utils", "_incident.py")


class NotFound(Exception):
    """The collection is not where ansible or this checkout would have it; str() says where it was looked for."""


@dataclasses.dataclass(frozen=True)
class Collection:
    root: str
    configured_roots: tuple[str, ...]
    config_file: t.Optional[str]
    default_inventory: tuple[str, ...]

    @property
    def path(self) -> str:
        return os.path.join(self.root, COLLECTION)

    def playbook(self, name: str) -> str:
        return os.path.realpath(os.path.join(self.path, "playbooks", name))

    def role_options(self, role: str) -> dict[str, t.Any]:
        """The options of a role's main entry point, from its meta/argument_specs.yml (the variables' reference)."""
        with open(os.path.join(self.path, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
            return dict(yaml.safe_load(handle)["argument_specs"]["main"]["options"])

    @property
    def search_paths(self) -> tuple[str, ...]:
        """Where ansible is to look for collections: its configured paths, this collection's root first if missing."""
        return self.configured_roots if self.root in self.configured_roots else (self.root,) + self.configured_roots

    def runner_env(self) -> dict[str, str]:
        """Environment for ansible-playbook under ansible-runner, whose working directory is the private data dir:
        the configuration file this process read (a relative ./ansible.cfg would not be found from there) and the
        collection's root when ansible's own paths do not hold it."""
        env = {}
        if self.config_file:
            env["ANSIBLE_CONFIG"] = os.path.abspath(self.config_file)
        if self.root not in self.configured_roots:
            env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(self.search_paths)
        return env


def locate() -> Collection:
    from ansible import constants as C  # pylint: disable=import-outside-toplevel  # reads ansible.cfg: only when needed

    configured = tuple(os.path.abspath(os.path.expanduser(p)) for p in C.COLLECTIONS_PATHS)
    for root in configured + (str(CHECKOUT_COLLECTIONS),):
        if os.path.isfile(os.path.join(root, COLLECTION, MARKER)):
            return Collection(root, configured, C.CONFIG_FILE, tuple(C.DEFAULT_HOST_LIST or ()))
    raise NotFound(f"collection usdx.incident not found in {', '.join(configured)} or {CHECKOUT_COLLECTIONS} "
                   "(run `make collection-link`, or install it with ansible-galaxy)")


def load(collection: Collection) -> types.SimpleNamespace:
    """The collection's runbook data (_runbook), chain rules (_chain) and incident folder (_incident)."""
    if collection.root not in sys.path:
        sys.path.insert(0, collection.root)
    return types.SimpleNamespace(
        runbook=importlib.import_module(f"{PACKAGE}.module_utils._runbook"),
        chain=importlib.import_module(f"{PACKAGE}.plugin_utils._chain"),
        incident=importlib.import_module(f"{PACKAGE}.plugin_utils._incident"),
    )
