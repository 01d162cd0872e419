# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX configuration under awx/ against what takes it: the awx.awx modules' own argument specs, AWX's survey
rules, the playbooks it names, the dispatcher's argument spec, the runbook's steps and scenario ids, and the order
in which AWX hands variables to a workflow's jobs."""

from __future__ import annotations

import functools
import importlib
import os
import pathlib
import re
import subprocess
import sys
import typing as t
from unittest import mock

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.usdx.incident.plugins.module_utils import _runbook

REPO = pathlib.Path(__file__).resolve().parents[2]
AWX = REPO / "awx"
CONFIGURE = AWX / "configure.yml"
DISPATCHER = "usdx.incident.respond"
DISPATCHER_SPEC = REPO / "roles" / "respond" / "meta" / "argument_specs.yml"
# The dispatcher's variables this configuration is built around.
SEVERITY_VAR, SCENARIO_VAR, FIX_OPTION_VAR = "respond_severity", "respond_scenario", "respond_fix_option"
APPROVE_VAR, STEPS_VAR = "respond_approve", "respond_steps"
# The approval gates and the step each one guards (docs/chains.md, "Approval gates").
GATE_STEP = {"contain": "contain", "rollback": "fix", "db_restart": "fix"}
# AWX's survey question types and the Python type of their default (awx/api/views JobTemplateSurveySpec).
SURVEY_TYPES = {"text": str, "textarea": str, "password": str, "multiplechoice": str, "multiselect": str,
                "integer": int, "float": (float, int)}
# A survey question's type -> the argument spec type of the variable it sets.
SURVEY_VALUE_TYPE = {"text": "str", "textarea": "str", "password": "str", "multiplechoice": "str",
                     "multiselect": "list", "integer": "int", "float": "float"}


class _Loader(yaml.SafeLoader):
    """YAML as Ansible reads vars files: !unsafe marks a string Ansible must not template (AWX's injectors)."""


_Loader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def load_yaml(path: pathlib.Path) -> t.Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)


PLAY = load_yaml(CONFIGURE)[0]
DATA: dict[str, t.Any] = {}
for _vars_file in PLAY["vars_files"]:
    DATA.update(load_yaml(AWX / _vars_file))
TEMPLATES = {template["name"]: template for template in DATA["controller_templates"]}
WORKFLOWS = {workflow["name"]: workflow for workflow in DATA["controller_workflows"]}


# --- configure.yml: which task applies which list, with which module ----------------------------------------------
class Applier(t.NamedTuple):
    module: str
    loop_var: str
    args: dict[str, str]
    no_log: bool


def _appliers() -> dict[str, Applier]:
    appliers = {}
    for task in PLAY["tasks"]:
        module = next((key for key in task if key.startswith("awx.awx.")), None)
        if module is None:
            continue
        listed = re.fullmatch(r"\{\{ (controller_\w+) \}\}", task["loop"])
        assert listed, f"task {task['name']!r} loops over {task['loop']!r}, not a controller_* list"
        appliers[listed.group(1)] = Applier(module.removeprefix("awx.awx."), task["loop_control"]["loop_var"],
                                            task[module], bool(task.get("no_log")))
    return appliers


APPLIERS = _appliers()
OBJECTS = [(kind, item) for kind in sorted(APPLIERS) for item in DATA.get(kind, [])]
OBJECT_IDS = [f"{kind}:{item['name']}" for kind, item in OBJECTS]


class _Captured(Exception):
    pass


@functools.cache
def module_spec(name: str) -> tuple[dict[str, t.Any], dict[str, t.Any]]:
    """The argument spec an installed awx.awx module builds in main() (with the connection options every module
    adds), and its other AnsibleModule arguments (mutually_exclusive...): read by running main() up to the point
    where it constructs its module, which is stopped there."""
    from ansible_collections.awx.awx.plugins.module_utils.controller_api import ControllerModule

    module = importlib.import_module(f"ansible_collections.awx.awx.plugins.modules.{name}")

    def capture(self: t.Any, argument_spec: dict[str, t.Any] | None = None, **kwargs: t.Any) -> None:
        raise _Captured(argument_spec, kwargs)

    with mock.patch.object(module.ControllerAPIModule, "__init__", capture):
        with pytest.raises(_Captured) as captured:
            module.main()
    spec, kwargs = captured.value.args
    return {**ControllerModule.AUTH_ARGSPEC, **spec}, kwargs


