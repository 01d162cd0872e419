# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The db_connections_exhausted role (playbooks/db_connections_exhausted.yml) against the live sandbox.

The db-connections fault fills role usdx's 15 slots with a "reconciler" (usdx-db-holder: idle sessions, two of them
busy every 2 s, one idle in transaction holding a row lock, one waiting on it). Before injecting it, the tests open
an active `SELECT pg_sleep(300)` and an idle-in-transaction session of their own: both must survive.
With idle_threshold 5 s and a 6 s wait: check mode predicts the exact pids and changes nothing; the real run
terminates only those; verify passes; a second run changes nothing. Bad variables are rejected before anything
is read. The fixtures `sandbox`, `healthy_sandbox` and `sandbox_fault` (conftest.py) take the integration lock and
always clear the fault.

Run: .venv/bin/pytest -m sandbox tests/integration/test_db_connections_role.py
"""

from __future__ import annotations

import contextlib
import pathlib
import threading
import time
import typing as t

import psycopg2
import pytest
import yaml

from playbook_run import INVENTORY, REPO, PlaybookRun, run_playbook  # noqa: E402

pytestmark = pytest.mark.sandbox

PLAYBOOK = REPO / "playbooks" / "db_connections_exhausted.yml"
HOLDER_APP = "usdx-reconciler"
SURVIVOR_APP = "usdx-survivor"
THRESHOLD = 5


class Run(PlaybookRun):
    @property
    def plan(self) -> dict[str, t.Any]:
        return self.task("Decide what to terminate and whether to raise max_connections (db_connections_plan)")[
            "ansible_facts"]["db_connections_exhausted__plan"]


def run_role(env: dict[str, str], check: bool = False, inventory: pathlib.Path = INVENTORY, **extra: t.Any) -> Run:
    """The playbook; the application role's password goes with the extra variables, through a file."""
    return run_playbook(PLAYBOOK, Run, check=check, inventory=inventory,
                        extra_vars={"usdx_db_app_password": env["USDX_DB_PASSWORD"], **extra},
                        secrets=(env["USDX_DB_PASSWORD"], env["USDX_DB_SUPERUSER_PASSWORD"]))


def connect(env: dict[str, str], user: str = "usdx", **kwargs: t.Any) -> t.Any:
    password = env["USDX_DB_PASSWORD"] if user == "usdx" else env["USDX_DB_SUPERUSER_PASSWORD"]
    return psycopg2.connect(host="127.0.0.1", port=int(env["USDX_DB_PORT"]), dbname="usdx_wexel", user=user,
                            password=password, connect_timeout=5, **kwargs)


def sessions(env: dict[str, str]) -> dict[int, dict[str, t.Any]]:
    """pid -> application, state, idle seconds of every client session, read as the superuser."""
    with contextlib.closing(connect(env, "postgres")) as conn, conn.cursor() as cur:
        cur.execute("SELECT pid, application_name, state, extract(epoch FROM clock_timestamp() - state_change)::float"
                    " FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")
        return {pid: {"application": app, "state": state, "idle": idle} for pid, app, state, idle in cur.fetchall()}


def long_idle_holder_pids(env: dict[str, str]) -> set[int]:
    return {pid for pid, s in sessions(env).items()
            if s["application"] == HOLDER_APP and s["state"] == "idle" and s["idle"] > THRESHOLD}


