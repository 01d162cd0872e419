# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The api_unavailable_plan filter: the decision of the api_unavailable role.

Over triage_info results recorded on the sandbox (tests/unit/fixtures/api_unavailable/, made by record.py there)
and over hostile variants of the healthy recording made by hand.
"""

from __future__ import annotations

import copy
import json
import pathlib
import typing as t

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.filter.api_unavailable_plan import FilterModule, api_unavailable_plan

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "api_unavailable"
OPTIONS = {"api_url": "http://127.0.0.1:3001", "project_name": "usdx-wexel", "project_src": "/srv/usdx",
           "files": ["compose.yaml"], "env_files": ["/srv/usdx/.env"]}


def recorded(name: str) -> dict[str, t.Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def decide(triage: t.Any, **options: t.Any) -> dict[str, t.Any]:
    return api_unavailable_plan(triage, {**OPTIONS, **options})


def actions(result: dict[str, t.Any]) -> dict[str, str]:
    return {name: service["action"] for name, service in result["services"].items()}


# ------------------------------------------------------------------ recorded on the sandbox

@pytest.mark.parametrize(
    ("name", "expected", "summary"),
    [
        ("healthy", {"indexer": "none", "webapp": "none"}, "HEALTHY"),
        ("indexer_lag", {"indexer": "none", "webapp": "none"}, "HEALTHY"),
        ("api_down", {"indexer": "start", "webapp": "none"}, "PLAN: start indexer"),
        ("db_connections_api_down", {"indexer": "refuse", "webapp": "none"}, "REFUSED: indexer"),
        ("webapp_killed", {"indexer": "none", "webapp": "start"}, "PLAN: start webapp"),
        ("db_connections", {"indexer": "refuse", "webapp": "none"}, "REFUSED: indexer"),
        ("rpc_down", {"indexer": "refuse", "webapp": "none"}, "REFUSED: indexer"),
        ("front_fault_closed_port", {"indexer": "none", "webapp": "none"}, "FAULT IN FRONT OF THE API"),
    ],
)
def test_recorded(name, expected, summary):
    doc = recorded(name)
    result = decide(doc["triage"], api_url=doc["recorded"]["api_url"], direct=doc["direct"])
    assert actions(result) == expected
    assert result["summary"].startswith(summary), result["summary"]
    assert result["healthy"] is (summary == "HEALTHY")
    assert result["incomplete"] == []
    assert result["start"] == [s for s, a in expected.items() if a == "start"]
    assert result["restart"] == []


def test_recorded_api_down_commands():
    result = decide(recorded("api_down")["triage"])
    indexer = result["services"]["indexer"]
    assert indexer["state"] == "exited" and indexer["exit_code"] == 137
    assert result["api"] == {**result["api"], "status": -1, "answered": False}
    assert result["runbook_commands"] == ["docker compose up -d --no-deps --no-recreate indexer"]
    assert result["commands"] == ["docker compose --project-name usdx-wexel --project-directory /srv/usdx --file compose.yaml "
                                  "--env-file /srv/usdx/.env up -d --no-deps --no-recreate indexer"]
    assert "indexer is exited (exit code 137)" in result["report"][1]


def test_recorded_crashed_indexer_is_not_started_into_a_full_database():
    """Cause outranks effect: the indexer died of the exhausted database; starting it again does not help."""
    result = decide(recorded("db_connections_api_down")["triage"])
    assert result["services"]["indexer"]["state"] == "exited"
    reason = result["refused"][0]["reason"]
    assert "the database is nearly out of connections (role usdx 13/15) and indexer's last run logged it" in reason
    assert "Database Connection Exhausted" in reason and result["start"] == []


def test_exhaustion_logged_before_the_last_run_does_not_count():
    """The same database, but the API's "too many connections" lines are older than its last start."""
    triage = recorded("db_connections_api_down")["triage"]
    triage["logs"]["services"]["indexer"]["causes"]["db_connections_exhausted"]["last_seen"] = "2026-01-01T00:00:00.1Z"
    assert decide(triage)["start"] == ["indexer"]