def option_names(spec: dict[str, t.Any]) -> set[str]:
    return {alias for name, option in spec.items() for alias in [name, *option.get("aliases", [])]}


def doc_spec(options: dict[str, t.Any]) -> dict[str, t.Any]:
    """An argument spec from a module's documented options (for suboptions the module's code leaves untyped)."""
    keys = ("type", "elements", "choices", "required", "aliases", "default")
    return {name: {**{key: doc[key] for key in keys if key in doc},
                   **({"options": doc_spec(doc["suboptions"])} if "suboptions" in doc else {})}
            for name, doc in options.items()}


@functools.cache
def workflow_node_spec() -> dict[str, t.Any]:
    module = importlib.import_module("ansible_collections.awx.awx.plugins.modules.workflow_job_template")
    return doc_spec(yaml.safe_load(module.DOCUMENTATION)["options"]["workflow_nodes"]["suboptions"])


def spec_errors(spec: dict[str, t.Any], params: dict[str, t.Any], **kwargs: t.Any) -> list[str]:
    return list(ArgumentSpecValidator(spec, **kwargs).validate(params).error_messages)


def test_every_vars_file_is_loaded_and_every_list_applied():
    assert sorted(PLAY["vars_files"]) == sorted(f"vars/{p.name}" for p in (AWX / "vars").glob("*.yml"))
    assert sorted(kind for kind in DATA if kind.startswith("controller_")) == sorted(APPLIERS)


@pytest.mark.parametrize("kind", sorted(APPLIERS))
def test_each_task_passes_a_key_to_the_option_of_the_same_name(kind):
    applier = APPLIERS[kind]
    spec, _kwargs = module_spec(applier.module)
    for option, value in applier.args.items():
        assert option in option_names(spec), f"awx.awx.{applier.module} has no option {option}"
        assert re.fullmatch(rf"\{{\{{ {applier.loop_var}\.{option}( \| default\([^)]*\))? \}}\}}", value), (
            f"{kind}: option {option} is given {value!r}, not the item's key of the same name")


@pytest.mark.parametrize(("kind", "item"), OBJECTS, ids=OBJECT_IDS)
def test_every_key_reaches_the_module_and_is_valid_there(kind, item):
    applier = APPLIERS[kind]
    dropped = sorted(set(item) - set(applier.args))
    assert not dropped, f"configure.yml does not pass {dropped} of {item['name']!r} to awx.awx.{applier.module}"
    spec, kwargs = module_spec(applier.module)
    assert spec_errors(spec, item, **kwargs) == []


def test_secrets_are_applied_without_logging():
    assert APPLIERS["controller_credentials"].no_log
    # The injectors are AWX's templates, filled in at launch: kept raw (!unsafe), never rendered by configure.yml.
    raw = (AWX / "vars" / "credential_types.yml").read_text()
    assert raw.count(": !unsafe \"{{ ") == sum(len(ct["injectors"]["extra_vars"]) for ct in DATA["controller_credential_types"])


# --- names that must resolve -----------------------------------------------------------------------------------------
def test_every_name_a_template_uses_is_defined_here_or_built_in():
    projects = {p["name"] for p in DATA["controller_projects"]}
    inventories = {i["name"] for i in DATA["controller_inventories"]}
    credentials = {c["name"] for c in DATA["controller_credentials"]}
    for template in TEMPLATES.values():
        assert template["project"] in projects and template["inventory"] in inventories
        assert set(template["credentials"]) <= credentials, template["name"]
    types = {ct["name"] for ct in DATA["controller_credential_types"]} | {"Machine"}
    assert {c["credential_type"] for c in DATA["controller_credentials"]} <= types
    for source in DATA["controller_inventory_sources"]:
        assert source["inventory"] in inventories and source["source_project"] in projects


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_the_playbook_exists(name):
    assert (REPO / TEMPLATES[name]["playbook"]).is_file()


