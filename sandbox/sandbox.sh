#!/usr/bin/env bash
# USDX/Wexel sandbox driver. See README.md and ../docs/sandbox-contract.md.
#
#   sandbox.sh build          build the base image (if missing/outdated) and the service images
#   sandbox.sh up             mount the data filesystem, write .state/sandbox.env, start and wait healthy
#   sandbox.sh down           clear faults, remove containers + volumes, unmount the data filesystem
#   sandbox.sh status         containers, /health, lag, indexer release, data filesystem usage (rc 0 = healthy)
#   sandbox.sh fault NAME     api-down | db-connections | indexer-lag | disk-full | rpc-down | bad-deploy | clear
#   sandbox.sh deploy RELEASE build usdx-sandbox/indexer:RELEASE if missing, run it, record it in .state/deploy
#   sandbox.sh notifications  what the notification sink received
#   sandbox.sh fleet up N     fleet stacks 1..N side by side (images built once first), each waited healthy
#   sandbox.sh fleet status   one line per fleet stack (rc 0 = every stack that is up is healthy)
#   sandbox.sh fleet down [N...]  down of the given fleet stacks, of every fleet stack when none is given
#
# USDX_SANDBOX_STACK=N picks the stack every other command acts on: 0 (the default) is the stack of project
# usdx-wexel with its state in .state/; 1..8 are fleet stacks: project usdx-wexel-N, state in .state/stacks/N,
# every host port the default's + 10*N.
set -euo pipefail

SANDBOX_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SANDBOX_SH="$SANDBOX_DIR/sandbox.sh"
ROOT_STATE_DIR="$SANDBOX_DIR/.state"
FLEET_MAX=8
STACKS_ACCEPTED="0 (the default stack) or 1 to $FLEET_MAX (fleet stacks)"
STACK="${USDX_SANDBOX_STACK:-0}"
# Checked before anything is read or written: a bad value changes nothing.
if [[ ! "$STACK" =~ ^[0-9]$ ]] || ((STACK > FLEET_MAX)); then
  echo "sandbox.sh: unknown USDX_SANDBOX_STACK '$STACK' (accepted: $STACKS_ACCEPTED)" >&2
  exit 2
fi
FLEET_PROJECT_PREFIX="usdx-wexel-"
if ((STACK == 0)); then
  PROJECT="usdx-wexel"
  STATE_DIR="$ROOT_STATE_DIR"
  DATA_SOURCE="usdx-sandbox-data"
  STACK_SUFFIX=""
else
  PROJECT="$FLEET_PROJECT_PREFIX$STACK"
  STATE_DIR="$ROOT_STATE_DIR/stacks/$STACK"
  DATA_SOURCE="usdx-sandbox-data-$STACK"
  STACK_SUFFIX=" stack $STACK"
fi
# Fault garbage (containers, images) carries its stack's number: fault clear removes only its own stack's.
STACK_LABEL="io.usdx-sandbox.stack"
DATA_DIR="$STATE_DIR/data"
ENV_FILE="$STATE_DIR/sandbox.env"
MANIFEST="$STATE_DIR/disk-full.manifest"
DATA_SIZE="256m"
BASE_IMAGE="usdx-sandbox/base:bookworm"
FAULT_LABEL="io.usdx-sandbox.fault"
HOLDER_APP="usdx-reconciler"
FAULTS="api-down, db-connections, indexer-lag, disk-full, rpc-down, bad-deploy, clear"
COMMANDS="build, up, down, status, fault, deploy, notifications, fleet"
# The indexer's releases (one image each, usdx-sandbox/indexer:<release>); the running one is USDX_INDEXER_RELEASE.
RELEASES_FILE="$SANDBOX_DIR/apps/indexer/releases.txt"
INDEXER_IMAGE="usdx-sandbox/indexer"
RELEASE_LABEL="io.usdx-sandbox.release"
GOOD_RELEASE="v1.4.0"   # the default; fault clear returns to it
BAD_RELEASE="v1.5.0"    # fault bad-deploy: its marketplace query needs a migration the database never ran
# The deploy history: a git checkout with one commit per deploy and history.jsonl, one JSON object per deploy.
DEPLOY_DIR="$STATE_DIR/deploy"
HISTORY_FILE="$DEPLOY_DIR/history.jsonl"
# The indexer's source repository, as production's git remote: Fix option C fetches a ref from it and builds it.
ORIGIN_DIR="$STATE_DIR/indexer-origin.git"
ENV_KEYS=(USDX_INDEXER_PORT USDX_WEBAPP_PORT USDX_DB_PORT USDX_REDIS_PORT USDX_CHAIN_PORT
          USDX_DB_SUPERUSER_PASSWORD USDX_DB_PASSWORD CHAIN_BLOCK_TIME USDX_INDEXER_RELEASE USDX_NOTIFY_PORT)
