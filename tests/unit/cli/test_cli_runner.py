# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ansible-runner layer for real, on a local playbook (no sandbox): artifacts per ident, no env/ files, the
set_stats artifacts read back, ansible failures told apart from failed tasks, and no secret in any artifact."""

from __future__ import annotations

import json
import os
import pathlib
import typing as t

import pytest

from usdx_incident_cli import collection
from usdx_incident_cli import runner as runner_mod

SECRET = "s3cret-Value-7731"
PLAYBOOK = """
- name: Stand-in for a step
  hosts: all
  gather_facts: false
  tasks:
    - name: Use a password the way the roles do
      ansible.builtin.set_fact:
        step_password: "{{ lookup('ansible.builtin.env', 'USDX_DB_SUPERUSER_PASSWORD') }}"
      no_log: true
    - name: Say which step runs
      ansible.builtin.debug:
        msg: "step {{ respond_steps | first }}"
    - name: Change something
      ansible.builtin.command: /bin/true
      changed_when: true
    - name: Fail when asked to
      ansible.builtin.fail:
        msg: asked to fail
      when: (fail_task | default(false)) in [true, inventory_hostname]
    - name: Hand the result over
      ansible.builtin.set_stats:
        data:
          step_result: {step: "{{ respond_steps | first }}"}
