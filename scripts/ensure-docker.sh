#!/usr/bin/env bash
# Install and start what the sandbox needs on a Debian 12 machine, only where missing:
# the Docker engine (Debian's docker.io), mmdebstrap (base images: no registry is reachable)
# and the Compose v2 CLI plugin (not packaged for Debian 12: Debian 13's static binary works).
set -euo pipefail

log() { printf 'ensure-docker: %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
COMPOSE_DEB_SUITE=trixie

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! docker compose version >/dev/null 2>&1; then
  log "installing the Compose v2 plugin from Debian ${COMPOSE_DEB_SUITE}'s docker-compose package"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian ${COMPOSE_DEB_SUITE} main" >"$work/sources.list"
  apt_opts=(-qq -o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives"
            -o APT::Sandbox::User=root)
  # A private package list: Debian 12's own sources stay untouched.
  apt-get "${apt_opts[@]}" update
  (cd "$work" && apt-get "${apt_opts[@]}" download docker-compose)
  dpkg-deb -x "$work"/docker-compose_*.deb "$work/root"
  as_root install -D -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" "$PLUGIN_DIR/docker-compose"
fi

if ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    log "starting docker.service"
    as_root systemctl start docker
  else
    log "starting dockerd (no systemd here); log in /var/log/dockerd.log"
    as_root bash -c 'nohup dockerd >>/var/log/dockerd.log 2>&1 &'
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { log "the Docker engine did not answer within 60 s; see /var/log/dockerd.log"; exit 1; }
fi
log "docker $(docker version --format '{{.Server.Version}}'), $(docker compose version --short 2>/dev/null || docker compose version)"
