# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""usdx-incident: runs the usdx.incident collection's playbooks through ansible-runner, one step per run.

It chains, it does not diagnose or fix: the steps, their order and their T+ deadlines come from the collection
(plugins/module_utils/_runbook.py), the decisions and the record of each step from its roles.
"""
