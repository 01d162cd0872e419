# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The notifier_config filter: the backends normalized, or one AnsibleFilterError line naming the variable."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.usdx.incident.plugins.filter.notify import FilterModule, delivery_records, notifier_config

WEBHOOK_URL = "https://hooks.slack.com/services/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h"


def test_registered() -> None:
    assert FilterModule().filters() == {"notifier_config": notifier_config, "delivery_records": delivery_records}


def test_backends_come_back_normalized() -> None:
    [slack] = notifier_config([{"type": "slack", "name": "ops", "url": WEBHOOK_URL}])
    assert (slack["name"], slack["url"], slack["deadline"], slack["validate_certs"]) == ("ops", WEBHOOK_URL, 10.0, True)


def test_error_names_the_variable_on_one_line_without_the_token() -> None:
    with pytest.raises(AnsibleFilterError) as raised:
        notifier_config([{"type": "slack", "url": WEBHOOK_URL.replace("https", "http")}], "respond_notifiers")
    message = str(raised.value)
    assert message.startswith("notifier_config: respond_notifiers[0]: url 'http://hooks.slack.com/********' is plain http")
    assert "\n" not in message and "xoxSecret" not in message


def test_variable_name_must_be_a_name() -> None:
    with pytest.raises(AnsibleFilterError, match="variable_name must be the name of the variable checked"):
        notifier_config([], "")


SLACK = {"type": "slack", "name": "ops", "url": WEBHOOK_URL}
HOOK = {"type": "webhook", "name": "hook", "url": "https://hooks.example.com/x"}


@pytest.mark.parametrize(("notifications", "expected"), [
    pytest.param(None, [
        {"backend": "slack", "name": "ops", "kind": "alert", "delivered": False, "attempts": 0, "error": "no module"},
        {"backend": "webhook", "name": "hook", "kind": "alert", "delivered": False, "attempts": 0, "error": "no module"},
    ], id="module-did-not-run"),
    pytest.param([
        {"backend": "slack", "name": "ops", "kind": "alert", "delivered": True, "attempts": 1, "error": None,
         "status": 200, "requests": [{"url": "https://hooks.slack.com/********"}]},
        {"backend": "webhook", "name": "hook", "kind": "alert", "delivered": False, "attempts": 3, "error": "HTTP 503"},
    ], [
        {"backend": "slack", "name": "ops", "kind": "alert", "delivered": True, "attempts": 1, "error": None},
        {"backend": "webhook", "name": "hook", "kind": "alert", "delivered": False, "attempts": 3, "error": "HTTP 503"},
    ], id="module-reported"),
    pytest.param([], [], id="nothing-sent"),
])
def test_delivery_records(notifications: list | None, expected: list) -> None:
    assert delivery_records(notifications, [SLACK, HOOK], "alert", "no module") == expected


@pytest.mark.parametrize(("args", "named"), [
    pytest.param(([], "not a list", "alert", "x"), "str", id="backends"),
    pytest.param(([], [SLACK], None, "x"), "None", id="kind"),
    pytest.param(({"a": 1}, [SLACK], "alert", "x"), "dict", id="notifications"),
])
def test_delivery_records_bad_input_is_one_line(args: tuple, named: str) -> None:
    with pytest.raises(AnsibleFilterError) as raised:
        delivery_records(*args)
    assert str(raised.value).startswith("delivery_records: ") and named in str(raised.value)
    assert "\n" not in str(raised.value)
