# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The docs site builds from the installed tarball: antsibull-docs writes the RST of every plugin and role, Sphinx
the HTML (`make docs`; open build/docs/html/index.html)."""

from __future__ import annotations

import pathlib
import re
import shutil

from galaxy_tools import BIN, FQCN, REPO, Tools

DOCS = REPO / "build" / "docs"
CONF_DIR = pathlib.Path(__file__).resolve().parent / "docsite"
# Sphinx starts each message with "[file:line: ]LEVEL: "; a message may go on over the next lines.
MESSAGE = re.compile(r"^(?:\S.*?: )?(?:WARNING|ERROR|CRITICAL|SEVERE): ")
# A reference to Ansible's docs or another collection: it resolves only through intersphinx, which needs the
# network (tests/galaxy/docsite/conf.py). References inside this collection are labelled with its FQCN.
OFFLINE_ONLY = re.compile(r"undefined label: '(?!ansible_collections\.%s\.)[^']+' \[ref\.ref\]$" % re.escape(FQCN))


def sphinx_messages(log: str) -> list[str]:
    messages: list[str] = []
    for line in log.splitlines():
        if MESSAGE.match(line):
            messages.append(line)
        elif messages and line.strip():
            messages[-1] += "\n" + line
    return messages


def test_docsite_builds(tools: Tools, installed: pathlib.Path, documented: dict[str, list[str]]) -> None:
    rst, html, log = DOCS / "rst", DOCS / "html", DOCS / "sphinx-warnings.log"
    shutil.rmtree(DOCS, ignore_errors=True)
    # antsibull-docs writes only into a directory that nobody else can write to.
    rst.mkdir(mode=0o755, parents=True)
    rst.chmod(0o755)

    tools.check(BIN / "antsibull-docs", "collection", "--use-current", "--squash-hierarchy", "--fail-on-error",
                "--cleanup", "everything", "--dest-dir", rst, FQCN, timeout=600)
    proc = tools.run(BIN / "sphinx-build", "-b", "html", "-E", "-q", "--keep-going", "-c", CONF_DIR, "-w", log,
                     rst, html, timeout=600)
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout}\n{proc.stderr}"

    messages = sphinx_messages(log.read_text(encoding="utf-8"))
    problems = [m.replace(f"{rst}/", "") for m in messages if not OFFLINE_ONLY.search(m)]
    assert not problems, "Sphinx (build/docs/sphinx-warnings.log):\n" + "\n".join(problems)

    pages = {p.name for p in html.glob("*.html")}
    expected = {f"{name}_{kind}.html" for kind, names in documented.items() for name in names} | {"index.html"}
    assert expected <= pages, f"pages missing from build/docs/html: {sorted(expected - pages)}"
    # The collection's own page links every role and plugin page.
    index = (html / "index.html").read_text(encoding="utf-8")
    unlinked = sorted(page for page in expected - {"index.html"} if f'href="{page}' not in index)
    assert not unlinked, f"index.html does not link {unlinked}"
