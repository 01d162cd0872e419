# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jobs run the way AWX runs them in an execution environment, against the sandbox.

`ansible-runner run <private data dir> --process-isolation --process-isolation-executable docker --container-image
usdx-incident/ee:bookworm -p <playbook>`: the image holds the execution environment's content, built from Debian
packages by tests/ee/build_image.py (the collection from its tarball, its dependencies, what ansible-builder's
introspection finds, ansible-core and ansible-runner at pyproject.toml's pins). The fixture builds it when its
content changed (a second otherwise; `make ee-image` builds it before the integration tests). The private data dir is
AWX's (tests/ee/ee_job.py); the artifacts are read back as AWX reads them: status, rc, the job events and the
set_stats data of the playbook_on_stats event.

Run: .venv/bin/pytest -q -m sandbox tests/integration/test_ee_isolated.py
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import typing as t

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "ee"))
import ee_job  # noqa: E402  # pylint: disable=wrong-import-position
from sandbox_stack import STACK  # noqa: E402  # pylint: disable=wrong-import-position
from test_respond_chain import container, http_status  # noqa: E402  # pylint: disable=wrong-import-position

# Not imported from conftest.py: "conftest" may name tests/unit/conftest.py when both trees are collected.
if str(REPO / "build" / "collections") not in sys.path:
    sys.path.insert(0, str(REPO / "build" / "collections"))
from ansible_collections.usdx.incident.plugins.module_utils import _response_state, _runbook  # noqa: E402

pytestmark = pytest.mark.sandbox

IMAGE = os.environ.get("USDX_EE_IMAGE", "usdx-incident/ee:bookworm")
# Where the image installs the collections (ansible-builder's path too): role tasks must come from there.
IMAGE_COLLECTIONS = "/usr/share/ansible/collections/ansible_collections/"
HOST = ee_job.HOST
P0_STEPS = [sid for sid, _title, _deadline in _runbook.STEPS["P0"]]
UNTOUCHED = ("db", "redis", "webapp", "chain")
TRIAGE_TIMEOUT = 300
P0_TIMEOUT = 900
BUILD_TIMEOUT = 1800


@pytest.fixture(scope="session")
def ee_image(sandbox: dict[str, str]) -> str:
    """The Debian-built execution environment image, rebuilt when its content changed (held under the sandbox
    lock: its base image is the sandbox's). Built from the dev venv, as make ee-image does: the image holds the
    execution environment's release (versions.yml's ee row, the dev venv's), whatever release runs the tests."""
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "python"), str(REPO / "tests" / "ee" / "build_image.py"), "--image", IMAGE],
                          capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
    assert proc.returncode == 0, f"building {IMAGE} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return IMAGE


def isolated_job(tmp_path: pathlib.Path, sandbox: dict[str, str], image: str, playbook: str, ident: str,
                 timeout: int, **extravars: t.Any) -> ee_job.Job:
    pdd = ee_job.private_data_dir(tmp_path, ident, sandbox_env=sandbox, exposed=tmp_path / "exposed",
                                  extravars=extravars, isolated=True, timeout=timeout, stack=STACK.number)
    return ee_job.run(pdd, playbook, ident, image=image, timeout=timeout)


def assert_isolated(job: ee_job.Job, image: str) -> None:
    """The job ran in a container of the image, with the collection the image installed from the tarball."""
    assert job.command[:2] == ["docker", "run"] and image in job.command, job.command
    assert "--network=host" in job.command
    role_tasks = {e["event_data"]["task_path"] for e in job.events
                  if e["event"] == "playbook_on_task_start" and "/roles/" in e["event_data"].get("task_path", "")}
    assert role_tasks, "no role task ran"
    assert all(path.startswith(IMAGE_COLLECTIONS + "usdx/incident/") for path in role_tasks), sorted(role_tasks)


def assert_no_secret(job: ee_job.Job, sandbox: dict[str, str]) -> None:
    secrets = ee_job.secrets(sandbox)
    assert secrets, "the sandbox's env file has no secret to look for"
    for path, text in job.files():
        leaked = [index for index, secret in enumerate(secrets) if secret in text]
        assert not leaked, f"secret(s) #{leaked} of the sandbox's env file in {path.relative_to(job.artifact_dir)}"


def container_starts() -> dict[str, dict[str, t.Any]]:
    """Id, state and last start and stop of each sandbox container (exactly one each): a restart or recreation
    changes them."""
    return {service: container(service) for service in (*UNTOUCHED, "indexer")}


def test_isolated_triage_finds_the_dead_api(tmp_path, sandbox, sandbox_fault, ee_image):
    sandbox_fault("api-down")
    job = isolated_job(tmp_path, sandbox, ee_image, "playbooks/triage.yml", "triage", TRIAGE_TIMEOUT)

    assert (job.status, job.rc) == ("successful", 0), job.stdout[-3000:]
    assert_isolated(job, ee_image)
    verdict = job.artifacts["usdx_triage"][HOST]
    assert (verdict["severity"], verdict["scenario"]) == ("P0", "api_unavailable"), verdict
    # The findings document was written inside the container at the exposed path, which is the host's.
    findings = json.loads(pathlib.Path(verdict["findings"]).read_text())
    assert verdict["findings"] == str(tmp_path / "exposed" / "findings" / f"{HOST}.json")
    assert findings["severity"]["level"] == "P0" and findings["scenarios"][0]["scenario"] == "api_unavailable"
    assert job.stats["changed"] == {} and job.stats["failures"] == {}
    assert_no_secret(job, sandbox)


def test_isolated_p0_response_resolves_the_dead_api_only(tmp_path, sandbox, sandbox_fault, ee_image):
    sandbox_fault("api-down")
    before = container_starts()
    assert before["indexer"]["status"] == "exited", before["indexer"]
    job = isolated_job(tmp_path, sandbox, ee_image, "playbooks/p0_critical.yml", "p0", P0_TIMEOUT,
                       respond_approve=["contain"])

    assert (job.status, job.rc) == ("successful", 0), job.stdout[-3000:]
    assert_isolated(job, ee_image)
    response = job.artifacts["usdx_response"][HOST]
    assert (response["severity"], response["outcome"], response["stopped"]) == ("P0", "resolved", None), response
    assert list(response["steps"]) == P0_STEPS
    assert (response["steps"]["contain"], response["steps"]["fix"], response["steps"]["verify"]) == \
        ("changed", "changed", "ok"), response["steps"]
    # The id a workflow's next job continues the incident with, and the incident folder on the exposed path.
    assert job.artifacts["respond_incident_id"] == response["incident"]
    folder = pathlib.Path(response["folder"])
    assert folder == tmp_path / "exposed" / "incidents" / response["incident"]
    record = json.loads((folder / "hosts" / f"{HOST}.json").read_text())
    assert [step["id"] for step in record["steps"]] == P0_STEPS and record["outcome"] == "resolved"
    assert not (tmp_path / "exposed" / "state" / _response_state.LOCK_FILE).exists(), "the lock outlived the chain"

    # The indexer is back, the maintenance page is down again, and no other container was restarted.
    after = container_starts()
    assert after["indexer"]["status"] == "running" and after["indexer"] != before["indexer"]
    assert {s: after[s] for s in UNTOUCHED} == {s: before[s] for s in UNTOUCHED}
    assert http_status(f"http://127.0.0.1:{sandbox['USDX_INDEXER_PORT']}/health") == 200
    assert http_status(f"http://127.0.0.1:{sandbox.get('USDX_WEBAPP_PORT', '3000')}/") == 200
    assert_no_secret(job, sandbox)
