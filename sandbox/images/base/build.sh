#!/usr/bin/env bash
# Build usdx-sandbox/base:bookworm with mmdebstrap + docker import (no registry needed).
# Idempotent: skipped when the image exists with the same package-list hash label.
# Set USDX_BASE_FORCE=1 to rebuild anyway.
set -euo pipefail

IMAGE="${USDX_BASE_IMAGE:-usdx-sandbox/base:bookworm}"
SUITE=bookworm
MIRROR="${USDX_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES=(
  python3 python-is-python3 python3-psycopg2 python3-redis
  postgresql-15 redis-server npm
  procps iproute2 curl ca-certificates tini util-linux
)

pkg_list="$(printf '%s\n' "${PACKAGES[@]}" | sort)"
hash="$(printf '%s\n%s\n%s\n' "$SUITE" "$MIRROR" "$pkg_list" | sha256sum | cut -c1-16)"
LABEL_KEY=io.usdx-sandbox.base.pkghash

log() { printf '[base] %s\n' "$*"; }

current="$(docker image inspect -f "{{ index .Config.Labels \"$LABEL_KEY\" }}" "$IMAGE" 2>/dev/null || true)"
if [[ "${USDX_BASE_FORCE:-0}" != 1 && "$current" == "$hash" ]]; then
  log "$IMAGE is up to date (package hash $hash), skipping"
  exit 0
fi
if [[ -n "$current" ]]; then
  log "$IMAGE has package hash '$current', want '$hash': rebuilding"
else
  log "$IMAGE not found: building"
fi

command -v mmdebstrap >/dev/null || { echo "build.sh: mmdebstrap is required" >&2; exit 1; }
include="$(IFS=,; echo "${PACKAGES[*]}")"
log "mmdebstrap $SUITE from $MIRROR (packages: $include)"
start=$SECONDS
# single quotes on purpose: mmdebstrap runs each hook with sh -c, the chroot directory as $1
# shellcheck disable=SC2016
mmdebstrap --variant=minbase --include="$include" \
  --aptopt='Apt::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook='chroot "$1" apt-get clean' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/*' \
  "$SUITE" - "$MIRROR" \
| docker import \
    --change "LABEL $LABEL_KEY=$hash" \
    --change 'LABEL org.opencontainers.image.title=usdx-sandbox-base' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    - "$IMAGE" >/dev/null
log "built $IMAGE (package hash $hash) in $((SECONDS - start))s"