@contextlib.contextmanager
def survivors(env: dict[str, str]) -> t.Iterator[dict[str, int]]:
    """As the application role: an active SELECT pg_sleep(300) and a (recent) idle-in-transaction session."""
    active = connect(env, application_name=SURVIVOR_APP + "-active")
    active.autocommit = True
    in_tx = connect(env, application_name=SURVIVOR_APP + "-in-transaction")
    ended: list[str] = []

    def sleep() -> None:
        try:
            with active.cursor() as cur:
                cur.execute("SELECT pg_sleep(300)")
        except psycopg2.Error as exc:
            ended.append(type(exc).__name__)

    worker = threading.Thread(target=sleep, daemon=True)
    try:
        with in_tx.cursor() as cur:  # autocommit off: the transaction stays open, the session idle in it
            cur.execute("SELECT count(*) FROM events")
        pids = {"active": active.get_backend_pid(), "in_transaction": in_tx.get_backend_pid()}
        worker.start()
        deadline = time.monotonic() + 10
        while sessions(env).get(pids["active"], {}).get("state") != "active" and time.monotonic() < deadline:
            time.sleep(0.2)
        yield pids
    finally:
        active.cancel()
        worker.join(10)
        in_tx.close()
        active.close()


@pytest.mark.newest
def test_exhausted_check_then_fix_then_idempotent(sandbox_fault, sandbox):
    env = sandbox
    with survivors(env) as keep:
        sandbox_fault("db-connections")
        time.sleep(THRESHOLD + 1.5)
        with pytest.raises(psycopg2.OperationalError, match="too many connections"):
            connect(env).close()

        # Check mode: the plan names exactly the sessions idle past the threshold - the holder's (they only grow
        # older) and any pooled connection of the indexer idle as long - and nothing changes.
        expected = long_idle_holder_pids(env)
        before = sessions(env)
        check = run_role(env, check=True, db_connections_exhausted_idle_threshold=THRESHOLD)
        assert check.rc == 0, check.failure()
        assert check.stats["changed"] == 0
        plan = check.plan
        assert len(expected) >= 5 and expected <= set(plan["terminate_pids"]), (plan["report"], expected)
        others = set(plan["terminate_pids"]) - expected
        assert all(before[pid]["application"].startswith("usdx-indexer") for pid in others), (plan["report"], before)
        assert plan["top_holder"].startswith(f"application '{HOLDER_APP}' from 127.0.0.1 holds "), plan["top_holder"]
        assert plan["top_holder"].endswith("of 15 (role usdx's limit)"), plan["top_holder"]
        assert keep["active"] not in plan["terminate_pids"] and keep["in_transaction"] not in plan["terminate_pids"]
        assert check.task("Terminate the planned idle sessions (pg_terminate_backend, re-checked)").get("skipped")
        ours = {pid for pid, s in before.items() if s["application"] == HOLDER_APP or s["application"].startswith(SURVIVOR_APP)}
        assert ours <= set(sessions(env)), "check mode terminated a session"
        with pytest.raises(psycopg2.OperationalError, match="too many connections"):
            connect(env).close()

        # The real run terminates only idle sessions past the threshold, and verify passes.
        fix = run_role(env, db_connections_exhausted_idle_threshold=THRESHOLD)
        assert fix.rc == 0, fix.failure()
        terminated = fix.task("Terminate the planned idle sessions (pg_terminate_backend, re-checked)")
        killed = {row["pid"] for row in terminated["query_result"] if row["terminated"]}
        assert expected <= killed <= set(fix.plan["terminate_pids"])
        assert all(row["state"] == "idle" and row["idle_seconds"] > THRESHOLD and row["user"] == "usdx"
                   and not row["application"].startswith(SURVIVOR_APP) for row in terminated["query_result"]), \
            terminated["query_result"]
        assert fix.task("Report the database recovered") is not None
        after = sessions(env)
        assert not killed & set(after)
        assert after[keep["active"]]["state"] == "active"
        assert after[keep["in_transaction"]]["state"] == "idle in transaction"
        held = {s["state"] for s in after.values() if s["application"] == HOLDER_APP}
        assert {"idle in transaction", "active"} <= held, "the holder's lock and its waiter must survive"
        connect(env).close()  # a new connection as the application role succeeds

        # Second run on the recovered stack changes nothing.
        again = run_role(env, db_connections_exhausted_idle_threshold=THRESHOLD)
        assert again.rc == 0, again.failure()
        assert again.stats["changed"] == 0
        assert again.plan["healthy"] and again.plan["terminate_pids"] == []
        assert set(sessions(env)) >= {keep["active"], keep["in_transaction"]}


