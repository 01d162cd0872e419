# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The sandbox's indexer releases: `sandbox.sh deploy`, the `bad-deploy` fault, its undoing by `fault clear`, and the
deploy history that the triage's "what changed recently?" reads.

Fixtures come from conftest.py: every fault injected through `sandbox_fault` is cleared at teardown.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request

import pytest

from sandbox_stack import STACK

STATE_DIR = STACK.state_dir
DEPLOY_DIR = STATE_DIR / "deploy"
ENV_FILE = STATE_DIR / "sandbox.env"
GOOD, BAD = "v1.4.0", "v1.5.0"
OTHER_SERVICES = ("db", "redis", "chain", "webapp")

pytestmark = pytest.mark.sandbox


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _containers() -> dict[str, dict[str, str]]:
    """service -> id and release label of its container."""
    out = subprocess.run(["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={STACK.project}", "--format",
                          '{{.Label "com.docker.compose.service"}} {{.ID}} {{.Label "io.usdx-sandbox.release"}}'],
                         capture_output=True, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        service, cid, *release = line.split()
        found[service] = {"id": cid, "release": release[0] if release else ""}
    return found


def _history() -> list[dict]:
    return [json.loads(line) for line in (DEPLOY_DIR / "history.jsonl").read_text().splitlines()]


def _subjects() -> list[str]:
    return subprocess.run(["git", "-C", str(DEPLOY_DIR), "log", "--format=%s"], capture_output=True, text=True,
                          check=True).stdout.splitlines()


def _env_release() -> str:
    return next(line.split("=", 1)[1] for line in ENV_FILE.read_text().splitlines() if line.startswith("USDX_INDEXER_RELEASE="))


def _image_exists(release: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", f"usdx-sandbox/indexer:{release}"], capture_output=True,
                          check=False).returncode == 0


def test_bad_deploy_breaks_the_marketplace_only_and_clear_rolls_back(sandbox_fault, helpers, sandbox, module_runner):
    before = _containers()
    assert before["indexer"]["release"] == GOOD and _env_release() == GOOD
    webapp = f"http://127.0.0.1:{sandbox['USDX_WEBAPP_PORT']}"
    assert _get(f"{webapp}/api/marketplace/listings")[0] == 200
    records = len(_history())

    sandbox_fault("bad-deploy")
    after = _containers()
    assert after["indexer"]["release"] == BAD and after["indexer"]["id"] != before["indexer"]["id"]
    assert {s: after[s]["id"] for s in OTHER_SERVICES} == {s: before[s]["id"] for s in OTHER_SERVICES}, "another container was recreated"
    assert _env_release() == BAD
    assert _image_exists(GOOD), "the previous release must stay available for a rollback"
    status, body = _get(f"{webapp}/api/marketplace/listings")
    assert status == 500 and 'relation "listings" does not exist' in body["detail"]
    assert _get(f"http://127.0.0.1:{sandbox['USDX_INDEXER_PORT']}/health")[0] == 200, "the bad release is healthy by /health"
    history = _history()
    assert len(history) == records + 1
    assert {k: history[-1][k] for k in ("service", "action", "release", "previous", "image")} == {
        "service": "indexer", "action": "deploy", "release": BAD, "previous": GOOD, "image": f"usdx-sandbox/indexer:{BAD}"}
    assert history[-1]["image_id"].startswith("sha256:")
    assert _subjects()[0] == f"deploy indexer {BAD} (was {GOOD})"

    # What changed recently, as the triage reads it: the deploy commit and the indexer's new container.
    deployment = module_runner("deployment_info", {"repo_path": str(DEPLOY_DIR), "project_name": STACK.project}).result
    assert not deployment.get("failed"), deployment.get("msg")
    kinds = {(c["kind"], c["name"]): c["description"] for c in deployment["recent_changes"]}
    assert any(kind == "commit" and desc.startswith(f"deploy indexer {BAD} (was {GOOD})") for (kind, _name), desc in kinds.items()), kinds
    assert f"usdx-sandbox/indexer:{BAD}" in kinds[("container", "indexer")]
    assert deployment["services"]["indexer"]["image"] == f"usdx-sandbox/indexer:{BAD}"

    # Injecting it again changes nothing.
    again = helpers.sandbox_sh("fault", "bad-deploy")
    assert "already runs v1.5.0" in again.stdout and len(_history()) == records + 1

    cleared = helpers.sandbox_sh("fault", "clear")
    assert f"indexer {GOOD}" in cleared.stdout
    final = _containers()
    assert final["indexer"]["release"] == GOOD and _env_release() == GOOD
    assert {s: final[s]["id"] for s in OTHER_SERVICES} == {s: before[s]["id"] for s in OTHER_SERVICES}, "clear recreated another container"
    assert _get(f"{webapp}/api/marketplace/listings")[0] == 200
    last = _history()[-1]
    assert (last["action"], last["release"], last["previous"], last["by"]) == ("rollback", GOOD, BAD, "sandbox.sh fault clear")
    assert _subjects()[0] == f"roll back indexer to {GOOD} (from {BAD})"


def test_deploy_of_the_running_release_records_nothing(healthy_sandbox, helpers):
    records = len(_history())
    done = helpers.sandbox_sh("deploy", GOOD)
    assert done.stdout.strip() == f"deploy: indexer already runs {GOOD} (usdx-sandbox/indexer:{GOOD})"
    assert len(_history()) == records


@pytest.mark.parametrize(("args", "message"), [
    (["deploy", "v9.9.9"], "sandbox.sh: unknown release 'v9.9.9' (accepted: v1.4.0, v1.4.1, v1.5.0)"),
    (["deploy", "v1.4.0;id"], "sandbox.sh: unknown release 'v1.4.0;id' (accepted: v1.4.0, v1.4.1, v1.5.0)"),
    (["deploy"], "sandbox.sh: missing release (accepted: v1.4.0, v1.4.1, v1.5.0)"),
    (["fault", "bad-deploys"], "sandbox.sh: unknown fault 'bad-deploys' (accepted: api-down, db-connections, indexer-lag, "
                               "disk-full, rpc-down, bad-deploy, clear)"),
])
def test_bad_input_is_one_line_and_changes_nothing(healthy_sandbox, helpers, args, message):
    env_before, history_before, containers_before = ENV_FILE.read_text(), _history(), _containers()
    proc = helpers.sandbox_sh(*args, check=False)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [message] and proc.stdout == ""
    assert ENV_FILE.read_text() == env_before and _history() == history_before and _containers() == containers_before