declare -A DEFAULTS=(
  [USDX_INDEXER_PORT]=3001 [USDX_WEBAPP_PORT]=3000 [USDX_DB_PORT]=55432 [USDX_REDIS_PORT]=56379
  [USDX_CHAIN_PORT]=58545 [USDX_DB_SUPERUSER_PASSWORD]=sandbox-superuser-pw
  [USDX_DB_PASSWORD]=sandbox-usdx-pw [CHAIN_BLOCK_TIME]=1 [USDX_INDEXER_RELEASE]=$GOOD_RELEASE
  [USDX_NOTIFY_PORT]=58080
)
PORT_KEYS=(USDX_INDEXER_PORT USDX_WEBAPP_PORT USDX_DB_PORT USDX_REDIS_PORT USDX_CHAIN_PORT USDX_NOTIFY_PORT)
# A fleet stack's env file also names its data filesystem, project and health-check interval, so that a compose
# call with only that env file (the roles') acts on the right stack and computes the same config hash. Its ports
# are derived, never taken from the shell (eight stacks cannot share one port).
FLEET_KEYS=(USDX_DATA_DIR COMPOSE_PROJECT_NAME USDX_HEALTH_INTERVAL)
declare -A BASE_PORTS=()  # the default stack's, from which fleet status derives every stack's
for key in "${PORT_KEYS[@]}"; do BASE_PORTS[$key]=${DEFAULTS[$key]}; done
if ((STACK > 0)); then
  for key in "${PORT_KEYS[@]}"; do
    DEFAULTS[$key]=$((DEFAULTS[$key] + 10 * STACK))
    export "$key=${DEFAULTS[$key]}"
  done
  # Eight stacks share the machine's cores: their health checks run less often (the default stack's: 3s).
  DEFAULTS+=([USDX_DATA_DIR]=$DATA_DIR [COMPOSE_PROJECT_NAME]=$PROJECT [USDX_HEALTH_INTERVAL]=10s)
  export USDX_DATA_DIR="$DATA_DIR" COMPOSE_PROJECT_NAME="$PROJECT"
  export USDX_HEALTH_INTERVAL="${USDX_HEALTH_INTERVAL:-10s}"
  ENV_KEYS+=("${FLEET_KEYS[@]}")
fi
# The stand-in for Slack, PagerDuty, the status page and a webhook (tools/notify_sink.py), a host process.
NOTIFY_DIR="$STATE_DIR/notify"
NOTIFY_PID="$NOTIFY_DIR/sink.pid"
NOTIFY_LOG="$NOTIFY_DIR/received.jsonl"

die() { echo "sandbox.sh: $*" >&2; exit 1; }
note() { echo "sandbox: $*" >&2; }

# ------------------------------------------------------------------ environment
ensure_env() {
  mkdir -p "$STATE_DIR"
  if [[ ! -f "$ENV_FILE" ]]; then
    {
      echo "# written by sandbox.sh up (from the environment or the contract's defaults)"
      for key in "${ENV_KEYS[@]}"; do echo "$key=${!key:-${DEFAULTS[$key]}}"; done
    } >"$ENV_FILE"
    note "wrote $ENV_FILE"
  else
    # a file written before a key existed (USDX_INDEXER_RELEASE) gets it appended
    for key in "${ENV_KEYS[@]}"; do
      grep -q "^$key=" "$ENV_FILE" || echo "$key=${!key:-${DEFAULTS[$key]}}" >>"$ENV_FILE"
    done
  fi
}

# set_env_value KEY VALUE: replace KEY's line in sandbox.env (atomically) and in this shell's environment
set_env_value() {
  local tmp="$ENV_FILE.tmp.$$"
  awk -v key="$1" -v value="$2" -F= '$1 == key { print key "=" value; next } { print }' "$ENV_FILE" >"$tmp"
  chmod --reference="$ENV_FILE" "$tmp"
  mv -f "$tmp" "$ENV_FILE"
  export "$1=$2"
}

# Values: the shell environment wins (as with compose), then sandbox.env, then the defaults.
load_env() {
  local key value
  if [[ -f "$ENV_FILE" ]]; then
    while IFS='=' read -r key value; do
      [[ "$key" =~ ^[A-Z_][A-Z0-9_]*$ ]] || continue
      value="${value%\"}"; value="${value#\"}"; value="${value%\'}"; value="${value#\'}"
      [[ -n "${!key:-}" ]] || export "$key=$value"
    done <"$ENV_FILE"
  fi
  for key in "${ENV_KEYS[@]}"; do [[ -n "${!key:-}" ]] || export "$key=${DEFAULTS[$key]}"; done
  INDEXER_URL="http://127.0.0.1:$USDX_INDEXER_PORT"
}

dc() {
  docker compose --project-directory "$SANDBOX_DIR" -f "$SANDBOX_DIR/compose.yaml" --env-file "$ENV_FILE" \
    --project-name "$PROJECT" "$@"
}

# ------------------------------------------------------------------ probes
# wait_for TIMEOUT DESCRIPTION COMMAND...: poll COMMAND every 0.5 s until it succeeds.
wait_for() {
  local timeout=$1 desc=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${timeout}s waiting for $desc"
    sleep 0.5
  done
}