"""


@pytest.fixture
def local_run(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> t.Callable[..., runner_mod.Run]:
    playbook = tmp_path / "step.yml"
    playbook.write_text(PLAYBOOK)
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"stack-a ansible_connection=local ansible_python_interpreter={os.sys.executable}\n")
    monkeypatch.setenv("USDX_DB_SUPERUSER_PASSWORD", SECRET)
    monkeypatch.setenv("SOME_DATABASE_URL", f"postgres://postgres:{SECRET}@db/usdx")
    (tmp_path / "incident").mkdir()

    def run(ident: str, extravars: dict[str, t.Any], play: pathlib.Path = playbook, events: t.Optional[list] = None) -> runner_mod.Run:
        return runner_mod.run(private_data_dir=str(tmp_path / "incident"), playbook=str(play), ident=ident,
                              inventories=[str(inventory)], limit=None, extravars=extravars, check=False,
                              envvars=collection.locate().runner_env(),
                              on_event=(events.append if events is not None else lambda event: None))
    return run


def test_two_steps_two_idents_no_env_files_no_secret(local_run: t.Any, tmp_path: pathlib.Path) -> None:
    events: list[dict[str, t.Any]] = []
    first = local_run("01-alert", {"respond_steps": ["alert"]}, events=events)
    second = local_run("02-assess", {"respond_steps": ["assess"]})
    assert (first.status, first.rc, first.ansible_failed) == ("successful", 0, False)
    assert first.artifact_data == {"step_result": {"step": "alert"}}
    assert second.artifact_data == {"step_result": {"step": "assess"}}, "the second run saw the first one's variables"
    folder = tmp_path / "incident"
    assert sorted(os.listdir(folder / "artifacts")) == ["01-alert", "02-assess"]
    assert not (folder / "env").exists(), "env/ files would feed one run's extra vars to the next"
    assert any(e["event"] == "runner_on_ok" and e["event_data"].get("res", {}).get("changed") for e in events)
    command = json.loads((folder / "artifacts" / "01-alert" / "command").read_text())
    assert command["env"]["USDX_DB_SUPERUSER_PASSWORD"] == runner_mod.HIDDEN
    assert command["env"]["SOME_DATABASE_URL"] == runner_mod.HIDDEN
    assert command["env"]["PATH"].endswith(os.environ["PATH"]), "PATH is not a secret: kept (the venv's bin may lead)"
    leaks = [str(path) for path in folder.rglob("*") if path.is_file() and SECRET in path.read_text(errors="replace")]
    assert leaks == []


def test_a_failed_task_is_no_runner_failure(local_run: t.Any) -> None:
    run = local_run("01-alert", {"respond_steps": ["alert"], "fail_task": True})
    assert (run.status, run.rc) == ("failed", 2)
    assert run.ansible_failed is False


def test_the_recap_names_each_stack_the_run_failed_on_and_why(local_run: t.Any, tmp_path: pathlib.Path) -> None:
    """A failed task and an unreachable host (ssh to a closed port) are told apart; the others are not named."""
    inventory = tmp_path / "fleet.ini"
    inventory.write_text(f"[local]\nstack-a\nstack-b\n[local:vars]\nansible_connection=local\n"
                         f"ansible_python_interpreter={os.sys.executable}\n"
                         "[far]\nstack-c ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=1 "
                         "ansible_ssh_common_args='-o ConnectTimeout=5 -o BatchMode=yes'\n")
    run = runner_mod.run(private_data_dir=str(tmp_path / "incident"), playbook=str(tmp_path / "step.yml"), ident="01-fix",
                         inventories=[str(inventory)], limit=None, extravars={"respond_steps": ["fix"], "fail_task": "stack-b"},
                         check=False, envvars=collection.locate().runner_env(), on_event=lambda event: None)
    assert run.ansible_failed is False and run.status == "failed"
    failed = run.failed_hosts(["stack-a", "stack-b", "stack-c", "stack-d"])
    assert set(failed) == {"stack-b", "stack-c", "stack-d"}
    assert failed["stack-b"] == "a task failed: Fail when asked to: asked to fail"
    assert failed["stack-c"].startswith("unreachable: ")
    assert failed["stack-d"] == "not in the run's recap"


@pytest.mark.parametrize(("recap", "errors", "failed"), [
    (None, {}, None),
    ({"processed": {"a": 1, "b": 1}, "failures": {}, "dark": {}}, {"a": "rescued: boom"}, {}),
    ({"processed": {"a": 1, "b": 1}, "failures": {"b": 1}, "dark": {}}, {}, {"b": "a task failed"}),
    ({"processed": {"a": 1}, "failures": {}, "dark": {"b": 1}}, {"b": "Gathering: ssh refused"}, {"b": "unreachable: Gathering: ssh refused"}),
    ({"processed": {"a": 1}, "failures": {"a": 0}, "dark": {"a": 0}}, {}, {"b": "not in the run's recap"}),
], ids=["no-recap", "rescued", "failed", "unreachable", "missing"])
def test_failed_hosts_come_from_the_recap_only(recap: t.Any, errors: dict[str, str], failed: t.Any) -> None:
    run = runner_mod.Run("01-alert", status="failed", started=True, finished=recap is not None, recap=recap, errors=errors)
    assert run.failed_hosts(["a", "b"]) == failed


def test_a_failure_message_is_kept_short_and_an_ignored_one_not_at_all() -> None:
    run = runner_mod.Run("01-alert")
    runner_mod.note_error(run, {"host": "a", "task": "Lock", "ignore_errors": True, "res": {"msg": "ignored"}})
    assert run.errors == {}
    runner_mod.note_error(run, {"host": "a", "task": "Lock", "res": {"msg": "held\n" + "x" * 400}})
    assert run.errors["a"].startswith("Lock: held xxx") and len(run.errors["a"]) == runner_mod.ERROR_CHARS
    runner_mod.note_error(run, {"host": "b", "task": "Gathering", "res": "not a mapping"})
    assert run.errors["b"] == "Gathering"


def test_a_playbook_ansible_cannot_parse_is_a_runner_failure(local_run: t.Any, tmp_path: pathlib.Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("- hosts: all\n  tasks:\n    - ansible.builtin.debug: [unclosed\n")
    run = local_run("01-alert", {"respond_steps": ["alert"]}, play=broken)
    assert run.status == "failed" and run.ansible_failed is True


@pytest.mark.parametrize("name, hidden", [
    ("ANSIBLE_CONFIG", False), ("ANSIBLE_VAULT_PASSWORD_FILE", True), ("PATH", False), ("AWS_SECRET_ACCESS_KEY", True),
    ("GITHUB_TOKEN", True), ("DATABASE_URL", True), ("USDX_DB_PASSWORD", True), ("LC_ALL", False),
])
def test_only_known_harmless_variables_keep_their_values(name: str, hidden: bool) -> None:
    assert (runner_mod.safe_env({name: "value"})[name] == runner_mod.HIDDEN) is hidden


def test_the_runner_finds_the_collection_and_this_config(monkeypatch: pytest.MonkeyPatch) -> None:
    found = collection.locate()
    env = found.runner_env()
    assert os.path.isabs(env["ANSIBLE_CONFIG"]) if "ANSIBLE_CONFIG" in env else found.config_file is None
    assert os.path.isfile(found.playbook("respond.yml"))
    elsewhere = collection.Collection(found.root, ("/nowhere",), None, ())
    assert elsewhere.runner_env() == {"ANSIBLE_COLLECTIONS_PATH": f"{found.root}:/nowhere"}


def test_the_ansible_next_to_this_python_runs_even_when_not_on_path(local_run: t.Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    run = local_run("01-alert", {"respond_steps": ["alert"]})
    assert (run.status, run.ansible_failed) == ("successful", False)
