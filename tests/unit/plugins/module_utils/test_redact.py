# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""_redact: credentials inside URLs are masked by their shape, the rest of the URL is kept."""

from __future__ import annotations

import pytest

from ansible_collections.usdx.incident.plugins.module_utils._redact import MASK, redact, redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:s3cret@rpc.example.com:8545/", f"https://{MASK}@rpc.example.com:8545/"),
        ("https://ghp_token123@rpc.example.com/", f"https://{MASK}@rpc.example.com/"),
        ("https://mainnet.infura.io/v3/9aa3d95b3bc440fa88ea12eaa4456161", f"https://mainnet.infura.io/v3/{MASK}"),
        ("https://eth-mainnet.g.alchemy.com/v2/AbCdEfGh1234567890_xyz-Q/", f"https://eth-mainnet.g.alchemy.com/v2/{MASK}/"),
        ("https://rpc.example.com/?apikey=abc123&chain=1", f"https://rpc.example.com/?apikey={MASK}&chain=1"),
        ("https://rpc.example.com/x?access_token=abc&sig=zz#frag", f"https://rpc.example.com/x?access_token={MASK}&sig={MASK}#frag"),
        ("http://127.0.0.1:3001/health", "http://127.0.0.1:3001/health"),
        ("http://127.0.0.1:3001/api/events/0x1234", "http://127.0.0.1:3001/api/events/0x1234"),
        ("https://example.com/very-long-path-segment-without-digits", "https://example.com/very-long-path-segment-without-digits"),
        ("https://example.com/12345678901234567890123", "https://example.com/12345678901234567890123"),
        ("https://9aa3d95b3bc440fa88ea12eaa4456161.example.com/", "https://9aa3d95b3bc440fa88ea12eaa4456161.example.com/"),
        ("not a url", "not a url"),
    ],
    ids=["password", "token-userinfo", "infura-key", "alchemy-key", "query-key", "token-and-sig", "plain", "short-segment",
         "letters-only", "digits-only", "host-not-path", "not-a-url"],
)
def test_redact_url(url, expected):
    assert redact_url(url) == expected


def test_redact_text_masks_every_url_and_the_literal_secrets():
    text = ("Request failed: <urlopen error [Errno 111] Connection refused> for https://a:pw1@h/v3/0123456789abcdef0123 "
            "and 'http://b:pw2@h2/?key=k9' with password hunter2")
    out = redact_text(text, secrets=["hunter2", None, "", "ab"])
    for secret in ("pw1", "0123456789abcdef0123", "pw2", "k9", "hunter2"):
        assert secret not in out
    assert out.startswith("Request failed: <urlopen error [Errno 111] Connection refused> for https://") and "h2" in out


def test_short_literal_secrets_are_not_masked_everywhere():
    assert redact_text("a b ab abc", secrets=["ab"]) == "a b ab abc"


def test_redact_walks_any_json_shape_and_keeps_keys():
    value = {"https://u:p4ss@k/": ["x https://u:p4ss@h/ y", 3, None, True, {"n": ("http://t0k@h",)}], "n": 1.5}
    assert redact(value) == {"https://u:p4ss@k/": [f"x https://{MASK}@h/ y", 3, None, True, {"n": [f"http://{MASK}@h"]}],
                             "n": 1.5}


def test_a_huge_line_is_redacted_in_linear_time():
    text = "https://" + "a" * 200_000 + " " + "/x" * 100_000
    assert redact_text(text).startswith("https://")