def test_the_inventory_source_is_the_projects_production_inventory():
    for source in DATA["controller_inventory_sources"]:
        path = REPO / source["source_path"]
        assert path.is_file() and "usdx_stacks" in load_yaml(path)


def test_injected_credentials_are_the_stacks_secret_variables():
    """The credential type injects exactly the variables the production inventory takes from its vault, and the
    roles that declare them keep them out of their output."""
    inventory = load_yaml(REPO / "inventories/production/group_vars/usdx_stacks/main.yml")
    for credential_type in DATA["controller_credential_types"]:
        injected = credential_type["injectors"]["extra_vars"]
        assert set(injected) == {name for name, value in inventory.items() if "vault_" in str(value)}
        declared = [spec[name] for spec in role_specs() for name in injected if name in spec]
        assert declared and all(option.get("no_log") for option in declared)
        fields = {field["id"]: field for field in credential_type["inputs"]["fields"]}
        for template in injected.values():
            field = re.fullmatch(r"\{\{ (\w+) \}\}", template).group(1)
            assert fields[field]["secret"] is True and field in credential_type["inputs"]["required"]


# --- the playbooks and roles the templates run -------------------------------------------------------------------------
def role_specs() -> list[dict[str, t.Any]]:
    return [load_yaml(p)["argument_specs"]["main"]["options"] for p in sorted(REPO.glob("roles/*/meta/argument_specs.yml"))]


def plays(template: dict[str, t.Any]) -> list[dict[str, t.Any]]:
    return load_yaml(REPO / template["playbook"])


def runs_dispatcher(template: dict[str, t.Any]) -> bool:
    return any((role if isinstance(role, str) else role["role"]) == DISPATCHER
               for play in plays(template) for role in play.get("roles", []))


def pinned_vars(template: dict[str, t.Any]) -> dict[str, t.Any]:
    """Variables the playbook gives the dispatcher itself (p0_critical.yml: respond_severity: P0)."""
    pinned: dict[str, t.Any] = {}
    for play in plays(template):
        pinned.update(play.get("vars") or {})
        for role in play.get("roles", []):
            if isinstance(role, dict) and role["role"] == DISPATCHER:
                pinned.update(role.get("vars") or {})
    return pinned


def chain_of(template: dict[str, t.Any]) -> set[str]:
    """The step ids the template can run: its pinned severity's chain, or every chain (severity at launch)."""
    level = pinned_vars(template).get(SEVERITY_VAR)
    levels = [level] if level in _runbook.LEVELS else list(_runbook.LEVELS)
    return {step for lvl in levels for step, _title, _deadline in _runbook.STEPS[lvl]}


def set_stats_data() -> list[tuple[str, dict[str, t.Any]]]:
    """The data of every set_stats task of the roles (file, data): AWX keeps it as the job's artifacts and passes
    it to the workflow nodes after that job as extra variables."""
    found: list[tuple[str, dict[str, t.Any]]] = []

    def walk(where: str, tasks: t.Any) -> None:
        for task in tasks or []:
            if not isinstance(task, dict):
                continue
            for action in ("ansible.builtin.set_stats", "set_stats"):
                if action in task:
                    found.append((where, task[action]["data"]))
            for section in ("block", "rescue", "always"):
                walk(where, task.get(section))

    for path in sorted(REPO.glob("roles/*/tasks/*.yml")):
        walk(str(path.relative_to(REPO)), load_yaml(path))
    return found


def set_stats_keys() -> set[str]:
    return {key for _where, data in set_stats_data() for key in data}


DISPATCHING = sorted(name for name, template in TEMPLATES.items() if runs_dispatcher(template))