def test_raise_max_connections_check_mode_changes_nothing(healthy_sandbox):
    """Server use above a 1% threshold (app_user postgres: no CONNECTION LIMIT, so the server's slots are the bound)
    with nothing idle long enough: the plan raises max_connections to the ceiling and reports the restart as
    required; in check mode postgresql_set only predicts it."""
    env = healthy_sandbox
    run = run_role(env, check=True, db_connections_exhausted_use_threshold=1, db_connections_exhausted_app_user="postgres",
                   db_connections_exhausted_idle_threshold=100000, db_connections_exhausted_max_connections_ceiling=150)
    assert run.rc == 0, run.failure()
    plan = run.plan
    assert plan["terminate_pids"] == []
    assert plan["raise_max_connections"]["from"] == 20 and plan["raise_max_connections"]["to"] == 150
    assert plan["restart"] == "required"
    assert run.task("Raise max_connections (ALTER SYSTEM SET max_connections)")["changed"] is True
    assert run.task("Restart the database for max_connections to take effect (docker compose restart db)").get("skipped")
    with contextlib.closing(connect(env, "postgres")) as conn, conn.cursor() as cur:
        cur.execute("SELECT setting, pending_restart FROM pg_settings WHERE name = 'max_connections'")
        assert cur.fetchone() == ("20", False)


def _inventory_without(tmp: pathlib.Path, name: str) -> pathlib.Path:
    """A copy of the sandbox inventory without one variable (its inventory_dir-relative paths made absolute)."""
    group_vars = yaml.safe_load((INVENTORY / "group_vars" / "usdx_stacks.yml").read_text())
    group_vars["usdx_compose_project_src"] = str(REPO / "sandbox")
    del group_vars[name]
    (tmp / "group_vars").mkdir()
    (tmp / "group_vars" / "usdx_stacks.yml").write_text(yaml.safe_dump(group_vars))
    (tmp / "hosts.yml").write_text((INVENTORY / "hosts.yml").read_text())
    return tmp


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"db_connections_exhausted_idle_threshold": "five minutes"}, "db_connections_exhausted_idle_threshold"),
        ({"db_connections_exhausted_use_threshold": [80]}, "db_connections_exhausted_use_threshold"),
        ({"db_connections_exhausted_idle_threshold": -5}, "db_connections_exhausted_idle_threshold"),
        ({"db_connections_exhausted_idle_in_transaction_threshold": 10}, "db_connections_exhausted_idle_in_transaction_threshold"),
        ({"db_connections_exhausted_allow_restart": "perhaps"}, "db_connections_exhausted_allow_restart"),
        ({"usdx_db_name": None}, "usdx_db_name"),
    ],
)
def test_bad_variables_rejected_before_anything(healthy_sandbox, extra, named, tmp_path):
    inventory = INVENTORY
    if extra.get("usdx_db_name", "") is None:
        inventory, extra = _inventory_without(tmp_path, "usdx_db_name"), {}
    run = run_role(healthy_sandbox, inventory=inventory, **extra)
    assert run.rc != 0
    assert named in run.failure()
    assert run.stats["changed"] == 0
    assert run.task("Diagnose the connections (pg_activity_info, runbook SELECT count(*) FROM pg_stat_activity)") is None


def test_refuses_when_the_diagnosis_could_not_query_the_server(healthy_sandbox):
    """A diagnosis that did not run (here: the admin login is refused) is a refusal, never a plan."""
    run = run_role(healthy_sandbox, usdx_db_admin_password="not-the-password")
    assert run.rc != 0
    assert run.stats["changed"] == 0
    message = run.failure()
    assert "REFUSED: the database could not be queried even as the admin user" in message, message
    assert run.task("Terminate the planned idle sessions (pg_terminate_backend, re-checked)") is None
