#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection laid out as ansible_collections/usdx/incident.
# Usage: scripts/sanity.sh [ansible-test sanity options, e.g. --test validate-modules]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
venv_bin="$top/.venv/bin"
dest="${SANITY_ROOT:-/tmp/usdx-incident-sanity}/ansible_collections/usdx/incident"

# ansible-test bootstraps pip in every sanity venv from a script it would download:
# give it the offline stand-in under the name it looks for.
pip_version=$("$venv_bin/python" - <<'PY'
import inspect, re
from ansible_test._internal import python_requirements
print(re.search(r"pip='([0-9.]+)'", inspect.getsource(python_requirements.get_venv_packages)).group(1))
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$cache")"
install -m 0644 "$top/scripts/get-pip-standin.py" "$cache"

# Copy what git would ship: tracked files plus new files that are not ignored.
rm -rf "$dest"
mkdir -p "$dest"
(cd "$top" && git ls-files -z --cached --others --exclude-standard \
  | tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null) | tar -xf - -C "$dest"

# Collections the content imports code from (module_utils) must sit in the same collection root:
# copy them from the ansible bundle the venv has, as `ansible-galaxy collection install -p` would.
bundle=$("$venv_bin/python" -c 'import ansible.release, os; print(os.path.join(os.path.dirname(os.path.dirname(ansible.release.__file__)), "ansible_collections"))')
dependency_dest="$(dirname "$dest")/../community/postgresql"
mkdir -p "$dependency_dest"
cp -a "$bundle/community/postgresql/." "$dependency_dest/"

cd "$dest"
exec "$venv_bin/ansible-test" sanity --local --python 3.11 --color no "$@"
