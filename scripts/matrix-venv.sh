#!/usr/bin/env bash
# Builds .venv-matrix/core-X (gitignored) for each given release of tests/matrix/versions.yml, side by side
# with the dev venv, in parallel: the row's Python from pyenv, its ansible-core, the collections of its
# `ansible` bundle that the collection uses (extracted from the bundle's wheel: installing the whole bundle
# costs far more and tests nothing more), what the unit tests import, and molecule on the newest row.
# With --integration, .venv-matrix/integration-X instead: what the integration tests and molecule run with
# (the usdx-incident command, ansible-runner, pytest, molecule) on the row's ansible-core and collections, on
# the newer of the dev venv's Python and the row's (make integration on the oldest row, integration-newest on the
# newest: ansible-core 2.20 needs Python 3.12 on the controller).
# A venv that already has its content is left alone.
# Usage: scripts/matrix-venv.sh [--integration] CORE...   (e.g. 2.16 2.20; default: every row but main)
# Env: MATRIX_PIP_TIMEOUT  seconds one pip call may take (default 600)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
matrix="$top/scripts/matrix.sh"
dev_python="$top/.venv/bin/python"
root="$top/.venv-matrix"
cache="$root/cache"
pip_timeout="${MATRIX_PIP_TIMEOUT:-600}"
pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"

