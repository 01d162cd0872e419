# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which stopped containers the disk_full role's narrowed `docker system prune` may remove: those of no compose
project. Never a stopped container of this stack's project (its killed indexer is the incident's evidence), nor of
another project (on a host running several stacks, the sandbox fleet's usdx-wexel-N, it is that stack's evidence).
The role's prune task filters on the same rule (`label!: com.docker.compose.project`)."""

from __future__ import annotations

import copy
import json
import pathlib
import typing as t

import pytest
import yaml

from ansible_collections.usdx.incident.plugins.filter.disk_full_plan import disk_full_plan
from ansible_collections.usdx.incident.plugins.plugin_utils._disk_plan import PROJECT_LABEL, prunable_containers

REPO = pathlib.Path(__file__).resolve().parents[4]
FIXTURES = REPO / "tests" / "unit" / "fixtures" / "disk_full"
DATA = "/work/main/sandbox/.state/data"
OPTIONS: dict[str, t.Any] = {
    "disk_full_threshold_percent": 90, "disk_full_log_max_age_days": 30, "disk_full_backup_max_age_days": 60,
    "disk_full_keep_backups": 3, "disk_full_allow_unused_images": False, "disk_full_db_data_dirs": [],
    "disk_full_remove_seconds": 60, "usdx_log_dirs": [f"{DATA}/log"], "usdx_backup_dirs": [f"{DATA}/backups"],
    "usdx_compose_project_name": "usdx-wexel-3",
}


def recorded(name: str) -> dict[str, t.Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def container(name: str, state: str, labels: t.Any) -> dict[str, t.Any]:
    return {"Id": name, "Names": [f"/{name}"], "State": state, "Labels": labels}


FAULT = {"io.usdx-sandbox.fault": "disk-full", "io.usdx-sandbox.stack": "3"}


@pytest.mark.parametrize("listed, prunable", [
    pytest.param(container("usdx-wexel-3-db-migrate-20260801", "exited", FAULT), True, id="one-off-of-no-project"),
    pytest.param(container("builder", "created", {}), True, id="created-never-started"),
    pytest.param(container("crashed", "dead", {}), True, id="dead"),
    pytest.param(container("usdx-wexel-3-indexer-1", "exited", {PROJECT_LABEL: "usdx-wexel-3"}), False,
                 id="own-project-killed-indexer"),
    pytest.param(container("usdx-wexel-2-indexer-1", "exited", {PROJECT_LABEL: "usdx-wexel-2"}), False,
                 id="another-stacks-killed-indexer"),
    pytest.param(container("usdx-wexel-indexer-1", "exited", {PROJECT_LABEL: "usdx-wexel"}), False,
                 id="default-stacks-killed-indexer"),
    pytest.param(container("other-app-web-1", "exited", {PROJECT_LABEL: "other-app"}), False, id="unrelated-project"),
    pytest.param(container("usdx-wexel-2-chain-1", "exited", {PROJECT_LABEL: ""}), False, id="empty-project-label"),
    pytest.param(container("usdx-wexel-3-db-1", "running", {}), False, id="running"),
    pytest.param(container("paused", "paused", {}), False, id="paused"),
    pytest.param(container("restarting", "restarting", {}), False, id="restarting"),
    pytest.param(container("unlabelled-listing", "exited", None), False, id="labels-unreadable"),
    pytest.param({"Names": ["/no-state"], "Labels": {}}, False, id="state-unknown"),
])
def test_prunable_containers(listed: dict[str, t.Any], prunable: bool) -> None:
    name = listed["Names"][0].lstrip("/")
    assert prunable_containers({"containers": [listed]}) == ([name] if prunable else [])


def fleet_listing(*extra: dict[str, t.Any]) -> dict[str, t.Any]:
    """The recorded disk-full listing, its fault container removed, plus extra containers."""
    listing = copy.deepcopy(recorded("disk_full_docker"))
    listing["containers"] = [c for c in listing["containers"] if "io.usdx-sandbox.fault" not in c["Labels"]]
    listing["containers"] += list(extra)
    return listing


@pytest.mark.parametrize("extra, expected", [
    pytest.param([container("usdx-wexel-2-indexer-1", "exited", {PROJECT_LABEL: "usdx-wexel-2"})], [],
                 id="only-another-stacks-stopped-container"),
    pytest.param([container("usdx-wexel-3-indexer-1", "exited", {PROJECT_LABEL: "usdx-wexel-3"})], [],
                 id="only-this-stacks-stopped-container"),
    pytest.param([container("usdx-wexel-2-indexer-1", "exited", {PROJECT_LABEL: "usdx-wexel-2"}),
                  container("usdx-wexel-3-db-migrate-20260801", "exited", FAULT)],
                 ["usdx-wexel-3-db-migrate-20260801"], id="garbage-beside-another-stacks-evidence"),
])
def test_the_plan_prunes_only_containers_of_no_project(extra: list[dict[str, t.Any]], expected: list[str]) -> None:
    plan = disk_full_plan(recorded("disk_full"), OPTIONS, docker=fleet_listing(*extra))
    assert plan["act"] and not plan["refused"]
    assert plan["containers_prune"] == expected
    assert plan["prune_containers"] is bool(expected)
    prune_lines = [line for line in plan["report"] if line.startswith("PRUNE stopped containers")]
    assert prune_lines == ([f"PRUNE stopped containers of no compose project: {', '.join(expected)}"] if expected else [])
    if not expected:
        assert plan["predicted"]["containers"] == 0


def test_the_prune_task_excludes_every_compose_project() -> None:
    """The role's docker_prune filters on the project label's presence, not on this project's value (which would
    prune every other stack's stopped containers)."""
    tasks = yaml.safe_load((REPO / "roles" / "disk_full" / "tasks" / "fix.yml").read_text(encoding="utf-8"))
    prunes = [task for task in tasks if "community.docker.docker_prune" in task]
    assert len(prunes) == 1
    args = prunes[0]["community.docker.docker_prune"]
    assert args["containers"] == "{{ disk_full__plan.prune_containers }}"
    assert args["containers_filters"] == {"label!": PROJECT_LABEL}
