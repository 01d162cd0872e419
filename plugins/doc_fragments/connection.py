# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """How the collection's modules reach the stack: one place for connection options."""

    # Options for modules that talk to the Docker Compose project.
    DOCUMENTATION = r"""
options:
  project_name:
    description:
      - Name of the Docker Compose project that runs the stack (the C(com.docker.compose.project) label).
    type: str
    default: usdx-wexel
  docker_cli:
    description:
      - Path or name of the C(docker) command line client.
    type: path
    default: docker
requirements:
  - The C(docker) CLI on the target host, with access to the Docker engine.
"""

    # Options for modules that query PostgreSQL, over TCP or through the db container.
    POSTGRES = r"""
options:
  connect_via:
    description:
      - How to reach PostgreSQL.
      - C(tcp) connects with psycopg2 to O(login_host):O(login_port).
      - C(container) runs C(psql) inside the O(db_service) container of the compose project,
        as the runbook's C(docker-compose exec db psql) does; use it when the database
        publishes no port.
    type: str
    choices: [tcp, container]
    default: tcp
  login_host:
    description:
      - Host name or address of the PostgreSQL server, with O(connect_via=tcp).
    type: str
    default: 127.0.0.1
  login_port:
    description:
      - TCP port of the PostgreSQL server, with O(connect_via=tcp).
    type: int
    default: 5432
  login_user:
    description:
      - Role to connect as. A superuser can use the slots reserved by
        C(superuser_reserved_connections), so diagnostics still work when the
        server refuses ordinary clients.
    type: str
    default: postgres
  login_password:
    description:
      - Password of O(login_user). Never logged or returned.
      - With O(connect_via=container) it is handed to C(psql) in its environment (C(PGPASSWORD)), never on a
        command line; it is only needed when the container does not trust local connections.
    type: str
  login_db:
    description:
      - Database to connect to.
    type: str
    default: usdx_wexel
  connect_timeout:
    description:
      - Seconds to wait for the connection before reporting the server unreachable.
    type: int
    default: 5
  db_service:
    description:
      - Compose service that runs PostgreSQL, with O(connect_via=container).
    type: str
    default: db
"""
