# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A deploy checkout whose configuration runs programs: looking at it through the collection runs none of them.

Run: .venv/bin/pytest -m sandbox tests/integration/test_hostile_git.py
"""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

from sandbox_stack import STACK

pytestmark = pytest.mark.sandbox

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "Mallory", "GIT_AUTHOR_EMAIL": "m@example.com", "GIT_COMMITTER_NAME": "Mallory",
           "GIT_COMMITTER_EMAIL": "m@example.com", "LC_ALL": "C"}


def _git(repo: pathlib.Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, env=GIT_ENV, capture_output=True)


@pytest.fixture
def hostile_repo(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """A checkout with fsmonitor, filter and diff drivers, hooks, pager, editor and helpers all set to leave a marker."""
    repo, markers = tmp_path / "deploy", tmp_path / "markers"
    repo.mkdir()
    markers.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "compose.yaml").write_text("services: {}\n")
    (repo / ".gitattributes").write_text("* filter=evil diff=evil\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "deploy: compose file")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "indexer: bump")

    def leave(name: str, then: str = "true") -> str:
        return f"sh -c 'touch {markers}/{name}; {then}'"
    hooks = repo / ".git" / "evil-hooks"
    hooks.mkdir()
    for hook in ("post-index-change", "reference-transaction", "post-checkout", "pre-auto-gc"):
        (hooks / hook).write_text(f"#!/bin/sh\ntouch {markers}/hook-{hook}\n")
        (hooks / hook).chmod(0o755)
    settings = {
        "core.fsmonitor": leave("fsmonitor"), "core.hooksPath": str(hooks), "core.pager": leave("pager", "cat"),
        "core.editor": leave("editor"), "core.askPass": leave("askpass"), "core.sshCommand": leave("ssh"),
        "filter.evil.clean": leave("clean", "cat"), "filter.evil.smudge": leave("smudge", "cat"),
        "filter.evil.process": leave("process"), "filter.evil.required": "true",
        "diff.evil.textconv": leave("textconv", "cat"), "diff.evil.command": leave("diff-command"),
        "diff.external": leave("external-diff"), "credential.helper": leave("credential"), "gpg.program": leave("gpg"),
        "log.showSignature": "true", "pager.log": leave("pager-log", "cat"), "pager.status": leave("pager-status", "cat"),
    }
    for key, value in settings.items():
        _git(repo, "config", key, value)
    # Stat data that no longer matches the index: a status must re-read the file, where the clean filter would run.
    os.utime(repo / "compose.yaml", (1, 1))
    return repo, markers


def _prove_hostile(repo: pathlib.Path, markers: pathlib.Path) -> None:
    """The same checkout makes a plain git run its programs: the assertions above could have failed."""
    subprocess.run(["git", "-C", str(repo), "status"], env=GIT_ENV, capture_output=True, check=False)
    assert {"fsmonitor", "process"} <= set(os.listdir(markers)), os.listdir(markers)


def test_deployment_info_runs_nothing_of_the_checkout(sandbox, module_runner, hostile_repo):
    repo, markers = hostile_repo
    result = module_runner("deployment_info", {"repo_path": str(repo), "project_name": STACK.project}).result
    assert sorted(os.listdir(markers)) == [], "git ran a program of the checkout"
    assert result.get("failed") is None and result["repo_found"] is True, result
    assert [c["subject"] for c in result["commits"]] == ["indexer: bump", "deploy: compose file"]
    assert result["repo"]["dirty"] is False and result["repo"]["branch"] == "main"
    assert "partial" not in result, result.get("partial")
    _prove_hostile(repo, markers)


def test_triage_info_runs_nothing_of_the_checkout(sandbox, module_runner, hostile_repo):
    repo, markers = hostile_repo
    (repo / "compose.yaml").write_text("services: {evil: {}}\n")  # a real change: dirty must still be seen
    result = module_runner("triage_info", {"checks": ["deployment"], "repo_path": str(repo)}).result
    assert sorted(os.listdir(markers)) == [], "git ran a program of the checkout"
    deployment = result["deployment"]
    assert deployment.get("failed") is None, deployment
    assert [c["subject"] for c in deployment["commits"]] == ["indexer: bump", "deploy: compose file"]
    assert deployment["repo"]["dirty"] is True
    assert result["checks"] == ["deployment"]
    _prove_hostile(repo, markers)
