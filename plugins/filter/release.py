# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The release filters (release_rollback_plan.yml, release_deploy_plan.yml): the decisions of Fix options B and C."""

from __future__ import annotations

import typing as t

from ansible_collections.usdx.incident.plugins.plugin_utils import _release_plan


def release_rollback_plan(history: t.Any, running_image: t.Any, images_present: t.Any, service: t.Any = "indexer",
                          history_error: t.Any = None, running_error: t.Any = None) -> dict[str, t.Any]:
    """Roll back to which release, or why not."""
    return _release_plan.rollback_plan(history, running_image, images_present, str(service), history_error, running_error)


def release_deploy_plan(ref: t.Any, history: t.Any, running_image: t.Any, service: t.Any = "indexer", history_error: t.Any = None,
                        image_repository: t.Any = "", running_error: t.Any = None) -> dict[str, t.Any]:
    """Deploy the ref, nothing (it runs), or why not."""
    return _release_plan.deploy_plan(ref, history, running_image, str(service), history_error, image_repository, running_error)


class FilterModule:
    """Release decisions."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"release_rollback_plan": release_rollback_plan, "release_deploy_plan": release_deploy_plan}