def test_every_response_playbook_has_a_template():
    for playbook in ("respond.yml", "p0_critical.yml", "p1_high.yml", "p2_medium.yml", "p3_low.yml", "triage.yml"):
        assert f"playbooks/{playbook}" in {t_["playbook"] for t_ in TEMPLATES.values()}
    assert len(DISPATCHING) == 5


# --- surveys --------------------------------------------------------------------------------------------------------------
def _choices(question: dict[str, t.Any]) -> list[str]:
    choices = question.get("choices", [])
    return choices.splitlines() if isinstance(choices, str) else list(choices)


def survey_problems(survey: dict[str, t.Any]) -> list[str]:
    """What AWX would refuse in a survey spec (its JobTemplateSurveySpec validation)."""
    problems = [f"{field} must be a {kind.__name__}" for field, kind in (("name", str), ("description", str), ("spec", list))
                if not isinstance(survey.get(field), kind)]
    if problems or not survey["spec"]:
        return problems or ["spec has no questions"]
    seen: set[str] = set()
    for index, question in enumerate(survey["spec"]):
        where = f"question {index} ({question.get('variable')})"
        for field, kind in (("type", str), ("question_name", str), ("variable", str), ("required", bool)):
            if not isinstance(question.get(field), kind):
                problems.append(f"{where}: {field} must be a {kind.__name__}")
        if question.get("variable") in seen:
            problems.append(f"{where}: variable repeated")
        seen.add(question.get("variable"))
        qtype = question.get("type")
        if qtype not in SURVEY_TYPES:
            problems.append(f"{where}: type {qtype!r} is not one of {sorted(SURVEY_TYPES)}")
            continue
        default = question.get("default", "")
        if default != "" and not isinstance(default, SURVEY_TYPES[qtype]):
            problems.append(f"{where}: default {default!r} is not a {qtype} answer")
        problems += [f"{where}: {key} must be an integer" for key in ("min", "max")
                     if question.get(key) is not None and not isinstance(question[key], int)]
        if qtype in ("multiplechoice", "multiselect"):
            if "choices" not in question:
                problems.append(f"{where}: a {qtype} question needs choices")
            defaults = default.splitlines() if isinstance(default, str) else list(default)
            if qtype == "multiplechoice" and len(defaults) > 1:
                problems.append(f"{where}: a multiplechoice question has one default")
            problems += [f"{where}: default {d!r} is not a choice" for d in defaults if d not in _choices(question)]
    return problems


SURVEYED = sorted([(name, template) for name, template in TEMPLATES.items() if template.get("survey_spec")]
                  + [(name, workflow) for name, workflow in WORKFLOWS.items() if workflow.get("survey_spec")],
                  key=lambda pair: pair[0])


@pytest.mark.parametrize(("name", "owner"), SURVEYED, ids=[name for name, _owner in SURVEYED])
def test_surveys_are_ones_awx_accepts(name, owner):
    assert owner["survey_enabled"] is True
    assert survey_problems(owner["survey_spec"]) == []


def test_awx_survey_rules_are_checked():
    question = {"question_name": "Scenario", "variable": SCENARIO_VAR, "type": "multiplechoice", "required": True,
                "choices": ["a", "b"], "default": "c"}
    assert survey_problems({"name": "s", "description": "", "spec": [question]}) == [
        f"question 0 ({SCENARIO_VAR}): default 'c' is not a choice"]
    assert survey_problems({"name": "s", "description": "", "spec": []}) == ["spec has no questions"]
    assert "variable repeated" in " ".join(survey_problems({"name": "s", "description": "",
                                                            "spec": [dict(question, default="a")] * 2}))


def dispatcher_options() -> dict[str, dict[str, t.Any]]:
    return load_yaml(DISPATCHER_SPEC)["argument_specs"]["main"]["options"]


