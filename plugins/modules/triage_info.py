#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: triage_info
short_description: Run every diagnostic of the collection at once, side by side in one module run
version_added: 0.1.0
description:
  - The read-only part of the runbook's triage in one call. Runs, each in its own thread of one module process,
    the API and webapp health checks and the work of M(usdx.incident.compose_service_info),
    M(usdx.incident.container_log_scan), M(usdx.incident.pg_activity_info), M(usdx.incident.disk_usage_info),
    M(usdx.incident.indexer_lag_info) and M(usdx.incident.deployment_info), so a triage costs as long as its
    slowest check (usually the lag sample) instead of one module run per check.
  - Returns one key per check run (see O(checks)) holding exactly what the standalone module returns, and the
    seconds each check took in RV(timings).
  - A check that fails is reported under its own key with C(failed=true) and C(msg), as a failed standalone
    module would be; the other checks are not affected and the module itself does not fail.
    Broken things (a database out of connections, an unreachable RPC, a missing checkout) are results, as with
    the standalone modules.
  - Every check has its own deadline, O(check_timeout). A check still running then is reported with
    C(failed=true), C(timed_out=true) and C(msg), the commands it started are killed with their children, and
    the module returns with the results of the other checks.
  - A check that ran but could not do part of its work lists what it missed in C(partial) (for example the logs of
    one service that could not be read).
  - Credentials are masked in everything the module returns (O(login_password), and userinfo, API keys and
    secret query parameters in URLs).
  - Options with a value a check cannot use fail the module before any check runs.
  - The module never changes anything; C(changed) is always V(false).
