"""The engine thread: newest request wins, stop is prompt, quick work never stalls a run,
every request ends with one JobEnded, failures leave it alive."""

from __future__ import annotations

import time

import keras
import numpy as np
import pytest

from engine.protocol import (
    Ascend,
    Atlas,
    ContinueRun,
    EndReason,
    Explain,
    FailureKind,
    LoadModel,
    OpenImage,
    Recipe,
    RunFinished,
    ShowFeatureMaps,
    StopRun,
    TweakRun,
    WalkNetwork,
)
from engine.worker import EngineThread

LONG = Recipe(steps=1_000_000, frame_every=1)
SHORT = Recipe(steps=20, frame_every=5)


@pytest.fixture
def engine(qtbot):
    thread = EngineThread()
    thread.start()
    load = LoadModel(None)
    # Its JobEnded, not ModelLoaded: the end comes after, and must not reach a test's wait.
    with qtbot.waitSignal(thread.ended, timeout=60_000, check_params_cb=_of(load)):
        thread.submit(load)
    yield thread
    thread.stop()
    assert thread.wait(5_000)


def _of(request):
    """A waitSignal check: the JobEnded of `request`."""
    return lambda ended: ended.request_id == request.request_id


def _collect(signal):
    received = []
    signal.connect(received.append)
    return received


def _ended(ended, request):
    """The JobEnded of `request` among those received, or None."""
    return next((e for e in ended if e.request_id == request.request_id), None)


def test_a_newer_visualization_cancels_the_running_one(qtbot, engine):
    ended = _collect(engine.ended)
    first = Ascend(("conv2",), 0, LONG)
    with qtbot.waitSignal(engine.frame, timeout=30_000):
        engine.submit(first)
    second = Ascend(("conv2",), 1, SHORT)
    engine.submit(second)
    qtbot.waitUntil(lambda: _ended(ended, second) is not None, timeout=30_000)
    old, new = _ended(ended, first), _ended(ended, second)
    assert old.reason is EndReason.CANCELLED and old.value.steps_done < LONG.steps
    assert old.value.resumable  # the stopped run can be continued
    assert new.reason is EndReason.FINISHED and new.value.steps_done == SHORT.steps
    assert isinstance(new.value, RunFinished)


def test_stop_ends_a_run_within_a_step(qtbot, engine):
    frames = _collect(engine.frame)
    run = Ascend(("conv1",), 2, LONG)
    engine.submit(run)
    qtbot.waitUntil(lambda: len(frames) >= 3, timeout=30_000)
    with qtbot.waitSignal(engine.ended, timeout=5_000) as blocker:
        engine.submit(StopRun())
        stopped_at = frames[-1].step
    done = blocker.args[0]
    assert done.cancelled and done.request_id == run.request_id
    # Frames queued before the stop may still be in flight; the run itself ended promptly.
    assert done.value.steps_done < stopped_at + 200
    qtbot.waitUntil(lambda: not engine.is_busy(), timeout=2_000)


def test_a_stopped_run_continues_from_where_it_stopped(qtbot, engine):
    ended, frames = _collect(engine.ended), _collect(engine.frame)
    recipe = Recipe(steps=400, frame_every=1)
    run = Ascend(("conv2",), 3, recipe)
    engine.submit(run)
    qtbot.waitUntil(lambda: len(frames) >= 5, timeout=30_000)
    engine.submit(StopRun())
    qtbot.waitUntil(lambda: _ended(ended, run) is not None, timeout=10_000)
    stopped = _ended(ended, run).value
    assert stopped.resumable and 0 < stopped.steps_done < recipe.steps
    frames.clear()
    more = ContinueRun(run.request_id)
    engine.submit(more)
    qtbot.waitUntil(lambda: _ended(ended, more) is not None, timeout=30_000)
    resumed = _ended(ended, more)
    assert resumed.reason is EndReason.FINISHED and resumed.value.steps_done == recipe.steps
    steps = [f.step for f in frames if f.request_id == more.request_id]
    assert steps[0] == stopped.steps_done + 1 and steps[-1] == recipe.steps
    # A run is continued once: the same id again is refused with a clear message.
    again = ContinueRun(run.request_id)
    engine.submit(again)
    qtbot.waitUntil(lambda: _ended(ended, again) is not None, timeout=10_000)
    failed = _ended(ended, again)
    assert failed.reason is EndReason.FAILED and "cannot be continued" in failed.failure.message


def test_a_failure_is_reported_and_the_thread_lives_on(qtbot, engine, tmp_path):
    bogus = tmp_path / "bogus.keras"
    bogus.write_text("not a model")
    load = LoadModel(str(bogus))
    with qtbot.waitSignal(engine.ended, timeout=30_000) as blocker:
        engine.submit(load)
    ended = blocker.args[0]
    assert ended.request_id == load.request_id and ended.reason is EndReason.FAILED
    assert ended.failure.kind is FailureKind.INPUT and "bogus.keras" in ended.failure.message
    assert ended.failure.details  # the traceback travels along for bug reports
    with qtbot.waitSignal(engine.ended, timeout=30_000) as blocker:
        engine.submit(Ascend(("conv1",), 0, SHORT))
    assert blocker.args[0].reason is EndReason.FINISHED


