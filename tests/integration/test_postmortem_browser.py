# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The post-mortem's HTML report in a real browser: Debian's headless chromium renders it without a script or
console error, both charts and every step are in its DOM, a host's <script> stays text, and a screenshot is taken.

The report is rendered from a recorded incident folder (tests/unit/fixtures/incidents/api-down-killed: a late
step, escalations, a hostile log line); no sandbox is needed. Chromium is installed with apt-get when missing (CI
installs it in .ci/run); the tests are skipped, saying why, only when it cannot be.

Run: .venv/bin/pytest -q tests/integration/test_postmortem_browser.py
"""

from __future__ import annotations

import datetime
import html
import os
import pathlib
import shutil
import signal
import struct
import subprocess
import sys
import typing as t
import zlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
if str(REPO / "build" / "collections") not in sys.path:
    sys.path.insert(0, str(REPO / "build" / "collections"))
from ansible_collections.usdx.incident.plugins.plugin_utils import _postmortem  # noqa: E402

FIXTURE = REPO / "tests" / "unit" / "fixtures" / "incidents" / "api-down-killed"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--enable-logging=stderr", "--v=0"]
# Every chromium run ends within this many seconds or its whole process group is killed.
CHROMIUM_DEADLINE = 90
APT_DEADLINE = 900
WINDOW = (1280, 2000)
CONSOLE_ERRORS = ("Uncaught", "ERROR:CONSOLE")


class Browser(t.NamedTuple):
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def chromium() -> str:
    """The chromium binary; installed with apt-get (Debian's package) when missing."""
    found = shutil.which("chromium")
    if found:
        return found
    command = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            pytest.skip("chromium is not installed and cannot be: not root and no sudo (install the 'chromium' package)")
        command = ["sudo", "-n", *command]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=APT_DEADLINE, check=False,
                              env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"chromium is not installed and `{' '.join(command)}` could not run: {exc}")
    found = shutil.which("chromium")
    if proc.returncode != 0 or not found:
        last = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"chromium is not installed and `{' '.join(command)}` failed (rc {proc.returncode}): {last}")
    return found


def browse(chromium: str, page: pathlib.Path, profile: pathlib.Path, *flags: str) -> Browser:
    """One headless chromium run on a local file, within CHROMIUM_DEADLINE (its process group killed otherwise)."""
    proc = subprocess.Popen([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *flags, page.as_uri()],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=CHROMIUM_DEADLINE)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium did not finish within {CHROMIUM_DEADLINE} s: {' '.join(flags)}")
    assert proc.returncode == 0, f"chromium exited {proc.returncode}: {stderr[-2000:]}"
    return Browser(stdout, stderr)


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if any(mark in line for mark in CONSOLE_ERRORS)]


def png_pixels(path: pathlib.Path) -> tuple[int, int, bytes]:
    """Width, height and the decompressed image data of a PNG; AssertionError when it is not a valid PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    offset, width, height, chunks = 8, 0, 0, []
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        assert struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])[0] == zlib.crc32(kind + body), \
            f"bad CRC in the {kind!r} chunk"
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            chunks.append(body)
        offset += 12 + length
        if kind == b"IEND":
            break
    return width, height, zlib.decompress(b"".join(chunks))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, dict[str, t.Any]]:
    values = _postmortem.context(str(FIXTURE), datetime.datetime(2026, 11, 30, 9, 0, tzinfo=datetime.timezone.utc))
    page = tmp_path_factory.mktemp("report") / "postmortem.html"
    page.write_text(_postmortem.render(values, {}, {"markdown": "template_markdown", "html": "template_html"})["html"])
    return page, values


def test_the_dom_holds_both_charts_and_every_step(chromium: str, report: tuple[pathlib.Path, dict[str, t.Any]],
                                                  tmp_path: pathlib.Path) -> None:
    page, values = report
    result = browse(chromium, page, tmp_path / "profile", "--dump-dom")
    dom = result.stdout
    assert '<svg id="timeline-chart"' in dom and '<svg id="metric-chart"' in dom
    for step in values["steps"]:
        assert f"<td>{html.escape(step['title'], quote=False)}</td>" in dom, step["title"]
    assert '<tr class="late"><td>Contain</td>' in dom
    # A host's log line is text in the page, never an element: no script runs.
    assert "<script" not in dom
    assert '&lt;script&gt;alert("pm")&lt;/script&gt;' in dom
    assert console_errors(result.stderr) == []


def test_a_screenshot_is_taken_and_is_not_blank(chromium: str, report: tuple[pathlib.Path, dict[str, t.Any]],
                                                tmp_path: pathlib.Path) -> None:
    page, _values = report
    shot = tmp_path / "pm.png"
    result = browse(chromium, page, tmp_path / "profile", f"--screenshot={shot}",
                    f"--window-size={WINDOW[0]},{WINDOW[1]}")
    assert shot.is_file() and shot.stat().st_size > 20_000, "no screenshot, or a suspiciously small one"
    width, height, pixels = png_pixels(shot)
    assert (width, height) == WINDOW
    # A blank page compresses to a few byte values (white and the row filters); text and charts to many.
    assert len(set(pixels)) > 64, "the screenshot is blank"
    assert console_errors(result.stderr) == []


def test_the_console_check_sees_a_script_error(chromium: str, tmp_path: pathlib.Path) -> None:
    """The check above can fail: a page whose script throws is caught by the same lines."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><script>undefined_function_of_the_report();</script></body></html>")
    result = browse(chromium, page, tmp_path / "profile", "--dump-dom")
    assert any("Uncaught" in line for line in console_errors(result.stderr)), result.stderr[-2000:]
