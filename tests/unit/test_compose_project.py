# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every community.docker.docker_compose_v2* call of every role names the stack's project.

Without project_name a compose call acts on the project the compose file names itself (`name: usdx-wexel`): on a
host running several stacks of one file (the sandbox fleet, usdx-wexel-N), contain would stop, and verify start,
the default stack's indexer instead of the one being responded to.
"""

from __future__ import annotations

import pathlib
import typing as t

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
COMPOSE_MODULE_PREFIX = "community.docker.docker_compose_v2"
PROJECT_NAME = "{{ usdx_compose_project_name }}"
# Keys of a task that hold further tasks.
NESTED = ("block", "rescue", "always")


def tasks_of(items: t.Any) -> t.Iterator[dict[str, t.Any]]:
    """Every task of a task list, those inside blocks included."""
    for task in items or []:
        if not isinstance(task, dict):
            continue
        yield task
        for key in NESTED:
            yield from tasks_of(task.get(key))


def compose_calls(path: pathlib.Path) -> list[tuple[str, str, t.Any]]:
    """(task name, module, its arguments) of each docker_compose_v2* task of a task file."""
    calls = []
    for task in tasks_of(yaml.safe_load(path.read_text(encoding="utf-8"))):
        for key, value in task.items():
            if key.startswith(COMPOSE_MODULE_PREFIX):
                calls.append((str(task.get("name", "?")), key, value))
    return calls


def all_calls() -> list[tuple[str, str, str, t.Any]]:
    return [(str(path.relative_to(REPO)), name, module, args)
            for path in sorted(REPO.glob("roles/*/tasks/*.yml"))
            for name, module, args in compose_calls(path)]


CALLS = all_calls()


def test_the_roles_have_compose_calls() -> None:
    """The parse finds the calls (an empty list would make the test below pass on nothing)."""
    files = {path for path, _name, _module, _args in CALLS}
    assert {"roles/step_contain/tasks/main.yml", "roles/step_verify/tasks/main.yml"} <= files
    assert len(CALLS) >= 10


@pytest.mark.parametrize(("path", "name", "module", "args"), CALLS, ids=[f"{c[0]}:{c[1]}" for c in CALLS])
def test_every_compose_call_names_the_project(path: str, name: str, module: str, args: t.Any) -> None:
    assert isinstance(args, dict), f"{path}: task {name!r} passes {module} its arguments other than as a mapping"
    assert args.get("project_name") == PROJECT_NAME, (
        f"{path}: task {name!r} calls {module} without project_name: {PROJECT_NAME!r}, so it acts on the compose "
        "file's own project (the default stack) instead of this host's")


def test_a_call_without_project_name_is_found(tmp_path: pathlib.Path) -> None:
    """The detection itself: a compose call inside a block, without project_name, is reported."""
    tasks = tmp_path / "main.yml"
    tasks.write_text(yaml.safe_dump([{"name": "outer", "block": [
        {"name": "stop", COMPOSE_MODULE_PREFIX: {"project_src": "/srv", "state": "stopped"}},
        {"name": "run", f"{COMPOSE_MODULE_PREFIX}_run": {"project_src": "/srv", "project_name": PROJECT_NAME}},
    ]}]))
    found = {name: args.get("project_name") for name, _module, args in compose_calls(tasks)}
    assert found == {"stop": None, "run": PROJECT_NAME}
