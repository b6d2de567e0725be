"""Feature visualization without Qt: objectives rise, knobs apply live, runs stop for a reason."""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest

from engine.optvis.program import Outcome, is_milestone, octave_sizes, octave_steps, visualize
from engine.optvis.visualizer import RunResult, Visualizer
from engine.protocol import ObjectiveTerm
from engine.protocol.recipe import PRESETS, Recipe

BASE = Recipe(steps=30, frame_every=5, jitter=1)


def _visualizer(model, shape=(16, 16, 3), value_range=(0.0, 1.0)) -> Visualizer:
    return Visualizer(model, shape, value_range, lambda: None)


def _drain(generator):
    """Every item of `generator` and its return value."""
    items = []
    while True:
        try:
            items.append(next(generator))
        except StopIteration as ended:
            return items, ended.value


def _run(vis: Visualizer, terms, recipe=BASE, should_stop=lambda: False, image=None):
    snapshots, result = _drain(vis.run(terms, recipe, should_stop, image))
    assert isinstance(result, RunResult)
    objectives = [value for snap in snapshots for value in snap.objectives]
    return snapshots, result, objectives


def _rises(objectives: list[float]) -> bool:
    return np.mean(objectives[-3:]) > np.mean(objectives[:3]) + 1e-4


@pytest.fixture(scope="module")
def linear_head_model():
    """Convolutions without a final ReLU, so no channel can be dead at the start."""
    keras.utils.set_random_seed(5)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(8, 3, padding="same", name="c2")(x)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="probs")(pooled)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"param": "fourier", "optimizer": "adam", "normalize_grad": False},
        {"param": "fourier", "decorrelate": False, "optimizer": "adam"},
        {"optimizer": "adam", "learning_rate": 0.05},
        {"init": "scales"},
        {"pad": 2, "jitter": 2, "scales": (0.9, 1.0, 1.1), "rotate": 10.0},
        {"l2": 0.1, "lp": 0.1, "tv": 0.1},
        {"blur_every": 4},
        {"octaves": 3, "steps": 45},
    ],
    ids=["pixel", "fourier", "fourier-plain", "adam", "scales-init", "robustness",
         "regularizers", "blur", "octaves"],
)  # fmt: skip
def test_objective_rises_with_every_method(linear_head_model, changes):
    vis = _visualizer(linear_head_model)
    _, result, objectives = _run(vis, [ObjectiveTerm(("c2",), 3)], replace(BASE, **changes))
    assert _rises(objectives), objectives
    assert result.images.shape == (1, 16, 16, 3)
    assert result.outcome.reason == "steps"


def test_a_users_image_is_the_start(linear_head_model):
    vis = _visualizer(linear_head_model)
    picture = np.zeros((16, 16, 3), np.float32)
    picture[:, 8:] = 1.0
    recipe = replace(BASE, init="image", init_noise=0.0, steps=1, learning_rate=1e-4)
    _, result, _ = _run(vis, [ObjectiveTerm(("c2",), 0)], recipe, image=picture)
    assert result.images[0, :, :8].mean() < 0.1 and result.images[0, :, 8:].mean() > 0.9


@pytest.mark.parametrize(
    "terms",
    [
        [ObjectiveTerm(("c2",), 1, neuron=(5, 9))],
        [ObjectiveTerm(("probs",), 2)],
        [ObjectiveTerm(("c2",), 1), ObjectiveTerm(("c1",), 4, 0.5), ObjectiveTerm(("c2",), 6, -1)],
    ],
    ids=["neuron", "class-logit", "weighted-sum"],
)
def test_objective_rises_for_every_kind_of_objective(linear_head_model, terms):
    _, _, objectives = _run(_visualizer(linear_head_model), terms)
    assert _rises(objectives)


def test_negation_finds_what_inhibits(linear_head_model):
    vis = _visualizer(linear_head_model)
    term = [ObjectiveTerm(("c2",), 5)]
    _, up, _ = _run(vis, term)
    _, down, negated = _run(vis, term, replace(BASE, negate=True))
    assert _rises(negated)
    assert down.activation > 0  # the negated objective rose...
    assert -down.activation < up.activation  # ...so the channel itself went down


