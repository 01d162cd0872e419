#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection laid out as ansible_collections/usdx/incident.
# Usage: scripts/sanity.sh [ansible-test sanity options, e.g. --test validate-modules]
# Env: SANITY_VENV    the virtualenv whose ansible-test (and bundled community.postgresql) runs (default: .venv)
#      SANITY_PYTHON  the Python version ansible-test runs the tests on (default: 3.11, the dev venv's)
#      SANITY_ROOT    where the copy is laid out (default: /tmp/usdx-incident-sanity)
#      SANITY_REQUIRES_ANSIBLE  requires_ansible of the copy's meta/runtime.yml, for a release the collection is
#                     tested on but not claimed for (scripts/matrix-test.sh): ansible-doc would only warn about the claim
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
venv_bin="$(cd "${SANITY_VENV:-$top/.venv}" && pwd)/bin"
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
if [[ -n "${SANITY_REQUIRES_ANSIBLE:-}" ]]; then
  sed -i "s/^requires_ansible: .*/requires_ansible: \"$SANITY_REQUIRES_ANSIBLE\"/" "$dest/meta/runtime.yml"
fi

# Collections the content imports code from (module_utils) must sit in the same collection root:
# copy them from the ansible bundle the venv has, as `ansible-galaxy collection install -p` would.
bundle=$("$venv_bin/python" -c 'import ansible.release, os; print(os.path.join(os.path.dirname(os.path.dirname(ansible.release.__file__)), "ansible_collections"))')
dependency_dest="$(dirname "$dest")/../community/postgresql"
mkdir -p "$dependency_dest"
cp -a "$bundle/community/postgresql/." "$dependency_dest/"

cd "$dest"
exec "$venv_bin/ansible-test" sanity --local --python "${SANITY_PYTHON:-3.11}" --color no "$@"
