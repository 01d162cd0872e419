# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""One GET of an HTTP endpoint, answered in the shape ansible.builtin.uri registers (triage_info's C(api), C(webapp))."""

from __future__ import annotations

import json
import time
import typing as t
from http.client import HTTPException
from urllib.error import HTTPError, URLError

from ansible.module_utils.urls import open_url

from ansible_collections.usdx.incident.plugins.module_utils._errors import OptionError

# Bytes of a body that are read; a health document is far smaller.
MAX_BODY_BYTES = 1024 * 1024


def validate(params: t.Mapping[str, t.Any]) -> None:
    """Raise OptionError when C(url) is not an http(s) URL or C(timeout) is not positive."""
    if not str(params["url"]).startswith(("http://", "https://")):
        raise OptionError(f"url={params['url']!r} is not supported: accepted values are http:// or https:// URLs", option="url")
    if params["timeout"] <= 0:
        raise OptionError(f"timeout={params['timeout']!r} is out of range: accepted values are > 0", option="timeout")


def _read(response: t.Any) -> bytes:
    try:
        return response.read(MAX_BODY_BYTES) or b""
    except (HTTPException, OSError, ValueError):
        return b""


def _content_type(headers: t.Any) -> str:
    try:
        return str(headers.get("Content-Type") or "") if headers is not None else ""
    except AttributeError:
        return ""


def probe(params: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """GET C(url) once, following safe redirects; an answer of any status is a result, no answer too.

    Returns C(url) (after redirects), C(status) (V(-1) without an answer, as uri says it), C(healthy) (a 2xx status),
    C(msg), C(elapsed) (seconds, float) and, when the body is a JSON document, C(json).
    """
    url = params["url"]
    started = time.monotonic()
    headers: t.Any = None
    body = b""
    try:
        response = open_url(url, method="GET", timeout=params["timeout"], validate_certs=params["validate_certs"],
                            follow_redirects="safe", headers={"Accept": "application/json, */*;q=0.5"})
        status = int(response.getcode())
        body = _read(response)
        headers = response.headers
        url = response.geturl() or url
        msg = f"OK ({len(body)} bytes)"
    except HTTPError as exc:
        status = int(exc.code)
        body = _read(exc)
        headers = exc.headers
        msg = f"HTTP Error {exc.code}: {exc.reason}"
    except (URLError, HTTPException, OSError, ValueError) as exc:
        status = -1
        msg = f"Request failed: {exc}"
    result: dict[str, t.Any] = {
        "changed": False,
        "url": url,
        "status": status,
        "healthy": 200 <= status < 300,
        "msg": msg,
        "elapsed": round(time.monotonic() - started, 3),
    }
    if body and "json" in _content_type(headers).lower():
        try:
            result["json"] = json.loads(body.decode("utf-8", errors="replace"))
        except ValueError:
            pass
    return result
