# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The human_size and human_duration filters (see human_size.yml, human_duration.yml)."""

from __future__ import annotations

import typing as t

from ansible_collections.usdx.incident.plugins.plugin_utils._formatting import human_duration, human_size


class FilterModule:
    """Sizes and durations for people."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"human_size": human_size, "human_duration": human_duration}
