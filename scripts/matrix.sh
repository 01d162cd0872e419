#!/usr/bin/env bash
# Reads tests/matrix/versions.yml, the one list of the tested ansible-core releases, with the dev venv's Python.
# Usage: scripts/matrix.sh cores              every row (2.16 2.17 ...)
#        scripts/matrix.sh others             every row but main (the dev venv's), which the matrix lane builds
#        scripts/matrix.sh supported          the rows the whole collection is claimed for
#        scripts/matrix.sh oldest             the oldest supported row: the integration tests run on it
#        scripts/matrix.sh collections        the collections a matrix venv takes from its row's bundle
#        scripts/matrix.sh main|ee|newest     that row's core
#        scripts/matrix.sh python CORE        the row's Python (e.g. 3.12)
#        scripts/matrix.sh get CORE FIELD     a field of the row (ansible, ansible_core, python, community.docker, ...)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
exec timeout 30 "$top/.venv/bin/python" - "$top/tests/matrix/versions.yml" "$@" <<'PY'
import sys
import yaml

path, args = sys.argv[1], sys.argv[2:]
with open(path, encoding="utf-8") as stream:
    matrix = yaml.safe_load(stream)
cores = matrix["cores"]
usage = "usage: matrix.sh cores|others|supported|collections|main|ee|newest|oldest|python CORE|get CORE FIELD"


def row(core):
    if core not in cores:
        sys.exit(f"matrix.sh: unknown core {core!r}; versions.yml has: {', '.join(cores)}")
    return cores[core]


command = args[0] if args else ""
if command == "cores" and len(args) == 1:
    print(" ".join(cores))
elif command == "others" and len(args) == 1:
    print(" ".join(core for core in cores if core != matrix["main"]))
elif command in ("supported", "collections") and len(args) == 1:
    print(" ".join(matrix[command]))
elif command in ("main", "ee", "newest") and len(args) == 1:
    print(matrix[command])
elif command == "oldest" and len(args) == 1:
    print(min(matrix["supported"], key=lambda core: tuple(int(part) for part in core.split("."))))
elif command == "python" and len(args) == 2:
    print(row(args[1])["python"])
elif command == "get" and len(args) == 3:
    fields = row(args[1])
    if args[2] not in fields:
        sys.exit(f"matrix.sh: unknown field {args[2]!r}; a row has: {', '.join(fields)}")
    print(fields[args[2]])
else:
    sys.exit(f"matrix.sh: bad arguments {' '.join(args)!r}; {usage}")
PY