http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null || true; }
health_is() { [[ "$(http_code "$INDEXER_URL/health")" == "$1" ]]; }
# check_failing NAME: /health answers 503 and NAME's check is not "ok"
check_failing() {
  local body; body="$(curl -s -m 8 "$INDEXER_URL/health" || true)"
  [[ "$body" == *'"status": "error"'* && "$body" == *"\"$1\": \""* && "$body" != *"\"$1\": \"ok\""* ]]
}
health_chain_failing() { check_failing chain; }
health_db_failing() { check_failing db; }
api_refused() { ! curl -s -o /dev/null -m 3 "$INDEXER_URL/health"; }
metric() { curl -s -m 5 "$INDEXER_URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
lag_at_least() { local v; v="$(metric usdx_indexer_lag_blocks)"; [[ "$v" =~ ^[0-9]+$ ]] && ((v >= $1)); }
lag_at_most() { local v; v="$(metric usdx_indexer_lag_blocks)"; [[ "$v" =~ ^[0-9]+$ ]] && ((v <= $1)); }
data_use_pct() { df -P "$DATA_DIR" | awk 'NR == 2 { sub("%", "", $5); print $5 }'; }
data_at_least() { (($(data_use_pct) >= $1)); }
running() { [[ "$(docker inspect -f '{{.State.Running}}' "$(dc ps -aq "$1" 2>/dev/null)" 2>/dev/null)" == true ]]; }
exited_with() {
  local cid; cid="$(dc ps -aq "$1")"
  [[ -n "$cid" && "$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$cid")" == "exited $2" ]]
}
usdx_connect_error() { dc exec -T db psql -U usdx -d usdx_wexel -Atc 'select 1' 2>&1 || true; }
usdx_refused() { [[ "$(usdx_connect_error)" =~ too\ many\ (connections|clients) ]]; }
pg_super() { dc exec -T db psql -U postgres -d usdx_wexel -AtXq -c "$1"; }
lock_waiting() { [[ "$(pg_super "select count(*) from pg_locks where not granted")" -ge 1 ]]; }
events_exist() { [[ "$(dc exec -T db psql -U usdx -d usdx_wexel -Atc 'select count(*) from events')" -gt 0 ]]; }
all_healthy() {
  local svc cid
  for svc in db redis chain indexer webapp; do
    cid="$(dc ps -q "$svc")"
    [[ -n "$cid" && "$(docker inspect -f '{{.State.Health.Status}}' "$cid")" == healthy ]] || return 1
  done
}
require_up() {
  if [[ ! -f "$ENV_FILE" ]] || ! mountpoint -q "$DATA_DIR"; then
    die "the sandbox is not up (run: $0 up)"
  fi
}
require_running() { running "$1" || die "service '$1' is not running (try: $0 fault clear)"; }

# ------------------------------------------------------------------ releases
releases() { awk '!/^[[:space:]]*(#|$)/ { print $1 }' "$RELEASES_FILE"; }
release_notes() { awk -v r="$1" '$1 == r { $1 = ""; $2 = ""; sub(/^ +/, ""); print }' "$RELEASES_FILE"; }
release_list() { releases | paste -sd, - | sed 's/,/, /g'; }
image_exists() { docker image inspect "$INDEXER_IMAGE:$1" >/dev/null 2>&1; }
image_id() { docker image inspect -f '{{.Id}}' "$INDEXER_IMAGE:$1"; }
# the release label of the indexer container (running or not); empty when there is none
running_release() {
  local cid; cid="$(dc ps -aq indexer 2>/dev/null)"
  [[ -n "$cid" ]] || return 0
  docker inspect -f "{{ index .Config.Labels \"$RELEASE_LABEL\" }}" "$cid" 2>/dev/null || true
}
build_release() {
  local out
  out="$(USDX_INDEXER_RELEASE="$1" dc build --quiet indexer 2>&1)" || { echo "$out" >&2; die "could not build $INDEXER_IMAGE:$1"; }
}
indexer_runs_release() { [[ "$(running_release)" == "$1" ]] && running indexer; }
webapp_code() { http_code "http://127.0.0.1:$USDX_WEBAPP_PORT$1"; }
listings_failing() { [[ "$(webapp_code /api/marketplace/listings)" == 500 ]]; }

# git on the deploy checkout: no hook, pager, signing or credential helper of anyone's configuration runs
deploy_git() {
  env -u GIT_DIR -u GIT_WORK_TREE -u GIT_CONFIG_PARAMETERS GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 \
    git -C "$DEPLOY_DIR" -c core.hooksPath=/dev/null -c commit.gpgsign=false -c core.fsmonitor=false \
      -c user.name=sandbox.sh -c user.email=sandbox@usdx-wexel.invalid "$@"
}

# record_deploy ACTION RELEASE PREVIOUS BY: one line in history.jsonl, one commit in the deploy checkout
record_deploy() {
  local action=$1 release=$2 previous=$3 by=$4 now subject
  if [[ ! -d "$DEPLOY_DIR/.git" ]]; then
    mkdir -p "$DEPLOY_DIR"
    deploy_git init -q -b main
  fi
  now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '{"time": "%s", "service": "indexer", "action": "%s", "release": "%s", "previous": %s, "image": "%s", "image_id": "%s", "by": "%s"}\n' \
    "$now" "$action" "$release" "$([[ -n "$previous" ]] && echo "\"$previous\"" || echo null)" \
    "$INDEXER_IMAGE:$release" "$(image_id "$release")" "$by" >>"$HISTORY_FILE"
  case "$action" in
    rollback) subject="roll back indexer to $release (from $previous)" ;;
    *) subject="deploy indexer $release${previous:+ (was $previous)}" ;;
  esac
  deploy_git add history.jsonl
  deploy_git commit -q -m "$subject" -m "$release: $(release_notes "$release")" -m "by $by"
}

# git on the origin repository, the same isolation as deploy_git
origin_git() {
  env -u GIT_DIR -u GIT_WORK_TREE -u GIT_CONFIG_PARAMETERS GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 \
    git -c core.hooksPath=/dev/null -c commit.gpgsign=false -c tag.gpgsign=false -c core.fsmonitor=false \
      -c user.name=sandbox.sh -c user.email=sandbox@usdx-wexel.invalid "$@"
}

