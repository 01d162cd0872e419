# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.usdx.incident.plugins.modules import deployment_info
from ansible_collections.usdx.incident.plugins.module_utils import _proc
from ansible_collections.usdx.incident.plugins.module_utils._deployment import driver_overrides, parse_git_log, parse_time

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git CLI")

NOW = datetime.datetime.now(datetime.timezone.utc)
# The real process runner, bound before fixtures replace _proc.run with fakes.
REAL_RUN = _proc.run


def _ago(hours):
    return (NOW - datetime.timedelta(hours=hours)).isoformat(timespec="seconds")


def _docker_ago(hours):
    return (NOW - datetime.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.123456789Z")


def _git(repo, *args, date=None):
    env = dict(os.environ, GIT_AUTHOR_NAME="Jane Doe", GIT_AUTHOR_EMAIL="jane@example.com",
               GIT_COMMITTER_NAME="Jane Doe", GIT_COMMITTER_EMAIL="jane@example.com", LC_ALL="C")
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    path = tmp_path / "usdx-wexel"
    path.mkdir()
    _git(path, "init", "-q", "-b", "main")
    (path / "compose.yaml").write_text("services: {}\n")
    _git(path, "add", "compose.yaml")
    _git(path, "commit", "-q", "-m", "initial layout", date=_ago(72))
    _git(path, "tag", "v1.0.0")
    _git(path, "commit", "-q", "--allow-empty", "-m", "indexer: batch\x1finserts\n\nbody line", date=_ago(2))
    _git(path, "commit", "-q", "--allow-empty", "-m", "webapp: new footer", date=_ago(1))
    _git(path, "tag", "v1.1.0")
    return path


def _inspect(service, name, hours, image_id="sha256:" + "a" * 64, state="running"):
    return {"Id": name * 8, "Name": f"/{name}", "Created": _docker_ago(hours), "Image": image_id, "RestartCount": 0,
            "State": {"Status": state, "Running": state == "running", "StartedAt": _docker_ago(hours)},
            "Config": {"Image": f"usdx-sandbox/{service}:latest", "Labels": {"com.docker.compose.service": service}}}


def _runner(fake_docker, containers, images=None):
    docker = fake_docker({
        ("ps",): (0, "\n".join(c["Id"] for c in containers) + "\n", ""),
        ("container", "inspect"): (0, json.dumps(containers), ""),
        ("image", "inspect"): (0, json.dumps(images or []), ""),
    })

    def run(argv, **kwargs):
        if argv[0].endswith("git"):
            proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", check=False,
                                  env=dict(os.environ, **(kwargs.get("environ_update") or {})))
            return proc.returncode, proc.stdout, proc.stderr
        return docker(argv, **kwargs)
    run.docker = docker
    return run


def test_commits_tags_and_recent_changes(run_module, fake_docker, repo):
    containers = [_inspect("indexer", "usdx-wexel-indexer-1", 0.5), _inspect("db", "usdx-wexel-db-1", 48, "sha256:" + "b" * 64)]
    images = [{"Id": "sha256:" + "a" * 64, "Created": "2026-11-28T06:50:01.5Z"}]
    result = run_module(deployment_info.main, {"repo_path": str(repo), "count": 2}, _runner(fake_docker, containers, images))
    assert result["changed"] is False
    assert result["repo_found"] is True
    repo_info = result["repo"]
    assert (repo_info["branch"], repo_info["tag"], repo_info["describe"], repo_info["dirty"], repo_info["error"]) == (
        "main", "v1.1.0", "v1.1.0", False, None)
    assert len(repo_info["head"]) == 40 and repo_info["head"] == result["commits"][0]["hash"]
    assert [c["subject"] for c in result["commits"]] == ["webapp: new footer", "indexer: batch\x1finserts"]
    assert result["commits"][0]["author"] == "Jane Doe" and result["commits"][0]["short_hash"] == result["commits"][0]["hash"][:7]
    assert result["commits"][1]["age_hours"] == pytest.approx(2, abs=0.05)
    assert all(c["recent"] for c in result["commits"])
    indexer = result["services"]["indexer"]
    assert indexer["image"] == "usdx-sandbox/indexer:latest" and indexer["image_created"] == "2026-11-28T06:50:01+00:00"
    assert indexer["recent"] is True and indexer["state"] == "running" and indexer["containers"][0]["id"] == "usdx-wexel-i"
    assert result["services"]["db"]["recent"] is False and result["services"]["db"]["image_created"] is None
    assert [(c["kind"], c["name"]) for c in result["recent_changes"]] == [
        ("container", "indexer"), ("commit", result["commits"][0]["short_hash"]), ("commit", result["commits"][1]["short_hash"])]
    assert result["recent_changes"][0]["description"].startswith("container usdx-wexel-indexer-1 created from usdx-sandbox/indexer:latest")
    assert result["docker_error"] is None and result["recent_hours"] == 24.0


