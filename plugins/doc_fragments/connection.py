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
      - C(tcp) connects with psycopg2 to O(login_host):O(login_port) through community.postgresql's connection
        functions, with TLS as O(ssl_mode) says.
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
      - Seconds to wait for the connection (TCP, TLS and authentication) before reporting the server unreachable.
      - Once connected, a query may take the server's C(statement_timeout) of 15 seconds; a server that stops
        answering altogether is given up two seconds later and reported unavailable and timed out.
    type: int
    default: 5
  ssl_mode:
    description:
      - Whether and how to use TLS with O(connect_via=tcp), as libpq's C(sslmode); V(verify-full) checks the
        server's certificate against O(ca_cert) and its host name, as a production database needs.
      - Taken from the common options of the M(community.postgresql.postgresql_info) family.
    type: str
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
    default: prefer
  ca_cert:
    description:
      - CA certificate file (PEM) that signs the server's certificate, with O(connect_via=tcp) (libpq's C(sslrootcert)).
    type: str
    aliases: [ssl_rootcert]
  ssl_cert:
    description:
      - Client certificate file (PEM) to authenticate with, with O(connect_via=tcp) (libpq's C(sslcert)).
    type: path
  ssl_key:
    description:
      - Private key file of O(ssl_cert), with O(connect_via=tcp) (libpq's C(sslkey)).
    type: path
  db_service:
    description:
      - Compose service that runs PostgreSQL, with O(connect_via=container).
    type: str
    default: db
"""
