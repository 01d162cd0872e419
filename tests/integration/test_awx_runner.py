# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The job templates of awx/ run the way AWX runs a job, against the sandbox.

AWX builds one private data dir per job and hands it to ansible-runner: the project checkout in project/, the
collections the project requires in requirements_collections/, the inventory as inventory/hosts, the template's
extra variables and survey answers in env/extravars, a credential's injected variables in a file named on the
command line (env/cmdline), its own environment in env/envvars and the template's timeout in env/settings. It then
reads back artifacts/<ident>/: status, rc, the job events, and the set_stats data of the playbook_on_stats event,
which it keeps as the job's artifacts and passes on to the next nodes of a workflow. This test does the same with
`ansible-runner run <private_data_dir> -p <playbook>` and the templates' own data from awx/vars/.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys
import typing as t

import pytest
import yaml

from sandbox_stack import STACK

REPO = pathlib.Path(__file__).resolve().parents[2]
VENV_BIN = pathlib.Path(sys.executable).parent
HOST = "sandbox"
SANDBOX_GROUP_VARS = REPO / "inventories" / "sandbox" / "group_vars" / "usdx_stacks.yml"
TEMPLATES = {t_["name"]: t_ for t_ in yaml.safe_load((REPO / "awx" / "vars" / "job_templates.yml").read_text())["controller_templates"]}
WORKFLOW = yaml.safe_load((REPO / "awx" / "vars" / "workflows.yml").read_text())["controller_workflows"][0]
NODES = {node["identifier"]: node for node in WORKFLOW["workflow_nodes"]}
CONTAINERS = ("db", "redis", "indexer", "webapp", "chain")

pytestmark = pytest.mark.sandbox


class AwxJob(t.NamedTuple):
    """What AWX reads back from a job's artifacts."""

    status: str
    rc: int
    events: list[dict[str, t.Any]]
    stats: dict[str, t.Any]
    artifacts: dict[str, t.Any]
    stdout: str
    private_data_dir: pathlib.Path

    def text(self) -> str:
        """Everything the job left in its artifacts (stdout and every event), for what must not be in them."""
        ident_dir = next((self.private_data_dir / "artifacts").iterdir())
        return "\n".join(p.read_text(errors="replace") for p in ident_dir.rglob("*") if p.is_file())


def survey_answers(template: dict[str, t.Any]) -> dict[str, t.Any]:
    """The extra variables AWX adds from a survey's defaults when a job is launched without answers. AWX applies a
    default only when it passes the question's own validation: a multiselect's must be a list, so "" adds nothing
    and the role's default stands."""
    answers: dict[str, t.Any] = {}
    for question in (template.get("survey_spec") or {}).get("spec", []):
        default = question.get("default")
        if question["type"] == "multiselect":
            valid = isinstance(default, list) and set(default) <= set(question["choices"])
        elif question["type"] == "multiplechoice":
            valid = default in question["choices"]
        else:
            valid = isinstance(default, str) and question.get("min", 0) <= len(default) <= question.get("max", 1024)
        if valid:
            answers[question["variable"]] = default
    return answers


def workflow_job_vars(node: dict[str, t.Any], ancestors: list[AwxJob]) -> dict[str, t.Any]:
    """The extra variables AWX gives a workflow node's job: the node's extra_data, overridden by the artifacts of
    the jobs before it (the nearest last), overridden by the workflow's survey answers and extra variables."""
    variables = dict(node.get("extra_data") or {})
    for ancestor in ancestors:
        variables.update(ancestor.artifacts)
    variables.update(survey_answers(WORKFLOW), **(WORKFLOW.get("extra_vars") or {}))
    return variables