# The unit tests' requirements, at pyproject.toml's pins (one place for them).
read -r -a test_requirements < <(timeout 30 "$dev_python" - "$top/pyproject.toml" <<'PY'
import sys, tomllib
from packaging.requirements import Requirement
with open(sys.argv[1], "rb") as stream:
    project = tomllib.load(stream)["project"]
wanted = {"jinja2", "psycopg2-binary", "requests", "pytest"}
print(" ".join(r for r in project["dependencies"] + project["optional-dependencies"]["test"]
               if Requirement(r).name in wanted))
PY
)
[[ ${#test_requirements[@]} -eq 4 ]] || { echo "matrix-venv.sh: pyproject.toml should pin jinja2, psycopg2-binary, requests and pytest" >&2; exit 2; }
molecule_requirement=$(timeout 30 "$dev_python" -c '
import sys, tomllib
print(next(r for r in tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]["test"] if r.startswith("molecule")))' "$top/pyproject.toml")
# The integration venv: the usdx-incident command's own requirements but ansible and ansible-core (the row's
# come instead), and what the integration tests and molecule need.
read -r -a integration_requirements < <(timeout 30 "$dev_python" - "$top/pyproject.toml" <<'PY'
import sys, tomllib
from packaging.requirements import Requirement
with open(sys.argv[1], "rb") as stream:
    project = tomllib.load(stream)["project"]
print(" ".join([r for r in project["dependencies"] if Requirement(r).name not in {"ansible", "ansible-core"}]
               + [r for r in project["optional-dependencies"]["test"] if Requirement(r).name in {"pytest", "aiosmtpd", "molecule"}]))
PY
)

# The newest pyenv build of a Python minor version (3.12 -> ~/.pyenv/versions/3.12.1/bin/python3.12).
pyenv_python() {
  local found
  found=$(find "$pyenv_root/versions" -maxdepth 1 -name "$1.*" -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
  if [[ -z "$found" ]]; then
    echo "matrix-venv.sh: no Python $1 under $pyenv_root/versions; install it with: pyenv install $1" >&2
    return 1
  fi
  echo "$pyenv_root/versions/$found/bin/python$1"
}

build() {
  local core=$1 name="$kind-$1" venv="$root/$kind-$1" python row_version bundle core_version wheel stamp want
  bundle=$("$matrix" get "$core" ansible)
  core_version=$("$matrix" get "$core" ansible_core)
  local -a requirements=("ansible-core==$core_version")
  if [[ "$kind" == integration ]]; then
    # The dev venv's Python, unless the release needs a newer one on the controller (2.20: 3.12).
    python=$(readlink -f "$dev_python")
    row_version=$("$matrix" python "$core")
    if "$python" -c 'import sys; raise SystemExit(tuple(map(int, sys.argv[1].split("."))) <= sys.version_info[:2])' "$row_version"; then
      python=$(pyenv_python "$row_version")
    fi
    requirements+=("${integration_requirements[@]}")
  else
    python=$(pyenv_python "$("$matrix" python "$core")")
    requirements+=("${test_requirements[@]}")
    # molecule on the newest row (make molecule-newest); requests is already there for community.docker.
    [[ "$core" == "$("$matrix" newest)" ]] && requirements+=("$molecule_requirement")
  fi
  want="$("$python" -V) ansible==$bundle ${requirements[*]} collections: $("$matrix" collections)"
  stamp="$venv/.matrix-content"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] \
     && [[ "$(timeout 60 "$venv/bin/python" -c 'import ansible.release; print(ansible.release.__version__)' 2>/dev/null)" == "$core_version" ]]; then
    echo "$name: up to date (ansible-core $core_version, $("$python" -V))"
    return 0
  fi
  rm -rf "$venv"
  # No pip in the venv: the dev venv's pip installs into it (--python), which saves ensurepip's seconds.
  timeout 120 "$python" -m venv --without-pip "$venv"
  timeout "$pip_timeout" "$top/.venv/bin/pip" --python "$venv/bin/python" install --quiet --quiet --no-compile "${requirements[@]}"
  # The usdx-incident command from this checkout; its ansible pins are the dev venv's, hence --no-deps.
  [[ "$kind" == integration ]] && timeout "$pip_timeout" "$top/.venv/bin/pip" --python "$venv/bin/python" install \
    --quiet --quiet --no-compile --no-deps --editable "$top"
  # The bundle's wheel, downloaded once, then only the collections the collection uses are copied out of it.
  wheel="$cache/ansible-$bundle-py3-none-any.whl"
  if [[ ! -f "$wheel" ]]; then
    timeout "$pip_timeout" "$top/.venv/bin/pip" download --quiet --quiet --no-deps --only-binary=:all: \
      --python-version "$("$matrix" python "$core")" --dest "$cache" "ansible==$bundle"
  fi
  # shellcheck disable=SC2046 # one argument per collection name
  timeout 300 "$venv/bin/python" - "$wheel" $("$matrix" collections) <<'PY'
import sys, sysconfig, zipfile
wheel, names = sys.argv[1], sys.argv[2:]
prefixes = tuple("ansible_collections/{}/{}/".format(*name.split(".")) for name in names)
with zipfile.ZipFile(wheel) as bundle:
    members = [m for m in bundle.namelist() if m.startswith(prefixes)]
    missing = [n for n, p in zip(names, prefixes) if not any(m.startswith(p) for m in members)]
    if missing:
        sys.exit(f"matrix-venv.sh: {wheel} has no {', '.join(missing)}")
    bundle.extractall(sysconfig.get_paths()["purelib"], members)
PY
  echo "$want" > "$stamp"
  echo "$name: built (ansible-core $core_version, $("$python" -V), collections of ansible $bundle)"
}

kind=core
[[ "${1:-}" == --integration ]] && { kind=integration; shift; }
mkdir -p "$cache"
cores=("$@"); [[ ${#cores[@]} -gt 0 ]] || read -r -a cores < <("$matrix" others)
[[ ${#cores[@]} -gt 0 ]] || { echo "matrix-venv.sh: no release to run (scripts/matrix.sh others failed?)" >&2; exit 2; }
for core in "${cores[@]}"; do "$matrix" get "$core" ansible >/dev/null; done  # unknown core: fail before building

declare -A pids
for core in "${cores[@]}"; do
  ( start=$SECONDS; build "$core"; echo "$kind-$core: $((SECONDS - start)) s" ) > "$root/$kind-$core.log" 2>&1 &
  pids[$core]=$!
done
failed=()
for core in "${cores[@]}"; do
  if wait "${pids[$core]}"; then cat "$root/$kind-$core.log"; else
    cat "$root/$kind-$core.log" >&2; failed+=("$core")
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "matrix-venv.sh: failed: ${failed[*]} (logs: .venv-matrix/$kind-X.log)" >&2
  exit 1
fi
