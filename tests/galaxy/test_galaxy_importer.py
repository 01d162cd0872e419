# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The built tarball passes the checks Galaxy and Automation Hub run on upload: galaxy-importer (settings and why in
galaxy-importer.cfg beside this file) and antsibull-docs lint-collection-docs over the plugin and role docs."""

from __future__ import annotations

import json
import pathlib
import re
import sys

import yaml
from galaxy_tools import BIN, FQCN, REPO, Tools

HERE = pathlib.Path(__file__).resolve().parent
# Kept for reading after a failure (build/ is not tracked).
LOGS = REPO / "build" / "galaxy"
# galaxy-importer prints INFO lines bare and every other level as "LEVEL: message".
FINDING = re.compile(r"^(WARNING|ERROR|CRITICAL): (.*)$")
LOADING = re.compile(r"^Loading (\S+) (\S+)$")


def importer_findings(output: str) -> list[str]:
    """Each warning and error of galaxy-importer's log, with the content it was loading when it said it."""
    findings, loading = [], "collection"
    for line in output.splitlines():
        if match := LOADING.match(line):
            loading = f"{match[1]} {match[2]}"
        elif match := FINDING.match(line):
            findings.append(f"{match[1]} ({loading}): {match[2]}")
    return findings


def test_galaxy_importer_reports_nothing(tools: Tools, tarball: pathlib.Path, documented: dict[str, list[str]]) -> None:
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / "importer_result.json").unlink(missing_ok=True)
    proc = tools.run(sys.executable, "-m", "galaxy_importer.main", tarball, cwd=LOGS, timeout=600,
                     extra_env={"GALAXY_IMPORTER_CONFIG": str(HERE / "galaxy-importer.cfg")})
    log = proc.stdout + proc.stderr
    (LOGS / "galaxy-importer.log").write_text(log, encoding="utf-8")
    assert proc.returncode == 0 and "Importer processing completed successfully" in log, \
        f"galaxy-importer failed (build/galaxy/galaxy-importer.log):\n{log[-4000:]}"
    findings = importer_findings(log)
    assert not findings, "galaxy-importer (build/galaxy/galaxy-importer.log):\n" + "\n".join(findings)

    # What Galaxy would publish: the metadata as declared, every documented plugin with the docs ansible-doc gave.
    result = json.loads((LOGS / "importer_result.json").read_text(encoding="utf-8"))
    runtime = yaml.safe_load((REPO / "meta/runtime.yml").read_text(encoding="utf-8"))
    assert f"{result['metadata']['namespace']}.{result['metadata']['name']}" == FQCN
    assert result["requires_ansible"] == runtime["requires_ansible"]
    with_docs = {(c["content_type"], c["content_name"]) for c in result["docs_blob"]["contents"] if c["doc_strings"]}
    missing = [f"{kind} {name}" for kind in ("module", "filter", "callback") for name in documented[kind]
               if (kind, name) not in with_docs]
    assert not missing, f"no documentation in the import: {missing}"
    assert sorted(c["name"] for c in result["contents"] if c["content_type"] == "role") == documented["role"]


def test_lint_collection_docs_finds_nothing(tools: Tools, installed: pathlib.Path) -> None:
    # References to this collection and to those it depends on (and ansible.builtin) must resolve; a reference to
    # any other collection is an error too.
    proc = tools.run(BIN / "antsibull-docs", "lint-collection-docs", "--plugin-docs",
                     "--validate-collection-refs", "dependent", "--disallow-unknown-collection-refs", installed,
                     timeout=600)
    found = (proc.stdout + proc.stderr).replace(f"{installed}/", "")
    assert proc.returncode == 0 and not found.strip(), f"antsibull-docs lint-collection-docs:\n{found}"
