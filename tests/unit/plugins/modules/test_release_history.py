# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""release_history: reading a deploy history recorded by the sandbox (tests/unit/fixtures/release/history.jsonl,
written by sandbox.sh up, fault bad-deploy and fault clear), and recording deploys in a real git checkout."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest

from ansible_collections.usdx.incident.plugins.module_utils import _release
from ansible_collections.usdx.incident.plugins.modules import release_history

ROLLBACK = {"action": "rollback", "release": "v1.4.0", "previous": "v1.5.0", "image": "usdx-sandbox/indexer:v1.4.0",
            "by": "usdx.incident.release_rollback (INC-2026-11-29-01)"}


def git(repo: pathlib.Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent)}).stdout.strip()


@pytest.fixture
def checkout(tmp_path: pathlib.Path, fixture_text) -> pathlib.Path:
    repo = tmp_path / "deploy"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "history.jsonl").write_text(fixture_text("release/history.jsonl"))
    git(repo, "add", "history.jsonl")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "history so far")
    return repo


def test_reads_the_sandbox_history(run_module, checkout):
    result = run_module(release_history.main, {"path": str(checkout)})
    assert result["changed"] is False and result["error"] is None and result["problems"] == []
    assert [(r["action"], r["release"], r["previous"]) for r in result["history"]] == [
        ("deploy", "v1.4.0", None), ("deploy", "v1.5.0", "v1.4.0"), ("rollback", "v1.4.0", "v1.5.0")]
    assert result["last"]["by"] == "sandbox.sh fault clear"


def test_records_a_rollback_as_one_line_and_one_commit(run_module, checkout):
    before = (checkout / "history.jsonl").read_text()
    result = run_module(release_history.main, {"path": str(checkout), "record": ROLLBACK})
    assert result["changed"] is True and result["commit"] == git(checkout, "rev-parse", "HEAD")
    text = (checkout / "history.jsonl").read_text()
    assert text.startswith(before) and len(text.splitlines()) == len(before.splitlines()) + 1
    written = json.loads(text.splitlines()[-1])
    assert {k: written[k] for k in ("service", "action", "release", "previous", "by")} == {
        "service": "indexer", "action": "rollback", "release": "v1.4.0", "previous": "v1.5.0", "by": ROLLBACK["by"]}
    assert written["time"].endswith("Z") and written == result["recorded"] == result["last"]
    assert git(checkout, "log", "-1", "--format=%s|%an") == "roll back indexer to v1.4.0 (from v1.5.0)|usdx.incident"
    assert git(checkout, "status", "--porcelain") == ""


def test_check_mode_predicts_and_writes_nothing(run_module, checkout):
    before, head = (checkout / "history.jsonl").read_text(), git(checkout, "rev-parse", "HEAD")
    result = run_module(release_history.main, {"path": str(checkout), "record": ROLLBACK, "_ansible_check_mode": True})
    assert result["changed"] is True and result["recorded"]["release"] == "v1.4.0" and result["commit"] is None
    assert (checkout / "history.jsonl").read_text() == before and git(checkout, "rev-parse", "HEAD") == head


def test_no_hook_of_the_checkout_runs(run_module, checkout, tmp_path):
    hooks, marker = tmp_path / "hooks", tmp_path / "marker"
    hooks.mkdir()
    for name in ("pre-commit", "commit-msg", "post-commit"):
        (hooks / name).write_text(f"#!/bin/sh\necho {name} >> {marker}\n")
        (hooks / name).chmod(0o755)
    git(checkout, "config", "core.hooksPath", str(hooks))
    result = run_module(release_history.main, {"path": str(checkout), "record": ROLLBACK})
    assert result["changed"] is True and not marker.exists()


def test_not_a_checkout_records_nothing(run_module, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    result = run_module(release_history.main, {"path": str(plain), "record": ROLLBACK})
    assert result["failed"] is True and result["msg"].startswith(f"git rev-parse in {plain} failed (rc=128): fatal: not a git repository")
    assert not (plain / "history.jsonl").exists()


def test_a_symlinked_history_is_not_written_through(run_module, checkout, tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("")
    (checkout / "history.jsonl").unlink()
    (checkout / "history.jsonl").symlink_to(target)
    result = run_module(release_history.main, {"path": str(checkout), "record": ROLLBACK})
    assert result["failed"] is True and "symbolic link" in result["msg"]
    assert target.read_text() == ""


def test_missing_and_broken_histories_are_reported_not_empty(run_module, tmp_path):
    missing = run_module(release_history.main, {"path": str(tmp_path)})
    assert missing["history"] == [] and missing["error"].endswith("does not exist: no deploy was recorded")
    (tmp_path / "history.jsonl").write_text('{"action": "deploy", "release": "v1", "service": "indexer"}\nnot json\n{"release": 3}\n')
    broken = run_module(release_history.main, {"path": str(tmp_path)})
    assert [r["release"] for r in broken["history"]] == ["v1"]
    assert broken["problems"] == ["line 2 is not JSON: 'not json'",
                                  "line 3 is not a deploy record (action deploy or rollback, and a release): '{\"release\": 3}'"]


@pytest.mark.parametrize(("record", "message"), [
    ({**ROLLBACK, "release": "v1;id"}, "record.release='v1;id' is not a release: accepted values are image tags"),
    ({**ROLLBACK, "previous": "../x"}, "record.previous='../x' is not a release"),
    ({**ROLLBACK, "by": " "}, "record.by is required"),
])
def test_bad_records_fail_with_one_line_and_write_nothing(run_module, checkout, record, message):
    before = (checkout / "history.jsonl").read_text()
    result = run_module(release_history.main, {"path": str(checkout), "record": record})
    assert result["failed"] is True and result["msg"].startswith(message) and "\n" not in result["msg"]
    assert (checkout / "history.jsonl").read_text() == before


def test_image_tags_are_releases():
    assert _release.release_of_image("usdx-sandbox/indexer:v1.5.0") == "v1.5.0"
    assert _release.release_of_image("registry.example:5000/usdx/indexer:v2") == "v2"
    assert _release.release_of_image("registry.example:5000/usdx/indexer") is None
    assert _release.release_of_image("usdx/indexer@sha256:abc") is None