def test_a_request_dropped_before_it_ran_still_ends(qtbot, engine):
    ended = _collect(engine.ended)
    with qtbot.waitSignal(engine.frame, timeout=30_000):
        engine.submit(Ascend(("conv3",), 0, LONG))
    waiting = Ascend(("conv3",), 1, LONG)
    engine.submit(waiting)
    engine.submit(StopRun())  # stops the running one and drops the waiting one
    qtbot.waitUntil(lambda: _ended(ended, waiting) is not None, timeout=10_000)
    assert _ended(ended, waiting).reason is EndReason.CANCELLED


def test_an_image_is_served_while_a_long_run_goes_on(qtbot, engine):
    with qtbot.waitSignal(engine.frame, timeout=30_000):
        engine.submit(Ascend(("conv3",), 0, LONG))
    with qtbot.waitSignal(engine.image_opened, timeout=30_000) as blocker:
        engine.submit(OpenImage(sample="digit:7", layer=("conv3",)))
    assert blocker.args[0].predictions[0].name == "7"
    assert engine.is_busy()  # the visualization is still running
    engine.submit(StopRun())


def test_a_live_explanation_leaves_a_running_visualization_running(qtbot, engine):
    ended, frames = _collect(engine.ended), _collect(engine.frame)
    run = Ascend(("conv3",), 0, LONG)
    engine.submit(OpenImage(sample="digit:3"))
    engine.submit(run)
    qtbot.waitUntil(lambda: len(frames) >= 3, timeout=30_000)
    live = Explain("gradcam")  # what the Live box and a new image send
    engine.submit(live)
    qtbot.waitUntil(lambda: _ended(ended, live) is not None, timeout=30_000)
    assert _ended(ended, live).value.heatmap.ndim == 2
    seen = len(frames)
    qtbot.waitUntil(lambda: len(frames) > seen + 3, timeout=10_000)  # the run goes on
    assert _ended(ended, run) is None
    on_purpose = Explain("gradcam", interrupts=True)  # the Explain tab's button
    engine.submit(on_purpose)
    qtbot.waitUntil(lambda: _ended(ended, on_purpose) is not None, timeout=30_000)
    assert _ended(ended, run).reason is EndReason.CANCELLED
    assert _ended(ended, run).value.resumable


def test_a_slow_live_explanation_waits_for_the_run(qtbot, engine):
    ended, frames = _collect(engine.ended), _collect(engine.frame)
    engine.submit(OpenImage(sample="digit:3"))
    run = Ascend(("conv3",), 0, Recipe(steps=300, frame_every=1))
    engine.submit(run)
    qtbot.waitUntil(lambda: len(frames) >= 3, timeout=30_000)
    slow = Explain("occlusion", options=(("patch", 7),))
    engine.submit(slow)
    qtbot.waitUntil(lambda: _ended(ended, slow) is not None, timeout=60_000)
    assert _ended(ended, run).reason is EndReason.FINISHED  # it was never interrupted
    assert ended.index(_ended(ended, run)) < ended.index(_ended(ended, slow))


# Deep enough that the walk lasts many frames of the run (150 took 4 s of the suite to build,
# save, load and walk, for no stronger a claim).
DEEP_LAYERS = 64


