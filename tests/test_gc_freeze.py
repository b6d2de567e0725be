"""Once the engine is up, the app's garbage collector stops walking what TensorFlow loaded."""

from __future__ import annotations

import gc

from fake_engine import FakeEngine

import main
from engine.protocol import Status


def test_what_is_loaded_by_the_time_the_engine_is_ready_is_frozen_once(qtbot):
    engine = FakeEngine()
    main.freeze_when_ready(engine)
    before = gc.get_freeze_count()
    engine.status.emit(Status("Loading TensorFlow…", busy=True))
    assert gc.get_freeze_count() == before  # not while the engine is still loading
    loaded = [[k] for k in range(1_000)]  # objects that live on, as TensorFlow's modules do
    engine.status.emit(Status("Ready"))
    frozen = gc.get_freeze_count()
    assert frozen >= before + len(loaded)
    later = [[k] for k in range(1_000)]
    engine.status.emit(Status("Ready"))  # after every job: nothing more is frozen
    assert gc.get_freeze_count() == frozen
    assert later and loaded
