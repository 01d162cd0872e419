# -*- coding: utf-8 -*-
# Copyright: (c) 2026, USDX/Wexel DevOps Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit-test set-up: import the collection as ansible_collections.usdx.incident, run modules in-process."""

from __future__ import annotations

import json
import pathlib
import sys
import typing as t

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / "build" / "collections"
FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"

# `make collection-link` makes build/collections/ansible_collections/usdx/incident point at this checkout.
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))


@pytest.fixture
def fixture_text() -> t.Callable[[str], str]:
    """Text of a recorded output under tests/unit/fixtures/."""
    def read(name: str) -> str:
        return (FIXTURES / name).read_text(encoding="utf-8", errors="replace")
    return read


@pytest.fixture
def fixture_bytes() -> t.Callable[[str], bytes]:
    """Bytes of a recorded output under tests/unit/fixtures/ (for outputs that are not valid UTF-8)."""
    def read(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()
    return read


@pytest.fixture
def run_module(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> t.Callable[..., dict[str, t.Any]]:
    """Run a module's main() with the given args; run_command answers from the given callable.

    Returns the module's JSON result, with C(failed) set when it called fail_json.
    """
    from ansible.module_utils import basic
    from ansible.module_utils.testing import patch_module_args

    def run(main: t.Callable[[], None], args: dict[str, t.Any],
            run_command: t.Callable[..., tuple[int, str, str]] | None = None) -> dict[str, t.Any]:
        if run_command is not None:
            monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, argv, **kw: run_command(list(argv), **kw))
        monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, arg, required=False, opt_dirs=None: f"/usr/bin/{arg}")
        capsys.readouterr()
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                main()
        out = capsys.readouterr().out
        return json.loads(out)
    return run


class FakeDocker:
    """Stands in for AnsibleModule.run_command: answers docker calls by their leading arguments."""

    def __init__(self, answers: dict[tuple[str, ...], t.Any]) -> None:
        self.answers = answers
        self.calls: list[tuple[list[str], dict[str, t.Any]]] = []

    def __call__(self, argv: list[str], **kwargs: t.Any) -> tuple[int, str, str]:
        self.calls.append((argv, kwargs))
        args = tuple(argv[1:])
        for prefix in sorted(self.answers, key=len, reverse=True):
            if args[: len(prefix)] == prefix:
                answer = self.answers[prefix]
                return answer(args, kwargs) if callable(answer) else answer
        raise AssertionError(f"unexpected docker call: {argv}")

    def called(self, *prefix: str) -> list[list[str]]:
        return [argv for argv, _kw in self.calls if tuple(argv[1:1 + len(prefix)]) == prefix]


@pytest.fixture
def fake_docker() -> type[FakeDocker]:
    return FakeDocker
