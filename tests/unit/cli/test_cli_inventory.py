# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hosts check before a run: a collection's inventory plugin (a cloud's dynamic inventory) is parsed as
ansible-playbook would, within a deadline, and without taking over this process's imports of the collection."""

from __future__ import annotations

import importlib
import pathlib
import sys
import textwrap
import time
import typing as t

import pytest

from usdx_incident_cli import validate

PLUGIN = textwrap.dedent('''
    from __future__ import annotations

    import time

    from ansible.plugins.inventory import BaseInventoryPlugin

    DOCUMENTATION = """
    name: static
    short_description: hosts from its configuration, slowly if asked
    description: A stand-in for a dynamic inventory.
    options:
      plugin:
        description: This plugin.
        required: true
        choices: [testns.inv.static]
      stacks:
        description: Hosts of usdx_stacks.
        type: list
        default: []
      delay:
        description: Seconds to take.
        type: float
        default: 0
    """


    class InventoryModule(BaseInventoryPlugin):
        NAME = "testns.inv.static"

        def verify_file(self, path):
            return path.endswith(".static.yml")

        def parse(self, inventory, loader, path, cache=True):
            super().parse(inventory, loader, path, cache)
            self._read_config_data(path)
            time.sleep(self.get_option("delay"))
            inventory.add_group("usdx_stacks")
            for name in self.get_option("stacks"):
                inventory.add_host(name, group="usdx_stacks")
''')


@pytest.fixture
def dynamic_inventory(tmp_path: pathlib.Path) -> t.Callable[..., tuple[str, str]]:
    """A collection testns.inv with an inventory plugin; returns (inventory source, collections root)."""
    root = tmp_path / "collections"
    plugin_dir = root / "ansible_collections" / "testns" / "inv" / "plugins" / "inventory"
    plugin_dir.mkdir(parents=True)
    (plugin_dir / "static.py").write_text(PLUGIN)
    (root / "ansible_collections" / "testns" / "inv" / "galaxy.yml").write_text(
        "namespace: testns\nname: inv\nversion: 1.0.0\nreadme: README.md\nauthors: [test]\n")

    def make(stacks: list[str], delay: float = 0) -> tuple[str, str]:
        source = tmp_path / "cloud.static.yml"
        source.write_text(f"plugin: testns.inv.static\nstacks: {stacks}\ndelay: {delay}\n")
        return str(source), str(root)
    return make


def test_a_collections_inventory_plugin_is_parsed(dynamic_inventory: t.Any) -> None:
    source, root = dynamic_inventory(["stack-1", "stack-2", "stack-3"])
    assert validate.hosts([source], "stack-2:stack-3", "usdx_stacks", [root]) == ["stack-2", "stack-3"]
    with pytest.raises(validate.UsageError, match=r"^--limit 'stack-9' matches no host of usdx_stacks \(accepted: stack-1, stack-2, stack-3\)$"):
        validate.hosts([source], "stack-9", "usdx_stacks", [root])


def test_the_collection_is_still_imported_from_where_it_was(dynamic_inventory: t.Any, lib: t.Any) -> None:
    source, root = dynamic_inventory(["stack-1"])
    validate.hosts([source], None, "usdx_stacks", [root])
    name = "ansible_collections.usdx.incident.plugins.plugin_utils._formatting"
    sys.modules.pop(name, None)
    assert importlib.import_module(name).human_duration(65) == "1m 05s"
    assert "_AnsibleCollectionFinder" not in [type(finder).__name__ for finder in sys.meta_path]


def test_an_inventory_that_hangs_is_given_up(dynamic_inventory: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    source, root = dynamic_inventory(["stack-1"], delay=30)
    monkeypatch.setattr(validate, "INVENTORY_TIMEOUT", 1)
    started = time.monotonic()
    with pytest.raises(validate.UsageError, match="gave no hosts within 1 s"):
        validate.hosts([source], None, "usdx_stacks", [root])
    assert time.monotonic() - started < 10
