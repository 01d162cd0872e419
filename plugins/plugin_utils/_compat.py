# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This plugin_utils is PRIVATE and should only be used by this collection.
# It may change or be removed at any time without notice.

"""The controller APIs that differ between the ansible-core releases of tests/matrix/versions.yml (2.16 to 2.20).

Plugins call these instead of the release's API, so one source runs on every release of the matrix; each name
says which release brought the API it prefers.
"""

from __future__ import annotations

import datetime
import json
import re
import typing as t

try:  # ansible-core 2.19: data tagging, and the encoder that writes tagged values as plain JSON
    from ansible.module_utils.common.json import get_encoder
except ImportError:  # before 2.19 values are plain (or AnsibleUnsafe str subclasses): to_json's encoder
    from ansible.module_utils.common.json import AnsibleJSONEncoder as _PLAIN_ENCODER

    def _encoder() -> t.Type[json.JSONEncoder]:
        return _PLAIN_ENCODER
else:
    def _encoder() -> t.Type[json.JSONEncoder]:
        # The "tagless" encoder is the one ansible.builtin.to_json uses: it takes the tagged strings and the
        # template-backed containers that set_fact values are in 2.19, and writes plain JSON.
        return get_encoder("tagless")


def json_dumps(value: t.Any, **kwargs: t.Any) -> str:
    """json.dumps with the encoder ansible.builtin.to_json uses on this release."""
    return json.dumps(value, cls=_encoder(), **kwargs)


def plain(value: t.Any) -> t.Any:
    """A templated value as plain JSON types (dict, list, str, ...), whatever the release wrapped it in."""
    return json.loads(json_dumps(value))


def task_result(result: t.Any) -> t.Tuple[t.Any, t.Any, t.Dict[str, t.Any]]:
    """The host, task and result dict of the result a callback receives.

    2.19 hands callbacks a CallbackTaskResult with public host/task/result (its _host/_task/_result are deprecated);
    before, a TaskResult with only the private names.
    """
    if hasattr(result, "result"):
        return result.host, result.task, result.result
    return result._host, result._task, result._result  # pylint: disable=protected-access


_FRACTION = re.compile(r"(T\d\d:\d\d:\d\d)\.(\d+)")


def fromisoformat(text: str) -> datetime.datetime:
    """datetime.fromisoformat that also takes C(Z) and a fraction of any length on the controller's Python 3.10.

    Python 3.11 takes both; 3.10 (ansible-core 2.16 and 2.17) takes only 3 or 6 fraction digits and no C(Z).
    Raises ValueError as fromisoformat does.
    """
    stamp = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    stamp = _FRACTION.sub(lambda match: f"{match.group(1)}.{match.group(2)[:6]:0<6}", stamp, count=1)
    return datetime.datetime.fromisoformat(stamp)