@pytest.mark.parametrize(("name", "failing"), [("db_connections", ["db"]), ("rpc_down", ["chain"])])
def test_recorded_failing_dependency_is_named(name, failing):
    result = decide(recorded(name)["triage"])
    assert result["failing_checks"] == failing
    assert f"does not repair {failing[0]}" in result["refused"][0]["reason"]


def test_recorded_front_fault_names_the_evidence():
    doc = recorded("front_fault_closed_port")
    result = decide(doc["triage"], api_url=doc["recorded"]["api_url"], direct=doc["direct"])
    assert result["direct"]["status"] == 200 and result["api"]["status"] == -1
    assert "in front of the API (DNS, TLS, load balancer, network)" in result["front_fault"]
    assert "http://127.0.0.1:9/health did not answer" in result["front_fault"]
    assert "http://127.0.0.1:3001/health answered 200" in result["front_fault"]


def test_recorded_front_fault_without_the_direct_probe_asks_for_it():
    doc = recorded("front_fault_closed_port")
    for direct in (None, {"changed": False, "skipped": True}):
        result = decide(doc["triage"], api_url=doc["recorded"]["api_url"], direct=direct)
        assert result["probe_url"] == "http://127.0.0.1:3001"
        assert actions(result)["indexer"] == "refuse" and result["front_fault"] is None


# ------------------------------------------------------------------ hand-made, from the healthy recording

def healthy() -> dict[str, t.Any]:
    return copy.deepcopy(recorded("healthy")["triage"])


def edit(**changes: t.Callable[[dict[str, t.Any]], None]) -> t.Callable[[], dict[str, t.Any]]:
    def make() -> dict[str, t.Any]:
        triage = healthy()
        for change in changes.values():
            change(triage)
        return triage
    return make


def svc(name: str, **fields: t.Any) -> t.Callable[[dict[str, t.Any]], None]:
    def change(triage: dict[str, t.Any]) -> None:
        triage["services"]["services"][name].update(fields)
    return change


def put(key: str, value: t.Any) -> t.Callable[[dict[str, t.Any]], None]:
    def change(triage: dict[str, t.Any]) -> None:
        if value is None:
            triage.pop(key, None)
        else:
            triage[key] = value
    return change


def api(status: int, body: t.Any = None, msg: str = "") -> t.Callable[[dict[str, t.Any]], None]:
    def change(triage: dict[str, t.Any]) -> None:
        triage["api"] = {"changed": False, "status": status, "url": "http://127.0.0.1:3001/health", "msg": msg,
                         "healthy": 200 <= status < 300, **({"json": body} if body is not None else {})}
    return change


def drop_service(name: str) -> t.Callable[[dict[str, t.Any]], None]:
    def change(triage: dict[str, t.Any]) -> None:
        del triage["services"]["services"][name]
    return change


EXITED = {"state": "exited", "running": False, "exit_code": 137, "health": "unhealthy"}
DB_DOWN = {"status": "error", "checks": {"db": "too many connections", "redis": "ok", "chain": "ok"}}
FAILED = {"changed": False, "failed": True, "msg": "docker: permission denied while trying to connect"}
NO_PORTS = {"ports": []}

