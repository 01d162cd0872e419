# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""python -m usdx_incident_cli: the same as the usdx-incident command."""

from __future__ import annotations

import sys

from usdx_incident_cli.cli import main

sys.exit(main())
