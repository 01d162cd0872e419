# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The decisions of the release roles (Fix options B and C): roll back to which release, deploy or not.

Inputs are what the roles read: the deploy history (usdx.incident.release_history's C(history)), the image the
service's container runs (usdx.incident.deployment_info's C(services.<service>.image)) and the images present on
the host. A release is an image tag. Anything unknown or inconsistent is a refusal with the reason (fail closed);
neither decision ever goes back to a release that was just rolled back from (no roll-forward-and-back loop).
"""

from __future__ import annotations

import typing as t

from ansible_collections.usdx.incident.plugins.module_utils._release import RELEASE_RE, release_of_image


def _refuse(service: str, running: str | None, reason: str, to: str | None = None) -> dict[str, t.Any]:
    return {"action": "refuse", "service": service, "from": running, "to": to, "image": None, "reason": reason,
            "summary": f"REFUSED: {reason}"}


def _records(history: t.Any) -> list[t.Mapping[str, t.Any]]:
    return [r for r in history if isinstance(r, t.Mapping)] if isinstance(history, list) else []


def _repository(image: str) -> str:
    return image.rpartition(":")[0]


def _just_rolled_back_from(records: list[t.Mapping[str, t.Any]], release: str) -> t.Mapping[str, t.Any] | None:
    """The last record, when it is a rollback away from C(release)."""
    last = records[-1] if records else None
    if last and last.get("action") == "rollback" and last.get("previous") == release:
        return last
    return None


def _common(history: t.Any, running_image: t.Any, service: str, history_error: t.Any,
            running_error: t.Any) -> tuple[list[t.Mapping[str, t.Any]], str | None, dict[str, t.Any] | None]:
    """The records and the running release, or a refusal."""
    if running_error:
        return [], None, _refuse(service, None, f"what runs could not be read: {running_error}")
    if history_error:
        return [], None, _refuse(service, None, f"the deploy history cannot be used: {history_error}")
    if not isinstance(history, list) or len(_records(history)) != len(history):
        return [], None, _refuse(service, None, "the deploy history is not a list of records")
    if not isinstance(running_image, str) or not running_image:
        return [], None, _refuse(service, None, f"no {service} container found: what runs is unknown")
    running = release_of_image(running_image)
    if running is None:
        return [], None, _refuse(service, None, f"the {service} container runs {running_image}, an image without a release tag")
    return _records(history), running, None


def rollback_plan(history: t.Any, running_image: t.Any, images_present: t.Any, service: str = "indexer",
                  history_error: t.Any = None, running_error: t.Any = None) -> dict[str, t.Any]:
    """Fix option B: back to the release that ran before the one that runs, as the history records it.

    Returns C(action) (V(rollback) or V(refuse)), C(from), C(to), C(image) (the image to run), C(reason), C(summary).
    """
    records, running, refusal = _common(history, running_image, service, history_error, running_error)
    if refusal:
        return refusal
    if not records:
        return _refuse(service, running, f"no deploy of {service} is recorded: the previous release is unknown")
    last = records[-1]
    if last.get("release") != running:
        return _refuse(service, running, f"the last recorded deploy of {service} is {last.get('release')} but {running} runs: "
                                         "a deploy was not recorded, so the previous release is unknown")
    target = last.get("previous")
    if not isinstance(target, str) or not RELEASE_RE.match(target):
        return _refuse(service, running, f"{running} is the first recorded deploy of {service}: there is no previous release")
    if target == running:
        return _refuse(service, running, f"the previous release is {running} itself: nothing to roll back to")
    if last.get("action") == "rollback":
        return _refuse(service, running, f"{running} runs because of a rollback from {target} ({last.get('time')}, by {last.get('by')}): "
                                         f"rolling back again would return to {target}, the release just rolled back from", to=target)
    image = f"{_repository(running_image)}:{target}"
    present = {str(i) for i in images_present} if isinstance(images_present, list) else set()
    if image not in present:
        return _refuse(service, running, f"the image {image} of {target} is no longer on the host: a rollback needs it "
                                         f"(deploying {target} with a build is Fix option C)", to=target)
    return {"action": "rollback", "service": service, "from": running, "to": target, "image": image,
            "reason": f"{running} was deployed {last.get('time')} by {last.get('by')} over {target}",
            "summary": f"roll back {service} from {running} to {target} ({image})"}


def deploy_plan(ref: t.Any, history: t.Any, running_image: t.Any, service: str = "indexer", history_error: t.Any = None,
                image_repository: t.Any = "", running_error: t.Any = None) -> dict[str, t.Any]:
    """Fix option C: deploy C(ref) (a release, i.e. an image tag) to the one service.

    Returns C(action) (V(deploy), V(none) when it already runs, V(refuse)), C(from), C(to), C(image), C(reason),
    C(summary). C(image_repository) names the image when no container runs to take it from.
    """
    if not isinstance(ref, str) or not RELEASE_RE.match(ref):
        return _refuse(service, None, f"ref {ref!r} is not a release: accepted values are image tags (letters, digits, _ . -, "
                                      "up to 128, not starting with . or -)")
    if running_image in (None, "") and not history_error and not running_error and isinstance(history, list):
        if not image_repository:
            return _refuse(service, None, f"no {service} container found and no image repository given: the image to build is unknown", to=ref)
        records, running = _records(history), None
    else:
        records, running, refusal = _common(history, running_image, service, history_error, running_error)
        if refusal:
            return dict(refusal, to=ref)
    repository = _repository(running_image) if running else str(image_repository)
    image = f"{repository}:{ref}"
    if running == ref:
        return {"action": "none", "service": service, "from": running, "to": ref, "image": image,
                "reason": f"{service} already runs {ref}", "summary": f"{service} already runs {ref}: nothing to deploy"}
    rolled_back = _just_rolled_back_from(records, ref)
    if rolled_back:
        return _refuse(service, running, f"{ref} was just rolled back from ({rolled_back.get('time')}, by {rolled_back.get('by')}): "
                                         f"deploying it again would loop", to=ref)
    return {"action": "deploy", "service": service, "from": running, "to": ref, "image": image,
            "reason": f"deploy {ref} as asked", "summary": f"deploy {service} {ref} ({image}) over {running or 'no container'}"}
