"""Honest verdicts: dead only when nothing fires, weak when only real images excite a unit,
failed when a run ends far below its best real image; and the image statistics of an atlas."""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest

from engine.cli.atlas import FilterResult, _judged, atlas_summary
from engine.optvis import image_stats
from engine.optvis.verdict import FAILED_HINT, judge, layer_scale, with_image
from engine.optvis.visualizer import Visualizer
from engine.protocol import ObjectiveTerm, Recipe, VerdictKind

SIDE = 16
LIVE, NEVER, TINY, BLOB = 0, 1, 2, 3  # the units of the test model's conv layer
BLOB_IMAGES = (2, 5)  # the reference images with a bright blob in a corner


# ------------------------------------------------------------------ the rules, without TF


def test_tiny_activations_in_a_layer_that_reaches_one_are_dead() -> None:
    verdict = judge(1e-17, np.full(20, 1e-17), scale=1.0)
    assert verdict.kind is VerdictKind.DEAD
    assert "never fires" in verdict.message and "20 real images" in verdict.message


def test_a_unit_that_fires_on_some_real_images_only_is_weak_not_dead() -> None:
    references = np.zeros(10)
    references[[3, 7]] = [0.2, 0.6]
    verdict = judge(0.0, references, scale=1.0)
    assert verdict.kind is VerdictKind.WEAK
    assert verdict.best_index == 7 and verdict.fires_on == 2 and verdict.references == 10
    assert "2 of 10 real images" in verdict.message and "#7" in verdict.message
    assert verdict.hint


def test_a_run_far_below_its_best_real_image_failed_with_a_hint() -> None:
    verdict = judge(0.0052, np.array([0.5, 1.0, 0.2]), scale=2.0)
    assert verdict.kind is VerdictKind.FAILED
    assert "0.0052×" in verdict.message and verdict.hint == FAILED_HINT
    assert verdict.ratio == pytest.approx(0.0052)


def test_a_run_above_its_best_real_image_beats_it() -> None:
    verdict = judge(1.4, np.array([1.0, 0.3]), scale=1.0)
    assert verdict.kind is VerdictKind.FINE and "beats its best real image" in verdict.message
    assert verdict.to_dict()["kind"] == "fine"


def test_beating_real_images_with_pixels_outside_the_range_says_so() -> None:
    beaten = judge(3.0, np.array([0.5, 1.0]), scale=1.0)
    inside = with_image(beaten, np.full((8, 8, 1), 0.7))
    assert inside.outside_range == 0 and "outside" not in inside.message
    unclipped = np.full((8, 8, 1), 0.7)
    unclipped[:4] = 5.0  # half the pixels five ranges high: no real image has them
    judged = with_image(beaten, unclipped)
    assert judged.outside_range == pytest.approx(0.5) and judged.leaves_range
    assert "50% of its pixel values lie outside" in judged.message
    assert judged.to_dict()["outside_range"] == pytest.approx(0.5)


def test_the_layer_scale_ignores_nan_and_bad_values_raise() -> None:
    assert layer_scale(np.array([[np.nan, 0.5], [2.0, -1.0]])) == 2.0
    assert layer_scale(None) == 0.0
    with pytest.raises(ValueError, match="activation nan"):
        judge(float("nan"), None, 1.0)


def test_noise_has_a_high_frequency_ratio_and_smooth_images_a_low_one() -> None:
    rng = np.random.default_rng(0)
    noise = rng.uniform(0, 1, (32, 32, 3))
    ramp = np.tile(np.linspace(0, 1, 32), (32, 1))[..., None]
    assert image_stats.high_frequency_ratio(noise) > 3
    assert image_stats.high_frequency_ratio(ramp) < 0.1
    assert image_stats.high_frequency_ratio(np.full((8, 8, 1), 0.5)) == 0.0
    assert image_stats.saturated_share(np.round(noise)) == 1.0
    assert image_stats.saturated_share(np.full((4, 4, 3), 0.5)) == 0.0
    with pytest.raises(ValueError, match="shape"):
        image_stats.saturated_share(np.zeros(5))


# ------------------------------------------------------------------ models built in code


