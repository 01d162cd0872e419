# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The post-mortem written by the P0 chain itself, and by usdx-incident postmortem for a chain killed halfway,
against the live sandbox (two chain runs: it is slow).

The db-connections fault is injected and the P0 chain runs exactly as tests/integration/test_respond_chain.py runs
it (its helpers, imported). The post-mortem step writes postmortem.md and postmortem.html into the incident folder:
they name every step of the chain with its T+ deadline, and no secret of the sandbox (the database passwords of
the inventory and of sandbox/.state/sandbox.env) is in any file of the folder.

Run: .venv/bin/pytest -q -m sandbox tests/integration/test_postmortem_chain.py
"""

from __future__ import annotations

import html
import json
import os
import pathlib
import re
import subprocess
import sys
import time

import pytest
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tools"))
import processes  # noqa: E402
from test_respond_chain import DB_IDLE_THRESHOLD, HOST, P0_STEPS, P0_PLAYBOOK, REPO, run_chain, state_dir

pytestmark = pytest.mark.sandbox

# The runbook's P0 chain as the post-mortem prints it: step title and T+ deadline.
P0_DEADLINES = {"Alert & Assemble": "T+0", "Assess": "T+5m", "Contain": "T+10m", "Diagnose": "T+15m", "Fix": "T+30m",
                "Verify": "T+45m", "Communicate": "T+1h", "Post-Mortem": "T+24h"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY", re.IGNORECASE)


def sandbox_secrets(sandbox: dict[str, str]) -> set[str]:
    """Every secret the sandbox holds: the secret-named values of sandbox.env (as read by conftest), and the
    passwords the sandbox inventory falls back to."""
    found = {value for name, value in sandbox.items() if SECRET_NAME.search(name) and value}
    group_vars = yaml.safe_load((REPO / "inventories" / "sandbox" / "group_vars" / "usdx_stacks.yml").read_text())
    for name, value in group_vars.items():
        if "password" in name and isinstance(value, str):
            found.update(re.findall(r"default='([^']+)'", value))
    # The notifiers' webhook token, routing key and API key (their environment lookups' sandbox defaults).
    for backend in group_vars["notify_backends"]:
        for value in backend.values():
            found.update(re.findall(r"(?:TOKEN|KEY)', default='([^']+)'", str(value)))
    assert len(found) >= 5, f"expected the sandbox's database passwords and notifier secrets, found {len(found)}"
    return found


@pytest.mark.newest
def test_p0_chain_writes_the_post_mortem_without_a_secret(sandbox_fault, sandbox, secrets, tmp_path: pathlib.Path):
    sandbox_fault("db-connections")
    time.sleep(DB_IDLE_THRESHOLD + 1.5)

    run = run_chain(tmp_path, respond_scenario="auto", respond_approve=["contain"],
                    db_connections_exhausted_idle_threshold=DB_IDLE_THRESHOLD)
    assert run.rc == 0, run.why()
    record = run.record
    assert [s["id"] for s in record["steps"]] == P0_STEPS, run.why()
    assert record["outcome"] == "resolved", run.why()

    folder = run.folder
    markdown = (folder / "postmortem.md").read_text()
    report = (folder / "postmortem.html").read_text()
    postmortem = run.step("postmortem")
    assert postmortem["status"] == "ok", run.why()
    assert f"{folder}/postmortem.md" in postmortem["summary"] and f"wrote {folder}/postmortem.html" in postmortem["actions"]

    assert markdown.startswith(f"# Post-Mortem: {folder.name} — Database Connection Exhausted\n")
    for title, deadline in P0_DEADLINES.items():
        assert re.search(rf"^\| {re.escape(title)} \| {HOST} \| [^|]+ \| T\+[^|]+ \| [^|]+ \| {re.escape(deadline)} \| ",
                         markdown, re.M), f"{title} with its deadline {deadline}"
        assert f"<td>{html.escape(title)}</td><td>{HOST}</td>" in report, title
    # The post-mortem is written during its own step, which has no end yet.
    assert f"| Post-Mortem | {HOST} | writing this report |" in markdown
    assert "**Prevention**:\n_To be written by the team at the post-mortem meeting._" in markdown
    assert "**Key metric**: Connections in use (connections)" in markdown
    assert re.search(rf"^- \d\d:\d\d:\d\d T\+\S+ {HOST} \(assess\): \d+$", markdown, re.M)
    assert re.search(rf"^- \d\d:\d\d:\d\d T\+\S+ {HOST} \(verify\): \d+$", markdown, re.M)
    assert '<svg id="timeline-chart"' in report and '<svg id="metric-chart"' in report

    secret_values = sandbox_secrets(sandbox) | set(secrets)
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert len(files) >= 6, files
    for path in files:
        content = path.read_bytes()
        for secret in secret_values:
            assert secret.encode() not in content, f"a sandbox secret is in {path.relative_to(folder)}"
    for secret in secret_values:
        assert secret not in run.stderr and secret not in str(run.doc), "a sandbox secret is in the run's output"


def timeline_events(folder: pathlib.Path) -> list[dict]:
    """The complete lines of timeline.jsonl (a killed writer may leave a last line cut short)."""
    path = folder / "timeline.jsonl"
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            pass
    return events


def test_a_killed_chain_keeps_its_timeline_and_still_gets_its_post_mortem(sandbox_fault, sandbox, tmp_path: pathlib.Path):
    """SIGKILL to ansible-playbook in the middle of the fix step: every event up to the kill is in timeline.jsonl, and
    usdx-incident postmortem writes the post-mortem of what happened until then."""
    sandbox_fault("api-down")
    incidents = tmp_path / "incidents"
    incidents.mkdir()
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"respond_incidents_dir": str(incidents), "respond_state_dir": str(state_dir(tmp_path)),
                                 "respond_approve": ["contain"]}))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    process = subprocess.Popen([str(pathlib.Path(sys.executable).with_name("ansible-playbook")), "-i", str(REPO / "inventories" / "sandbox"),
                                str(P0_PLAYBOOK), "-e", f"@{extra}"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        folder = None
        while time.monotonic() < deadline and process.poll() is None:
            folders = [p for p in incidents.iterdir() if p.is_dir()]
            folder = folders[0] if folders else None
            if folder and any(e["event"] == "step_start" and e.get("step") == "fix" for e in timeline_events(folder)):
                break
            time.sleep(0.2)
        assert process.poll() is None, "the chain ended before its fix step: nothing to kill"
    finally:
        survivors = processes.kill_run(process)
    assert survivors == [], f"processes of the killed chain still running: {survivors}"
    assert folder is not None

    events = timeline_events(folder)
    ended = [e["step"] for e in events if e["event"] == "step_end"]
    assert ended == ["alert", "assess", "contain", "diagnose"], ended
    assert not any(e["event"] == "run_end" for e in events), "a killed run cannot have ended"
    assert any(e["event"] == "notification" and e["kind"] == "alert" and e["delivered"] for e in events)
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)

    written = subprocess.run([str(pathlib.Path(sys.executable).with_name("usdx-incident")), "postmortem", folder.name, "--incidents-dir",
                              str(incidents), "-i", str(REPO / "inventories" / "sandbox")],
                             env=env, capture_output=True, text=True, timeout=300, check=False)
    assert written.returncode == 0, written.stdout + written.stderr
    markdown = (folder / "postmortem.md").read_text()
    for title in ("Alert & Assemble", "Assess", "Contain", "Diagnose", "Fix"):
        assert re.search(rf"^\| {re.escape(title)} \| {HOST} \|", markdown, re.M), title
    assert not re.search(rf"^\| Verify \| {HOST} \|", markdown, re.M), "verify never ran"
    assert '<svg id="timeline-chart"' in (folder / "postmortem.html").read_text()