CASES = [
    # (id, triage, options, expected actions, expected text in the summary)
    ("services check failed", edit(s=put("services", FAILED)), {},
     {"indexer": "refuse", "webapp": "refuse"}, "check services: docker: permission denied"),
    ("services check timed out", edit(s=put("services", {**FAILED, "timed_out": True})), {},
     {"indexer": "refuse", "webapp": "refuse"}, "check services: timed out"),
    ("services check partial", edit(s=put("services", {**healthy()["services"], "partial": ["image of db not read"]})), {},
     {"indexer": "refuse", "webapp": "refuse"}, "partial: image of db not read"),
    ("services vanished", edit(s=put("services", {**healthy()["services"], "vanished": ["abc"]})), {},
     {"indexer": "refuse", "webapp": "refuse"}, "vanished between listing and inspecting"),
    ("project not found", edit(s=put("services", {**healthy()["services"], "services": {}, "project_found": False})), {},
     {"indexer": "refuse", "webapp": "refuse"}, "wrong project name or Docker host"),
    ("services not a dict", edit(s=put("services", ["nonsense"])), {},
     {"indexer": "refuse", "webapp": "refuse"}, "unreadable result"),
    ("services.services garbage", edit(s=put("services", {"services": "nonsense"})), {},
     {"indexer": "refuse", "webapp": "refuse"}, "no services in the result"),
    ("api check failed", edit(a=put("api", FAILED)), {},
     {"indexer": "refuse", "webapp": "none"}, "check api: docker: permission denied"),
    ("api check absent", edit(a=put("api", None)), {},
     {"indexer": "refuse", "webapp": "none"}, "check api: no result: the check did not run"),
    ("logs check failed", edit(l=put("logs", FAILED)), {},
     {"indexer": "refuse", "webapp": "refuse"}, "check logs"),
    ("logs asked for, no result", edit(l=put("logs", None), c=put("checks", ["services", "api", "webapp", "logs"])), {},
     {"indexer": "refuse", "webapp": "refuse"}, "check logs: no result: the check did not run"),
    ("logs timed out", edit(l=put("logs", {**FAILED, "timed_out": True, "msg": "logs: given up after 20 s"})), {},
     {"indexer": "refuse", "webapp": "refuse"}, "check logs: timed out: logs: given up after 20 s"),
    ("webapp check failed", edit(w=put("webapp", FAILED)), {},
     {"indexer": "none", "webapp": "refuse"}, "check webapp"),
    ("indexer Docker-unhealthy, API 200", edit(i=svc("indexer", health="unhealthy", health_last_output="curl: (28)")), {},
     {"indexer": "restart", "webapp": "none"}, "PLAN: start none; restart indexer"),
    ("indexer Docker-unhealthy, /health names db", edit(i=svc("indexer", health="unhealthy"), a=api(503, DB_DOWN)), {},
     {"indexer": "refuse", "webapp": "none"}, "does not repair db"),
    ("webapp Docker-unhealthy", edit(w=svc("webapp", health="unhealthy")), {},
     {"indexer": "none", "webapp": "restart"}, "restart webapp"),
    ("webapp maintenance page, container healthy", edit(p=put("webapp", {"status": 503, "msg": "HTTP Error 503", "url": "u"})), {},
     {"indexer": "none", "webapp": "none"}, "maintenance mode?"),
    ("API answers 500 on its own port", edit(a=api(500, msg="HTTP Error 500")), {},
     {"indexer": "restart", "webapp": "none"}, "its own port fails"),
    ("API does not answer on its own port", edit(a=api(-1, msg="timed out")), {},
     {"indexer": "restart", "webapp": "none"}, "did not answer (timed out)"),
    ("indexer starting, no answer yet", edit(i=svc("indexer", health="starting"), a=api(-1)), {},
     {"indexer": "none", "webapp": "none"}, "verify waits for it"),
    ("indexer restarting", edit(i=svc("indexer", running=False, restarting=True, state="restarting", restart_count=7)), {},
     {"indexer": "restart", "webapp": "none"}, "restarting (restart count 7)"),
    ("indexer container removed", edit(d=drop_service("indexer"), a=api(-1)), {},
     {"indexer": "start", "webapp": "none"}, "PLAN: start indexer"),
    ("indexer OOM-killed", edit(i=svc("indexer", **EXITED, oom_killed=True), a=api(-1)), {},
     {"indexer": "start", "webapp": "none"}, "PLAN: start indexer"),
    ("db down, indexer exited", edit(i=svc("indexer", **EXITED), d=svc("db", **EXITED), a=api(-1)), {},
     {"indexer": "refuse", "webapp": "none"}, "its dependencies are down (db is exited"),
    ("redis unhealthy, indexer Docker-unhealthy", edit(i=svc("indexer", health="unhealthy"), r=svc("redis", health="unhealthy")), {},
     {"indexer": "refuse", "webapp": "none"}, "redis is running (unhealthy)"),
    ("db outside the project, indexer exited", edit(i=svc("indexer", **EXITED), d=drop_service("db"), a=api(-1)), {},
     {"indexer": "start", "webapp": "none"}, "PLAN: start indexer"),
    ("database out of connections, indexer exited",
     edit(i=svc("indexer", **EXITED), a=api(-1), p=put("postgres", {"is_available": True, "exhausted": True, "max_connections": 20,
                                                                    "available_connections": 0, "role_limits": []})), {},
     {"indexer": "refuse", "webapp": "none"}, "the database is out of connections (0 of 20 connections free)"),
    ("database refuses connections, indexer Docker-unhealthy",
     edit(i=svc("indexer", health="unhealthy"), p=put("postgres", {"is_available": False, "exhausted": False, "error": "timeout"})), {},
     {"indexer": "refuse", "webapp": "none"}, "the database does not accept connections (timeout)"),
    ("database nearly full, the API's last run logged no exhaustion",
     edit(i=svc("indexer", **EXITED), a=api(-1), p=put("postgres", {"is_available": True, "exhausted": False, "use_percent": 95.0})), {},
     {"indexer": "start", "webapp": "none"}, "PLAN: start indexer"),
    ("postgres check failed, indexer exited", edit(i=svc("indexer", **EXITED), a=api(-1), p=put("postgres", FAILED)), {},
     {"indexer": "start", "webapp": "none"}, "check postgres incomplete"),
    ("postgres fields of the wrong types, indexer exited",
     edit(i=svc("indexer", **EXITED), a=api(-1), p=put("postgres", {"exhausted": "yes", "is_available": "no", "role_limits": 5})), {},
     {"indexer": "start", "webapp": "none"}, "PLAN: start indexer"),
    ("postgres exhausted with odd role limits, indexer exited",
     edit(i=svc("indexer", **EXITED), a=api(-1), p=put("postgres", {"exhausted": True, "role_limits": 5, "use_percent": "x"})), {},
     {"indexer": "refuse", "webapp": "none"}, "the database is out of connections (no connection free)"),
    ("indexer paused", edit(i=svc("indexer", state="paused"), a=api(-1)), {},
     {"indexer": "refuse", "webapp": "none"}, "does not unpause"),
    ("LB fails, own port not published, Docker healthy", edit(i=svc("indexer", **NO_PORTS), a=api(502, msg="Bad Gateway")),
     {"api_url": "https://api.example.com"},
     {"indexer": "none", "webapp": "none"}, "FAULT IN FRONT OF THE API"),
    ("LB fails, own port not published, no healthcheck", edit(i=svc("indexer", health=None, **NO_PORTS), a=api(502)),
     {"api_url": "https://api.example.com"},
     {"indexer": "refuse", "webapp": "none"}, "Docker health is not configured"),
    ("LB fails, two published ports, none chosen",
     edit(i=svc("indexer", health=None, ports=[{"container_port": 3001, "host_port": 3001, "host_ip": "0.0.0.0"},
                                               {"container_port": 9100, "host_port": 9100, "host_ip": "0.0.0.0"}]),
          a=api(502)),
     {"api_url": "https://api.example.com"},
     {"indexer": "refuse", "webapp": "none"}, "set api_unavailable_api_port"),
    ("health body of odd shapes", edit(a=api(200, ["not", "a", "dict"])), {},
     {"indexer": "none", "webapp": "none"}, "HEALTHY"),
    ("health checks not a dict", edit(a=api(200, {"checks": "all good"})), {},
     {"indexer": "none", "webapp": "none"}, "HEALTHY"),
    ("health check value null", edit(a=api(503, {"checks": {"db": None}})), {},
     {"indexer": "refuse", "webapp": "none"}, "does not repair db"),
    ("container fields of the wrong types",
     edit(i=svc("indexer", state=5, running="yes", health=["x"], exit_code="1", ports="3001", restart_count=None), a=api(-1)), {},
     {"indexer": "start", "webapp": "none"}, "PLAN: start indexer"),
]


