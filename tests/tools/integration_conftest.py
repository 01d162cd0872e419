# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/integration/conftest.py loaded outside pytest, for the recording tools: the sandbox helpers the
integration tests use (read_sandbox_env, sandbox_sh, STATE_DIR, ...), on the stack USDX_SANDBOX_STACK names."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
import types

INTEGRATION = pathlib.Path(__file__).resolve().parents[1] / "integration"
# Not this module's own name, which sys.modules already holds.
LOADED_AS = "usdx_integration_conftest"


def load() -> types.ModuleType:
    """The integration conftest as a module (imported once per process)."""
    if LOADED_AS in sys.modules:
        return sys.modules[LOADED_AS]
    # conftest imports sandbox_stack from its own directory, as pytest's rootdir-relative imports let it.
    if str(INTEGRATION) not in sys.path:
        sys.path.insert(0, str(INTEGRATION))
    spec = importlib.util.spec_from_file_location(LOADED_AS, INTEGRATION / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[LOADED_AS] = module
    spec.loader.exec_module(module)
    return module
