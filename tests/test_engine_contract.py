"""The fake engine the window tests drive is the real engine thread's double: the same signals
and the same public methods, so a window that works with one works with the other."""

from __future__ import annotations

import inspect

from fake_engine import FakeEngine
from PySide6.QtCore import Signal

from engine.worker import EngineThread
from gui.engine_client import RESULT_SIGNALS


def _signals(cls: type) -> set[str]:
    return {name for name, value in vars(cls).items() if isinstance(value, Signal)}


def _methods(cls: type, *inherited: str) -> set[str]:
    own = {
        name
        for name, value in vars(cls).items()
        if inspect.isfunction(value) and not name.startswith("_")
    }
    return own | set(inherited)


def test_the_fake_has_the_engine_threads_signals() -> None:
    assert _signals(FakeEngine) == _signals(EngineThread)


def test_the_fake_has_the_engine_threads_methods() -> None:
    # EngineThread inherits start() and wait() from QThread; the fake defines them itself.
    real = _methods(EngineThread, "start", "wait") - {"run"}  # run() is QThread's thread body
    fake = {name for name in _methods(FakeEngine) if hasattr(EngineThread, name)}
    assert fake == real
    helpers = _methods(FakeEngine) - fake  # load, stream, end, ...: for tests only
    assert not helpers & _signals(EngineThread)


def test_the_window_routes_every_result_signal_of_the_engine() -> None:
    assert set(RESULT_SIGNALS) == _signals(EngineThread) - {"status", "ended"}
