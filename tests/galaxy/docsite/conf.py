# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sphinx settings of the collection's docs site (`make docs`, tests/galaxy/test_docsite.py).

What `antsibull-docs sphinx-init` writes, less what needs the network: no intersphinx (docs.ansible.com and
docs.python.org cannot be reached here), so references to Ansible's own docs and to other collections stay
unresolved and the test tells them apart from references inside this collection, which must all resolve.
"""

from __future__ import annotations

project = "usdx.incident"
project_copyright = "2026, USDX/Wexel DevOps Team"
html_title = "usdx.incident collection"
html_short_title = "usdx.incident"

# sphinx_antsibull_ext: the roles and directives of antsibull-docs' RST (option tables, plugin links).
extensions = ["sphinx_antsibull_ext"]

pygments_style = "ansible"
highlight_language = "YAML+Jinja"

html_theme = "sphinx_ansible_theme"
html_show_sphinx = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False

default_role = "any"
# Every reference that does not resolve is reported, so a broken one inside the collection fails the test.
nitpicky = True