def test_window_and_dirty_tree(run_module, fake_docker, repo):
    (repo / "compose.yaml").write_text("services: {indexer: {}}\n")
    result = run_module(deployment_info.main, {"repo_path": str(repo), "recent_hours": 1.5}, _runner(fake_docker, []))
    assert result["repo"]["dirty"] is True
    assert [c["recent"] for c in result["commits"]] == [True, False, False]
    assert [c["kind"] for c in result["recent_changes"]] == ["commit"]
    assert result["repo"]["tag"] == "v1.1.0" and result["services"] == {}


def test_detached_head_between_tags(run_module, fake_docker, repo):
    _git(repo, "checkout", "-q", "HEAD~1")
    result = run_module(deployment_info.main, {"repo_path": str(repo)}, _runner(fake_docker, []))
    assert result["repo"]["branch"] is None and result["repo"]["tag"] is None
    assert result["repo"]["describe"].startswith("v1.0.0-1-g")


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda tmp: str(tmp / "missing"), "does not exist"),
        (str, "is not a git checkout"),
        (lambda tmp: (tmp / "file").write_text("x") and str(tmp / "file"), "is not a directory"),
        (lambda tmp: None, "repo_path not given"),
    ],
    ids=["missing", "not-a-repo", "a-file", "not-given"],
)
def test_repo_not_found_is_reported(run_module, fake_docker, tmp_path, make, error):
    path = make(tmp_path)
    args = {"repo_path": path} if path else {}
    result = run_module(deployment_info.main, args, _runner(fake_docker, []))
    assert result.get("failed") is not True
    assert result["repo_found"] is False and error in result["repo"]["error"]
    assert result["commits"] == [] and result["recent_changes"] == []


def test_empty_repository(run_module, fake_docker, tmp_path):
    _git(tmp_path, "init", "-q")
    result = run_module(deployment_info.main, {"repo_path": str(tmp_path)}, _runner(fake_docker, []))
    assert result["repo_found"] is True and result["repo"]["error"] == "the repository has no commit yet"
    assert result["repo"]["head"] is None and result["commits"] == []


def test_docker_failure_is_reported(run_module, fake_docker, repo):
    runner = _runner(fake_docker, [])
    runner.docker.answers[("ps",)] = (1, "", "Cannot connect to the Docker daemon")
    result = run_module(deployment_info.main, {"repo_path": str(repo)}, runner)
    assert result["services"] == {} and "Cannot connect to the Docker daemon" in result["docker_error"]
    assert result["repo_found"] is True
    assert result["partial"] == ["container changes not read: docker ps --all --quiet failed (rc=1): Cannot connect to the Docker daemon"]


def test_a_missing_checkout_asked_for_is_partial(run_module, fake_docker, tmp_path):
    result = run_module(deployment_info.main, {"repo_path": str(tmp_path / "gone")}, _runner(fake_docker, []))
    assert result["partial"] == [f"recent commits not read: {tmp_path / 'gone'} does not exist"]
    assert "partial" not in run_module(deployment_info.main, {}, _runner(fake_docker, []))


def _hostile(repo, markers):
    """Every setting of the checkout that can make git run a program points at one that leaves a marker file."""
    def leave(name, then="true"):
        return f"sh -c 'touch {markers}/{name}; {then}'"
    (repo / ".gitattributes").write_text("*.yaml filter=evil diff=evil\n")
    _git(repo, "add", ".gitattributes")
    _git(repo, "commit", "-q", "-m", "attributes")
    settings = {
        "core.fsmonitor": leave("fsmonitor"), "core.pager": leave("pager", "cat"), "core.editor": leave("editor"),
        "filter.evil.clean": leave("clean", "cat"), "filter.evil.smudge": leave("smudge", "cat"),
        "filter.evil.process": leave("process"), "filter.evil.required": "true",
        "diff.evil.textconv": leave("textconv", "cat"), "diff.evil.command": leave("diffcommand"),
        "diff.external": leave("external"), "credential.helper": leave("credential"),
        "core.sshCommand": leave("ssh"), "gpg.program": leave("gpg"), "log.showSignature": "true",
        "core.hooksPath": str(repo / "hooks"),
    }
    for key, value in settings.items():
        _git(repo, "config", key, value)
    (repo / "hooks").mkdir()
    for hook in ("post-index-change", "reference-transaction", "post-checkout"):
        (repo / "hooks" / hook).write_text(f"#!/bin/sh\ntouch {markers}/hook-{hook}\n")
        (repo / "hooks" / hook).chmod(0o755)
    # A stat change without a content change: status must re-read the file (where a clean filter would run).
    os.utime(repo / "compose.yaml", (1, 1))