# ensure_origin: a bare repository holding the indexer's build context (its Dockerfile and sources), one tag per
# release of releases.txt. A release is a build argument, so every tag names the same commit.
ensure_origin() {
  [[ -d "$ORIGIN_DIR" ]] && return 0
  local work release
  work="$(mktemp -d)"
  mkdir -p "$work/images" "$work/apps"
  cp -a "$SANDBOX_DIR/images/indexer" "$work/images/"
  cp -a "$SANDBOX_DIR/apps/common" "$SANDBOX_DIR/apps/indexer" "$work/apps/"
  find "$work" -name __pycache__ -prune -exec rm -rf {} +
  origin_git -C "$work" init -q -b main
  origin_git -C "$work" add -A
  origin_git -C "$work" commit -q -m "indexer sources"
  while read -r release; do origin_git -C "$work" tag "$release"; done < <(releases)
  origin_git clone -q --bare "$work" "$ORIGIN_DIR"
  rm -rf "$work"
}

# ------------------------------------------------------------------ notification sink
notify_sink_running() {
  [[ -f "$NOTIFY_PID" ]] && grep -qs "notify_sink.py" "/proc/$(cat "$NOTIFY_PID")/cmdline"
}

start_notify_sink() {
  notify_sink_running && return 0
  mkdir -p "$NOTIFY_DIR"
  setsid python3 "$SANDBOX_DIR/tools/notify_sink.py" --port "$USDX_NOTIFY_PORT" --log "$NOTIFY_LOG" \
    </dev/null >"$NOTIFY_DIR/sink.err" 2>&1 9>&- &
  echo $! >"$NOTIFY_PID"
  wait_for 10 "the notification sink on :$USDX_NOTIFY_PORT" notify_sink_answers
}

