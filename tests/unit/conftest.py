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


@pytest.fixture(autouse=True)
def private_shared_readings(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    """Each test keeps its shared readings (module_utils/_shared_reading) to itself: the unit tests of several
    releases run side by side (make checks), and one's fake docker system df must never answer another's."""
    from ansible_collections.usdx.incident.plugins.module_utils import _shared_reading
    monkeypatch.setattr(_shared_reading, "default_directory", lambda: str(tmp_path / "shared-readings"))


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
    from ansible.module_utils.common import warnings
    from core_compat import patch_module_args

    def run(main: t.Callable[[], None], args: dict[str, t.Any],
            run_command: t.Callable[..., tuple[int, str, str]] | None = None) -> dict[str, t.Any]:
        if run_command is not None:
            monkeypatch.setattr(basic.AnsibleModule, "run_command", lambda self, argv, **kw: run_command(list(argv), **kw))
            monkeypatch.setattr(_proc(), "run", as_proc(run_command))
        monkeypatch.setattr(basic.AnsibleModule, "get_bin_path", lambda self, arg, required=False, opt_dirs=None: f"/usr/bin/{arg}")
        # A module process starts with no warnings; in-process runs share the module-level lists, which
        # ansible-core before 2.19 never empties: each run gets its own, as a real run would.
        monkeypatch.setattr(warnings, "_global_warnings", type(warnings._global_warnings)())
        monkeypatch.setattr(warnings, "_global_deprecations", type(warnings._global_deprecations)())
        capsys.readouterr()
        with patch_module_args(args):
            with pytest.raises(SystemExit):
                main()
        out = capsys.readouterr().out
        return json.loads(out)
    return run


def _proc() -> t.Any:
    from ansible_collections.usdx.incident.plugins.module_utils import _proc as proc
    return proc


def as_proc(run_command: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    """A stand-in for _proc.run that answers from a run_command-style callable (argv, data=, environ_update=).

    The callable returns (rc, out, err) or (rc, out, err, timed_out).
    """
    def run(argv: t.Sequence[str], deadline: float | None = None, data: t.Any = None,
            env: dict[str, str] | None = None, **_kwargs: t.Any) -> t.Any:
        answer = run_command(list(argv), data=data, environ_update=env, deadline=deadline)
        return _proc().Completed(*answer)
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
def fake_docker(monkeypatch: pytest.MonkeyPatch) -> t.Callable[..., FakeDocker]:
    """FakeDocker(answers): the fake answers every command the collection runs through _proc from then on."""
    def make(answers: dict[tuple[str, ...], t.Any]) -> FakeDocker:
        from ansible_collections.usdx.incident.plugins.module_utils import _docker_engine
        fake = FakeDocker(answers)
        monkeypatch.setattr(_proc(), "run", as_proc(fake))
        # The fake stands for the CLI: stats come from it, not from the real Engine socket of the test machine.
        monkeypatch.setattr(_docker_engine, "engine_socket", lambda environ: None)
        return fake
    return make
