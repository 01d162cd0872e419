# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""release_rollback_plan and release_deploy_plan: Fix options B and C decided over deploy histories like the
sandbox's (sandbox.sh deploy / fault bad-deploy / fault clear write the same records)."""

from __future__ import annotations

import pytest

from ansible_collections.usdx.incident.plugins.filter.release import release_deploy_plan, release_rollback_plan

REPO = "usdx-sandbox/indexer"
GOOD, BAD = "v1.4.0", "v1.5.0"


def rec(action, release, previous, by="sandbox.sh deploy", time="2026-11-29T00:06:41Z"):
    return {"time": time, "service": "indexer", "action": action, "release": release, "previous": previous,
            "image": f"{REPO}:{release}", "image_id": "sha256:0", "by": by}


FIRST = rec("deploy", GOOD, None, "sandbox.sh up")
BAD_DEPLOY = rec("deploy", BAD, GOOD, "sandbox.sh fault bad-deploy")
ROLLED_BACK = rec("rollback", GOOD, BAD, "usdx.incident.release_rollback")
BOTH = [f"{REPO}:{GOOD}", f"{REPO}:{BAD}"]


def test_bad_deploy_rolls_back_to_the_release_it_replaced():
    plan = release_rollback_plan([FIRST, BAD_DEPLOY], f"{REPO}:{BAD}", BOTH)
    assert plan["action"] == "rollback"
    assert (plan["from"], plan["to"], plan["image"]) == (BAD, GOOD, f"{REPO}:{GOOD}")
    assert plan["summary"] == f"roll back indexer from {BAD} to {GOOD} ({REPO}:{GOOD})"
    assert plan["reason"] == f"{BAD} was deployed 2026-11-29T00:06:41Z by sandbox.sh fault bad-deploy over {GOOD}"


def test_the_image_repository_comes_from_what_runs():
    plan = release_rollback_plan([FIRST, BAD_DEPLOY], f"registry.example:5000/usdx/indexer:{BAD}",
                                 [f"registry.example:5000/usdx/indexer:{GOOD}"])
    assert plan["action"] == "rollback" and plan["image"] == f"registry.example:5000/usdx/indexer:{GOOD}"


@pytest.mark.parametrize(("history", "running", "images", "reason"), [
    ([FIRST, BAD_DEPLOY, ROLLED_BACK], f"{REPO}:{GOOD}", BOTH,
     f"{GOOD} runs because of a rollback from {BAD} (2026-11-29T00:06:41Z, by usdx.incident.release_rollback): rolling back "
     f"again would return to {BAD}, the release just rolled back from"),
    ([FIRST], f"{REPO}:{GOOD}", BOTH, f"{GOOD} is the first recorded deploy of indexer: there is no previous release"),
    ([], f"{REPO}:{BAD}", BOTH, "no deploy of indexer is recorded: the previous release is unknown"),
    ([FIRST], f"{REPO}:{BAD}", BOTH,
     f"the last recorded deploy of indexer is {GOOD} but {BAD} runs: a deploy was not recorded, so the previous release is unknown"),
    ([FIRST, BAD_DEPLOY], f"{REPO}:{BAD}", [f"{REPO}:{BAD}"],
     f"the image {REPO}:{GOOD} of {GOOD} is no longer on the host: a rollback needs it (deploying {GOOD} with a build is Fix option C)"),
    ([FIRST, BAD_DEPLOY], "", BOTH, "no indexer container found: what runs is unknown"),
    ([FIRST, BAD_DEPLOY], f"{REPO}@sha256:abc", BOTH, f"the indexer container runs {REPO}@sha256:abc, an image without a release tag"),
    ([FIRST, rec("deploy", GOOD, GOOD)], f"{REPO}:{GOOD}", BOTH, f"the previous release is {GOOD} itself: nothing to roll back to"),
    ("not a list", f"{REPO}:{BAD}", BOTH, "the deploy history is not a list of records"),
])
def test_refusals_name_the_reason(history, running, images, reason):
    plan = release_rollback_plan(history, running, images)
    assert plan["action"] == "refuse" and plan["image"] is None
    assert plan["reason"] == reason and plan["summary"] == f"REFUSED: {reason}"