@pytest.mark.parametrize("modified", [False, True], ids=["clean", "modified"])
def test_a_hostile_checkout_runs_nothing(run_module, fake_docker, repo, tmp_path, modified):
    markers = tmp_path / "markers"
    markers.mkdir()
    _hostile(repo, markers)
    if modified:
        (repo / "compose.yaml").write_text("services: {evil: {}}\n")
    docker = fake_docker({("ps",): (0, "", "")})

    def run(argv, **kwargs):
        if argv[0].endswith("git"):
            done = REAL_RUN(argv, env=kwargs.get("environ_update"), drop_env=lambda name: name.startswith("GIT_"))
            return done.rc, done.out, done.err
        return docker(argv, **kwargs)
    result = run_module(deployment_info.main, {"repo_path": str(repo)}, run)
    assert sorted(os.listdir(markers)) == []
    assert result["repo"]["dirty"] is modified and result["repo"]["error"] is None
    assert [c["subject"] for c in result["commits"]] == ["attributes", "webapp: new footer", "indexer: batch\x1finserts", "initial layout"]
    assert "partial" not in result
    # The same checkout does run them for a git called without these settings: the test would see it.
    subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, check=False)
    assert sorted(os.listdir(markers))


@pytest.mark.parametrize(
    ("config", "overrides", "unsafe"),
    [
        ("core.bare\nfalse\0user.name\nx\0", {}, []),
        ("filter.lfs.clean\ngit-lfs clean -- %f\0filter.lfs.process\ngit-lfs filter-process\0",
         {"filter.lfs.clean": "", "filter.lfs.smudge": "", "filter.lfs.process": "", "filter.lfs.required": "false"}, []),
        ("diff.Evil.textconv\nx\0", {"diff.Evil.textconv": "", "diff.Evil.command": ""}, []),
        ("filter.a.b.clean\nx=y.z\0",
         {"filter.a.b.clean": "", "filter.a.b.smudge": "", "filter.a.b.process": "", "filter.a.b.required": "false"}, []),
        ("filter.a=b.clean\nx\0", {}, ["filter.a=b"]),
        ("filter.x.clean\0", {"filter.x.clean": "", "filter.x.smudge": "", "filter.x.process": "", "filter.x.required": "false"}, []),
    ],
    ids=["no-driver", "lfs", "case-kept", "dotted-name", "equals-in-name", "valueless"],
)
def test_driver_overrides(config, overrides, unsafe):
    assert driver_overrides(config) == (overrides, unsafe)


def test_project_filter(run_module, fake_docker, repo):
    runner = _runner(fake_docker, [])
    run_module(deployment_info.main, {"repo_path": str(repo), "project_name": "other"}, runner)
    assert runner.docker.called("ps")[0][-1] == "label=com.docker.compose.project=other"


@pytest.mark.parametrize(
    ("args", "message"),
    [({"count": 0}, "count=0 is out of range: accepted values are integers >= 1"),
     ({"recent_hours": 0}, "recent_hours=0.0 is out of range: accepted values are > 0")],
    ids=["count", "recent-hours"],
)
def test_bad_options(run_module, fake_docker, args, message):
    result = run_module(deployment_info.main, args, _runner(fake_docker, []))
    assert result["failed"] is True and message in result["msg"]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("", []),
        ("a\x1fa1\x1f2026-11-28T07:00:00+01:00\x1fJane\x1ffix: x\0", [
            {"hash": "a", "short_hash": "a1", "date": "2026-11-28T07:00:00+01:00", "author": "Jane", "subject": "fix: x"}]),
        ("a\x1fa\x1fd\x1fJ\x1fs1\0\nb\x1fb\x1fd\x1fK\x1fs\x1f2\0", [
            {"hash": "a", "short_hash": "a", "date": "d", "author": "J", "subject": "s1"},
            {"hash": "b", "short_hash": "b", "date": "d", "author": "K", "subject": "s\x1f2"}]),
        ("a\x1fa\x1fd\x1fJ\x1f\0", [{"hash": "a", "short_hash": "a", "date": "d", "author": "J", "subject": ""}]),
    ],
    ids=["empty", "one", "two-with-separator-in-subject", "empty-subject"],
)
def test_parse_git_log(output, expected):
    assert parse_git_log(output) == expected


def test_parse_git_log_rejects_garbage():
    with pytest.raises(ValueError, match="unexpected git log record 'not a record'"):
        parse_git_log("not a record\0")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T06:56:20.123456789Z", datetime.datetime(2026, 11, 28, 6, 56, 20, 123456, tzinfo=datetime.timezone.utc)),
        ("2026-11-28T07:56:20+01:00", datetime.datetime(2026, 11, 28, 6, 56, 20, tzinfo=datetime.timezone.utc)),
        ("2026-11-28T06:56:20", datetime.datetime(2026, 11, 28, 6, 56, 20, tzinfo=datetime.timezone.utc)),
        ("0001-01-01T00:00:00Z", None),
        ("", None),
        (None, None),
        ("yesterday", None),
    ],
    ids=["docker-nanoseconds", "offset", "naive-is-utc", "docker-zero", "empty", "none", "garbage"],
)
def test_parse_time(text, expected):
    assert parse_time(text) == expected