notify_sink_answers() { [[ "$(http_code "http://127.0.0.1:$USDX_NOTIFY_PORT/")" =~ ^[1-5] ]]; }

stop_notify_sink() {
  if notify_sink_running; then kill "$(cat "$NOTIFY_PID")" 2>/dev/null || true; fi
  rm -rf "$NOTIFY_DIR"
}

# notifications: what the sink received, one line each (time, service, what a person would read)
cmd_notifications() {
  [[ -f "$NOTIFY_LOG" ]] || { echo "no notification received"; return 0; }
  python3 - "$NOTIFY_LOG" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    entry = json.loads(line)
    body = entry.get("body") or {}
    if entry["service"] == "pagerduty":
        text = f"{body.get('event_action')} {body.get('dedup_key')}: {(body.get('payload') or {}).get('summary', '')}"
    elif entry["service"] == "statuspage":
        incident = body.get("incident") or {}
        text = f"{incident.get('status')}: {incident.get('name', '')} - {incident.get('body', '')}"
    else:
        text = body.get("text") or body.get("summary") or json.dumps(body)[:200]
    print(f"{entry['at']} {entry['service']:<10} {' '.join(str(text).split())[:220]}")
PY
}

# deploy_release RELEASE ACTION BY: build the image if missing, make it the running release, recreate only the
# indexer from it (no other service is touched), record it. Does not wait for health (clear may run it mid-fault).
deploy_release() {
  local release=$1 action=$2 by=$3 previous out
  previous="$(running_release)"
  previous="${previous:-$USDX_INDEXER_RELEASE}"
  image_exists "$release" || build_release "$release"
  set_env_value USDX_INDEXER_RELEASE "$release"
  out="$(dc up -d --no-deps indexer 2>&1)" || { echo "$out" >&2; die "could not start the indexer on $release"; }
  record_deploy "$action" "$release" "$previous" "$by"
}

# ------------------------------------------------------------------ data filesystem
mount_data() {
  mkdir -p "$DATA_DIR"
  if ! mountpoint -q "$DATA_DIR"; then
    mount -t tmpfs -o "size=$DATA_SIZE,mode=0755" "$DATA_SOURCE" "$DATA_DIR"
    note "mounted a $DATA_SIZE tmpfs at $DATA_DIR"
  fi
  # pgdata and backups belong to the postgres user of the db image
  local pg_uid pg_gid
  read -r pg_uid pg_gid < <(docker run --rm --network none "$BASE_IMAGE" sh -c 'echo "$(id -u postgres) $(id -g postgres)"')
  mkdir -p "$DATA_DIR/pgdata" "$DATA_DIR/log" "$DATA_DIR/backups"
  chown "$pg_uid:$pg_gid" "$DATA_DIR/pgdata" "$DATA_DIR/backups"
  chmod 700 "$DATA_DIR/pgdata"
  chmod 755 "$DATA_DIR/log" "$DATA_DIR/backups"
}

# newest_backup: file name of the most recently modified backup in the data filesystem
newest_backup() {
  local file newest=""
  for file in "$DATA_DIR"/backups/usdx_wexel-*.sql.gz; do
    if [[ -z "$newest" || "$file" -nt "$newest" ]]; then newest="$file"; fi
  done
  echo "${newest##*/}"
}

ensure_backup() {
  if ! compgen -G "$DATA_DIR/backups/usdx_wexel-*.sql.gz" >/dev/null; then
    wait_for 60 "indexed events" events_exist
    # single quotes on purpose: the script is expanded by sh inside the db container
    # shellcheck disable=SC2016
    dc exec -T -u postgres db sh -c \
      'f=/var/backups/usdx-wexel/usdx_wexel-$(date -u +%Y-%m-%d).sql.gz; t="$f.tmp.$$"
       pg_dump -U usdx -d usdx_wexel | gzip -6 >"$t" && mv -f "$t" "$f"'
    note "wrote backup $(newest_backup)"
  fi
}

# ------------------------------------------------------------------ commands
cmd_build() {
  "$SANDBOX_DIR/images/base/build.sh"
  ensure_env
  dc build
}

cmd_up() {
  local start=$SECONDS build=(--build)
  # USDX_SANDBOX_PREBUILT=1 (set by fleet up, which builds the images once before it starts the stacks: eight
  # builds at once would race) skips the build
  if [[ "${USDX_SANDBOX_PREBUILT:-}" == 1 ]]; then build=(); else "$SANDBOX_DIR/images/base/build.sh" >&2; fi
  ensure_env
  load_env
  mount_data
  if ! dc up -d "${build[@]}" --wait --wait-timeout 180; then
    # --wait gives up at once on a container still marked unhealthy (e.g. after a fault)
    note "compose --wait failed; polling the healthchecks for up to 120s"
    wait_for 120 "every container to be healthy" all_healthy
  fi
  ensure_backup
  ensure_origin
  start_notify_sink
  [[ -f "$HISTORY_FILE" ]] || record_deploy deploy "$USDX_INDEXER_RELEASE" "" "sandbox.sh up"
  echo "sandbox$STACK_SUFFIX up in $((SECONDS - start))s: webapp http://127.0.0.1:$USDX_WEBAPP_PORT" \
       "indexer http://127.0.0.1:$USDX_INDEXER_PORT db 127.0.0.1:$USDX_DB_PORT" \
       "redis 127.0.0.1:$USDX_REDIS_PORT chain http://127.0.0.1:$USDX_CHAIN_PORT"
}

# own_stack: of the lines "ID STACK-LABEL-VALUE" on stdin, print the IDs of this stack's. The default stack also owns
# garbage without the label (made before stacks had numbers).
own_stack() {
  local id stack
  while read -r id stack; do
    if [[ "$stack" == "$STACK" || ( "$STACK" == 0 && -z "$stack" ) ]]; then echo "$id"; fi
  done
}
# the fault garbage of this stack: stopped one-off containers, committed images
garbage_containers() {
  docker ps -a --filter "label=$FAULT_LABEL" --format "{{.ID}} {{.Label \"$STACK_LABEL\"}}" | own_stack
}
garbage_images() {
  docker images -q --filter "label=$FAULT_LABEL" | sort -u |
    xargs -r docker image inspect -f "{{.Id}} {{index .Config.Labels \"$STACK_LABEL\"}}" | own_stack
}

remove_fault_garbage() {
  # xargs -r: no docker rm/rmi when nothing is labelled (pipefail still catches a failing docker)
  garbage_containers | xargs -r docker rm -f >/dev/null
  garbage_images | xargs -r docker rmi -f >/dev/null
}

remove_disk_fill() {
  local rel
  if [[ -f "$MANIFEST" ]]; then
    while IFS= read -r rel; do
      [[ -n "$rel" && "$rel" != *..* ]] && rm -f -- "$DATA_DIR/$rel"
    done <"$MANIFEST"
    rm -f "$MANIFEST"
  fi
  remove_fault_garbage
}

cmd_down() {
  ensure_env
  load_env
  remove_disk_fill
  dc down -v --remove-orphans --timeout 10
  stop_notify_sink
  rm -rf "$DEPLOY_DIR" "$ORIGIN_DIR" "$STATE_DIR/indexer-source"  # the next up deploys a fresh stack from fresh sources
  if mountpoint -q "$DATA_DIR"; then
    umount "$DATA_DIR"
    note "unmounted $DATA_DIR"
  fi
  if ((STACK > 0)); then
    # A fleet stack leaves nothing behind but its lock file: the next up starts it afresh (env file, incident
    # lock and breaker history included).
    find "$STATE_DIR" -mindepth 1 -maxdepth 1 ! -name '*.lock' -exec rm -rf {} +
  fi
  echo "sandbox$STACK_SUFFIX down"
}

cmd_status() {
  ensure_env
  load_env
  dc ps -a
  local code; code="$(http_code "$INDEXER_URL/health")"
  echo "indexer /health: ${code:-000} $(curl -s -m 8 "$INDEXER_URL/health" 2>/dev/null || true)"
  echo "indexer lag: $(metric usdx_indexer_lag_blocks || true) blocks"
  echo "indexer release: $(running_release) (USDX_INDEXER_RELEASE=$USDX_INDEXER_RELEASE; good $GOOD_RELEASE)"
  if mountpoint -q "$DATA_DIR"; then df -h "$DATA_DIR" | tail -n 1; else echo "data filesystem: not mounted"; fi
  [[ "$code" == 200 ]]
}

fault_api_down() {
  if exited_with indexer 137; then
    echo "api-down: indexer container already killed (exit code 137); $INDEXER_URL refuses connections"
    return
  fi
  require_running indexer
  dc kill -s SIGKILL indexer >/dev/null 2>&1
  wait_for 30 "the indexer to exit with 137" exited_with indexer 137
  wait_for 30 "$INDEXER_URL to refuse connections" api_refused
  echo "api-down: killed the indexer container (exit code 137, restart: no); $INDEXER_URL refuses connections"
}

fault_rpc_down() {
  dc stop -t 5 chain >/dev/null 2>&1
  wait_for 30 "the chain RPC to refuse connections" \
    bash -c "! curl -s -m 3 -o /dev/null http://127.0.0.1:$USDX_CHAIN_PORT/"
  if running indexer; then
    wait_for 30 "indexer /health to report the chain failing" health_chain_failing
  fi
  echo "rpc-down: stopped the chain container; RPC 127.0.0.1:$USDX_CHAIN_PORT and chain:8545 refuse connections (indexer /health 503)"
}

fault_indexer_lag() {
  require_running indexer
  require_running chain
  local pid
  pid="$(dc exec -T indexer pgrep -f usdx-indexer-worker | head -n 1)"
  [[ -n "$pid" ]] || die "no usdx-indexer-worker process in the indexer container"
  dc exec -T indexer kill -STOP "$pid"
  # Past the 10 blocks that indexer_lag_info (and an alert) tolerates as normal batching.
  wait_for 90 "the indexer lag to reach 15 blocks" lag_at_least 15
  echo "indexer-lag: stopped (SIGSTOP) usdx-indexer-worker (pid $pid in the indexer container); lag is $(metric usdx_indexer_lag_blocks) blocks and growing"
}

fault_db_connections() {
  require_running db
  # single quotes on purpose: the script is expanded by sh inside the db container
  # shellcheck disable=SC2016
  if ! dc exec -T db sh -c 'test -f /tmp/usdx-db-holder.pid && kill -0 "$(cat /tmp/usdx-db-holder.pid)"' 2>/dev/null; then
    dc exec -T -d db /opt/usdx/bin/usdx-db-holder
  fi
  wait_for 30 "new usdx connections to be refused" usdx_refused
  wait_for 15 "a query waiting on a row lock" lock_waiting
  if running indexer; then
    wait_for 30 "indexer /health to report the db failing" health_db_failing
  fi
  local held; held="$(pg_super "select count(*) from pg_stat_activity where application_name = '$HOLDER_APP'")"
  echo "db-connections: '$HOLDER_APP' holds $held usdx connections (1 idle in transaction with a row lock, 1 waiting on it, the rest idle); new usdx connections fail with: $(usdx_connect_error | sed -n 's/.*FATAL: *//p' | head -n 1)"
}

fault_disk_full() {
  require_up
  docker run --rm --network none -v "$DATA_DIR:/data" -v "$STATE_DIR:/state" \
    -v "$SANDBOX_DIR/tools:/tools:ro" "$BASE_IMAGE" \
    python3 /tools/fill_disk.py --data /data --target 96 --manifest /state/disk-full.manifest >/dev/null
  # Docker garbage: a dangling (untagged) image and a stopped one-off container
  if [[ -z "$(garbage_images)" ]]; then
    local tmp="$PROJECT-fault-build-$$"
    docker run --name "$tmp" --label "$STACK_LABEL=$STACK" --network none "$BASE_IMAGE" \
      sh -c 'head -c 48M /dev/urandom > /var/tmp/indexer-build-cache.bin' >/dev/null
    docker commit --change "LABEL $FAULT_LABEL=disk-full $STACK_LABEL=$STACK" --change 'CMD ["/bin/bash"]' \
      "$tmp" >/dev/null
    docker rm "$tmp" >/dev/null
  fi
  if [[ -z "$(garbage_containers)" ]]; then
    docker run --name "$PROJECT-db-migrate-20260801" --label "$FAULT_LABEL=disk-full" \
      --label "$STACK_LABEL=$STACK" --network none \
      "$BASE_IMAGE" sh -c 'echo "migration 0042_add_events_index applied"' >/dev/null
  fi
  wait_for 30 "the data filesystem to reach 95%" data_at_least 95
  echo "disk-full: $DATA_DIR is $(data_use_pct)% full ($(wc -l <"$MANIFEST") files: old logs >30d, old backups >60d, recent logs/backups; newest backup kept); Docker garbage: 1 dangling image, 1 stopped container"
}

fault_bad_deploy() {
  if indexer_runs_release "$BAD_RELEASE" && [[ "$USDX_INDEXER_RELEASE" == "$BAD_RELEASE" ]] && listings_failing; then
    echo "bad-deploy: indexer already runs $BAD_RELEASE; GET /api/marketplace/listings answers 500"
    return
  fi
  local previous; previous="$(running_release)"
  build_release "$BAD_RELEASE"  # always from the current sources (cached: about a second)
  deploy_release "$BAD_RELEASE" deploy "sandbox.sh fault bad-deploy"
  wait_for 60 "the indexer on $BAD_RELEASE to be healthy" indexer_runs_release "$BAD_RELEASE"
  wait_for 60 "indexer /health 200" health_is 200
  wait_for 30 "GET /api/marketplace/listings to answer 500" listings_failing
  local detail
  detail="$(curl -s -m 5 "http://127.0.0.1:$USDX_WEBAPP_PORT/api/marketplace/listings" |
            sed -n 's/.*"detail": "\(.*\)"}.*/\1/p' | sed 's/\\"/"/g; s/ LINE 1:.*//')"
  echo "bad-deploy: deployed indexer $BAD_RELEASE over ${previous:-none} (recorded in $DEPLOY_DIR; $INDEXER_IMAGE:$GOOD_RELEASE kept for rollback); /health 200 but GET /api/marketplace/listings answers 500 ($detail)"
}

fault_clear() {
  # 1. resume a stopped worker
  if running indexer; then
    dc exec -T indexer pkill -CONT -f usdx-indexer-worker >/dev/null 2>&1 || true
  fi
  # 2. stop the connection holder and terminate whatever it left behind
  if running db; then
    # single quotes on purpose: the script is expanded by sh inside the db container
    # shellcheck disable=SC2016
    dc exec -T db sh -c 'if [ -f /tmp/usdx-db-holder.pid ]; then kill "$(cat /tmp/usdx-db-holder.pid)" 2>/dev/null; rm -f /tmp/usdx-db-holder.pid; fi' || true
    pg_super "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = '$HOLDER_APP'" >/dev/null || true
  fi
  # 3. disk-full files and Docker garbage
  remove_disk_fill
  # 4. the good release (bad-deploy), recorded in the deploy history as a rollback
  if [[ "$USDX_INDEXER_RELEASE" != "$GOOD_RELEASE" || "$(running_release)" != "$GOOD_RELEASE" ]]; then
    deploy_release "$GOOD_RELEASE" rollback "sandbox.sh fault clear"
  fi
  # 5. start everything that is down (chain, indexer, ...) and wait for the healthchecks
  # (no --wait: compose gives up at once on a container that is still marked unhealthy). --no-recreate: a
  # container deployed with --no-deps carries another config hash, and a plain up would recreate it and the webapp.
  local out
  out="$(dc up -d --no-recreate 2>&1)" || { echo "$out" >&2; die "could not bring the stack back up"; }
  # 6. maintenance off, indexing unpaused
  dc exec -T redis redis-cli DEL usdx:maintenance usdx:paused >/dev/null
  wait_for 120 "indexer /health 200" health_is 200
  wait_for 120 "every container to be healthy" all_healthy
  wait_for 60 "the indexer to catch up" lag_at_most 3
  echo "clear: all faults cleared; /health 200, lag $(metric usdx_indexer_lag_blocks) blocks, indexer $(running_release), data filesystem $(data_use_pct)% used"
}

validate_fault() {
  case "${1:-}" in
    api-down|db-connections|indexer-lag|disk-full|rpc-down|bad-deploy|clear) ;;
    "") echo "sandbox.sh: missing fault name (accepted: $FAULTS)" >&2; exit 2 ;;
    *) echo "sandbox.sh: unknown fault '$1' (accepted: $FAULTS)" >&2; exit 2 ;;
  esac
}

