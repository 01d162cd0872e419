# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A job run the way AWX runs one, on the controller or in an execution environment image, against the sandbox.

AWX hands ansible-runner a private data dir per job: the project checkout in project/, the inventory, the extra
variables in env/extravars, a credential's variables in a file named on the command line (env/cmdline), its
environment in env/envvars and its settings in env/settings. With an execution environment it runs
`ansible-runner run --process-isolation --process-isolation-executable docker|podman --container-image IMAGE`: the
private data dir is mounted at /runner, the paths AWX exposes to isolated jobs are mounted at the same path. Then
it reads artifacts/<ident>/ back: status, rc, the job events and the set_stats data of the playbook_on_stats event.

What this job needs from the container engine (docs/execution-environment.md):
- the Docker engine's socket: the modules run the docker CLI and community.docker's API modules against it;
- the host's network: the sandbox binds its ports to 127.0.0.1;
- the compose project directory at the same path: docker compose sends the engine the paths of its bind mounts, which
  the engine resolves on the host; the incident folders, findings and state directory are exposed the same way.

Shared by tests/integration/test_ee_isolated.py and bench/ee_overhead_bench.py.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
import shutil
import subprocess
import sys
import typing as t

import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
VENV_BIN = pathlib.Path(sys.executable).parent
SANDBOX_DIR = REPO / "sandbox"
GROUP_VARS = REPO / "inventories" / "sandbox" / "group_vars" / "usdx_stacks.yml"
HOST = "sandbox"
DOCKER_SOCKET = "/var/run/docker.sock"
# Where the private data dir is inside the container (ansible-runner's mount).
CONTAINER_PDD = "/runner"
# Names of the sandbox's env file whose values are secrets.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|KEY", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class Job:
    """What AWX reads back from a job's artifacts."""

    status: str
    rc: int
    events: list[dict[str, t.Any]]
    stats: dict[str, t.Any]
    artifacts: dict[str, t.Any]
    command: list[str]
    artifact_dir: pathlib.Path
    stderr: str

    @property
    def stdout(self) -> str:
        return (self.artifact_dir / "stdout").read_text(errors="replace")

    def files(self) -> t.Iterator[tuple[pathlib.Path, str]]:
        """Every file the job left in its artifacts (stdout, events, status, command, fact cache, ...)."""
        for path in sorted(self.artifact_dir.rglob("*")):
            if path.is_file():
                yield path, path.read_text(errors="replace")


def secrets(sandbox_env: t.Mapping[str, str]) -> list[str]:
    """The secret values of the sandbox's env file (sandbox/.state/sandbox.env)."""
    return [value for name, value in sandbox_env.items() if SECRET_NAME.search(name) and value]


def exposed_dirs(exposed: pathlib.Path) -> dict[str, pathlib.Path]:
    """The directories the job writes on the host (mounted at the same path when isolated): findings, incident
    folders, and the stack's state directory (response lock, breaker history; 0700, as the modules demand)."""
    dirs = {"findings": exposed / "findings", "incidents": exposed / "incidents", "state": exposed / "state"}
    for name, path in dirs.items():
        path.mkdir(parents=True, exist_ok=True, mode=0o700 if name == "state" else 0o755)
    return dirs


