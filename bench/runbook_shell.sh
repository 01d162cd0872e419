#!/usr/bin/env bash
# The runbook's Step 2 (Assess) and Step 4 (Diagnose) commands, one after another, as an engineer
# types them into a shell on the stack host (plus the third psql query, `df -h` and `docker system df`
# of the database and disk scenarios). bench/runbook_shell.yml runs the same commands as Ansible tasks;
# bench/triage_bench.py times both against playbooks/triage.yml. Keep the two lists the same.
#
#   bench/runbook_shell.sh PROJECT_DIR PROJECT API_URL WEBAPP_URL [ENV_FILE...]
#
# Like the engineer's shell, it parses and ranks nothing, and it goes on when a command fails.
set -u -o pipefail

if (( $# < 4 )); then
  echo "usage: $0 PROJECT_DIR PROJECT API_URL WEBAPP_URL [ENV_FILE...]" >&2
  exit 2
fi
project_dir=$1 project=$2 api_url=$3 webapp_url=$4
shift 4
env_files=()
for file in "$@"; do env_files+=(--env-file "$file"); done

# `docker-compose` in the runbook; the sandbox needs the project directory, name and env file spelled out.
compose() { docker compose --project-directory "$project_dir" -p "$project" "${env_files[@]}" "$@"; }

# Step 2: Assess
compose ps
compose logs --tail=500 indexer | grep ERROR
compose logs --tail=500 webapp | grep ERROR
curl -sS -m 5 "$api_url/health"
curl -sS -m 5 -o /dev/null -w '%{http_code}\n' "$webapp_url/"

# Step 4: Diagnose (and the connection count of "Database Connection Exhausted")
compose exec -T db psql -U usdx -d usdx_wexel -c "SELECT * FROM pg_stat_activity WHERE state = 'active';"
compose exec -T db psql -U usdx -d usdx_wexel -c "SELECT * FROM pg_locks WHERE NOT granted;"
compose exec -T db psql -U usdx -d usdx_wexel -c "SELECT count(*) FROM pg_stat_activity;"
compose exec -T db df -h
compose exec -T redis df -h
docker stats --no-stream
git -C "$project_dir" log --oneline -10

# "Out of Disk Space"
df -h
docker system df
exit 0