def dispatcher_problems(template: dict[str, t.Any], options: dict[str, dict[str, t.Any]]) -> list[str]:
    """A survey question of a response template that the dispatcher would not take as asked: an undeclared
    variable, another type, other choices. The approvals offered are the gates of the steps the template runs."""
    problems = []
    chain = chain_of(template)
    for question in template["survey_spec"]["spec"]:
        variable = question["variable"]
        option = options.get(variable)
        if option is None:
            problems.append(f"{variable} is not a variable of {DISPATCHER}")
            continue
        if option.get("type", "str") != SURVEY_VALUE_TYPE[question["type"]]:
            problems.append(f"{variable} is a {option.get('type', 'str')}, asked as {question['type']}")
        expected = option.get("choices")
        if variable == APPROVE_VAR and expected is not None:
            expected = [gate for gate in expected if GATE_STEP[gate] in chain]
        if expected is not None and _choices(question) != list(expected):
            problems.append(f"{variable} offers {_choices(question)}, the dispatcher takes {list(expected)}")
        if expected is None and "choices" in question:
            problems.append(f"{variable} offers choices the dispatcher does not restrict it to")
        if variable in pinned_vars(template):
            problems.append(f"{variable} is pinned by {template['playbook']}: an answer would override it")
    return problems


@pytest.mark.parametrize("name", DISPATCHING)
def test_survey_questions_are_the_dispatchers_variables_with_its_choices(name):
    assert dispatcher_problems(TEMPLATES[name], dispatcher_options()) == []


def test_a_renamed_or_narrowed_variable_is_caught():
    template = TEMPLATES["USDX respond"]
    options = dispatcher_options()
    renamed = {k: v for k, v in options.items() if k != SCENARIO_VAR} | {"respond_incident_scenario": options[SCENARIO_VAR]}
    assert f"{SCENARIO_VAR} is not a variable of {DISPATCHER}" in dispatcher_problems(template, renamed)
    narrowed = {**options, FIX_OPTION_VAR: dict(options[FIX_OPTION_VAR], choices=["A", "B", "auto"])}
    assert any(p.startswith(f"{FIX_OPTION_VAR} offers") for p in dispatcher_problems(template, narrowed))


def test_the_variables_this_configuration_sets_are_the_dispatchers():
    options = dispatcher_options()
    assert {SEVERITY_VAR, SCENARIO_VAR, FIX_OPTION_VAR, APPROVE_VAR, STEPS_VAR} <= set(options)
    assert options[APPROVE_VAR]["type"] == "list" and options[STEPS_VAR]["type"] == "list"


def test_scenario_choices_are_the_runbooks_ids():
    expected = [*_runbook.SCENARIOS, "bad_deployment", "auto"]
    assert "bad_deployment" in _runbook.OTHER_FINDINGS
    questions = [q for _name, owner in SURVEYED for q in owner["survey_spec"]["spec"] if q["variable"] == SCENARIO_VAR]
    assert len(questions) == len(SURVEYED)
    for question in questions:
        assert _choices(question) == expected and question["default"] == "auto"


def test_severity_choices_are_the_runbooks_levels():
    questions = [q for _name, owner in SURVEYED for q in owner["survey_spec"]["spec"] if q["variable"] == SEVERITY_VAR]
    assert [_choices(q) for q in questions] == [[*_runbook.LEVELS, "auto"]]


def test_contain_is_offered_only_where_the_chain_contains():
    for name in DISPATCHING:
        approvals = [q for q in TEMPLATES[name]["survey_spec"]["spec"] if q["variable"] == APPROVE_VAR]
        offered = set(_choices(approvals[0])) if approvals else set()
        assert ("contain" in offered) == ("contain" in chain_of(TEMPLATES[name])), name


@pytest.mark.parametrize("name", DISPATCHING)
def test_check_mode_is_the_job_type_not_a_variable(name):
    """A survey answer is only a variable; only ansible's --check (AWX job type Check) keeps modules from acting."""
    template = TEMPLATES[name]
    assert template["job_type"] == "run" and template["ask_job_type_on_launch"] is True
    assert not [q for q in template["survey_spec"]["spec"] if q["variable"].startswith("ansible_")]