@pytest.mark.parametrize(("triage", "options", "expected", "text"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_hand_made(triage, options, expected, text):
    result = decide(triage(), **options)
    assert actions(result) == expected
    assert text in result["summary"] or any(text in line for line in result["report"]), result["report"]
    assert result["healthy"] is (text == "HEALTHY")
    assert result["start"] == [s for s, a in expected.items() if a == "start"]
    assert result["restart"] == [s for s, a in expected.items() if a == "restart"]
    assert [r["service"] for r in result["refused"]] == [s for s, a in expected.items() if a == "refuse"]


@pytest.mark.parametrize(
    ("direct", "action", "text"),
    [
        ({"api": {"status": 200, "url": "http://127.0.0.1:3001/health", "json": {"checks": {"db": "ok"}}}}, "none",
         "the container's own port answers: http://127.0.0.1:3001/health answered 200"),
        ({"api": {"status": -1, "url": "http://127.0.0.1:3001/health", "msg": "Connection refused"}}, "restart",
         "did not answer (Connection refused)"),
        ({"api": {"status": 503, "url": "http://127.0.0.1:3001/health", "json": DB_DOWN}}, "refuse", "does not repair db"),
        ({"api": FAILED}, "refuse", "the probe of the container's own port http://127.0.0.1:3001 failed"),
        ({"status": 200, "url": "http://127.0.0.1:3001/health"}, "none", "FAULT IN FRONT OF THE API"),
    ],
    ids=["answers", "does not answer", "names db", "probe failed", "bare api result"],
)
def test_direct_probe_decides_behind_a_load_balancer(direct, action, text):
    triage = edit(a=api(502, msg="HTTP Error 502: Bad Gateway"))()
    result = decide(triage, api_url="https://api.example.com", direct=direct)
    assert actions(result)["indexer"] == action
    assert any(text in line for line in result["report"]), result["report"]
    assert result["probe_url"] is None and result["healthy"] is False


@pytest.mark.parametrize(
    ("host_ip", "api_port", "probe_url"),
    [("0.0.0.0", None, "http://127.0.0.1:13001"), ("::", None, "http://[::1]:13001"), (None, None, "http://127.0.0.1:13001"),
     ("10.0.0.5", 3001, "http://10.0.0.5:13001")],
)
def test_probe_url_from_the_published_port(host_ip, api_port, probe_url):
    triage = edit(i=svc("indexer", ports=[{"container_port": 3001, "host_port": 13001, "host_ip": host_ip, "protocol": "tcp"}]),
                  a=api(502))()
    result = decide(triage, api_url="https://api.example.com", api_port=api_port)
    assert result["probe_url"] == probe_url


@pytest.mark.parametrize("binding", [{"host_ip": "localhost; id", "host_port": 13001}, {"host_ip": "127.0.0.1", "host_port": True},
                                     {"host_ip": "127.0.0.1", "host_port": 70000}, {"host_ip": ["x"], "host_port": 13001}])
def test_odd_port_bindings_give_no_probe_url(binding):
    triage = edit(i=svc("indexer", health=None, ports=[{"container_port": 3001, "protocol": "tcp", **binding}]), a=api(502))()
    result = decide(triage, api_url="https://api.example.com")
    assert result["probe_url"] is None and actions(result)["indexer"] == "refuse"


def test_api_port_picks_one_of_several():
    ports = [{"container_port": 9100, "host_port": 19100, "host_ip": "127.0.0.1"},
             {"container_port": 3001, "host_port": 13001, "host_ip": "127.0.0.1"}]
    triage = edit(i=svc("indexer", ports=ports), a=api(502))()
    assert decide(triage, api_url="https://lb", api_port=3001)["probe_url"] == "http://127.0.0.1:13001"
    assert decide(triage, api_url="https://lb")["probe_url"] is None


def test_verify_accepts_a_starting_container_that_answers():
    """Verify judges with the same function: Docker health "starting" with /health 200 is healthy."""
    triage = edit(i=svc("indexer", health="starting"), l=put("logs", None), c=put("checks", ["services", "api", "webapp"]))()
    assert decide(triage)["healthy"] is True


@pytest.mark.parametrize(("restart", "withheld"), [(True, False), (False, True)])
def test_gate(restart, withheld):
    result = decide(recorded("api_down")["triage"], restart=restart)
    assert result["withheld"] is withheld and result["start"] == ["indexer"]


def test_gate_on_a_refusal_is_not_withheld():
    assert decide(recorded("db_connections")["triage"], restart=False)["withheld"] is False


def test_recreate_drops_no_recreate():
    assert decide(recorded("api_down")["triage"], recreate=True)["runbook_commands"] == ["docker compose up -d --no-deps indexer"]


def test_exact_commands_are_shell_quoted():
    result = decide(recorded("api_down")["triage"], project_src="/srv/my stack; rm -rf /")
    assert "--project-directory '/srv/my stack; rm -rf /'" in result["commands"][0]


def test_credentials_in_the_url_are_masked():
    triage = edit(a=api(-1, msg="Request failed for https://ops:s3cret@api.example.com/health"))()
    triage["api"]["url"] = "https://ops:s3cret@api.example.com/health"
    result = decide(triage, api_url="https://ops:s3cret@api.example.com")
    assert "s3cret" not in json.dumps(result)


def test_logs_are_reported_by_level_as_data():
    triage = healthy()
    triage["logs"]["services"]["indexer"].update(
        by_level={"ERROR": 2, "FATAL": 0, "INFO": 9}, causes={"db_connections_exhausted": {}},
        signatures=[{"level": "ERROR", "count": 2, "sample": "{{ lookup('pipe', 'id') }} too many clients"},
                    {"level": "INFO", "count": 9, "sample": "hello"}])
    result = decide(triage)
    assert result["log_errors"]["indexer"]["counts"] == {"ERROR": 2}
    assert [s["sample"] for s in result["log_errors"]["indexer"]["signatures"]] == ["{{ lookup('pipe', 'id') }} too many clients"]
    assert "indexer logs: ERROR 2; known causes: db_connections_exhausted" in result["report"]


@pytest.mark.parametrize(
    ("triage", "options", "message"),
    [
        ("x", {}, "the input must be a usdx.incident.triage_info result"),
        ({}, {"colour": "red"}, "unknown option 'colour'; accepted options are"),
        ({}, {"services": ["indexer", "db"]}, "services must be a non-empty list without db"),
        ({}, {"services": "indexer"}, "services must be a list of strings"),
        ({}, {"api_service": "db"}, "api_service must be one of services"),
        ({}, {"api_url": "ftp://x"}, "api_url must be an http(s) URL with a host, got 'ftp://x'"),
        ({}, {"api_url": "http://x:99999"}, "api_url must be an http(s) URL with a host, got 'http://x:99999'"),
        ({}, {"api_url": "http://u:s3cret@"}, "api_url must be an http(s) URL with a host, got 'http://********@'"),
        ({}, {"log_levels": ["ERROR", "PANIC"]}, "log_levels has 'PANIC'; accepted values are DEBUG, INFO, WARN, ERROR, FATAL"),
        ({}, {"api_port": 0}, "api_port must be an integer from 1 to 65535, got 0"),
        ({}, {"log_max_lines": True}, "log_max_lines must be an integer from 1 to 500"),
        ({}, {"restart": "yes"}, "restart must be true or false, got 'yes'"),
        ({}, {"project_name": ""}, "project_name must be a non-empty string"),
    ],
)
def test_bad_input_is_one_line_naming_it(triage, options, message):
    with pytest.raises(AnsibleFilterError, match="^api_unavailable_plan: ") as info:
        decide(triage, **options)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_options_must_be_a_dict():
    with pytest.raises(AnsibleFilterError, match="options must be a dict, got 'x'"):
        api_unavailable_plan({}, "x")


def test_filter_is_registered():
    assert FilterModule().filters()["api_unavailable_plan"] is api_unavailable_plan
