# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""What the runbook scenario "API Unavailable" does, decided from a usdx.incident.triage_info result.

One function, L(plan), turns the triage (checks C(services), C(api), C(webapp), C(logs)) and, when it was needed,
a second C(api) probe of the API container's own published port into a decision per service: V(start),
V(restart), V(none) or V(refuse), each with its reasons, and the exact C(docker compose) commands of the fix.
The role api_unavailable only wires modules to it; the same function judges the stack again during verify
(C(healthy)).

Rules, in the order they apply to one service:

- a check covering the service (L(_runbook.CHECK_COVERS)) failed, timed out or is partial: V(refuse);
- no container, or not running: V(start) (C(docker compose up -d --no-deps --no-recreate)), unless a
  dependency of the API service is down, or the database (check C(postgres), when run) is out of connections,
  refuses them, or is nearly full while the API's last run logged "too many connections" (starting the API
  into it does not make it available: cause outranks effect): V(refuse);
- running, and the API health (L(_runbook.health_verdict)) names a failing dependency: V(refuse);
- running and Docker health V(unhealthy): V(restart) (same dependency guard);
- the API service running, its configured URL failing: the container's own published port decides. It answers
  a healthy C(/health): V(none), the fault is in front of the API (DNS, TLS, load balancer, network). It does
  not answer, or answers an error: V(restart). No port to probe: Docker health V(healthy) counts as the
  container's own evidence; without it V(refuse).

Host data (log lines, health bodies, error texts) is data of any shape: it is read leniently and never raises;
only the options (the user's input) raise AnsibleFilterError.
"""

from __future__ import annotations

import ipaddress
import shlex
import typing as t
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.module_utils import _runbook
from ansible_collections.usdx.incident.plugins.module_utils._docker import parse_docker_time
from ansible_collections.usdx.incident.plugins.module_utils._redact import redact_text, redact_url
from ansible_collections.usdx.incident.plugins.plugin_utils._values import as_mapping, as_number, show

NAME = "api_unavailable_plan"
ACTIONS = ("start", "restart", "none", "refuse")
# The checks the role asks triage_info for; the first two decide, so their absence is a failure of its own.
DECISIVE_CHECKS = ("services", "api")
OPTIONAL_CHECKS = ("webapp", "logs", "postgres")
LOG_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR", "FATAL")
# Connection use (of max_connections or of a role's limit) from which a database counts as nearly full - the
# severity filter's pg_high_percent - when the API's own last run died amid "too many connections".
NEARLY_FULL_PERCENT = 80.0
# Hosts that mean "every address" in a port binding: the container is reached on the loopback address.
ANY_ADDRESS = {None: "127.0.0.1", "": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}
DEFAULTS: dict[str, t.Any] = {
    "services": ["indexer", "webapp"],
    "api_service": "indexer",
    "api_url": None,
    "api_port": None,
    "dependencies": ["db", "redis", "chain"],
    "restart": True,
    "recreate": False,
    "project_name": None,
    "project_src": None,
    "files": [],
    "env_files": [],
    "log_levels": ["ERROR", "FATAL"],
    "log_max_lines": 10,
    "direct": None,
}


# --------------------------------------------------------------------------------------------- options


def _str_list(value: t.Any, key: str) -> list[str]:
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)) or not all(isinstance(v, str) for v in value):
        raise AnsibleFilterError(f"{NAME}: {key} must be a list of strings, got {show(value)}")
    return list(value)


def read_options(options: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The options over DEFAULTS; raises AnsibleFilterError naming the bad option and what it accepts."""
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise AnsibleFilterError(f"{NAME}: unknown option {show(unknown[0])}; accepted options are {', '.join(sorted(DEFAULTS))}")
    opts = {**DEFAULTS, **options}
    for key in ("services", "dependencies", "files", "env_files", "log_levels"):
        opts[key] = _str_list(opts[key], key)
    if not opts["services"] or "db" in opts["services"]:
        raise AnsibleFilterError(f"{NAME}: services must be a non-empty list without db, got {show(opts['services'])}")
    if opts["api_service"] not in opts["services"]:
        raise AnsibleFilterError(f"{NAME}: api_service must be one of services {opts['services']}, got {show(opts['api_service'])}")
    bad_levels = [level for level in opts["log_levels"] if level not in LOG_LEVELS]
    if bad_levels:
        raise AnsibleFilterError(f"{NAME}: log_levels has {show(bad_levels[0])}; accepted values are {', '.join(LOG_LEVELS)}")
    url = opts["api_url"]
    if not _http_url(url):
        raise AnsibleFilterError(f"{NAME}: api_url must be an http(s) URL with a host, got {show(redact_url(str(url)))}")
    for key in ("restart", "recreate"):
        if not isinstance(opts[key], bool):
            raise AnsibleFilterError(f"{NAME}: {key} must be true or false, got {show(opts[key])}")
    for key, low, high in (("api_port", 1, 65535), ("log_max_lines", 1, 500)):
        value = opts[key]
        if value is None and key == "api_port":
            continue
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise AnsibleFilterError(f"{NAME}: {key} must be an integer from {low} to {high}, got {show(value)}")
    for key in ("project_name", "project_src"):
        if not isinstance(opts[key], str) or not opts[key]:
            raise AnsibleFilterError(f"{NAME}: {key} must be a non-empty string, got {show(opts[key])}")
    return opts


def _http_url(url: t.Any) -> bool:
    if not isinstance(url, str):
        return False
    try:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port is None or parts.port > 0)
    except ValueError:  # a port that is not a number or out of range
        return False