def test_diversity_makes_the_images_of_a_batch_differ(linear_head_model):
    vis = _visualizer(linear_head_model)
    term = [ObjectiveTerm(("c2",), 2)]
    same = replace(BASE, batch=3, steps=40, init_noise=0.05, jitter=0)
    _, plain, _ = _run(vis, term, same)
    _, diverse, objectives = _run(vis, term, replace(same, diversity=5.0))
    assert _rises(objectives)

    def spread(images):
        return float(np.mean([np.abs(images[0] - other).mean() for other in images[1:]]))

    assert spread(diverse.images) > spread(plain.images) + 0.01


def test_the_class_logit_replaces_the_softmax(linear_head_model):
    from engine.models.surgery import truncate

    vis = _visualizer(linear_head_model)
    _, result, _ = _run(vis, [ObjectiveTerm(("probs",), 1)])
    kernel, bias = linear_head_model.get_layer("probs").get_weights()
    pooled = truncate(linear_head_model, ("gap",))(result.images).numpy()
    logits = pooled @ kernel + bias
    assert result.activation == pytest.approx(float(logits[0, 1]), rel=1e-4, abs=1e-5)


def test_live_knobs_apply_without_retracing(linear_head_model):
    vis = _visualizer(linear_head_model)
    terms = [ObjectiveTerm(("c2",), 0)]
    program = vis.programs(terms, BASE)[0]
    program.start(np.full((1, 16, 16, 3), 0.5, np.float32), 0)
    program.step()
    traces = program.trace_count()
    before = program.images()
    tiny = replace(BASE, learning_rate=1e-9, jitter=4, rotate=20.0, tv=2.0, l2=1.0)
    program.set_knobs(tiny)
    program.step()
    np.testing.assert_allclose(program.images(), before, atol=1e-6)  # took effect at once
    vis.programs([ObjectiveTerm(("c2",), 5)], replace(BASE, learning_rate=0.3))
    program.step()
    assert program.trace_count() == traces


def test_should_stop_stops_within_one_step(linear_head_model):
    checks = []

    def stop_after_seven_checks() -> bool:
        checks.append(1)
        return len(checks) > 7

    recipe = replace(BASE, steps=100, frame_every=1)
    snapshots, result, _ = _run(
        _visualizer(linear_head_model), [ObjectiveTerm(("c1",), 0)], recipe,
        stop_after_seven_checks,
    )  # fmt: skip
    assert result.outcome.reason == "cancelled" and result.outcome.steps_done == 7
    assert snapshots[-1].step == 7 and len(checks) == 8


def test_frames_are_fresh_arrays_in_display_range(linear_head_model):
    vis = _visualizer(linear_head_model, value_range=(-1.0, 1.0))
    snapshots, _, _ = _run(vis, [ObjectiveTerm(("c2",), 1)], replace(BASE, steps=12, frame_every=4))
    assert [s.step for s in snapshots] == [1, 2, 4, 8, 12]  # milestones 1, 2, 4, 8 too
    assert [s.milestone for s in snapshots] == [True, True, True, True, False]
    first, last = snapshots[0].images, snapshots[-1].images
    assert first.dtype == np.float32 and first.min() >= 0.0 and first.max() <= 1.0
    assert not np.shares_memory(first, last) and not np.array_equal(first, last)


def test_a_converged_run_says_so(linear_head_model):
    recipe = replace(BASE, steps=2000, converge_window=10, converge_tol=0.05, frame_every=50)
    _, result, _ = _run(_visualizer(linear_head_model), [ObjectiveTerm(("c2",), 4)], recipe)
    assert result.outcome.reason == "converged"
    assert 10 < result.outcome.steps_done < 2000


def _model_with_filters(dead_kind: str) -> keras.Model:
    """conv `c` whose filter 0 is dead: "never" cannot fire at all, "grey" fires only on edges."""
    inputs = keras.Input((16, 16, 1))
    # "valid" padding: zero padding would itself make edges at the border of a flat image.
    conv = keras.layers.Conv2D(2, 3, padding="valid", activation="relu", name="c")
    outputs = conv(inputs)
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((3, 3, 1, 2), np.float32)
    bias = np.array([-1.0, 0.1], np.float32)
    if dead_kind == "grey":
        kernel[:, 0, 0, 0], kernel[:, 2, 0, 0] = -4.0, 4.0  # a strong vertical-edge detector
        bias[0] = -0.5  # a flat image (any grey) gives exactly -0.5: nothing
    conv.set_weights([kernel, bias])
    return model


