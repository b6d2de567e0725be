"""The engine thread: newest request wins, stop is prompt, failures leave it alive."""

from __future__ import annotations

import time

import numpy as np
import pytest

from engine.protocol import Ascend, LoadModel, OpenImage, Recipe, StopRun
from engine.worker import EngineThread

LONG = Recipe(steps=1_000_000, frame_every=1)
SHORT = Recipe(steps=20, frame_every=5)


@pytest.fixture
def engine(qtbot):
    thread = EngineThread()
    thread.start()
    with qtbot.waitSignal(thread.model_loaded, timeout=60_000):
        thread.submit(LoadModel(None))
    yield thread
    thread.stop()
    assert thread.wait(5_000)


def _collect(signal):
    received = []
    signal.connect(received.append)
    return received


def test_a_newer_visualization_cancels_the_running_one(qtbot, engine):
    finished = _collect(engine.run_finished)
    first = Ascend(("conv2",), 0, LONG)
    with qtbot.waitSignal(engine.frame, timeout=30_000):
        engine.submit(first)
    second = Ascend(("conv2",), 1, SHORT)
    engine.submit(second)
    qtbot.waitUntil(
        lambda: any(r.request_id == second.request_id for r in finished), timeout=30_000
    )
    by_id = {r.request_id: r for r in finished}
    assert by_id[first.request_id].cancelled
    assert by_id[first.request_id].steps_done < LONG.steps
    assert not by_id[second.request_id].cancelled
    assert by_id[second.request_id].steps_done == SHORT.steps


def test_stop_ends_a_run_within_a_step(qtbot, engine):
    frames = _collect(engine.frame)
    run = Ascend(("conv1",), 2, LONG)
    engine.submit(run)
    qtbot.waitUntil(lambda: len(frames) >= 3, timeout=30_000)
    with qtbot.waitSignal(engine.run_finished, timeout=5_000) as blocker:
        engine.submit(StopRun())
        stopped_at = frames[-1].step
    done = blocker.args[0]
    assert done.cancelled and done.request_id == run.request_id
    # Frames queued before the stop may still be in flight; the run itself ended promptly.
    assert done.steps_done < stopped_at + 200
    qtbot.waitUntil(lambda: not engine.is_busy(), timeout=2_000)


def test_a_failure_is_reported_and_the_thread_lives_on(qtbot, engine, tmp_path):
    bogus = tmp_path / "bogus.keras"
    bogus.write_text("not a model")
    with qtbot.waitSignal(engine.failed, timeout=30_000) as blocker:
        engine.submit(LoadModel(str(bogus)))
    failure = blocker.args[0]
    assert failure.what == "model" and "bogus.keras" in failure.message
    assert failure.details  # the traceback travels along for bug reports
    with qtbot.waitSignal(engine.run_finished, timeout=30_000) as blocker:
        engine.submit(Ascend(("conv1",), 0, SHORT))
    assert not blocker.args[0].cancelled


def test_an_image_is_served_while_a_long_run_goes_on(qtbot, engine):
    with qtbot.waitSignal(engine.frame, timeout=30_000):
        engine.submit(Ascend(("conv3",), 0, LONG))
    with qtbot.waitSignal(engine.image_opened, timeout=30_000) as blocker:
        engine.submit(OpenImage(sample="digit:7", layer=("conv3",)))
    assert blocker.args[0].predictions[0].name == "7"
    assert engine.is_busy()  # the visualization is still running
    engine.submit(StopRun())


def test_stop_joins_the_thread_promptly_mid_run(qtbot):
    thread = EngineThread()
    thread.start()
    with qtbot.waitSignal(thread.model_loaded, timeout=60_000):
        thread.submit(LoadModel(None))
    with qtbot.waitSignal(thread.frame, timeout=30_000):
        thread.submit(Ascend(("conv3",), 1, LONG))
    started = time.monotonic()
    thread.stop()
    assert thread.wait(2_000)
    assert time.monotonic() - started < 2.0


def test_tweaks_reach_the_running_visualization_without_recompiling(qtbot, engine):
    from dataclasses import replace

    from engine.protocol import TweakRun

    run = Ascend(("conv2",), 4, LONG)
    frames = _collect(engine.frame)
    engine.submit(run)
    qtbot.waitUntil(lambda: len(frames) >= 3, timeout=30_000)
    program = engine._session.visualizer.current[0]
    traces = program.trace_count()
    engine.submit(TweakRun(replace(LONG, learning_rate=0.0123, jitter=3, tv=0.5)))
    qtbot.waitUntil(
        lambda: abs(float(program.knobs["learning_rate"].numpy()) - 0.0123) < 1e-6,
        timeout=5_000,
    )
    seen = len(frames)
    qtbot.waitUntil(lambda: len(frames) > seen + 3, timeout=10_000)  # it kept going
    assert int(program.knobs["jitter"].numpy()) == 3
    assert program.trace_count() == traces
    engine.submit(StopRun())


def test_an_atlas_streams_tiles_then_comes_from_the_cache(qtbot, engine):
    from engine.protocol import Atlas

    tiles, progress = _collect(engine.atlas_tile), _collect(engine.atlas_progress)
    recipe = Recipe(steps=20)
    engine.submit(Atlas(("conv1",), None, recipe))
    qtbot.waitUntil(lambda: bool(progress) and progress[-1].finished, timeout=60_000)
    final = [tile for tile in tiles if tile.final]
    assert sorted(tile.unit for tile in final) == list(range(24))
    assert progress[-1].done == 24 and not progress[-1].from_cache
    tiles.clear()
    engine.submit(Atlas(("conv1",), None, recipe, cache_only=True))
    qtbot.waitUntil(lambda: progress[-1].from_cache, timeout=10_000)
    assert len(tiles) == 24
    np.testing.assert_allclose(tiles[3].image, final[3].image, atol=1 / 255)


def test_stop_cancels_an_atlas(qtbot, engine):
    from engine.protocol import Atlas

    tiles, progress = _collect(engine.atlas_tile), _collect(engine.atlas_progress)
    engine.submit(Atlas(("conv3",), None, Recipe(steps=100_000)))
    qtbot.waitUntil(lambda: len(tiles) > 0, timeout=60_000)
    engine.submit(StopRun())
    qtbot.waitUntil(lambda: bool(progress) and progress[-1].finished, timeout=10_000)
    assert progress[-1].cancelled