# ------------------------------------------------------------------------------------ reading host data


def _text(value: t.Any, limit: int = 300) -> str:
    text = redact_text("" if value is None else str(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_problem(name: str, doc: t.Any) -> str | None:
    """Why the check's result cannot be trusted, or None. A missing decisive check is a problem of its own."""
    if doc is None:
        return "no result: the check did not run" if name in DECISIVE_CHECKS else None
    if not isinstance(doc, Mapping):
        return f"unreadable result {show(doc, 80)}"
    if doc.get("timed_out") is True:
        return "timed out" + (f": {_text(doc.get('msg'))}" if doc.get("msg") else "")
    if doc.get("failed") is True:
        return _text(doc.get("msg")) or "failed without a message"
    partial = doc.get("partial")
    if partial:
        reasons = partial if isinstance(partial, Sequence) and not isinstance(partial, (str, bytes)) else [partial]
        return "partial: " + "; ".join(_text(reason) for reason in reasons)
    if name == "services":
        if not isinstance(doc.get("services"), Mapping):
            return "no services in the result"
        if doc.get("vanished"):
            return f"{len(doc['vanished']) if isinstance(doc['vanished'], list) else 'some'} container(s) vanished between listing and inspecting"
        if doc.get("project_found") is False:
            # A wrong project name or Docker host would otherwise have every service created anew.
            return f"no container of project {_text(doc.get('project_name'))!r} found: wrong project name or Docker host?"
    return None


def probe_view(doc: t.Any) -> dict[str, t.Any]:
    """An C(api)/C(webapp) result (triage_info's, or uri's) judged by THE /health rule."""
    doc = as_mapping(doc)
    status = doc.get("status", doc.get("status_code"))
    verdict = _runbook.health_verdict(status, doc.get("json"))
    return {
        "url": redact_url(str(doc.get("url") or "")),
        "status": verdict["status_code"] if verdict["answered"] else -1,
        "answered": verdict["answered"],
        "healthy": verdict["healthy"],
        "failing": verdict["failing"],
        "msg": _text(doc.get("msg")),
    }


def describe_probe(view: Mapping[str, t.Any]) -> str:
    if not view["answered"]:
        return f"{view['url']} did not answer ({view['msg'] or 'no message'})"
    text = f"{view['url']} answered {view['status']}"
    if view["failing"]:
        text += " naming failing checks " + ", ".join(f"{k}: {v}" for k, v in sorted(view["failing"].items()))
    elif not view["healthy"] and view["msg"]:
        text += f" ({view['msg']})"
    return text


def container_view(name: str, doc: t.Any) -> dict[str, t.Any]:
    """The fields of one compose_service_info service the decision and the report use."""
    doc = as_mapping(doc)
    health = doc.get("health")
    return {
        "service": name,
        "container": _text(doc.get("container")) or None,
        "container_id": _text(doc.get("container_id")) or None,
        "state": _text(doc.get("state")) or "missing",
        "running": doc.get("running") is True,
        "restarting": doc.get("restarting") is True,
        "health": health if isinstance(health, str) else None,
        "health_last_output": _text(doc.get("health_last_output")) or None,
        "exit_code": doc.get("exit_code") if isinstance(doc.get("exit_code"), int) else None,
        "oom_killed": doc.get("oom_killed") is True,
        "restart_count": doc.get("restart_count") if isinstance(doc.get("restart_count"), int) else 0,
        "memory_limit_set": doc.get("memory_limit_set") is True,
        "started_at": doc.get("started_at") if isinstance(doc.get("started_at"), str) else None,
        "finished_at": doc.get("finished_at") if isinstance(doc.get("finished_at"), str) else None,
        "ports": [p for p in doc.get("ports") or [] if isinstance(p, Mapping)] if isinstance(doc.get("ports"), list) else [],
    }


def direct_base_url(container: Mapping[str, t.Any], api_port: int | None) -> tuple[str | None, str]:
    """The base URL of the container's own published API port on the host, or (None, why there is none)."""
    ports = [p for p in container["ports"] if p.get("protocol", "tcp") == "tcp" and _port(p.get("host_port"))]
    if api_port is not None:
        ports = [p for p in ports if p.get("container_port") == api_port]
    if len(ports) != 1:
        wanted = f"container port {api_port}" if api_port is not None else "API port"
        found = ", ".join(f"{p.get('container_port')}->{p.get('host_port')}" for p in ports) or "none"
        return None, f"cannot tell which published port is the {wanted} (published: {found}; set api_unavailable_api_port)"
    host = ports[0].get("host_ip")
    if host is None or (isinstance(host, str) and host in ANY_ADDRESS):
        host = ANY_ADDRESS[host]
    try:
        if not isinstance(host, str):
            raise ValueError(host)
        address = ipaddress.ip_address(host)
    except ValueError:
        return None, f"the published port's host address {show(host, 80)} is not an IP address"
    host = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{host}:{ports[0]['host_port']}", ""


def _port(value: t.Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536


def same_endpoint(url_a: str, url_b: str) -> bool:
    a, b = urlsplit(url_a), urlsplit(url_b)
    default = {"http": 80, "https": 443}
    return (a.scheme, a.hostname, a.port or default.get(a.scheme)) == (b.scheme, b.hostname, b.port or default.get(b.scheme))


def log_errors(logs: Mapping[str, t.Any], services: Sequence[str], levels: Sequence[str], limit: int) -> dict[str, t.Any]:
    """Per service: line counts of the chosen levels, the most frequent signatures of those levels, the known causes."""
    found = {}
    for name in services:
        doc = as_mapping(as_mapping(logs.get("services")).get(name))
        if not doc:
            continue
        counts = {level: n for level, n in as_mapping(doc.get("by_level")).items() if level in levels and isinstance(n, int) and n}
        raw_signatures = doc.get("signatures") if isinstance(doc.get("signatures"), list) else []
        signatures = [
            {key: _text(value, 500) if isinstance(value, str) else value for key, value in sig.items()}
            for sig in raw_signatures if isinstance(sig, Mapping) and sig.get("level", levels[0] if levels else None) in levels
        ][:limit]
        causes = sorted(str(cause) for cause in as_mapping(doc.get("causes")))
        if counts or signatures or causes:
            found[name] = {"counts": counts, "signatures": signatures, "causes": causes}
    return found


# --------------------------------------------------------------------------------------------- decision


def guard_reason(doing: str, name: str, guard: list[str]) -> str:
    return (f"not {doing} {name}: its dependencies are down ({'; '.join(guard)}); follow the runbook scenario of the "
            "dependency first (for the database: Database Connection Exhausted)")


class _Decider:
    def __init__(self, triage: Mapping[str, t.Any], opts: Mapping[str, t.Any]) -> None:
        self.opts = opts
        self.triage = triage
        # triage_info names the checks it was asked for: one of them without a result did not run.
        asked = triage.get("checks") if isinstance(triage.get("checks"), list) else []
        self.incomplete = []
        for name in (*DECISIVE_CHECKS, *OPTIONAL_CHECKS):
            reason = check_problem(name, triage.get(name))
            if reason is None and name in asked and triage.get(name) is None:
                reason = "no result: the check did not run"
            if reason is not None:
                self.incomplete.append({"check": name, "reason": reason})
        services_doc = as_mapping(triage.get("services"))
        found = as_mapping(services_doc.get("services"))
        self.all_containers = {str(name): container_view(str(name), doc) for name, doc in found.items()}
        self.containers = {name: self.all_containers.get(name) or container_view(name, None) for name in opts["services"]}
        self.api = probe_view(triage.get("api"))
        self.webapp = probe_view(triage.get("webapp")) if triage.get("webapp") is not None else None
        self.direct: dict[str, t.Any] | None = None
        self.probe_url: str | None = None
        self.front_fault: str | None = None

    def unknown_services(self) -> dict[str, list[str]]:
        """Service -> the checks covering it that could not be trusted."""
        unknown: dict[str, list[str]] = {}
        for entry in self.incomplete:
            for service in _runbook.CHECK_COVERS.get(entry["check"], ()):
                unknown.setdefault(service, []).append(f"check {entry['check']}: {entry['reason']}")
        return unknown

    def database_refuses(self) -> str | None:
        """Why the database refuses the API's connections (the C(postgres) check), or None."""
        doc = self.triage.get("postgres")
        if check_problem("postgres", doc) is not None or not isinstance(doc, Mapping):
            return None
        role_limits = [r for r in doc.get("role_limits") or [] if isinstance(r, Mapping)] if isinstance(doc.get("role_limits"), list) else []
        if doc.get("exhausted") is True:
            limits = [r for r in role_limits if r.get("at_limit") is True]
            free, most = as_number(doc.get("available_connections")), as_number(doc.get("max_connections"))
            where = (", ".join(f"role {_text(r.get('user'))} at its limit of {_text(r.get('limit'))}" for r in limits)
                     or (f"{free:g} of {most:g} connections free" if free is not None and most is not None else "no connection free"))
            return f"the database is out of connections ({where})"
        if doc.get("is_available") is False:
            return f"the database does not accept connections ({_text(doc.get('error')) or 'no error text'})"
        fullest = max([(as_number(doc.get("use_percent")) or 0.0, f"{as_number(doc.get('use_percent'))}% of max_connections")]
                      + [(as_number(r.get("use_percent")) or 0.0,
                          f"role {_text(r.get('user'))} {_text(r.get('connections'))}/{_text(r.get('limit'))}")
                         for r in role_limits])
        crash = self.api_run_logged_exhaustion()
        if fullest[0] >= NEARLY_FULL_PERCENT and crash:
            return f"the database is nearly out of connections ({fullest[1]}) and {crash}"
        return None

    def api_run_logged_exhaustion(self) -> str | None:
        """The API container's last run logged "too many connections" (evidence older than that run is not counted)."""
        name = self.opts["api_service"]
        started = parse_docker_time(self.containers[name]["started_at"])
        logs = as_mapping(as_mapping(as_mapping(self.triage.get("logs")).get("services")).get(name))
        evidence = as_mapping(as_mapping(logs.get("causes")).get("db_connections_exhausted"))
        seen = parse_docker_time(evidence.get("last_seen") if isinstance(evidence.get("last_seen"), str) else None)
        if started is None or seen is None or seen < started:
            return None
        return (f"{name}'s last run logged it {_text(evidence.get('count'))} time(s), last at {evidence['last_seen']}: "
                f"{_text(evidence.get('sample'))}")

    def dependencies_down(self) -> list[str]:
        down = []
        refusing = self.database_refuses()
        if refusing:
            down.append(refusing)
        for name in self.opts["dependencies"]:
            dep = self.all_containers.get(name)
            if dep is None:
                continue  # not in this project (an external database): /health speaks for it
            if not dep["running"] or dep["health"] == "unhealthy":
                down.append(f"{name} is {dep['state']}" + (f" ({dep['health']})" if dep["health"] else ""))
        return down

    def decide(self, name: str) -> tuple[str, list[str]]:
        container = self.containers[name]
        unknown = self.unknown_services().get(name)
        if unknown:
            return "refuse", [f"cannot judge {name}: " + "; ".join(unknown)]
        is_api = name == self.opts["api_service"]
        guard = self.dependencies_down() if is_api else []
        if container["state"] == "missing" or not container["running"] or container["restarting"]:
            action = "restart" if container["restarting"] else "start"
            reason = self.not_running_reason(container)
            if guard:
                return "refuse", [reason, guard_reason(f"{action}ing", name, guard)]
            return action, [reason]
        if container["state"] == "paused":
            return "refuse", [f"{name} is paused: this role does not unpause containers (docker compose unpause {name})"]
        if is_api:
            return self.decide_api(container, guard)
        if container["health"] == "unhealthy":
            return "restart", [self.unhealthy_reason(container)]
        if self.webapp is not None and name in _runbook.CHECK_COVERS["webapp"] and not self.webapp["healthy"]:
            return "none", [f"{describe_probe(self.webapp)} but the container is running and not unhealthy "
                            "(maintenance mode?): reported only"]
        return "none", [f"{name} is running" + (f", Docker health {container['health']}" if container["health"] else "")]

    @staticmethod
    def not_running_reason(container: Mapping[str, t.Any]) -> str:
        name = container["service"]
        if container["state"] == "missing":
            return f"{name} has no container"
        if container["restarting"]:
            return f"{name} is restarting (restart count {container['restart_count']})"
        reason = f"{name} is {container['state']}"
        if container["exit_code"] is not None:
            reason += f" (exit code {container['exit_code']})"
        if container["oom_killed"]:
            reason += ("; it was killed by the kernel OOM killer: raise its memory limit in the Compose file "
                       "(this role does not edit Compose files)")
        return reason

    @staticmethod
    def unhealthy_reason(container: Mapping[str, t.Any]) -> str:
        reason = f"{container['service']} runs but Docker health is unhealthy"
        if container["health_last_output"]:
            reason += f" (last check: {container['health_last_output']})"
        return reason

    def decide_api(self, container: Mapping[str, t.Any], guard: list[str]) -> tuple[str, list[str]]:
        name = container["service"]
        failing = {**(self.direct or {}).get("failing", {}), **self.api["failing"]}
        if failing:
            names = ", ".join(sorted(failing))
            return "refuse", [f"{describe_probe(self.api)}: a restart of {name} does not repair {names}; follow the "
                              "runbook scenario of the failing dependency (for db: Database Connection Exhausted)"]
        if container["health"] == "unhealthy":
            if guard:
                return "refuse", [self.unhealthy_reason(container), guard_reason("restarting", name, guard)]
            return "restart", [self.unhealthy_reason(container)]
        if self.api["healthy"]:
            return "none", [f"{describe_probe(self.api)}"]
        if container["health"] == "starting":
            return "none", [f"{describe_probe(self.api)}; {name} is starting (Docker health starting): verify waits for it"]
        return self.judge_own_port(container, guard)

    def judge_own_port(self, container: Mapping[str, t.Any], guard: list[str]) -> tuple[str, list[str]]:
        name = container["service"]
        configured = self.opts["api_url"]
        base, why_none = direct_base_url(container, self.opts["api_port"])
        if base is None:
            if container["health"] == "healthy":
                self.front_fault = (f"{describe_probe(self.api)}, but {name} runs and Docker health says healthy "
                                    f"({why_none}): the fault is in front of the API (DNS, TLS, load balancer, network)")
                return "none", [self.front_fault]
            return "refuse", [f"{describe_probe(self.api)}; cannot tell whether {name} or what is in front of it fails: "
                              f"{why_none}, and Docker health is {container['health'] or 'not configured'}"]
        if same_endpoint(base, configured):
            direct = self.api
        else:
            given = self.opts["direct"]
            if isinstance(given, Mapping) and "api" in given:
                given = given["api"]  # the whole triage_info result: its api check
            if given is None or as_mapping(given).get("skipped") is True:
                # The role probes this URL (triage_info check api) and asks again with the answer as O(direct).
                self.probe_url = base
                return "refuse", [f"{describe_probe(self.api)}; the container's own port {base} was not probed"]
            problem = check_problem("api", given)
            if problem:
                return "refuse", [f"{describe_probe(self.api)}; the probe of the container's own port {base} failed: {problem}"]
            direct = self.direct = probe_view(given)
            if direct["failing"]:
                return self.decide_api(container, guard)
        if direct["healthy"]:
            self.front_fault = (f"{describe_probe(self.api)}, but the container's own port answers: {describe_probe(direct)}: "
                                "the fault is in front of the API (DNS, TLS, load balancer, network), not in "
                                f"{name}; nothing was restarted")
            return "none", [self.front_fault]
        reason = f"{name} runs but its own port fails: {describe_probe(direct)}"
        if guard:
            return "refuse", [reason, guard_reason("restarting", name, guard)]
        return "restart", [reason]


def compose_commands(opts: Mapping[str, t.Any], start: list[str], restart: list[str]) -> tuple[list[str], list[str]]:
    """The fix as the runbook types it in the project directory, and as one exact command line each."""
    up = ["up", "-d", "--no-deps"] + ([] if opts["recreate"] else ["--no-recreate"])
    steps = ([up + start] if start else []) + ([["restart"] + restart] if restart else [])
    prefix = ["docker", "compose", "--project-name", opts["project_name"], "--project-directory", opts["project_src"]]
    for name in opts["files"]:
        prefix += ["--file", name]
    for name in opts["env_files"]:
        prefix += ["--env-file", name]
    short = [" ".join(["docker", "compose", *step]) for step in steps]
    exact = [" ".join(shlex.quote(arg) for arg in prefix + step) for step in steps]
    return short, exact


def plan(triage: t.Any, options: Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The decision for each service of the scenario "API Unavailable"; see the module docstring."""
    if not isinstance(triage, Mapping):
        raise AnsibleFilterError(f"{NAME}: the input must be a usdx.incident.triage_info result (a dict), got {show(triage)}")
    opts = read_options(options)
    decider = _Decider(triage, opts)
    services: dict[str, dict[str, t.Any]] = {}
    for name in opts["services"]:
        action, reasons = decider.decide(name)
        services[name] = {**decider.containers[name], "action": action, "reasons": reasons}
    start = [name for name, s in services.items() if s["action"] == "start"]
    restart = [name for name, s in services.items() if s["action"] == "restart"]
    refused = [{"service": name, "reason": " ".join(s["reasons"])} for name, s in services.items() if s["action"] == "refuse"]
    runbook_commands, commands = compose_commands(opts, start, restart)
    webapp = decider.webapp
    unhealthy = [name for name, s in services.items() if s["health"] == "unhealthy"]
    healthy = (not decider.incomplete and not start and not restart and not refused and not unhealthy
               and decider.api["healthy"] and (webapp is None or webapp["healthy"]))
    result = {
        "healthy": healthy,
        "services": services,
        "start": start,
        "restart": restart,
        "refused": refused,
        "incomplete": decider.incomplete,
        "api": decider.api,
        "direct": decider.direct,
        "probe_url": decider.probe_url,
        "front_fault": decider.front_fault,
        "failing_checks": sorted({**(decider.direct or {}).get("failing", {}), **decider.api["failing"]}),
        "webapp": webapp,
        "missing": [name for name, s in services.items() if s["state"] == "missing"],
        "oom_killed": [name for name, s in services.items() if s["oom_killed"]],
        "runbook_commands": runbook_commands,
        "commands": commands,
        "withheld": not opts["restart"] and bool(start or restart) and not refused,
        "log_errors": log_errors(as_mapping(triage.get("logs")), opts["services"], opts["log_levels"], opts["log_max_lines"]),
    }
    result["summary"] = summary(result)
    result["report"] = report(result)
    return result


def report(result: Mapping[str, t.Any]) -> list[str]:
    """The diagnosis as lines for people: the summary, each service's decision, the log errors, what did not run."""
    lines = [result["summary"]]
    for name, service in result["services"].items():
        lines.append(f"{name}: {service['action']} - " + "; ".join(service["reasons"]))
    for name, logs in result["log_errors"].items():
        counts = ", ".join(f"{level} {n}" for level, n in logs["counts"].items()) or "no lines of the chosen levels"
        line = f"{name} logs: {counts}"
        if logs["causes"]:
            line += "; known causes: " + ", ".join(logs["causes"])
        lines.append(line)
        lines.extend(f"  {sig.get('count', '?')}x {sig.get('level', '')} {sig.get('sample') or sig.get('signature', '')}"
                     for sig in logs["signatures"])
    lines.extend(f"check {entry['check']} incomplete: {entry['reason']}" for entry in result["incomplete"])
    if result["commands"]:
        lines.append("fix: " + "; ".join(result["commands"]))
    return lines


def summary(result: Mapping[str, t.Any]) -> str:
    """One line: what is wrong and what the plan does about it."""
    if result["healthy"]:
        return "HEALTHY: the API and the webapp answer and every container runs; nothing to do"
    if result["refused"]:
        return "REFUSED: " + " | ".join(f"{r['service']}: {r['reason']}" for r in result["refused"])
    if result["front_fault"]:
        return "FAULT IN FRONT OF THE API: " + result["front_fault"]
    if result["start"] or result["restart"]:
        return ("PLAN: start " + (", ".join(result["start"]) or "none") + "; restart " + (", ".join(result["restart"]) or "none")
                + " (" + "; ".join(result["runbook_commands"]) + ")")
    reasons = [r for s in result["services"].values() for r in s["reasons"]]
    return "NOT HEALTHY, nothing to start or restart: " + "; ".join(reasons)