validate_release() {
  [[ -n "${1:-}" ]] || { echo "sandbox.sh: missing release (accepted: $(release_list))" >&2; exit 2; }
  releases | grep -qxF -- "$1" || { echo "sandbox.sh: unknown release '$1' (accepted: $(release_list))" >&2; exit 2; }
}

cmd_deploy() {
  local release=$1 previous
  require_up
  load_env
  previous="$(running_release)"
  if [[ "$previous" == "$release" && "$USDX_INDEXER_RELEASE" == "$release" ]] && running indexer; then
    echo "deploy: indexer already runs $release ($INDEXER_IMAGE:$release)"
    return
  fi
  deploy_release "$release" deploy "sandbox.sh deploy"
  wait_for 60 "the indexer on $release to be healthy" indexer_runs_release "$release"
  wait_for 60 "indexer /health 200" health_is 200
  echo "deploy: indexer runs $release (was ${previous:-none}; $INDEXER_IMAGE:$release $(image_id "$release" | cut -c1-19)); recorded in $DEPLOY_DIR"
}

cmd_fault() {
  local name="${1:-}"
  require_up
  load_env
  "fault_${name//-/_}"
}

# ------------------------------------------------------------------ fleet
FLEET_UP_TIMEOUT="${USDX_FLEET_UP_TIMEOUT:-1200}"   # seconds for the whole of fleet up, every stack's up included

