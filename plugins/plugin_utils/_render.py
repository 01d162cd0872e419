# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Messages and reports rendered from templates a user may override, with what the run saw inserted as data.

A template is read from a file (the collection's, or one an inventory names) and rendered here with Jinja's sandbox,
never by Ansible's templating: the values (log lines, error messages, query texts from a host) are inserted as they
are and never evaluated, so a log line holding C({{ ... }}) or C({% ... %}) appears verbatim. HTML output escapes
every value. An undefined name is an error naming the template, not a silent blank in a message to users.
"""

from __future__ import annotations

import typing as t

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment


class TemplateProblem(ValueError):
    """A template that cannot be read or rendered; the message names the template."""


def _environment(html: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        autoescape=html, undefined=StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def render(template_text: t.Any, context: t.Mapping[str, t.Any], *, name: str = "template", html: bool = False) -> str:
    """The template rendered with context; values are data (escaped when html). Raises TemplateProblem."""
    if not isinstance(template_text, str):
        raise TemplateProblem(f"{name}: the template must be text, got {type(template_text).__name__}")
    if not isinstance(context, t.Mapping):
        raise TemplateProblem(f"{name}: the values must be a mapping, got {type(context).__name__}")
    try:
        return _environment(html).from_string(template_text).render(dict(context))
    except TemplateError as exc:
        raise TemplateProblem(f"{name}: cannot be rendered: {exc}") from exc


def read_template(path: t.Any, name: str) -> str:
    """The text of a template file; TemplateProblem naming the variable (name) when it cannot be read."""
    if not isinstance(path, str) or not path:
        raise TemplateProblem(f"{name}: expected the path of a template file, got {path!r}")
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateProblem(f"{name}: cannot read template {path!r}: {exc}") from exc
