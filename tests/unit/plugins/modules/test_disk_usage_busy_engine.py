# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docker system df while the engine is busy with another's: several stacks triaged side by side on one engine (the
sandbox fleet) ask together, and the engine refuses the second at once. Seen on the fleet as a P1 "check disk
incomplete" of a healthy stack."""

from __future__ import annotations

import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _disk_usage
from ansible_collections.usdx.incident.plugins.modules import disk_usage_info

BUSY = (1, "", "Error response from daemon: a disk usage operation is already running\n")


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    monkeypatch.setattr(_disk_usage, "DF_BUSY_PAUSE", 0.0)


def answers(*sequence):
    """A fake docker answer that gives each of sequence in turn (the last one again once they are used up)."""
    given = []

    def answer(_args, _kwargs):
        given.append(1)
        return sequence[min(len(given), len(sequence)) - 1]
    return answer


@pytest.mark.parametrize("busy_times", [1, 3])
def test_a_busy_engine_is_asked_again(run_module, fake_docker, fixture_text, tmp_path, busy_times):
    docker = fake_docker({("system", "df"): answers(*[BUSY] * busy_times, (0, fixture_text("disk/system_df_garbage.jsonl"), ""))})
    result = run_module(disk_usage_info.main, {"paths": [str(tmp_path)], "largest": 0}, docker)
    assert result["docker"]["available"] is True and result["docker"]["error"] is None
    assert "partial" not in result
    assert len(docker.called("system", "df")) == busy_times + 1


def test_an_engine_busy_for_too_long_is_reported(run_module, fake_docker, tmp_path, monkeypatch):
    monkeypatch.setattr(_disk_usage, "DF_BUSY_SECONDS", 0.2)
    monkeypatch.setattr(_disk_usage, "DF_BUSY_PAUSE", 0.05)
    docker = fake_docker({("system", "df"): answers(BUSY)})
    result = run_module(disk_usage_info.main, {"paths": [str(tmp_path)], "largest": 0}, docker)
    assert result["docker"]["available"] is False
    assert "a disk usage operation is already running" in result["docker"]["error"]
    assert result["partial"] == ["docker's reclaimable space is unknown: " + result["docker"]["error"]]
    assert 2 <= len(docker.called("system", "df")) <= 5


def test_another_error_is_not_retried(run_module, fake_docker, tmp_path):
    docker = fake_docker({("system", "df"): answers((1, "", "Cannot connect to the Docker daemon"))})
    result = run_module(disk_usage_info.main, {"paths": [str(tmp_path)], "largest": 0}, docker)
    assert result["docker"]["available"] is False and len(docker.called("system", "df")) == 1
