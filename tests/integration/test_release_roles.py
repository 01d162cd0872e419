# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release roles on the sandbox: Fix option B (release_rollback) after a real bad deploy, and option C
(release_deploy) of a given release - and what must not happen: another container recreated or restarted, a change
without approval or in check mode, a rollback back to the release just rolled back from.

Fixtures come from conftest.py; every test leaves the sandbox cleared (good release, healthy).
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import tempfile
import typing as t
import urllib.error
import urllib.request

import pytest
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from playbook_run import REPO, PlaybookRun, run_playbook  # noqa: E402
from sandbox_stack import STACK  # noqa: E402

pytestmark = pytest.mark.sandbox

STATE_DIR = STACK.state_dir
DEPLOY_DIR = STATE_DIR / "deploy"
ENV_FILE = STATE_DIR / "sandbox.env"
GOOD, HOTFIX, BAD = "v1.4.0", "v1.4.1", "v1.5.0"


def _play(role: str) -> list[dict[str, t.Any]]:
    return [{"name": role, "hosts": "usdx_stacks", "gather_facts": False, "roles": [{"role": f"usdx.incident.{role}"}]}]


def run_role(role: str, extra: dict[str, t.Any], check: bool = False) -> PlaybookRun:
    with tempfile.TemporaryDirectory(prefix="usdx-release-") as tmp:
        playbook = pathlib.Path(tmp, "play.yml")
        playbook.write_text(yaml.safe_dump(_play(role), sort_keys=False))
        return run_playbook(playbook, PlaybookRun, check=check, extra_vars=extra, timeout=600)


def result_of(run: PlaybookRun, fact: str) -> dict[str, t.Any]:
    """The last value the role set for its result fact."""
    values = [task["ansible_facts"][fact] for play in run.doc["plays"] for task_doc in play["tasks"]
              for task in [task_doc["hosts"].get("sandbox", {})] if fact in task.get("ansible_facts", {})]
    assert values, f"{fact} was never set"
    return values[-1]


def containers() -> dict[str, tuple[str, str, str]]:
    """service -> (container id, started at, release label) of the project's containers."""
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={STACK.project}"],
                         capture_output=True, text=True, check=True).stdout.split()
    docs = json.loads(subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True, check=True).stdout)
    return {d["Config"]["Labels"]["com.docker.compose.service"]: (d["Id"], d["State"]["StartedAt"], d["Config"]["Labels"].get("io.usdx-sandbox.release", ""))
            for d in docs}


def state() -> tuple[dict[str, tuple[str, str, str]], str, str]:
    """Everything a release role may change: the containers, the env file, the history."""
    return containers(), ENV_FILE.read_text(), (DEPLOY_DIR / "history.jsonl").read_text()


def history() -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in (DEPLOY_DIR / "history.jsonl").read_text().splitlines()]


def subject() -> str:
    return subprocess.run(["git", "-C", str(DEPLOY_DIR), "log", "-1", "--format=%s"], capture_output=True, text=True, check=True).stdout.strip()


def listings_status(sandbox: dict[str, str]) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{sandbox['USDX_WEBAPP_PORT']}/api/marketplace/listings", timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def api_release(sandbox: dict[str, str]) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{sandbox['USDX_WEBAPP_PORT']}/api/status", timeout=10) as resp:
        return json.loads(resp.read())["release"]


def others(found: dict[str, tuple[str, str, str]]) -> dict[str, tuple[str, str, str]]:
    return {service: value for service, value in found.items() if service != "indexer"}


@pytest.fixture
def cleared(sandbox, helpers) -> t.Iterator[dict[str, str]]:
    helpers.sandbox_sh("fault", "clear")
    yield sandbox
    helpers.sandbox_sh("fault", "clear")


@pytest.mark.newest
def test_rollback_after_a_bad_deploy(cleared, helpers):
    helpers.sandbox_sh("fault", "bad-deploy")
    before = state()
    assert before[0]["indexer"][2] == BAD and listings_status(cleared) == 500

    # Check mode predicts exactly, without approval, and changes nothing.
    dry = run_role("release_rollback", {}, check=True)
    assert dry.rc == 0, dry.failure()
    predicted = result_of(dry, "release_rollback_result")
    assert (predicted["status"], predicted["from"], predicted["to"]) == ("ok", BAD, GOOD)
    assert predicted["summary"].startswith(f"would roll back indexer from {BAD} to {GOOD} (usdx-sandbox/indexer:{GOOD})")
    assert state() == before

    # Without the approval: refused, nothing changed.
    refused = run_role("release_rollback", {})
    assert refused.rc != 0
    assert "REFUSED: not approved: a rollback runs only with release_rollback_approved=true" in refused.failure()
    assert state() == before

    done = run_role("release_rollback", {"release_rollback_approved": True, "release_rollback_by": "test (INC-TEST)"})
    assert done.rc == 0, done.failure()
    result = result_of(done, "release_rollback_result")
    assert (result["status"], result["from"], result["to"]) == ("changed", BAD, GOOD)
    after = containers()
    assert after["indexer"][2] == GOOD and after["indexer"][0] != before[0]["indexer"][0]
    assert others(after) == others(before[0]), "a rollback of the indexer recreated or restarted another container"
    assert f"USDX_INDEXER_RELEASE={GOOD}" in ENV_FILE.read_text().splitlines()
    assert listings_status(cleared) == 200
    last = history()[-1]
    assert (last["action"], last["release"], last["previous"], last["by"]) == ("rollback", GOOD, BAD, "test (INC-TEST)")
    assert last["image_id"].startswith("sha256:") and subject() == f"roll back indexer to {GOOD} (from {BAD})"

    # Never forward and back: a second rollback would return to the release just rolled back from.
    settled = state()
    again = run_role("release_rollback", {"release_rollback_approved": True})
    assert again.rc != 0
    assert f"{GOOD} runs because of a rollback from {BAD}" in again.failure()
    assert state() == settled
    # Nor may option C deploy it again right away.
    redeploy = run_role("release_deploy", {"release_deploy_ref": BAD})
    assert redeploy.rc != 0 and f"{BAD} was just rolled back from" in redeploy.failure()
    assert state() == settled


