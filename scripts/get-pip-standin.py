"""Offline stand-in for get-pip.py, which ansible-test downloads from a host this machine cannot reach.

ansible-test runs it inside each fresh sanity venv with get-pip's arguments. It bootstraps pip
with the interpreter's own ensurepip, then installs the requested versions with that pip.
"""

import ensurepip
import os
import subprocess
import sys

# get-pip.py's own switches: pip install does not know them.
GET_PIP_ONLY_OPTIONS = {"--no-setuptools", "--no-wheel"}

ensurepip.bootstrap(upgrade=True)
# ensurepip points PIP_CONFIG_FILE at /dev/null, which would hide the machine's pip
# configuration (its index and CA bundle) from the install below.
os.environ.pop("PIP_CONFIG_FILE", None)
arguments = [argument for argument in sys.argv[1:] if argument not in GET_PIP_ONLY_OPTIONS]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *arguments]))
