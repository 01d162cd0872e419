# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""disk_usage_info on the sandbox's own log and backup directories holding files with hostile names.

Real files are created (and removed afterwards) in the directories inventories/sandbox names as usdx_log_dirs and
usdx_backup_dirs: names that are not UTF-8, hold a newline, a Jinja expression or 250 characters, and symbolic
links that point out of the directory.

Run: .venv/bin/pytest -m sandbox tests/integration/test_odd_files.py
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import tempfile
import time

import pytest

from sandbox_stack import STACK

pytestmark = pytest.mark.sandbox

DATA = STACK.data_dir
LOGS = DATA / "log"
BACKUPS = DATA / "backups"
DAY = 86400
# Rendered, this name would read "49-uid=0(root) ...": it must come back verbatim.
TEMPLATE_NAME = "{{ 7 * 7 }}-{{ lookup('ansible.builtin.pipe', 'id') }}.log"
LONG_NAME = "l" * 246 + ".log"

# name as bytes -> how the module must show it (relative to its directory)
LOG_FILES = {
    b"odd-\xff\xfe-latin1-\xe9.log": "odd-\\xff\\xfe-latin1-\\xe9.log",
    b"two\nlines.log": "two\\x0alines.log",
    b"\x1b[2Jclear-screen.log": "\\x1b[2Jclear-screen.log",
    os.fsencode(TEMPLATE_NAME): TEMPLATE_NAME,
    os.fsencode(LONG_NAME): LONG_NAME,
}
BACKUP_FILES = {b"usdx_wexel-\xe9t\xe9.sql.gz": "usdx_wexel-\\xe9t\\xe9.sql.gz"}


def _create(directory: pathlib.Path, name: bytes, age_days: float, size: int = 4096) -> bytes:
    path = os.path.join(os.fsencode(directory), name)
    with open(path, "wb") as handle:
        handle.write(b"\0" * size)
    stamp = time.time() - age_days * DAY
    os.utime(path, (stamp, stamp))
    return path


@pytest.fixture
def odd_files(healthy_sandbox):
    """The hostile files and links, removed afterwards whatever the test did."""
    if not (LOGS.is_dir() and BACKUPS.is_dir()):
        pytest.skip("the sandbox has no data/log or data/backups directory")
    outside = pathlib.Path(tempfile.mkdtemp(prefix="usdx-outside-"))
    created: list[bytes] = []
    try:
        _create(outside, b"outside-secret.log", 90, size=10_000_000)
        # The newline name is large enough to rank among the largest files of the data directory.
        created += [_create(LOGS, name, 40, size=24_000_000 if b"\n" in name else 4096) for name in LOG_FILES]
        created += [_create(BACKUPS, name, 90) for name in BACKUP_FILES]
        for directory, link, target in ((LOGS, "escape-dir", outside), (LOGS, "escape.log", outside / "outside-secret.log"),
                                        (BACKUPS, "escape.sql.gz", outside / "outside-secret.log")):
            path = os.path.join(os.fsencode(directory), os.fsencode(link))
            os.symlink(target, path)
            created.append(path)
        yield outside
    finally:
        for path in created:
            if os.path.lexists(path):
                os.unlink(path)
        shutil.rmtree(outside, ignore_errors=True)


def test_odd_names_are_reported_escaped_and_links_are_not_followed(odd_files, module_runner):
    run = module_runner("disk_usage_info", {"paths": [str(DATA)], "log_dirs": [str(LOGS)], "backup_dirs": [str(BACKUPS)],
                                            "largest": 100, "log_max_age_days": 30, "backup_max_age_days": 60})
    result = run.result
    assert not result.get("failed"), result.get("msg")
    text = json.dumps(result)
    text.encode("utf-8")  # the whole answer is valid UTF-8 JSON

    old_logs = {entry["path"] for entry in result["logs"]["dirs"][0]["old_files"]}
    assert {f"{LOGS}/{shown}" for shown in LOG_FILES.values()} <= old_logs
    backups = result["backups"]["dirs"][0]
    shown_backups = {entry["path"] for entry in backups["old_files"]} | {backups["newest"]["path"]}
    assert {f"{BACKUPS}/{shown}" for shown in BACKUP_FILES.values()} <= shown_backups
    largest = {entry["path"] for entry in result["largest_files"]}
    assert f"{LOGS}/two\\x0alines.log" in largest

    # Nothing was rendered, and nothing outside the directories was reached through the links.
    assert "uid=" not in text and "49-" not in text
    assert str(odd_files) not in text and "outside-secret" not in text
    assert "escape" not in text
    assert "partial" not in result, result.get("partial")
    assert result["logs"]["dirs"][0]["errors"] == [] and result["scan"]["errors"] == []


def test_a_walk_bounded_by_max_files_says_it_is_partial(odd_files, module_runner):
    result = module_runner("disk_usage_info", {"paths": [str(DATA)], "log_dirs": [str(LOGS)], "largest": 5,
                                               "max_files": 3, "docker": False}).result
    assert not result.get("failed"), result.get("msg")
    assert result["logs"]["dirs"][0]["truncated"] is True and result["scan"]["truncated"] is True
    assert f"the walk of {LOGS} stopped after max_files=3 entries: files beyond them were not seen" in result["partial"]
