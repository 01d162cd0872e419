# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The indexer_lag_plan filter (see indexer_lag_plan.yml): what the scenario "Blockchain Indexer Lagging" does."""

from __future__ import annotations

import typing as t

from ansible_collections.usdx.incident.plugins.plugin_utils._indexer_lag_plan import plan


def indexer_lag_plan(lag: t.Any, options: t.Any = None, ping: t.Any = None, polls: t.Any = None, started: t.Any = None,
                     blocks: t.Any = None) -> dict[str, t.Any]:
    """The action (refuse, escalate, nothing, wait, restart), the catch-up progress and the blocks' integrity."""
    return plan(lag, {} if options is None else options, ping=ping, polls=polls, started=started, blocks=blocks)


class FilterModule:
    """The decision of the indexer_lag role."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"indexer_lag_plan": indexer_lag_plan}