options:
  checks:
    description:
      - The checks to run. Only these keys are returned.
      - V(api) and V(webapp) are one C(GET) each of O(api_url)C(/health) and O(webapp_url)C(/);
        V(services) is M(usdx.incident.compose_service_info), V(logs) M(usdx.incident.container_log_scan),
        V(postgres) M(usdx.incident.pg_activity_info), V(disk) M(usdx.incident.disk_usage_info),
        V(lag) M(usdx.incident.indexer_lag_info), V(deployment) M(usdx.incident.deployment_info) and V(users)
        M(usdx.incident.access_log_info) over O(access_logs) ("How many users affected?").
      - V(users) runs only when O(access_logs) is given; without access logs it is left out of the default list, and
        asking for it explicitly is an error.
    type: list
    elements: str
    choices: [api, webapp, services, logs, postgres, disk, lag, deployment, users]
    default: [api, webapp, services, logs, postgres, disk, lag, deployment, users]
  check_timeout:
    description:
      - Seconds each check may take, all checks running at once; a check still running then is given up and
        reported as C(timed_out). Must be greater than 0.
      - Keep it below the time the calling task allows the module (the C(triage) role's C(triage_timeout)), so the
        module answers with the other checks' results instead of being killed.
    type: float
    default: 30
  api_url:
    description:
      - Base URL of the indexer API; the V(api) check reads its C(/health).
    type: str
    default: http://127.0.0.1:3001
  webapp_url:
    description:
      - Base URL of the webapp; the V(webapp) check reads its C(/).
    type: str
    default: http://127.0.0.1:3000
  rpc_url:
    description:
      - URL of the chain's JSON-RPC endpoint, for the V(lag) check (O(usdx.incident.indexer_lag_info#module:rpc_url)).
    type: str
    default: http://127.0.0.1:8545
  metrics_url:
    description:
      - URL of the indexer's Prometheus C(/metrics) endpoint, for the V(lag) check.
      - Defaults to O(api_url)C(/metrics).
    type: str
  http_timeout:
    description:
      - Seconds to wait for each HTTP request (V(api), V(webapp), V(lag)).
    type: float
    default: 5
  validate_certs:
    description:
      - Whether to validate TLS certificates of HTTPS URLs.
    type: bool
    default: true
  stats:
    description:
      - Read memory, CPU and pids of the running containers in the V(services) check, by two one-shot readings of the
        Docker Engine API 0.25 seconds apart over its unix socket, or C(docker stats --no-stream) (about two seconds)
        when the CLI talks to a remote engine or the socket cannot be used.
    type: bool
    default: true
  log_tail:
    description:
      - Log lines read per service by the V(logs) check, 1 to 10000 (O(usdx.incident.container_log_scan#module:tail)).
    type: int
    default: 500
  log_since:
    description:
      - Read only log lines newer than this in the V(logs) check (O(usdx.incident.container_log_scan#module:since)),
        a duration such as V(5m), an RFC 3339 time or a Unix timestamp.
    type: str
  max_signatures:
    description:
      - At most this many error signatures per service in the V(logs) check, 1 to 200.
    type: int
    default: 50
  idle_threshold:
    description:
      - Connections idle for more than this many seconds are listed by the V(postgres) check.
    type: int
    default: 300
  lag_sample_seconds:
    description:
      - Seconds between the two readings of the V(lag) check, 0 to 300
        (O(usdx.incident.indexer_lag_info#module:sample_seconds)); the other checks run meanwhile.
    type: float
    default: 1
  max_lag_blocks:
    description:
      - The indexer is V(ok) while it is at most this many blocks behind the chain head (V(lag) check).
    type: int
    default: 10
  paths:
    description:
      - Mount points or directories measured by the V(disk) check, and under which it finds the largest files.
    type: list
    elements: path
    default: ['/']
  log_dirs:
    description:
      - Directories of log files whose old files the V(disk) check lists.
    type: list
    elements: path
    default: []
  backup_dirs:
    description:
      - Directories of database backups whose old files the V(disk) check lists (never flagging the newest as old).
    type: list
    elements: path
    default: []
  access_logs:
    description:
      - Access log files of the web servers in front of the users (JSON lines, see
        M(usdx.incident.access_log_info)), for the V(users) check.
    type: list
    elements: path
    default: []
  users_window_seconds:
    description:
      - The V(users) check counts the clients of the last this many seconds, 1 to 86400.
    type: int
    default: 300
  largest:
    description:
      - How many of the largest files under O(paths) the V(disk) check reports; V(0) skips that scan.
    type: int
    default: 10
  repo_path:
    description:
      - The deploy directory, a git checkout, for the V(deployment) check; without it no commit is reported.
    type: path
extends_documentation_fragment:
  - usdx.incident.attributes
  - usdx.incident.connection
  - usdx.incident.connection.postgres
notes:
  - The options the standalone modules have beyond these keep their defaults here (for example C(threshold_percent=90),
    C(recent_hours=24), C(active_limit=10)); run the standalone module for other values.
  - The V(api) and V(webapp) results have the keys M(ansible.builtin.uri) registers with C(failed_when=false)
    (C(status), C(msg), C(url), C(elapsed), C(json)), so the C(usdx.incident.severity) filter reads them alike;
    C(elapsed) is in seconds with milliseconds, not whole seconds.
requirements:
  - The C(docker) CLI on the target host, for the V(services), V(logs) and V(disk) checks (and V(postgres) with
    O(connect_via=container)).
  - psycopg2 on the target host, for the V(postgres) check with O(connect_via=tcp).
  - The C(git) CLI on the target host, for the V(deployment) check with O(repo_path).
seealso:
  - module: usdx.incident.compose_service_info
  - module: usdx.incident.container_log_scan
  - module: usdx.incident.pg_activity_info
  - module: usdx.incident.disk_usage_info
  - module: usdx.incident.indexer_lag_info
  - module: usdx.incident.deployment_info
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
"""

EXAMPLES = r"""
- name: Everything at once
  usdx.incident.triage_info:
    project_name: usdx-wexel
    api_url: http://127.0.0.1:3001
    webapp_url: http://127.0.0.1:3000
    rpc_url: http://127.0.0.1:8545
    login_host: 127.0.0.1
    login_port: 5432
    login_password: "{{ vault_db_superuser_password }}"
    paths: [/, /var/lib/docker]
    log_dirs: [/var/log/usdx-wexel]
    backup_dirs: [/var/backups/usdx-wexel]
    repo_path: /opt/usdx-wexel
    log_since: 5m
  register: triage

- name: Judge the findings
  ansible.builtin.debug:
    msg: "{{ triage | usdx.incident.severity }}"

- name: Only the database and the logs, without the other checks
  usdx.incident.triage_info:
    checks: [postgres, logs]
    connect_via: container
  register: quick

- name: Say which check failed, if any
  ansible.builtin.debug:
    msg: "{{ item.key }}: {{ item.value.msg }}"
  loop: "{{ quick | dict2items | selectattr('value.failed', 'defined') | selectattr('value.failed') }}"
  loop_control:
    label: "{{ item.key }}"
"""

RETURN = r"""
checks:
  description:
    - The checks asked for (O(checks) without duplicates, and without V(users) when no access log is configured),
      so a reader can tell a check that is missing from the result from one that was not asked for.
  returned: always
  type: list
  elements: str
  sample: [api, webapp, services, logs, postgres, disk, lag, deployment]
api:
  description:
    - C(GET) of O(api_url)C(/health), in the shape of M(ansible.builtin.uri)'s result.
  returned: when V(api) is in O(checks)
  type: dict
  contains:
    status:
      description: HTTP status; V(-1) when no answer came (refused, timed out).
      type: int
      sample: 503
    healthy:
      description: Whether the status is 2xx.
      type: bool
      sample: false
    json:
      description: The body, when it is a JSON document (the API's C(checks) of its dependencies).
      type: dict
      returned: when the answer is JSON
      sample: {"status": "degraded", "checks": {"db": "ok", "redis": "ok", "chain": "ok"}}
    msg:
      description: C(OK (N bytes)), the HTTP error, or why the request failed.
      type: str
      sample: "HTTP Error 503: Service Unavailable"
    elapsed:
      description: Seconds the request took.
      type: float
      sample: 0.012
    url:
      description: The URL read, after redirects.
      type: str
      sample: http://127.0.0.1:3001/health
  sample: {"changed": false, "status": 200, "healthy": true, "msg": "OK (83 bytes)", "elapsed": 0.004,
           "url": "http://127.0.0.1:3001/health", "json": {"status": "ok", "checks": {"db": "ok"}}}
webapp:
  description:
    - C(GET) of O(webapp_url)C(/), with the same keys as RV(api).
  returned: when V(webapp) is in O(checks)
  type: dict
  sample: {"changed": false, "status": 200, "healthy": true, "msg": "OK (512 bytes)", "elapsed": 0.003,
           "url": "http://127.0.0.1:3000/"}
services:
  description:
    - What M(usdx.incident.compose_service_info) returns for O(project_name) (every service, O(stats)).
    - C(failed=true) and C(msg) when that check failed (the docker CLI failed, could not be started or timed out),
      with C(timed_out=true) when it did not finish within O(check_timeout). The same holds for every check below.
  returned: when V(services) is in O(checks)
  type: dict
  sample: {"changed": false, "project_found": true, "project_name": "usdx-wexel", "running": ["db", "indexer"],
           "not_running": [], "unhealthy": [], "missing": [], "services": {"db": {"state": "running"}}}
logs:
  description:
    - What M(usdx.incident.container_log_scan) returns for O(project_name) with O(log_tail), O(log_since) and
      O(max_signatures).
    - C(failed=true) and C(msg) when that check failed; C(partial) names the services whose logs could not be read.
  returned: when V(logs) is in O(checks)
  type: dict
  sample: {"changed": false, "project_found": true, "causes": {}, "error_count": 0, "missing": [], "services": {}}
postgres:
  description:
    - What M(usdx.incident.pg_activity_info) returns with the connection options and O(idle_threshold).
    - An unreachable server is a result (C(is_available=false)), not a failure; C(failed=true) and C(msg) when the query failed.
  returned: when V(postgres) is in O(checks)
  type: dict
  sample: {"changed": false, "is_available": true, "exhausted": false, "connect_via": "tcp", "max_connections": 20,
           "use_percent": 25.0}
disk:
  description:
    - What M(usdx.incident.disk_usage_info) returns for O(paths), O(log_dirs), O(backup_dirs) and O(largest).
    - C(failed=true) and C(msg) when that check failed.
  returned: when V(disk) is in O(checks)
  type: dict
  sample: {"changed": false, "full": [], "threshold_percent": 90.0, "paths": [{"path": "/", "percent_used": 41.0}]}
lag:
  description:
    - What M(usdx.incident.indexer_lag_info) returns for O(rpc_url) and O(metrics_url) over O(lag_sample_seconds).
    - Unreachable endpoints are results (C(status=rpc_unreachable) or C(indexer_unreachable)), not failures.
  returned: when V(lag) is in O(checks)
  type: dict
  sample: {"changed": false, "status": "ok", "lag_blocks": 1, "lag_seconds": 1.0, "lag_source": "rpc"}
deployment:
  description:
    - What M(usdx.incident.deployment_info) returns for O(repo_path) and O(project_name).
    - C(failed=true) and C(msg) when that check failed; C(partial) when the checkout or the containers could not be read.
  returned: when V(deployment) is in O(checks)
  type: dict
  sample: {"changed": false, "repo_found": true, "recent_changes": [], "docker_error": null}
users:
  description:
    - What M(usdx.incident.access_log_info) returns for O(access_logs) over the last O(users_window_seconds), that is
      the distinct clients, those that got errors or no answer (5xx, 502/504 from the proxy) and the paths they failed on.
    - C(failed=true) and C(msg) when no access log could be read; C(partial) when some could not, or not far enough back.
  returned: when V(users) is in the checks run
  type: dict
  sample: {"changed": false, "window_seconds": 300, "clients_total": 12, "clients_failed": 5, "requests_total": 80,
           "requests_failed": 20, "failed_paths": {"/api/deposits": 5}}
timings:
  description:
    - Seconds each check took (for a check given up, the time waited for it), keyed by check, and C(total), the
      wall time of all of them together.
  returned: always
  type: dict
  sample: {"api": 0.011, "webapp": 0.006, "services": 2.18, "logs": 0.41, "postgres": 0.05, "disk": 0.09,
           "lag": 1.03, "deployment": 0.2, "total": 2.19}
"""

import time
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.usdx.incident.plugins.module_utils import (
    _access_log,
    _compose_service_info,
    _container_log_scan,
    _deployment,
    _disk_usage,
    _endpoint,
    _indexer_lag,
    _pg_activity,
    _redact,
)
from ansible_collections.usdx.incident.plugins.module_utils._docker import DockerError, docker_argument_spec
from ansible_collections.usdx.incident.plugins.module_utils._errors import CheckFailed, OptionError
from ansible_collections.usdx.incident.plugins.module_utils._http import hide_url_secrets
from ansible_collections.usdx.incident.plugins.module_utils._parallel import CheckModule, run_parallel
from ansible_collections.usdx.incident.plugins.module_utils._proc import deadline_in
from ansible_collections.usdx.incident.plugins.module_utils._postgres import PostgresError, postgres_argument_spec

CHECKS = ["api", "webapp", "services", "logs", "postgres", "disk", "lag", "deployment", "users"]
# Seconds (at most a tenth of check_timeout) between the deadline of a check's commands and that of the check.
COMMAND_GRACE = 0.5

# Options of the standalone modules that triage_info does not expose: their defaults there.
LOGS_FIXED = {"services": []}
POSTGRES_FIXED = {"active_limit": 10, "max_query_length": 1000}
DISK_FIXED = {"threshold_percent": 90.0, "log_patterns": ["*.log", "*.log.*"], "log_max_age_days": 30,
              "backup_patterns": ["*"], "backup_max_age_days": 60, "max_files": 100000, "docker": True}
DEPLOYMENT_FIXED = {"count": 10, "recent_hours": 24.0, "git_cli": "git"}
USERS_FIXED = {"max_bytes": 32 * 1024 * 1024, "top": 10}

# A check's option name -> the triage_info option it comes from, where they differ (for error messages).
OPTION_NAMES = {
    "api": {"url": "api_url", "timeout": "http_timeout"},
    "webapp": {"url": "webapp_url", "timeout": "http_timeout"},
    "logs": {"tail": "log_tail", "since": "log_since"},
    "lag": {"sample_seconds": "lag_sample_seconds", "timeout": "http_timeout"},
    "users": {"paths": "access_logs", "window_seconds": "users_window_seconds", "timeout": "check_timeout"},
}

# How a standalone module words the failure of its domain: (exceptions, message prefix).
FAILURES: dict[str, tuple[tuple[type[BaseException], ...], str]] = {
    "services": ((DockerError,), "compose_service_info: "),
    "logs": ((DockerError,), "container_log_scan: "),
    "postgres": ((PostgresError, DockerError), "pg_activity_info: "),
    "disk": ((OSError,), "disk measurement failed: "),
    "lag": ((_indexer_lag.EndpointError,), ""),
    "deployment": ((OSError,), "reading the deployment failed: "),
    "users": ((_access_log.AccessLogError,), "access_log_info: "),
}


def check_params(params: t.Mapping[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    """The options of each check, named as its standalone module names them."""
    docker = {"project_name": params["project_name"], "docker_cli": params["docker_cli"]}
    http = {"timeout": params["http_timeout"], "validate_certs": params["validate_certs"]}
    metrics_url = params["metrics_url"] or params["api_url"].rstrip("/") + "/metrics"
    return {
        "api": dict(http, url=params["api_url"].rstrip("/") + "/health"),
        "webapp": dict(http, url=params["webapp_url"].rstrip("/") + "/"),
        "services": dict(docker, services=[], stats=params["stats"]),
        "logs": dict(docker, **LOGS_FIXED, tail=params["log_tail"], since=params["log_since"],
                     max_signatures=params["max_signatures"]),
        "postgres": dict(docker, **{name: params[name] for name in postgres_argument_spec()}, **POSTGRES_FIXED,
                         idle_threshold=params["idle_threshold"]),
        "disk": dict(docker, **DISK_FIXED, paths=params["paths"], log_dirs=params["log_dirs"],
                     backup_dirs=params["backup_dirs"], largest=params["largest"]),
        "lag": dict(http, rpc_url=params["rpc_url"], metrics_url=metrics_url, sample_seconds=params["lag_sample_seconds"],
                    max_lag_blocks=params["max_lag_blocks"]),
        "deployment": dict(docker, **DEPLOYMENT_FIXED, repo_path=params["repo_path"]),
        "users": dict(USERS_FIXED, paths=params["access_logs"], window_seconds=params["users_window_seconds"],
                      timeout=params["check_timeout"]),
    }


VALIDATORS: dict[str, t.Callable[[t.Mapping[str, t.Any]], None]] = {
    "api": _endpoint.validate,
    "webapp": _endpoint.validate,
    "logs": _container_log_scan.validate,
    "postgres": _pg_activity.validate,
    "disk": _disk_usage.validate,
    "lag": _indexer_lag.validate,
    "deployment": _deployment.validate,
    "users": _access_log.validate,
}


def worker(name: str, module: CheckModule) -> t.Callable[[], dict[str, t.Any]]:
    """The standalone module's work for check O(name), bound to its options."""
    params = module.params
    workers: dict[str, t.Callable[[], dict[str, t.Any]]] = {
        "api": lambda: _endpoint.probe(params),
        "webapp": lambda: _endpoint.probe(params),
        "services": lambda: _compose_service_info.ComposeServiceInfo(module, params).run(),
        "logs": lambda: _container_log_scan.ContainerLogScan(module, params).run(),
        "postgres": lambda: _pg_activity.PgActivity(module, params).run(),
        "disk": lambda: _disk_usage.DiskUsage(module, params).run(),
        "lag": lambda: _indexer_lag.LagProbe(module, params).run(),
        "deployment": lambda: _deployment.Deployment(module, params).run(),
        "users": lambda: _access_log.AccessLog(module, params).run(),
    }
    return workers[name]


def explain(name: str, exc: BaseException) -> str | None:
    """The message the standalone module would fail with; None for an exception it would not expect."""
    if isinstance(exc, CheckFailed):
        return f"{name}: {exc}"
    known, prefix = FAILURES.get(name, ((), ""))
    return f"{prefix}{exc}" if isinstance(exc, known) else None


def selected_checks(params: t.Mapping[str, t.Any]) -> list[str]:
    """O(checks) without repeats; V(users) leaves the default list when no access log is configured."""
    checks = list(dict.fromkeys(params["checks"]))
    if "users" in checks and not params["access_logs"] and params["checks"] == CHECKS:
        checks.remove("users")
    return checks


class Triage:
    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.checks = selected_checks(module.params)
        self.params = check_params(module.params)

    def validate(self) -> None:
        """Raise OptionError for the first option a selected check cannot use, named as triage_info names it."""
        timeout = self.module.params["check_timeout"]
        if not timeout > 0:
            raise OptionError(f"check_timeout={timeout!r} is out of range: accepted values are > 0", option="check_timeout")
        for name in self.checks:
            validator = VALIDATORS.get(name)
            if validator is None:
                continue
            try:
                validator(self.params[name])
            except OptionError as exc:
                option = exc.option or ""
                ours = OPTION_NAMES.get(name, {}).get(option, option)
                message = str(exc)
                if option and message.startswith(option):
                    message = ours + message[len(option):]
                raise OptionError(f"{message} (check {name})", option=ours) from exc

    def run(self) -> dict[str, t.Any]:
        started = time.monotonic()
        timeout = self.module.params["check_timeout"]
        deadline = deadline_in(timeout)
        # Commands are killed a little before the checks are given up, so a check whose command hung can still say
        # which one it was and return what it read until then.
        command_deadline = deadline - min(COMMAND_GRACE, timeout / 10)
        jobs = {name: worker(name, CheckModule(self.module, name, self.params[name], command_deadline)) for name in self.checks}
        outcomes = run_parallel(jobs, explain, deadline)
        result: dict[str, t.Any] = {"changed": False, "checks": list(self.checks)}
        result.update({name: outcome.result for name, outcome in outcomes.items()})
        timings = {name: outcome.seconds for name, outcome in outcomes.items()}
        timings["total"] = round(time.monotonic() - started, 3)
        result["timings"] = timings
        # Last: nothing the checks read (URLs with credentials, a password echoed in an error) leaves the module.
        return t.cast(t.Dict[str, t.Any], _redact.redact(result, secrets=[self.module.params["login_password"]]))


def main() -> None:
    argument_spec = docker_argument_spec()
    argument_spec.update(postgres_argument_spec())
    argument_spec.update(
        checks={"type": "list", "elements": "str", "choices": CHECKS, "default": list(CHECKS)},
        access_logs={"type": "list", "elements": "path", "default": []},
        users_window_seconds={"type": "int", "default": 300},
        check_timeout={"type": "float", "default": 30},
        api_url={"type": "str", "default": "http://127.0.0.1:3001"},
        webapp_url={"type": "str", "default": "http://127.0.0.1:3000"},
        rpc_url={"type": "str", "default": "http://127.0.0.1:8545"},
        metrics_url={"type": "str"},
        http_timeout={"type": "float", "default": 5},
        validate_certs={"type": "bool", "default": True},
        stats={"type": "bool", "default": True},
        log_tail={"type": "int", "default": 500},
        log_since={"type": "str"},
        max_signatures={"type": "int", "default": 50},
        idle_threshold={"type": "int", "default": 300},
        lag_sample_seconds={"type": "float", "default": 1},
        max_lag_blocks={"type": "int", "default": 10},
        paths={"type": "list", "elements": "path", "default": ["/"]},
        log_dirs={"type": "list", "elements": "path", "default": []},
        backup_dirs={"type": "list", "elements": "path", "default": []},
        largest={"type": "int", "default": 10},
        repo_path={"type": "path"},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    # Credentials inside the URLs are masked wherever Ansible echoes the options (invocation, -v output).
    hide_url_secrets(module, *(module.params[name] for name in ("api_url", "webapp_url", "rpc_url", "metrics_url")))
    triage = Triage(module)
    try:
        triage.validate()
    except OptionError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**triage.run())


if __name__ == "__main__":
    main()