def test_deploy_touches_the_one_service(cleared):
    before = state()
    assert before[0]["indexer"][2] == GOOD

    dry = run_role("release_deploy", {"release_deploy_ref": HOTFIX}, check=True)
    assert dry.rc == 0, dry.failure()
    predicted = result_of(dry, "release_deploy_result")
    assert predicted["summary"] == f"would deploy indexer {HOTFIX} (usdx-sandbox/indexer:{HOTFIX}) over {GOOD}"
    assert state() == before

    done = run_role("release_deploy", {"release_deploy_ref": HOTFIX, "release_deploy_by": "test (INC-TEST)"})
    assert done.rc == 0, done.failure()
    after = containers()
    assert after["indexer"][2] == HOTFIX
    assert others(after) == others(before[0]), "a deploy of the indexer recreated or restarted another container"
    assert api_release(cleared) == HOTFIX and listings_status(cleared) == 200
    last = history()[-1]
    assert (last["action"], last["release"], last["previous"], last["by"]) == ("deploy", HOTFIX, GOOD, "test (INC-TEST)")
    assert subject() == f"deploy indexer {HOTFIX} (was {GOOD})"

    settled = state()
    again = run_role("release_deploy", {"release_deploy_ref": HOTFIX})
    assert again.rc == 0 and result_of(again, "release_deploy_result")["status"] == "ok"
    assert state() == settled, "deploying what runs changes nothing"


@pytest.mark.parametrize("ref", ["v1.5.0;id", "../v1", ""])
def test_a_bad_ref_is_refused_in_one_line(cleared, ref):
    before = state()
    run = run_role("release_deploy", {"release_deploy_ref": ref})
    assert run.rc != 0
    message = run.failure()
    assert f"REFUSED: ref {ref!r} is not a release: accepted values are image tags" in message and "\n" not in message
    assert state() == before


# --- Fix option C fetches the ref: a release that only the source repository has ------------------------------------

ORIGIN = STATE_DIR / "indexer-origin.git"
CHECKOUT = STATE_DIR / "indexer-source"
FETCHED = "v1.4.2"


def git(*args: str, cwd: pathlib.Path | None = None) -> str:
    return subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@usdx-wexel.invalid", *args], cwd=cwd,
                          capture_output=True, text=True, check=True, timeout=60).stdout.strip()


def forget_fetched_tag() -> None:
    for repository in (["--git-dir", str(ORIGIN)], ["-C", str(CHECKOUT)]):
        subprocess.run(["git", *repository, "tag", "-d", FETCHED], capture_output=True, check=False, timeout=60)


@pytest.fixture
def pushed_release(cleared, tmp_path) -> t.Iterator[str]:
    """A hotfix tag pushed to the origin after the stack was deployed: its release line exists only in that commit.
    The tag is removed again from the origin and from the deploy checkout (a new commit under the same tag would be
    a moved tag, which the fetch rightly refuses)."""
    forget_fetched_tag()
    work = tmp_path / "work"
    git("clone", "-q", str(ORIGIN), str(work))
    releases = work / "apps" / "indexer" / "releases.txt"
    releases.write_text(releases.read_text() + f"{FETCHED} 1 hotfix fetched from the source repository\n")
    git("commit", "-qam", f"hotfix {FETCHED}", cwd=work)
    git("tag", FETCHED, cwd=work)
    git("push", "-q", "origin", FETCHED, cwd=work)
    yield git("rev-parse", f"{FETCHED}^{{commit}}", cwd=work)
    forget_fetched_tag()
    subprocess.run(["docker", "rmi", "-f", f"usdx-sandbox/indexer:{FETCHED}"], capture_output=True, check=False, timeout=60)


def test_deploy_fetches_the_ref_and_builds_from_it(pushed_release, cleared):
    assert FETCHED not in (REPO / "sandbox" / "apps" / "indexer" / "releases.txt").read_text()
    before = state()

    done = run_role("release_deploy", {"release_deploy_ref": FETCHED})
    assert done.rc == 0, done.failure()
    # The release's line exists only in the fetched commit: the image was built from the checkout of the ref.
    assert git("-C", str(CHECKOUT), "rev-parse", "HEAD") == pushed_release
    assert result_of(done, "release_deploy_result")["source"] == pushed_release
    after = containers()
    assert after["indexer"][2] == FETCHED and api_release(cleared) == FETCHED
    assert others(after) == others(before[0]), "a deploy of the indexer recreated or restarted another container"
    assert (history()[-1]["action"], history()[-1]["release"]) == ("deploy", FETCHED)


def test_a_ref_the_repository_lacks_changes_nothing(cleared):
    before = state()
    run = run_role("release_deploy", {"release_deploy_ref": "v9.9.9"})
    assert run.rc != 0
    assert run.failure() == "usdx.incident.release_deploy : Fetch the ref and check it out (runbook git pull) | Failed to checkout v9.9.9"
    assert state() == before