def _deep_model(layers: int = DEEP_LAYERS) -> keras.Model:
    """A plain stack of `layers` small convolutions: a network walk of it has `layers` + 1
    stops."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = inputs
    for k in range(layers):
        x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name=f"c{k}")(x)
    outputs = keras.layers.Dense(4, name="head")(keras.layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, outputs, name="deep")


def test_a_network_walk_never_stalls_a_running_visualization(qtbot, engine, tmp_path):
    path = tmp_path / "deep.keras"
    _deep_model().save(path)
    with qtbot.waitSignal(engine.model_loaded, timeout=120_000):
        engine.submit(LoadModel(str(path)))
    with qtbot.waitSignal(engine.image_opened, timeout=60_000):
        engine.submit(OpenImage(sample="photo:coffee"))
    stamps: list[float] = []
    engine.frame.connect(lambda _frame: stamps.append(time.monotonic()))
    maps, ended = _collect(engine.feature_maps), _collect(engine.ended)
    with qtbot.waitSignal(engine.frame, timeout=60_000):
        engine.submit(Ascend(("c4",), 0, LONG))  # a shallow filter: its steps are quick
    qtbot.waitUntil(lambda: len(stamps) >= 40, timeout=60_000)  # compiled and streaming
    before = float(np.diff(stamps[-30:]).max())
    walk = WalkNetwork()
    walk_started = time.monotonic()
    engine.submit(walk)
    qtbot.waitUntil(lambda: _ended(ended, walk) is not None, timeout=240_000)
    walk_ended = time.monotonic()
    assert len([m for m in maps if m.request_id == walk.request_id]) == DEEP_LAYERS + 1
    during = [t for t in stamps if walk_started <= t <= walk_ended]
    gaps = np.diff([walk_started, *during, walk_ended])
    largest = float(gaps.max())
    print(f"\nlargest gap between frames during a {DEEP_LAYERS + 1}-layer walk: "
          f"{largest * 1000:.0f} ms "
          f"(before it: {before * 1000:.0f} ms), walk {walk_ended - walk_started:.1f} s, "
          f"{len(during)} frames")  # fmt: skip
    # Each slice is one layer's maps (a few ms here, some more the first time a layer is cut
    # out); the bound is generous for a loaded 2-core machine.
    assert largest < 1.0
    assert engine.is_busy()  # the visualization is still going
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
    assert thread.wait(10_000)
    assert time.monotonic() - started < 10.0


def test_tweaks_reach_the_running_visualization_without_recompiling(qtbot, engine):
    from dataclasses import replace

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
    tiles, ended = _collect(engine.atlas_tile), _collect(engine.ended)
    recipe = Recipe(steps=20)
    first = Atlas(("conv1",), None, recipe)
    engine.submit(first)
    qtbot.waitUntil(lambda: _ended(ended, first) is not None, timeout=60_000)
    final = [tile for tile in tiles if tile.final]
    assert sorted(tile.unit for tile in final) == list(range(24))
    last = _ended(ended, first).value
    assert last.done == 24 and not last.from_cache
    tiles.clear()
    cached = Atlas(("conv1",), None, recipe, cache_only=True)
    engine.submit(cached)
    qtbot.waitUntil(lambda: _ended(ended, cached) is not None, timeout=10_000)
    assert _ended(ended, cached).value.from_cache
    assert len(tiles) == 24
    np.testing.assert_allclose(tiles[3].image, final[3].image, rtol=2e-3, atol=1 / 255)


def test_stop_cancels_an_atlas(qtbot, engine):
    tiles, ended = _collect(engine.atlas_tile), _collect(engine.ended)
    atlas = Atlas(("conv3",), None, Recipe(steps=100_000))
    engine.submit(atlas)
    qtbot.waitUntil(lambda: len(tiles) > 0, timeout=60_000)
    engine.submit(StopRun())
    qtbot.waitUntil(lambda: _ended(ended, atlas) is not None, timeout=10_000)
    assert _ended(ended, atlas).reason is EndReason.CANCELLED


def test_quick_work_for_the_old_model_ends_when_a_new_model_comes(qtbot, engine):
    ended = _collect(engine.ended)
    with qtbot.waitSignal(engine.frame, timeout=30_000):
        engine.submit(Ascend(("conv3",), 0, LONG))
    maps = ShowFeatureMaps(("conv2",))  # waiting: there is no image, it would do nothing
    load = LoadModel(None)
    engine.submit(maps)
    engine.submit(load)
    qtbot.waitUntil(lambda: _ended(ended, load) is not None, timeout=60_000)
    assert _ended(ended, load).reason is EndReason.FINISHED
    assert _ended(ended, maps) is not None  # served or dropped, it ended either way


def test_cancelling_an_explanation_leaves_the_visualization_running(qtbot, engine):
    from engine.protocol import CancelExplain

    ended, frames = _collect(engine.ended), _collect(engine.frame)
    engine.submit(OpenImage(sample="digit:3"))
    run = Ascend(("conv3",), 0, LONG)
    engine.submit(run)
    qtbot.waitUntil(lambda: len(frames) >= 3, timeout=30_000)
    slow = Explain("occlusion", options=(("patch", 3),))  # waits for the run: it is slow
    engine.submit(slow)
    engine.submit(CancelExplain())
    qtbot.waitUntil(lambda: _ended(ended, slow) is not None, timeout=10_000)
    assert _ended(ended, slow).reason is EndReason.CANCELLED
    seen = len(frames)
    qtbot.waitUntil(lambda: len(frames) > seen + 3, timeout=10_000)
    assert _ended(ended, run) is None  # the run goes on
    engine.submit(StopRun())


def test_cache_look_ups_of_several_layers_all_answer(qtbot, engine):
    ended = _collect(engine.ended)
    with qtbot.waitSignal(engine.frame, timeout=30_000):
        engine.submit(Ascend(("conv3",), 0, LONG))
    looks = [Atlas((name,), None, Recipe(steps=5), cache_only=True) for name in ("conv1", "conv2")]
    for look in looks:
        engine.submit(look)
    qtbot.waitUntil(lambda: all(_ended(ended, look) for look in looks), timeout=10_000)
    # Nothing is cached: each says so itself; neither was dropped for the other.
    assert all(_ended(ended, look).reason is EndReason.FINISHED for look in looks)
    engine.submit(StopRun())