fleet_usage() { echo "sandbox.sh: $1 (accepted: fleet up N with N from 1 to $FLEET_MAX; fleet status; fleet down [N...])" >&2; exit 2; }

# fleet_number VALUE: VALUE is a fleet stack number (1..FLEET_MAX), else a one-line usage error
fleet_number() {
  if [[ ! "$1" =~ ^[1-9]$ ]] || (($1 > FLEET_MAX)); then fleet_usage "unknown fleet stack '$1'"; fi
}

# fleet_run VERB TIMEOUT N...: `sandbox.sh VERB` for each stack N in parallel, each output in
# .state/stacks/N.VERB.log; fails naming the stacks that failed, with the end of their logs.
fleet_run() {
  local verb=$1 timeout=$2 n failed=() ; shift 2
  local -A pids=()
  mkdir -p "$ROOT_STATE_DIR/stacks"
  for n in "$@"; do
    USDX_SANDBOX_STACK=$n USDX_SANDBOX_PREBUILT=1 timeout -k 15 "$timeout" "$SANDBOX_SH" "$verb" \
      >"$ROOT_STATE_DIR/stacks/$n.$verb.log" 2>&1 9>&- &
    pids[$n]=$!
  done
  for n in "$@"; do
    if ! wait "${pids[$n]}"; then failed+=("$n"); fi
  done
  for n in "${failed[@]}"; do
    echo "---- stack $n: sandbox.sh $verb failed; the end of $ROOT_STATE_DIR/stacks/$n.$verb.log:" >&2
    tail -n 30 "$ROOT_STATE_DIR/stacks/$n.$verb.log" >&2
  done
  ((${#failed[@]} == 0)) || die "fleet $verb failed on stack(s) ${failed[*]} (timeout ${timeout}s)"
}

cmd_fleet_up() {
  local count=$1 start=$SECONDS build_log="$ROOT_STATE_DIR/stacks/build.log"
  [[ "$FLEET_UP_TIMEOUT" =~ ^[1-9][0-9]*$ ]] ||
    fleet_usage "USDX_FLEET_UP_TIMEOUT must be a number of seconds > 0, got '$FLEET_UP_TIMEOUT'"
  mkdir -p "$ROOT_STATE_DIR/stacks"
  # The images once, with stack 1's env file (the same images serve every stack); then every stack at once.
  if ! USDX_SANDBOX_STACK=1 timeout -k 15 "$FLEET_UP_TIMEOUT" "$SANDBOX_SH" build >"$build_log" 2>&1 9>&-; then
    tail -n 30 "$build_log" >&2
    die "fleet up: building the images failed (log: $build_log)"
  fi
  local left=$((FLEET_UP_TIMEOUT - (SECONDS - start)))
  ((left > 0)) || die "fleet up: no time left after the build (USDX_FLEET_UP_TIMEOUT=$FLEET_UP_TIMEOUT)"
  # shellcheck disable=SC2046  # one argument per stack number
  fleet_run up "$left" $(seq 1 "$count")
  echo "fleet up in $((SECONDS - start))s: stacks 1 to $count"
  # Only the stacks just brought up: another fleet stack may be mid-fault in someone else's hands.
  # shellcheck disable=SC2046  # one argument per stack number
  cmd_fleet_status $(seq 1 "$count")
}

# the fleet stacks that exist: a state directory with an env file, or containers of their project
fleet_existing() {
  local n
  for n in $(seq 1 "$FLEET_MAX"); do
    if [[ -f "$ROOT_STATE_DIR/stacks/$n/sandbox.env" ]] ||
       [[ -n "$(docker ps -aq --filter "label=com.docker.compose.project=$FLEET_PROJECT_PREFIX$n")" ]]; then
      echo "$n"
    fi
  done
}

# cmd_fleet_status [N...]: the given fleet stacks, or every one that exists; fails if an indexer is not healthy
cmd_fleet_status() {
  local n code running healthy rc=0 stacks=("$@")
  if ((${#stacks[@]} == 0)); then mapfile -t stacks < <(fleet_existing); fi
  if ((${#stacks[@]} == 0)); then echo "no fleet stack is up"; return 0; fi
  for n in "${stacks[@]}"; do
    running="$(docker ps -q --filter "label=com.docker.compose.project=$FLEET_PROJECT_PREFIX$n" | wc -l)"
    healthy="$(docker ps -q --filter "label=com.docker.compose.project=$FLEET_PROJECT_PREFIX$n" \
                 --filter health=healthy | wc -l)"
    code="$(http_code "http://127.0.0.1:$((BASE_PORTS[USDX_INDEXER_PORT] + 10 * n))/health")"
    echo "stack $n: project $FLEET_PROJECT_PREFIX$n, $running containers running ($healthy healthy)," \
         "indexer /health ${code:-000}, webapp http://127.0.0.1:$((BASE_PORTS[USDX_WEBAPP_PORT] + 10 * n))"
    [[ "$code" == 200 ]] || rc=1
  done
  return "$rc"
}

cmd_fleet_down() {
  local stacks=("$@") start=$SECONDS
  if ((${#stacks[@]} == 0)); then mapfile -t stacks < <(fleet_existing); fi
  if ((${#stacks[@]} == 0)); then echo "fleet down: no fleet stack is up"; return 0; fi
  fleet_run down 300 "${stacks[@]}"
  echo "fleet down in $((SECONDS - start))s: stacks ${stacks[*]}"
}

cmd_fleet() {
  local sub="${1:-}" n
  shift || true
  case "$sub" in
    up)
      (($# == 1)) || fleet_usage "fleet up takes one stack count"
      fleet_number "$1"
      cmd_fleet_up "$1" ;;
    status) (($# == 0)) || fleet_usage "fleet status takes no argument"; cmd_fleet_status ;;
    down)
      for n in "$@"; do fleet_number "$n"; done
      cmd_fleet_down "$@" ;;
    "") fleet_usage "missing fleet command" ;;
    *) fleet_usage "unknown fleet command '$sub'" ;;
  esac
}

# Serialise concurrent invocations (several test runs may share one sandbox).
lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/.lock"
  if ! flock -n 9; then
    note "waiting for another sandbox.sh to finish"
    flock -w 600 9 || die "timed out waiting for the sandbox lock ($STATE_DIR/.lock)"
  fi
}

main() {
  local cmd="${1:-}"
  [[ "$cmd" != fault ]] || validate_fault "${2:-}"
  [[ "$cmd" != deploy ]] || validate_release "${2:-}"
  case "$cmd" in build|up|down|fault|deploy) lock ;; esac
  case "$cmd" in
    build) cmd_build ;;
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    fault) shift; cmd_fault "$@" ;;
    deploy) cmd_deploy "$2" ;;
    notifications) cmd_notifications ;;
    fleet) shift; cmd_fleet "$@" ;;
    "") echo "sandbox.sh: missing command (accepted: $COMMANDS)" >&2; exit 2 ;;
    *) echo "sandbox.sh: unknown command '$cmd' (accepted: $COMMANDS)" >&2; exit 2 ;;
  esac
}

main "$@"