def _model() -> keras.Model:
    """One 5x5 conv layer: a unit that fires on bright images, one that never fires (zero
    kernel, negative bias), one with ~1e-19 kernels, one that fires only on a bright 3x3 blob
    on a dark surround (which random starts around grey cannot give)."""
    inputs = keras.Input((SIDE, SIDE, 1))
    conv = keras.layers.Conv2D(4, 5, activation="relu", name="conv")
    model = keras.Model(inputs, conv(inputs))
    kernel = np.zeros((5, 5, 1, 4), np.float32)
    bias = np.zeros(4, np.float32)
    kernel[..., LIVE], bias[LIVE] = 9 / 25, -4.0  # 0.5 at grey, 5 on white
    bias[NEVER] = -1.0
    kernel[..., TINY] = 1e-19
    kernel[..., BLOB] = -1.0
    kernel[1:4, 1:4, 0, BLOB] = 1.0  # bright centre, dark ring
    bias[BLOB] = -6.0
    conv.set_weights([kernel, bias])
    return model


def _references() -> np.ndarray:
    """Ten dim images; two hold a bright 3x3 blob in a corner, one is white."""
    images = np.full((10, SIDE, SIDE, 1), 0.1, np.float32)
    for k in BLOB_IMAGES:
        images[k, 1:4, 1:4] = 1.0
    images[8] = 1.0
    return images


@pytest.fixture(scope="module")
def visualizer() -> Visualizer:
    return Visualizer(_model(), (SIDE, SIDE, 1), (0.0, 1.0), _references)


RECIPE = Recipe(steps=16, frame_every=4)


def _run(visualizer: Visualizer, unit: int, recipe: Recipe = RECIPE):
    run = visualizer.run([ObjectiveTerm(("conv",), unit)], recipe, lambda: False)
    while True:
        try:
            next(run)
        except StopIteration as ended:
            return ended.value


def test_a_unit_that_never_fires_is_dead(visualizer) -> None:
    result = _run(visualizer, NEVER)
    assert result.verdict is not None and result.verdict.kind is VerdictKind.DEAD
    assert result.verdict.fires_on == 0 and result.verdict.references == 10


def test_a_unit_with_tiny_kernels_is_dead_not_fine(visualizer) -> None:
    result = _run(visualizer, TINY)
    assert 0 < result.activation < 1e-15  # not exactly zero: the old test let it pass
    assert result.verdict is not None and result.verdict.kind is VerdictKind.DEAD


def test_a_unit_only_real_images_excite_starts_from_its_best_one(visualizer) -> None:
    assert visualizer.find_live_start([ObjectiveTerm(("conv",), BLOB)], RECIPE) is None
    result = _run(visualizer, BLOB)
    verdict = result.verdict
    assert verdict is not None and verdict.kind is VerdictKind.WEAK
    assert result.from_real and result.restarted and verdict.from_real
    assert verdict.best_index in BLOB_IMAGES and verdict.fires_on == len(BLOB_IMAGES)
    assert result.activation > verdict.threshold  # the run now fires
    assert result.best_real_image is not None
    np.testing.assert_allclose(result.best_real_image, _references()[verdict.best_index])


def test_a_run_that_ends_far_below_its_best_real_image_failed(visualizer) -> None:
    timid = replace(RECIPE, steps=2, learning_rate=1e-4, init_noise=0.0)
    result = _run(visualizer, LIVE, timid)
    verdict = result.verdict
    assert verdict is not None and verdict.kind is VerdictKind.FAILED
    assert verdict.ratio is not None and verdict.ratio < 0.2 and verdict.best_index == 8
    assert verdict.hint and "best real image" in verdict.hint


