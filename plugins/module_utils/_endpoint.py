# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""One GET of an HTTP endpoint, answered in the shape ansible.builtin.uri registers (triage_info's C(api), C(webapp))."""

from __future__ import annotations

import json
import typing as t

from ansible_collections.usdx.incident.plugins.module_utils import _http
from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError
from ansible_collections.usdx.incident.plugins.module_utils._redact import redact_url
from ansible_collections.usdx.incident.plugins.module_utils._runbook import health_verdict

# Bytes of a body that are read; a health document is far smaller.
MAX_BODY_BYTES = 1024 * 1024


def validate(params: t.Mapping[str, t.Any]) -> None:
    """Raise OptionError when C(url) is not an http(s) URL or C(timeout) is not positive."""
    if not str(params["url"]).startswith(("http://", "https://")):
        url = redact_url(str(params["url"]))
        raise OptionError(f"url={url!r} is not supported: accepted values are http:// or https:// URLs", option="url")
    if params["timeout"] <= 0:
        raise OptionError(f"timeout={params['timeout']!r} is out of range: accepted values are > 0", option="timeout")


def _json(answer: _http.HttpResult) -> tuple[t.Any, str | None]:
    """(the body's JSON document or None, why a JSON body could not be read or None)."""
    if not answer.body or "json" not in answer.content_type.lower():
        return None, None
    if answer.truncated:
        return None, f"the JSON body is larger than {MAX_BODY_BYTES} bytes: its checks were not read"
    try:
        return json.loads(answer.body.decode("utf-8", errors="replace")), None
    except ValueError as exc:
        return None, f"the JSON body could not be parsed ({exc}): its checks were not read"


def probe(params: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """GET C(url) once within C(timeout) seconds in all, following safe redirects.

    Returns C(url) (after redirects, credentials masked), C(status) (V(-1) without an answer, as uri says it),
    C(healthy) (L(health_verdict): a 2xx status and no failing entry in the body's C(checks)), C(msg), C(elapsed)
    (seconds, float), C(timed_out), C(truncated) and, when the body is a JSON document, C(json) (any shape).
    An answer whose status came but whose body did not finish in time is a failed check (C(failed)); a JSON body
    that could not be read adds a C(partial) reason.
    """
    answer = _http.fetch(params["url"], params["timeout"], headers={"Accept": "application/json, */*;q=0.5"},
                         max_bytes=MAX_BODY_BYTES, validate_certs=params["validate_certs"])
    status = answer.status if answer.status is not None else -1
    document, unreadable = _json(answer)
    result: dict[str, t.Any] = {
        "changed": False,
        "url": answer.url,
        "status": status,
        "healthy": health_verdict(answer.status, document)["healthy"] and not answer.timed_out and not unreadable,
        "msg": answer.error or f"OK ({len(answer.body)} bytes)",
        "elapsed": answer.elapsed,
        "timed_out": answer.timed_out,
        "truncated": answer.truncated,
    }
    if document is not None:
        result["json"] = document
    if unreadable:
        result["partial"] = [unreadable]
    if answer.timed_out and answer.status is not None:
        # It answered but never finished: whether it is healthy is unknown, which is not "unhealthy".
        result["failed"] = True
    return result