def private_data_dir(root: pathlib.Path, ident: str, *, sandbox_env: t.Mapping[str, str], exposed: pathlib.Path,
                     extravars: t.Mapping[str, t.Any], isolated: bool, timeout: int, stack: int) -> pathlib.Path:
    """A private data dir laid out as AWX lays out a job's; isolated, env/settings carries the container's mounts.
    C(stack) is the sandbox stack, a host variable: the job's environment is AWX's, not the caller's."""
    pdd = root / f"pdd-{ident}"
    project = pdd / "project"
    project.mkdir(parents=True)
    # The project checkout: the playbooks and the project's ansible.cfg. The collection is not in it: isolated, it
    # is the image's (installed from the tarball); on the controller, the checkout's link (build/collections).
    shutil.copytree(REPO / "playbooks", project / "playbooks")
    shutil.copy2(REPO / "ansible.cfg", project / "ansible.cfg")

    dirs = exposed_dirs(exposed)
    group_vars = yaml.safe_load(GROUP_VARS.read_text())
    host_vars = {
        "ansible_connection": "local",
        "usdx_sandbox_stack": stack,
        # The Python that runs ansible-playbook: the image's, or the controller's venv; both have requirements.txt.
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "usdx_compose_project_src": str(SANDBOX_DIR),
        "triage_findings_dir": str(dirs["findings"]),
        "respond_incidents_dir": str(dirs["incidents"]),
        "respond_state_dir": str(dirs["state"]),
    }
    unplaced = sorted(name for name, value in group_vars.items()
                      if "inventory_dir" in str(value) and name not in host_vars)
    if unplaced:
        raise AssertionError(f"the sandbox inventory derives {unplaced} from its directory: place them here")
    (pdd / "inventory").mkdir()
    inventory = {"usdx_stacks": {"vars": group_vars, "hosts": {HOST: host_vars}}}
    (pdd / "inventory" / "hosts").write_text(yaml.safe_dump(inventory))
    env = pdd / "env"
    env.mkdir()
    (env / "extravars").write_text(yaml.safe_dump(dict(extravars)))
    # The database credential, injected as AWX does: its own extra-vars file, named on the command line by the path
    # the job sees.
    credential = env / "credential_extra_vars.yml"
    credential.write_text(yaml.safe_dump({"usdx_db_admin_password": sandbox_env["USDX_DB_SUPERUSER_PASSWORD"],
                                          "usdx_db_app_password": sandbox_env["USDX_DB_PASSWORD"]}))
    credential.chmod(0o600)
    seen_as = f"{CONTAINER_PDD}/env/{credential.name}" if isolated else str(credential)
    (env / "cmdline").write_text(f"-e @{seen_as}")
    envvars = {"ANSIBLE_RETRY_FILES_ENABLED": "False", "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
               "ANSIBLE_FORCE_COLOR": "False"}
    if not isolated:
        envvars["ANSIBLE_COLLECTIONS_PATH"] = str(REPO / "build" / "collections")
    (env / "envvars").write_text(yaml.safe_dump(envvars))
    settings: dict[str, t.Any] = {"job_timeout": timeout, "suppress_ansible_output": True}
    if isolated:
        settings["container_volume_mounts"] = [f"{DOCKER_SOCKET}:{DOCKER_SOCKET}", f"{SANDBOX_DIR}:{SANDBOX_DIR}",
                                               f"{exposed}:{exposed}"]
        settings["container_options"] = ["--network=host"]
    (env / "settings").write_text(yaml.safe_dump(settings))
    return pdd


def run(pdd: pathlib.Path, playbook: str, ident: str, *, image: str | None, timeout: int) -> Job:
    """ansible-runner run of the playbook; with an image, in a container of it (process isolation, docker)."""
    command = [str(VENV_BIN / "ansible-runner"), "run", str(pdd), "-p", playbook, "--ident", ident]
    if image:
        command += ["--process-isolation", "--process-isolation-executable", "docker", "--container-image", image]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 60, check=False,
                          env={"PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": str(pdd), "LANG": "C.UTF-8"})
    artifact_dir = pdd / "artifacts" / ident
    if not (artifact_dir / "status").exists():
        raise AssertionError(f"ansible-runner left no status (rc={proc.returncode}):\n{proc.stdout[-2000:]}\n"
                             f"{proc.stderr[-3000:]}")
    events = [json.loads(p.read_text()) for p in sorted((artifact_dir / "job_events").glob("*.json"),
                                                        key=lambda p: int(p.name.split("-", 1)[0]))]
    stats = [e for e in events if e.get("event") == "playbook_on_stats"]
    if len(stats) != 1:
        raise AssertionError(f"{len(stats)} playbook_on_stats events (rc={proc.returncode}):\n{proc.stderr[-3000:]}\n"
                             f"{(artifact_dir / 'stdout').read_text(errors='replace')[-3000:]}")
    return Job(status=(artifact_dir / "status").read_text().strip(), rc=int((artifact_dir / "rc").read_text()),
               events=events, stats=stats[0]["event_data"],
               artifacts=stats[0]["event_data"].get("artifact_data") or {},
               command=json.loads((artifact_dir / "command").read_text())["command"],
               artifact_dir=artifact_dir, stderr=proc.stderr)