def private_data_dir(root: pathlib.Path, sandbox: dict[str, str], template: dict[str, t.Any], ident: str,
                     launch_vars: dict[str, t.Any]) -> pathlib.Path:
    """A private data dir laid out as AWX lays out a job's."""
    pdd = root / f"pdd-{ident}"
    project = pdd / "project"
    project.mkdir(parents=True)
    # The project checkout: the playbooks and the project's ansible.cfg, as in the repository.
    shutil.copytree(REPO / "playbooks", project / "playbooks")
    shutil.copy2(REPO / "ansible.cfg", project / "ansible.cfg")
    # The collection, installed for the job (AWX installs the project's collection requirements there).
    collection = pdd / "requirements_collections" / "ansible_collections" / "usdx"
    collection.mkdir(parents=True)
    (collection / "incident").symlink_to(REPO, target_is_directory=True)
    # The inventory: the sandbox's stack description as group variables. Under AWX the inventory's directory is
    # the private data dir's, so the host's own variables replace the paths the sandbox derives from it.
    group_vars = yaml.safe_load(SANDBOX_GROUP_VARS.read_text())
    # The stack is a host variable: the job's environment is AWX's, not this session's (USDX_SANDBOX_STACK).
    host_vars = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, "usdx_sandbox_stack": STACK.number,
                 "usdx_compose_project_src": str(REPO / "sandbox"), "triage_findings_dir": str(root / "findings"),
                 "respond_incidents_dir": str(root / "incidents"), "respond_state_dir": str(root / "state")}
    unplaced = sorted(name for name, value in group_vars.items() if "inventory_dir" in str(value) and name not in host_vars)
    assert not unplaced, f"the sandbox inventory derives {unplaced} from its directory: place them here"
    (pdd / "inventory").mkdir()
    (pdd / "inventory" / "hosts").write_text(yaml.safe_dump({"usdx_stacks": {"vars": group_vars, "hosts": {HOST: host_vars}}}))
    env = pdd / "env"
    env.mkdir()
    extravars = {**(template.get("extra_vars") or {}), **survey_answers(template), **launch_vars}
    (env / "extravars").write_text(yaml.safe_dump(extravars))
    # The "USDX/Wexel database" credential, injected as AWX does: its own extra-vars file, named on the command line.
    credential = env / "credential_extra_vars.yml"
    credential.write_text(yaml.safe_dump({"usdx_db_admin_password": sandbox["USDX_DB_SUPERUSER_PASSWORD"],
                                          "usdx_db_app_password": sandbox["USDX_DB_PASSWORD"]}))
    credential.chmod(0o600)
    (env / "cmdline").write_text(f"-e @{credential}")
    (env / "envvars").write_text(yaml.safe_dump({
        "ANSIBLE_COLLECTIONS_PATH": str(pdd / "requirements_collections"),
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
        "ANSIBLE_FORCE_COLOR": "False",
    }))
    (env / "settings").write_text(yaml.safe_dump({"job_timeout": template["timeout"], "suppress_ansible_output": True}))
    return pdd


def run_awx_job(tmp_path: pathlib.Path, sandbox: dict[str, str], name: str, ident: str,
                **launch_vars: t.Any) -> AwxJob:
    template = TEMPLATES[name]
    pdd = private_data_dir(tmp_path, sandbox, template, ident, launch_vars)
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-runner"), "run", str(pdd), "-p", template["playbook"], "--ident", ident],
        capture_output=True, text=True, timeout=template["timeout"] + 60, check=False,
        env={"PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"},
    )
    artifacts = pdd / "artifacts" / ident
    assert (artifacts / "status").exists(), f"ansible-runner left no status (rc={proc.returncode}):\n{proc.stderr[-3000:]}"
    events = [json.loads(p.read_text()) for p in sorted((artifacts / "job_events").glob("*.json"),
                                                        key=lambda p: int(p.name.split("-", 1)[0]))]
    stats = [e for e in events if e.get("event") == "playbook_on_stats"]
    assert len(stats) == 1, "no playbook_on_stats event"
    return AwxJob(status=(artifacts / "status").read_text().strip(), rc=int((artifacts / "rc").read_text()),
                  events=events, stats=stats[0]["event_data"], artifacts=stats[0]["event_data"].get("artifact_data") or {},
                  stdout=(artifacts / "stdout").read_text(errors="replace"), private_data_dir=pdd)


def container_starts(helpers: t.Any) -> dict[str, str]:
    """When each sandbox container last started: a restart or recreation changes it."""
    starts = {}
    for service in CONTAINERS:
        proc = subprocess.run(["docker", "inspect", "-f", "{{.Id}} {{.State.StartedAt}}", f"{helpers.project}-{service}-1"],
                              capture_output=True, text=True, timeout=30, check=False)
        starts[service] = proc.stdout.strip()
    return starts