def test_unreadable_history_or_containers_refuse():
    assert release_rollback_plan([], f"{REPO}:{BAD}", BOTH, history_error="x does not exist")["reason"] == \
        "the deploy history cannot be used: x does not exist"
    assert release_rollback_plan([FIRST, BAD_DEPLOY], "", BOTH, running_error="docker: permission denied")["reason"] == \
        "what runs could not be read: docker: permission denied"


def test_no_loop_after_a_clear_recorded_as_rollback():
    """sandbox.sh fault clear records its return to the good release as a rollback: no rollback after it."""
    cleared = rec("rollback", GOOD, BAD, "sandbox.sh fault clear")
    assert release_rollback_plan([FIRST, BAD_DEPLOY, cleared], f"{REPO}:{GOOD}", BOTH)["action"] == "refuse"


def test_a_release_deployed_again_after_a_rollback_can_be_rolled_back():
    history = [FIRST, BAD_DEPLOY, ROLLED_BACK, rec("deploy", "v1.6.0", GOOD)]
    plan = release_rollback_plan(history, f"{REPO}:v1.6.0", [*BOTH, f"{REPO}:v1.6.0"])
    assert (plan["action"], plan["to"]) == ("rollback", GOOD)


# --- deploy ---------------------------------------------------------------------------------------------------------
def test_deploy_a_new_release():
    plan = release_deploy_plan("v1.6.0", [FIRST], f"{REPO}:{GOOD}")
    assert (plan["action"], plan["from"], plan["to"], plan["image"]) == ("deploy", GOOD, "v1.6.0", f"{REPO}:v1.6.0")
    assert plan["summary"] == f"deploy indexer v1.6.0 ({REPO}:v1.6.0) over {GOOD}"


def test_deploy_what_runs_does_nothing():
    plan = release_deploy_plan(GOOD, [FIRST], f"{REPO}:{GOOD}")
    assert plan["action"] == "none" and plan["summary"] == f"indexer already runs {GOOD}: nothing to deploy"


def test_deploy_with_no_container_needs_the_repository():
    assert release_deploy_plan(GOOD, [], "")["action"] == "refuse"
    plan = release_deploy_plan(GOOD, [], "", image_repository=REPO)
    assert (plan["action"], plan["from"], plan["image"]) == ("deploy", None, f"{REPO}:{GOOD}")


def test_deploying_the_release_just_rolled_back_from_is_a_loop():
    plan = release_deploy_plan(BAD, [FIRST, BAD_DEPLOY, ROLLED_BACK], f"{REPO}:{GOOD}")
    assert plan["action"] == "refuse" and plan["to"] == BAD
    assert plan["reason"] == f"{BAD} was just rolled back from (2026-11-29T00:06:41Z, by usdx.incident.release_rollback): deploying it again would loop"


@pytest.mark.parametrize("ref", ["", "v1;id", "-v1", ".hidden", "a" * 129, "v1 2", None, 7, "../v1"])
def test_a_ref_that_is_not_an_image_tag_is_refused(ref):
    plan = release_deploy_plan(ref, [FIRST], f"{REPO}:{GOOD}")
    assert plan["action"] == "refuse"
    assert plan["reason"].startswith(f"ref {ref!r} is not a release: accepted values are image tags")


def test_deploy_refuses_on_unreadable_state():
    assert release_deploy_plan("v1.6.0", [], f"{REPO}:{GOOD}", history_error="unreadable")["action"] == "refuse"
    assert release_deploy_plan("v1.6.0", [FIRST], "", running_error="docker down")["reason"] == "what runs could not be read: docker down"