def test_the_atlas_marks_only_truly_dead_units_and_its_json_says_why(visualizer) -> None:
    recipe = replace(RECIPE, batch=1)
    chunks = list(visualizer.atlas(("conv",), range(4), recipe, lambda: False, budget_bytes=None))
    final = [chunk for chunk in chunks if chunk.final]
    assert len(final) == 1 and final[0].dead is not None and final[0].from_real is not None
    chunk = final[0]
    assert chunk.dead.tolist() == [False, True, True, False]
    assert chunk.from_real.tolist() == [False, False, False, True]
    results = []
    for k, unit in enumerate(chunk.units):
        activation = float(chunk.activations[k])
        verdict = visualizer.unit_verdict(("conv",), unit, activation, bool(chunk.from_real[k]))
        quality = visualizer.quality([ObjectiveTerm(("conv",), unit)], recipe, activation)
        dead = verdict.kind is VerdictKind.DEAD
        results.append(FilterResult(unit, chunk.images[k], activation, quality, dead, verdict))
    entries = [
        {"unit": r.unit, "quality": r.quality, "dead": r.dead, **_judged(r)} for r in results
    ]
    assert [e["verdict"] for e in entries] == ["fine", "dead", "dead", "weak"]
    assert "does not fire from noise" in entries[3]["message"] and entries[3]["warning"]
    assert entries[1]["warning"] is None and "never fires" in entries[1]["message"]
    assert all(0 <= e["saturated"] <= 1 and e["high_frequency"] >= 0 for e in entries)
    summary = atlas_summary(entries)
    assert summary["verdicts"]["dead"] == 2 and summary["live"] == 2
    assert summary["high_frequency"]["max"] >= summary["high_frequency"]["mean"]
    assert summary["beat_best_real_share"] is not None


def test_the_atlas_job_sends_verdicts_fresh_and_from_the_cache(visualizer) -> None:
    from engine.jobs.atlas import run_atlas
    from engine.protocol import Atlas, AtlasTile, LayerInfo, LayerKind, LayerPath

    info = LayerInfo(
        LayerPath(("conv",)), "conv", "Conv2D", (None, 12, 12, 4), 404, LayerKind.CHANNELS, 4
    )
    request = Atlas(("conv",), (NEVER, TINY, LIVE), replace(RECIPE, steps=8))
    for attempt in ("computed", "cached"):
        tiles = [
            item
            for item in run_atlas(request, info, visualizer, "test-model", lambda: False)
            if isinstance(item, AtlasTile) and item.final
        ]
        kinds = {tile.unit: tile.verdict.kind for tile in tiles if tile.verdict is not None}
        assert kinds == {
            NEVER: VerdictKind.DEAD,
            TINY: VerdictKind.DEAD,
            LIVE: VerdictKind.FINE,
        }, attempt
        assert [tile.dead for tile in tiles] == [True, True, False], attempt


def test_the_session_starts_an_ascend_from_its_start_image() -> None:
    from session_messages import results_of

    from engine.protocol import Ascend, LoadModel, RunFinished
    from engine.session import EngineSession

    emitted: list[object] = []
    session = EngineSession(emitted.append)
    session.handle(LoadModel(None), lambda: False)
    start = np.zeros((28, 28, 1), np.float32)
    start[8:20, 8:20] = 1.0  # no image is open: the run starts from this one
    recipe = replace(RECIPE, steps=1, learning_rate=1e-6, init="image", init_noise=0.0)
    emitted.clear()
    session.handle(Ascend(("conv1",), 0, recipe, start_image=start), lambda: False)
    finished = [m for m in results_of(emitted) if isinstance(m, RunFinished)]
    assert len(finished) == 1
    np.testing.assert_allclose(finished[0].image, start, atol=0.02)
    assert finished[0].verdict is not None  # a single-filter run that ran to its end


def test_real_images_fire_by_their_peak_and_a_run_that_beats_them_fires_too() -> None:
    means = np.array([0.0, 0.0006, 0.0])  # below the run threshold (1e-3 of the scale 2.0)
    peaks = (np.array([0.0, 0.03, 0.0]), 10.0)  # but one position of image 1 fires
    weak = judge(0.0, means, scale=2.0, peaks=peaks)
    assert weak.kind is VerdictKind.WEAK and weak.fires_on == 1 and weak.best_index == 1
    assert weak.message.startswith("weak: fires on 1 of 3 real images")
    beaten = judge(0.0012, means, scale=2.0, peaks=peaks)
    assert beaten.kind is VerdictKind.FINE and "beats its best real image" in beaten.message
    dead = judge(0.0, means, scale=2.0, peaks=(np.full(3, 1e-17), 10.0))
    assert dead.kind is VerdictKind.DEAD and dead.peak_threshold == pytest.approx(0.01)