def test_deadlines():
    triage_timeout = load_yaml(REPO / "roles/triage/defaults/main.yml")["triage_timeout"]
    assess = dict((s, d) for s, _title, d in _runbook.STEPS["P0"])["assess"]
    # The role's own deadline reports a hung check first; a triage still running at T+5 min has missed assess.
    assert triage_timeout < TEMPLATES["USDX triage"]["timeout"] <= assess
    for name in DISPATCHING:
        template = TEMPLATES[name]
        level = pinned_vars(template).get(SEVERITY_VAR)
        verify = [d for lvl in ([level] if level else ["P0", "P1"]) for s, _title, d in _runbook.STEPS[lvl] if s == "verify"]
        # AWX must not kill a chain before the runbook's own deadlines do.
        assert template["timeout"] >= max(verify, default=0) and template["timeout"] > 0, name


# --- the workflow ---------------------------------------------------------------------------------------------------------
WORKFLOW = WORKFLOWS["USDX P0 response"]
NODES = {node["identifier"]: node for node in WORKFLOW["workflow_nodes"]}


def children(node: dict[str, t.Any], link: str) -> list[str]:
    return [child["identifier"] for child in node.get("related", {}).get(link, [])]


def template_of(node: dict[str, t.Any]) -> dict[str, t.Any] | None:
    ujt = node["unified_job_template"]
    return TEMPLATES[ujt["name"]] if ujt["type"] == "job_template" else None


@pytest.mark.parametrize("identifier", sorted(NODES))
def test_nodes_are_valid_for_the_workflow_module(identifier):
    assert spec_errors(workflow_node_spec(), NODES[identifier]) == []


def test_the_graph_is_a_tree_from_the_triage():
    assert len(NODES) == len(WORKFLOW["workflow_nodes"])
    parents: dict[str, list[str]] = {identifier: [] for identifier in NODES}
    for identifier, node in NODES.items():
        for link in ("success_nodes", "failure_nodes", "always_nodes"):
            for child in children(node, link):
                assert child in NODES, f"{identifier} links to unknown node {child}"
                parents[child].append(identifier)
        ujt = node["unified_job_template"]
        assert ujt["type"] in ("job_template", "workflow_approval")
        if ujt["type"] == "job_template":
            assert ujt["organization"]["name"] == template_of(node)["organization"]
    assert [i for i, p in parents.items() if not p] == ["triage"]
    assert all(len(p) <= 1 for p in parents.values())


def test_the_approval_stands_before_contain_with_the_contain_deadline():
    p0 = [step for step, _title, _deadline in _runbook.STEPS["P0"]]
    deadline = dict((s, d) for s, _title, d in _runbook.STEPS["P0"])["contain"]
    before, after = p0[:p0.index("contain")], p0[p0.index("contain"):]
    assert children(NODES["triage"], "success_nodes") == ["respond_until_contain"]
    first = NODES["respond_until_contain"]
    assert template_of(first)["playbook"] == "playbooks/p0_critical.yml"
    assert first["extra_data"] == {STEPS_VAR: before}
    assert children(first, "success_nodes") == ["approve_contain"] and not children(first, "failure_nodes")
    approval = NODES["approve_contain"]
    assert approval["unified_job_template"]["type"] == "workflow_approval"
    assert approval["unified_job_template"]["timeout"] == deadline
    approved, = children(approval, "success_nodes")
    unapproved, = children(approval, "failure_nodes")
    assert NODES[approved]["extra_data"] == {STEPS_VAR: after, APPROVE_VAR: ["contain"]}
    # Denied or timed out: the rest of the chain runs with nothing approved, so contain is refused and escalated.
    assert NODES[unapproved]["extra_data"] == {STEPS_VAR: after, APPROVE_VAR: []}
    for identifier in (approved, unapproved):
        assert template_of(NODES[identifier])["playbook"] == "playbooks/p0_critical.yml"