def test_a_filter_that_cannot_fire_is_reported_dead():
    vis = _visualizer(_model_with_filters("never"), (16, 16, 1))
    _, result, objectives = _run(vis, [ObjectiveTerm(("c",), 0)], replace(BASE, steps=100))
    assert result.outcome.reason == "dead"
    assert result.outcome.steps_done < 100 and not result.restarted
    assert not any(objectives)


def test_a_filter_dead_at_grey_is_restarted_from_a_start_that_fires():
    vis = _visualizer(_model_with_filters("grey"), (16, 16, 1))
    recipe = replace(BASE, steps=40, init_noise=0.0, jitter=0)
    _, result, _ = _run(vis, [ObjectiveTerm(("c",), 0)], recipe)
    assert result.restarted and result.outcome.reason == "steps"
    assert result.activation > 0


def test_the_atlas_batches_filters_and_marks_dead_ones():
    vis = _visualizer(_model_with_filters("never"), (16, 16, 1))
    chunks = list(vis.atlas(("c",), [0, 1], replace(BASE, steps=16), lambda: False, live_every=8))
    final = [chunk for chunk in chunks if chunk.final]
    assert len(final) == 1 and final[0].units == [0, 1]
    assert list(final[0].dead) == [True, False]
    assert any(not chunk.final for chunk in chunks)  # live tiles before the end


def test_octaves_and_milestones():
    recipe = Recipe(steps=100, octaves=3, octave_scale=2.0)
    assert octave_sizes(28, 28, recipe) == [(7, 7), (14, 14), (28, 28)]
    assert octave_steps(recipe) == [33, 33, 34]
    assert [s for s in range(1, 20) if is_milestone(s)] == [1, 2, 4, 8, 16]


def test_every_preset_is_a_valid_recipe_that_round_trips():
    assert {"Notebook", "Lucid", "Fast preview"} <= set(PRESETS)
    notebook, lucid = PRESETS["Notebook"], PRESETS["Lucid"]
    # One 8-bit pixel level (1/255, to 6 decimals) per step on every range (test_notebook_preset).
    assert (notebook.steps, notebook.learning_rate, notebook.init) == (40, 0.003922, "grey")
    assert (lucid.param, lucid.optimizer, lucid.steps) == ("fourier", "adam", 512)
    for recipe in PRESETS.values():
        assert Recipe.from_dict(recipe.to_dict()) == recipe


@pytest.mark.parametrize(
    "bad", [{"steps": 0}, {"param": "wavelet"}, {"learning_rate": -1.0}, {"octave_scale": 1.0}]
)
def test_bad_recipes_name_the_bad_value(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        Recipe(**bad)


def test_visualize_counts_steps_across_octaves(linear_head_model):
    vis = _visualizer(linear_head_model)
    recipe = replace(BASE, octaves=2, steps=20)
    programs = vis.programs([ObjectiveTerm(("c2",), 0)], recipe)
    assert [p.param.shape[1] for p in programs] == [12, 16]
    start = np.full((1, 16, 16, 3), 0.5, np.float32)
    snapshots, outcome = _drain(visualize(programs, recipe, start, lambda: False))
    assert isinstance(outcome, Outcome)
    assert outcome.steps_done == 20 and snapshots[-1].step == 20


def test_a_stopped_run_resumes_to_the_very_image_an_unbroken_run_makes(linear_head_model):
    vis = _visualizer(linear_head_model)
    recipe = replace(BASE, steps=24, octaves=2, optimizer="adam", learning_rate=0.05)
    terms = [ObjectiveTerm(("c2",), 1)]
    _, whole, _ = _run(vis, terms, recipe)
    asked = []
    stop_after_16 = lambda: len(asked) > 15 or asked.append(1)  # noqa: E731
    _, stopped, _ = _run(vis, terms, recipe, should_stop=stop_after_16)
    assert stopped.outcome.reason == "cancelled" and stopped.resumable is not None
    assert stopped.resumable.steps_done == 16  # past the first octave's 12 steps
    snapshots, resumed = _drain(vis.resume(stopped.resumable, lambda: False))
    # Steps 17 to 24, every one of them on the curve; none done twice.
    assert sum(len(snap.objectives) for snap in snapshots) == 8
    assert resumed.outcome.steps_done == 24
    assert resumed.resumable is None  # done: nothing left to continue
    np.testing.assert_allclose(resumed.images, whole.images, atol=1e-5)
