#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: compose_service_info
short_description: Report state, health, restarts, resources and image age of a compose project's services
version_added: 0.1.0
description:
  - Answers the runbook's C(docker-compose ps), C(docker stats) and "what changed recently" in one call.
  - Finds the containers of the project by their C(com.docker.compose.project) label, so it needs neither
    the compose file nor the working directory of the project.
  - For each service reports state, health, exit code, whether the kernel killed it for memory, restart count,
    start and finish times, uptime, image and image age, memory and CPU use, and published ports.
  - A project without containers is reported with RV(project_found=false) and empty results, not as a failure.
    A docker CLI that fails (daemon down, permission denied, binary missing) or does not finish in time fails the
    module; no answer is never read as "no containers".
  - Every docker call is killed (with its children) after two minutes.
  - The module never changes anything; C(changed) is always V(false).
options:
  services:
    description:
      - Report only these services. Services asked for but not found are listed in RV(missing).
      - By default every service of the project.
    type: list
    elements: str
    default: []
  stats:
    description:
      - Read memory, CPU and pids of the running containers.
      - Read from the Docker Engine API over its unix socket (C(DOCKER_HOST=unix://...) or C(/var/run/docker.sock)),
        two one-shot readings of all containers at once, 0.25 seconds apart (CPU use is a rate between two
        readings). When the CLI talks to another engine (C(tcp://), C(ssh://), C(DOCKER_CONTEXT)) or the socket cannot
        be used, one C(docker stats --no-stream) sample instead (about two seconds).
    type: bool
    default: true
extends_documentation_fragment:
  - usdx.incident.attributes
  - usdx.incident.connection
notes:
  - When a service has several containers (scaled, or one-off C(docker compose run) containers), the service is
    described by one of them (not a one-off, running if any is, else the latest started);
    RV(services.replicas) counts them all.
  - Health check output is text from the container; it is returned as a plain string, cut to 300 characters.
seealso:
  - module: community.docker.docker_compose_v2
  - module: community.docker.docker_container_info
author:
  - USDX/Wexel DevOps Team (@usdx-wexel)
"""

EXAMPLES = r"""
- name: What is running (docker-compose ps, docker stats)
  usdx.incident.compose_service_info:
    project_name: usdx-wexel
  register: stack

- name: Every service must be up and healthy
  ansible.builtin.assert:
    that:
      - stack.project_found
      - stack.not_running | length == 0
      - stack.unhealthy | length == 0
    fail_msg: "not running: {{ stack.not_running }}, unhealthy: {{ stack.unhealthy }}"

- name: Only the indexer, without the stats sample
  usdx.incident.compose_service_info:
    services: [indexer]
    stats: false
  register: indexer

- name: Was the indexer killed for memory?
  ansible.builtin.debug:
    msg: "exit {{ indexer.services.indexer.exit_code }}, OOM killed: {{ indexer.services.indexer.oom_killed }}"
  when: "'indexer' in indexer.services"
"""

RETURN = r"""
project_found:
  description: Whether the project has any container (running or not).
  returned: always
  type: bool
  sample: true
project_name:
  description: The compose project looked at, O(project_name).
  returned: always
  type: str
  sample: usdx-wexel
services:
  description: The services found, keyed by service name.
  returned: always
  type: dict
  contains:
    service:
      description: Compose service name.
      type: str
      sample: indexer
    container:
      description: Container name.
      type: str
      sample: usdx-wexel-indexer-1
    container_id:
      description: Full container id.
      type: str
      sample: 5f0c3b2e9a1d4c7b8e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d
    replicas:
      description: How many containers the service has, running or not.
      type: int
      sample: 1
    state:
      description: Container state (C(running), C(exited), C(restarting), C(paused), C(created), C(dead)).
      type: str
      sample: running
    running:
      description: Whether the container runs (and is not restarting).
      type: bool
      sample: true
    restarting:
      description: Whether the container is waiting to be restarted by its restart policy.
      type: bool
      sample: false
    health:
      description: Health status (C(starting), C(healthy), C(unhealthy)); V(null) without a health check.
      type: str
      sample: healthy
    health_failing_streak:
      description: Consecutive failed health checks; V(null) without a health check.
      type: int
      sample: 0
    health_last_output:
      description: Output of the latest health check, cut to 300 characters; V(null) without one.
      type: str
      sample: "ok"
    exit_code:
      description: Exit code of the last run (V(0) for a running container that never exited).
      type: int
      sample: 137
    oom_killed:
      description: Whether the kernel's OOM killer ended the last run.
      type: bool
      sample: false
    error:
      description: Docker's error for the container (C(State.Error)), empty when none.
      type: str
      sample: ""
    restart_count:
      description: How often Docker restarted the container (its restart policy).
      type: int
      sample: 0
    created_at:
      description: When the container was created (a C(docker compose up) that replaced it changes this).
      type: str
      sample: "2026-11-28T06:58:01.123456789Z"
    started_at:
      description: When the last run started; V(null) if never.
      type: str
      sample: "2026-11-28T06:58:02.123456789Z"
    finished_at:
      description: When the last run ended; V(null) if it never ended.
      type: str
      sample: null
    uptime_seconds:
      description: Seconds since RV(services.started_at) for a running container, else V(null).
      type: float
      sample: 3600.5
    image:
      description: Image as configured (name and tag).
      type: str
      sample: usdx-sandbox/indexer:latest
    image_id:
      description: Id of the image the container runs.
      type: str
      sample: sha256:41a787384683c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7
    image_created:
      description: When the image was built; V(null) if the image no longer exists.
      type: str
      sample: "2026-11-28T06:50:00.000000000Z"
    image_age_seconds:
      description: Seconds since RV(services.image_created); V(null) if unknown.
      type: float
      sample: 86400.0
    memory_limit_set:
      description: Whether the container has a memory limit of its own (otherwise docker stats shows the host's memory).
      type: bool
      sample: true
    memory_usage_bytes:
      description: Memory in use without the inactive page cache, as C(docker stats) counts it; V(null) when not running or O(stats=false).
      type: int
      sample: 13107200
    memory_limit_bytes:
      description: Memory limit as C(docker stats) shows it; V(null) when not running or O(stats=false).
      type: int
      sample: 268435456
    memory_percent:
      description: RV(services.memory_usage_bytes) as a percentage of the limit; V(null) when not sampled.
      type: float
      sample: 4.88
    cpu_percent:
      description: CPU use in percent of one core between the two readings; V(null) when not sampled.
      type: float
      sample: 0.5
    pids:
      description: Number of processes in the container; V(null) when not sampled.
      type: int
      sample: 4
    ports:
      description:
        - Published ports, from the live bindings (C(NetworkSettings.Ports)) or, for a stopped container, the
          configured ones; V(host_port) and V(host_ip) are V(null) for an exposed but unpublished port.
        - With them the container itself can be probed, beside a URL in front of it.
      type: list
      elements: dict
      contains:
        container_port:
          description: Port inside the container.
          type: int
        protocol:
          description: V(tcp) or V(udp).
          type: str
        host_ip:
          description: Address on the host the port is published on (V(0.0.0.0) for all).
          type: str
        host_port:
          description: Port on the host.
          type: int
      sample: [{"container_port": 3001, "protocol": "tcp", "host_ip": "127.0.0.1", "host_port": 3001}]
  sample:
    indexer:
      service: indexer
      state: exited
      running: false
      exit_code: 137
      oom_killed: false
running:
  description: Services whose container runs, sorted.
  returned: always
  type: list
  elements: str
  sample: [chain, db, redis, webapp]
not_running:
  description: Services whose container does not run (exited, created, restarting, paused, dead), sorted.
  returned: always
  type: list
  elements: str
  sample: [indexer]
unhealthy:
  description: Services whose health check reports C(unhealthy), sorted.
  returned: always
  type: list
  elements: str
  sample: []
missing:
  description: Services named in O(services) that the project has no container for.
  returned: always
  type: list
  elements: str
  sample: []
vanished:
  description: Containers (ids) listed by C(docker ps) but removed before they could be inspected; the rest are reported.
  returned: always
  type: list
  elements: str
  sample: []
partial:
  description: What could not be read, one sentence each (the memory and CPU use of some or all containers).
  returned: when something could not be read
  type: list
  elements: str
  sample: ["memory and CPU use of indexer not read"]
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.usdx.incident.plugins.module_utils._compose_service_info import ComposeServiceInfo
from ansible_collections.usdx.incident.plugins.module_utils._docker import DockerError, docker_argument_spec


def main() -> None:
    argument_spec = docker_argument_spec()
    argument_spec.update(
        services={"type": "list", "elements": "str", "default": []},
        stats={"type": "bool", "default": True},
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    try:
        result = ComposeServiceInfo(module, module.params).run()
    except DockerError as exc:
        module.fail_json(msg=f"compose_service_info: {exc}", exception=traceback.format_exc())
    module.exit_json(**result)


if __name__ == "__main__":
    main()