def test_only_the_approval_node_approves_contain():
    for identifier, node in NODES.items():
        if "contain" in node.get("extra_data", {}).get(APPROVE_VAR, []):
            assert identifier in children(NODES["approve_contain"], "success_nodes")


@pytest.mark.parametrize("identifier", sorted(i for i, n in NODES.items() if n.get("extra_data")))
def test_node_extra_data_is_accepted_by_its_template(identifier):
    template = template_of(NODES[identifier])
    surveyed = {q["variable"] for q in template.get("survey_spec", {}).get("spec", [])}
    for variable in NODES[identifier]["extra_data"]:
        assert template.get("ask_variables_on_launch") or variable in surveyed, variable
        assert variable in dispatcher_options(), variable


def test_nothing_upstream_overrides_what_a_node_decides():
    """A job of a workflow gets the node's extra_data, overridden by the artifacts (set_stats) of the jobs before
    it, overridden by the workflow's extra variables and survey: none of these may set a node's variables, nor
    the severity the P0 playbook pins."""
    decided = {variable for node in NODES.values() for variable in node.get("extra_data", {})} | {SEVERITY_VAR}
    from_workflow = set(WORKFLOW.get("extra_vars") or {}) | {q["variable"] for q in WORKFLOW["survey_spec"]["spec"]}
    assert not decided & from_workflow
    assert "usdx_triage" in set_stats_keys()
    assert not decided & set_stats_keys()


def test_later_nodes_continue_the_first_jobs_incident():
    """Each node runs in a job of its own: the incident the first P0 job opened reaches the next ones only as an
    artifact, or they open another incident and the first one's lock on the stack refuses them."""
    assert "respond_incident_id" in dispatcher_options()
    assert "respond_incident_id" in set_stats_keys()


def test_set_stats_keys_are_not_templates():
    """ansible-core renders values, not keys: a key "{{ inventory_hostname }}" reaches AWX as those characters, and
    every host's data lands under that one key, the last host's replacing the others'."""
    def templated_keys(value: t.Any) -> list[str]:
        if not isinstance(value, dict):
            return []
        return [k for k in value if "{{" in str(k)] + [k for v in value.values() for k in templated_keys(v)]

    assert [(where, key) for where, data in set_stats_data() for key in templated_keys(data)] == []


def test_workflow_survey_questions_are_the_dispatchers():
    options = dispatcher_options()
    for question in WORKFLOW["survey_spec"]["spec"]:
        option = options[question["variable"]]
        assert _choices(question) == list(option.get("choices") or [])


def test_the_workflow_can_be_limited_like_its_templates():
    assert WORKFLOW["ask_limit_on_launch"] is True
    for node in NODES.values():
        if template_of(node):
            assert template_of(node)["ask_limit_on_launch"] is True


# --- configure.yml refuses to start without a controller or a secret -------------------------------------------------------
def _configure(env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CONTROLLER_", "TOWER_"))}
    bin_dir = pathlib.Path(sys.executable).parent
    return subprocess.run(
        [str(bin_dir / "ansible-playbook"), "-i", "localhost,", str(CONFIGURE), *extra],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
        env={**base, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", **env},
    )


def test_configure_refuses_without_a_controller():
    proc = _configure({})
    assert proc.returncode == 2
    assert "no controller: set aap_hostname or CONTROLLER_HOST" in proc.stdout
    assert "Credential types" not in proc.stdout


def test_configure_names_the_missing_secrets_and_prints_none(tmp_path):
    proc = _configure({"CONTROLLER_HOST": "https://awx.invalid"}, "-e", "usdx_awx_db_app_password=s3cret-app-pw")
    assert proc.returncode == 2
    assert "missing: usdx_awx_ssh_key_file, usdx_awx_db_admin_password (see awx/README.md)" in proc.stdout
    assert "s3cret-app-pw" not in proc.stdout + proc.stderr
    assert "Credential types" not in proc.stdout
