#!/usr/bin/env bash
# On each given release of tests/matrix/versions.yml, in its .venv-matrix/core-X (scripts/matrix-venv.sh), runs what
# depends on the release: the ansible-test sanity tests that load ansible-core's code or run on the release's Python
# (validate-modules, ansible-doc, import, compile, runtime-metadata, action-plugin-docs; the style tests do not
# depend on it and run on the dev venv), and the unit tests that import ansible (the plugins, plugin_utils and the
# runtime metadata; tests/unit/cli exercises the wrapper and stays on the dev venv). Sanity and unit tests of a
# release run side by side, releases one after another. One summary line per release; exit 1 on any failure.
# Usage: scripts/matrix-test.sh CORE...       (default: every row but main)
# Env: MATRIX_TEST_TIMEOUT  seconds the sanity run and the unit run of a release may each take (default 1200)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
matrix="$top/scripts/matrix.sh"
logs="$top/build/matrix"
deadline="${MATRIX_TEST_TIMEOUT:-1200}"
sanity_tests=(validate-modules ansible-doc import compile runtime-metadata action-plugin-docs)
unit_tests=(tests/unit/plugins tests/unit/plugin_utils tests/unit/test_runtime_metadata.py tests/unit/test_chain_layout.py)
export ANSIBLE_CONFIG="$top/ansible.cfg" USDX_INCIDENTS_DIR="$top/build/incidents"

cores=("$@"); [[ ${#cores[@]} -gt 0 ]] || read -r -a cores < <("$matrix" others)
[[ ${#cores[@]} -gt 0 ]] || { echo "matrix-test.sh: no release to run (scripts/matrix.sh others failed?)" >&2; exit 2; }
read -r -a supported < <("$matrix" supported)
[[ ${#supported[@]} -gt 0 ]] || { echo "matrix-test.sh: versions.yml names no supported release" >&2; exit 2; }
lowest_core=$("$matrix" cores | cut -d' ' -f1)
mkdir -p "$logs"
failed=0
for core in "${cores[@]}"; do
  venv="$top/.venv-matrix/core-$core"
  python_version=$("$matrix" python "$core")
  if [[ ! -x "$venv/bin/ansible-test" ]]; then
    echo "matrix-test.sh: no $venv; build it with: scripts/matrix-venv.sh $core" >&2
    exit 2
  fi
  start=$SECONDS
  # A release the roles are not claimed for: the copy claims the matrix's range, as ansible-doc would otherwise
  # warn (an error to ansible-test) that the collection does not support the release it documents.
  claim=""
  [[ " ${supported[*]} " == *" $core "* ]] || claim=">=$lowest_core.0"
  (
    cd "$top"
    PATH="$venv/bin:$PATH" SANITY_VENV="$venv" SANITY_PYTHON="$python_version" SANITY_REQUIRES_ANSIBLE="$claim" \
      SANITY_ROOT="/tmp/usdx-incident-matrix/core-$core" \
      timeout "$deadline" scripts/sanity.sh "${sanity_tests[@]/#/--test=}"
  ) > "$logs/core-$core-sanity.log" 2>&1 &
  sanity_pid=$!
  (
    cd "$top"
    timeout "$deadline" "$venv/bin/python" -m pytest -q -p no:cacheprovider "${unit_tests[@]}"
  ) > "$logs/core-$core-unit.log" 2>&1 &
  unit_pid=$!
  sanity_rc=0; wait "$sanity_pid" || sanity_rc=$?
  unit_rc=0; wait "$unit_pid" || unit_rc=$?

  ran=$(grep -c '^Running sanity test' "$logs/core-$core-sanity.log" || true)
  if [[ $sanity_rc -eq 0 ]]; then
    sanity="sanity $ran/${#sanity_tests[@]} passed"
  else
    sanity="sanity FAILED (rc $sanity_rc: $(grep -A20 '^FATAL: The' "$logs/core-$core-sanity.log" | tail -n +2 | tr '\n' ' '))"
  fi
  counts=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed|error)' "$logs/core-$core-unit.log" | tail -n 1 | tr -d '=' | sed 's/^ *//; s/ *$//')
  unit="unit ${counts:-no result (rc $unit_rc)}"
  [[ $unit_rc -eq 0 ]] || unit="unit FAILED: ${counts:-rc $unit_rc}"
  echo "core $core (ansible-core $("$matrix" get "$core" ansible_core), Python $python_version): $sanity; $unit;" \
       "$((SECONDS - start)) s"
  if [[ $sanity_rc -ne 0 || $unit_rc -ne 0 ]]; then
    failed=1
    # CI shows only this output: the end of each failing log, then where the whole of it is.
    [[ $sanity_rc -eq 0 ]] || tail -n 40 "$logs/core-$core-sanity.log" | sed 's/^/  sanity | /' >&2
    [[ $unit_rc -eq 0 ]] || tail -n 40 "$logs/core-$core-unit.log" | sed 's/^/  unit | /' >&2
    echo "  logs: build/matrix/core-$core-sanity.log, build/matrix/core-$core-unit.log" >&2
  fi
done
exit "$failed"
