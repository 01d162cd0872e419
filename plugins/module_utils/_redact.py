# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""Credentials inside URLs, masked before anything reaches a result, a finding or a message.

RPC providers issue API keys as a path segment (C(https://mainnet.infura.io/v3/KEY)) or a query parameter
(C(?apikey=KEY)); operators put C(user:password@) in URLs. no_log only masks option values it was given, and
only verbatim: a URL rebuilt, shortened or quoted inside an error message escapes it. These functions mask by
shape instead.
"""

from __future__ import annotations

import re
import typing as t

MASK = "********"

# user:password@ or token@ in any URL inside a text.
_USERINFO_RE = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]{0,30}://)(?P<userinfo>[^/?#@\s'\"<>]{1,512})@")
# Query parameters whose name says it is a secret.
_SECRET_PARAM_RE = re.compile(
    r"(?P<name>[?&;](?:[A-Za-z0-9_.-]{0,40}(?:key|token|secret|password|passwd|pwd|auth|signature|sig|credential)"
    r"[A-Za-z0-9_.-]{0,40}))=(?P<value>[^&#\s'\"<>]{1,2048})",
    re.IGNORECASE,
)
# A path segment that looks like an issued key: 20+ characters of letters and digits with both kinds in it.
_KEY_SEGMENT_RE = re.compile(r"(?P<slash>/)(?P<key>(?=[A-Za-z0-9_-]{0,200}\d)(?=[A-Za-z0-9_-]{0,200}[A-Za-z])[A-Za-z0-9_-]{20,200})(?=[/?#\s'\"<>:,;.)\]]|$)")
_URL_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s'\"<>]{1,4096}")


def redact_url(url: str) -> str:
    """One URL with its userinfo, secret query parameters and key-like path segments masked."""
    text = _USERINFO_RE.sub(lambda m: m.group("scheme") + MASK + "@", url)
    text = _SECRET_PARAM_RE.sub(lambda m: m.group("name") + "=" + MASK, text)
    scheme_end = text.find("://")
    if scheme_end < 0:
        return text
    host_end = text.find("/", scheme_end + 3)
    if host_end < 0:
        return text
    return text[:host_end] + _KEY_SEGMENT_RE.sub(lambda m: m.group("slash") + MASK, text[host_end:])


def redact_text(text: str, secrets: t.Iterable[str | None] = ()) -> str:
    """Every URL in C(text) redacted, and every literal secret of C(secrets) masked."""
    result = _URL_RE.sub(lambda m: redact_url(m.group(0)), text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            result = result.replace(secret, MASK)
    return result


def redact(value: t.Any, secrets: t.Iterable[str | None] = ()) -> t.Any:
    """C(value) (any JSON shape) with every string passed through L(redact_text); keys are kept."""
    secrets = tuple(s for s in secrets if s)
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {key: redact(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item, secrets) for item in value]
    return value