@pytest.mark.newest
def test_triage_template_hands_its_verdict_on_as_artifacts(tmp_path, sandbox, sandbox_fault, helpers):
    sandbox_fault("api-down")
    job = run_awx_job(tmp_path, sandbox, "USDX triage", "triage")

    assert (job.status, job.rc) == ("successful", 0), job.stdout[-3000:]
    # Keyed by the host's name, so the verdicts of several stacks aggregate instead of overwriting each other.
    assert list(job.artifacts["usdx_triage"]) == [HOST], f"set_stats keys: {list(job.artifacts['usdx_triage'])}"
    verdict = job.artifacts["usdx_triage"][HOST]
    findings = json.loads((tmp_path / "findings" / f"{HOST}.json").read_text())
    # The artifact is the findings document's verdict, as AWX stores it for the job and the workflow's next nodes.
    assert verdict == {
        "severity": findings["severity"]["level"],
        "reason": findings["severity"]["reason"],
        "scenario": findings["scenarios"][0]["scenario"],
        "data_at_risk": findings["data_at_risk"]["at_risk"],
        "findings": str(tmp_path / "findings" / f"{HOST}.json"),
    }
    assert (verdict["severity"], verdict["scenario"]) == ("P0", "api_unavailable")
    # Every task of the run is an event AWX can show; the read-only triage changed nothing.
    assert any(e["event"] == "runner_on_ok" and e["event_data"]["task"] == "Run every diagnostic side by side"
               for e in job.events)
    assert job.stats["changed"] == {} and job.stats["failures"] == {}
    # The credential's passwords never reach the job's output or events.
    text = job.text()
    assert sandbox["USDX_DB_SUPERUSER_PASSWORD"] not in text and sandbox["USDX_DB_PASSWORD"] not in text


def test_p2_template_records_and_touches_nothing(tmp_path, sandbox, healthy_sandbox, helpers):
    before = container_starts(helpers)
    job = run_awx_job(tmp_path, sandbox, "USDX P2 medium", "respond-p2")

    assert (job.status, job.rc) == ("successful", 0), job.stdout[-3000:]
    assert list(job.artifacts["usdx_response"]) == [HOST], f"set_stats keys: {list(job.artifacts['usdx_response'])}"
    response = job.artifacts["usdx_response"][HOST]
    assert response["severity"] == "P2" and response["outcome"] == "recorded"
    assert list(response["steps"]) == ["record"]
    folder = pathlib.Path(response["folder"])
    assert folder.parent == tmp_path / "incidents" and folder.name == response["incident"]
    incident = json.loads((folder / "incident.json").read_text())
    assert incident["severity"] == "P2"
    assert [p.name for p in folder.glob("bug-report*.md")], "no bug report in the incident folder"
    # Recorded, not remediated: no container of the stack was started, stopped or recreated.
    assert container_starts(helpers) == before
    text = job.text()
    assert sandbox["USDX_DB_SUPERUSER_PASSWORD"] not in text and sandbox["USDX_DB_PASSWORD"] not in text


def test_p0_workflow_jobs_continue_one_incident(tmp_path, sandbox, healthy_sandbox, helpers):
    """The workflow's first nodes, run as AWX runs them: each job in its own private data dir, the variables it gets
    made the AWX way. The incident folder and the lock directory are shared, as the exposed path is under AWX.
    A diagnose-only node stands in for the approved one after the approval (contain would change the sandbox)."""
    before = container_starts(helpers)
    triage = run_awx_job(tmp_path, sandbox, "USDX triage", "triage", **workflow_job_vars(NODES["triage"], []))
    assert triage.status == "successful", triage.stdout[-3000:]

    first_node = NODES["respond_until_contain"]
    first = run_awx_job(tmp_path, sandbox, first_node["unified_job_template"]["name"], "until-contain",
                        **workflow_job_vars(first_node, [triage]))
    assert first.status == "successful", first.stdout[-3000:]
    incident = first.artifacts["usdx_response"][HOST]["incident"]
    assert list(first.artifacts["usdx_response"][HOST]["steps"]) == ["alert", "assess"]

    after_approval = {"extra_data": {"respond_steps": ["diagnose"]}}
    second = run_awx_job(tmp_path, sandbox, "USDX P0 critical", "diagnose",
                         **workflow_job_vars(after_approval, [triage, first]))
    # Not refused by the lock the first job holds: the same incident goes on, with the assess step's record.
    assert second.status == "successful", second.stdout[-3000:]
    assert second.artifacts["usdx_response"][HOST]["incident"] == incident
    record = json.loads((tmp_path / "incidents" / incident / "hosts" / f"{HOST}.json").read_text())
    assert [step["id"] for step in record["steps"]] == ["alert", "assess", "diagnose"]
    assert sorted(p.name for p in (tmp_path / "incidents").iterdir() if p.is_dir()) == [incident]
    assert container_starts(helpers) == before
