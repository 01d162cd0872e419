# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The deploy history of a stack (the worker of usdx.incident.release_history) and the release decisions.

The history is a git checkout (the deploy directory) holding C(history.jsonl), one JSON object per deploy, oldest
first: C(time), C(service), C(action) (V(deploy) or V(rollback)), C(release), C(previous) (the release that ran
before, V(null) for the first), C(image), C(image_id), C(by). Each record is one commit, so the triage's
C(git log) shows the deploys. The sandbox's C(sandbox.sh deploy) writes the same format.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import typing as t

from ansible_collections.usdx.incident.plugins.module_utils import _proc
from ansible_collections.usdx.incident.plugins.module_utils._deployment import GIT_ENV, SAFE_GIT_CONFIG, config_args
from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError

ACTIONS = ("deploy", "rollback")
RECORD_KEYS = ("time", "service", "action", "release", "previous", "image", "image_id", "by")
# A release is an image tag (Docker's rule: 128 characters of letters, digits, _ . -, not starting with . or -).
RELEASE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
GIT_SECONDS = 60
COMMITTER = {"user.name": "usdx.incident", "user.email": "usdx-incident@localhost.invalid", "commit.gpgsign": "false"}


def release_of_image(image: t.Any) -> str | None:
    """The tag of an image reference (C(registry:5000/usdx/indexer:v1.4.0) -> C(v1.4.0)); None without a tag."""
    if not isinstance(image, str) or "@" in image:
        return None
    name, _sep, tag = image.rpartition(":")
    return tag if name and "/" not in tag and RELEASE_RE.match(tag) else None


def check_release(value: t.Any, option: str) -> str:
    if not isinstance(value, str) or not RELEASE_RE.match(value):
        raise OptionError(f"{option}={value!r} is not a release: accepted values are image tags (letters, digits, _ . -, "
                          "up to 128, not starting with . or -)", option=option)
    return value


def parse_history(text: str, service: str | None = None) -> tuple[list[dict[str, t.Any]], list[str]]:
    """history.jsonl -> the records (of C(service) when given), oldest first, and one sentence per unreadable line."""
    records, problems = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            problems.append(f"line {number} is not JSON: {line[:80]!r}")
            continue
        if not isinstance(record, dict) or record.get("action") not in ACTIONS or not isinstance(record.get("release"), str):
            problems.append(f"line {number} is not a deploy record (action deploy or rollback, and a release): {line[:80]!r}")
            continue
        if service is None or record.get("service") == service:
            records.append({key: record.get(key) for key in RECORD_KEYS})
    return records, problems


def subject(record: t.Mapping[str, t.Any]) -> str:
    """The commit subject of a record, as sandbox.sh writes it."""
    if record["action"] == "rollback":
        return f"roll back {record['service']} to {record['release']} (from {record['previous']})"
    return f"deploy {record['service']} {record['release']}" + (f" (was {record['previous']})" if record.get("previous") else "")


class HistoryError(Exception):
    """The history could not be written; the message says why."""


class History:
    """Reads, and appends to, the deploy history in O(params)'s C(path)."""

    def __init__(self, module: t.Any, params: t.Mapping[str, t.Any]) -> None:
        self.module = module
        self.params = params
        self.file = os.path.join(params["path"], params["history_file"])

    def read(self) -> tuple[list[dict[str, t.Any]], list[str], str | None]:
        """(records of the service, unreadable lines, why the file could not be read or None)."""
        try:
            with open(self.file, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return [], [], f"{self.file} does not exist: no deploy was recorded"
        except (OSError, UnicodeDecodeError) as exc:
            return [], [], f"{self.file} could not be read: {exc}"
        records, problems = parse_history(text, self.params["service"])
        return records, problems, None

    def git(self, git: str, args: list[str]) -> str:
        argv = [git, "--no-pager", *config_args({**SAFE_GIT_CONFIG, **COMMITTER}), "-C", self.params["path"], *args]
        done = _proc.run(argv, deadline=_proc.deadline_in(GIT_SECONDS), env=GIT_ENV, drop_env=lambda name: name.startswith("GIT_"))
        if done.timed_out or done.rc != 0:
            raise HistoryError(f"git {args[0]} in {self.params['path']} failed (rc={done.rc}): {(done.err or done.out).strip()[:300]}")
        return done.out.strip()

    def append(self, record: dict[str, t.Any]) -> str | None:
        """Append C(record) and commit it (when O(commit)); returns the commit hash."""
        if not os.path.isdir(self.params["path"]):
            raise HistoryError(f"{self.params['path']} is not a directory: no deploy history to record in")
        if os.path.islink(self.file):
            raise HistoryError(f"{self.file} is a symbolic link: refusing to write through it")
        git = None
        if self.params["commit"]:
            git = self.module.get_bin_path(self.params["git_cli"])
            if not git:
                raise HistoryError(f"git CLI {self.params['git_cli']!r} not found: nothing was recorded")
            if self.git(git, ["rev-parse", "--is-inside-work-tree"]) != "true":
                raise HistoryError(f"{self.params['path']} is not a git checkout: nothing was recorded")
        line = json.dumps(record) + "\n"
        fd = os.open(self.file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
        if git is None:
            return None
        self.git(git, ["add", "--", self.params["history_file"]])
        self.git(git, ["commit", "--quiet", "--no-verify", "-m", subject(record), "-m", f"by {record['by']}", "--", self.params["history_file"]])
        return self.git(git, ["rev-parse", "HEAD"])

    def run(self, check_mode: bool) -> dict[str, t.Any]:
        records, problems, error = self.read()
        result: dict[str, t.Any] = {"changed": False, "path": self.params["path"], "history": records, "last": records[-1] if records else None,
                                    "problems": problems, "error": error, "recorded": None, "commit": None}
        wanted = self.params.get("record")
        if not wanted:
            return result
        record = {
            "time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "service": self.params["service"], "action": wanted["action"], "release": wanted["release"],
            "previous": wanted.get("previous"), "image": wanted.get("image"), "image_id": wanted.get("image_id"), "by": wanted["by"],
        }
        result.update(changed=True, recorded=record)
        if not check_mode:
            result["commit"] = self.append(record)
            result["history"] = records + [record]
            result["last"] = record
        return result


def validate(params: t.Mapping[str, t.Any]) -> None:
    """Raise OptionError naming the first option out of range."""
    if not RELEASE_RE.match(params["history_file"]):
        raise OptionError(f"history_file={params['history_file']!r} is not a file name in the deploy directory: accepted "
                          "are letters, digits, _ . - (not starting with . or -)", option="history_file")
    record = params.get("record")
    if not record:
        return
    if record.get("action") not in ACTIONS:
        raise OptionError(f"record.action={record.get('action')!r} is not accepted: accepted values are {', '.join(ACTIONS)}",
                          option="record")
    check_release(record.get("release"), "record.release")
    if record.get("previous") is not None:
        check_release(record.get("previous"), "record.previous")
    if not isinstance(record.get("by"), str) or not record["by"].strip():
        raise OptionError("record.by is required: who deployed (a person, a job, a role)", option="record")
