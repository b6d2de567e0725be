"""Comparing two models in the engine session: both sides' maps, predictions and live frames,
notes for what model B lacks, cancellation, and model B surviving a new model A."""

from __future__ import annotations

import numpy as np
import pytest
from session_messages import ended_of, results_of

from engine.jobs.compare import map_correlation, verdict
from engine.models.meta import ModelLoadError
from engine.protocol import (
    Compare,
    CompareFrame,
    CompareSide,
    Comparison,
    ComparisonLoaded,
    EndReason,
    LoadComparison,
    LoadModel,
    ModelLoaded,
    OpenImage,
    Prediction,
    StopRun,
)
from engine.protocol.recipe import Recipe
from engine.session import EngineSession

QUICK = Recipe(steps=8, frame_every=1, seed=3, jitter=0)
CONV_B = ("conv_b",)


def _tiny(seed: int, name: str = "conv_b", channels: int = 8):
    """The tiny two-conv classifier; a different `seed` is another checkpoint of it."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv_a")(inputs)
    x = keras.layers.MaxPooling2D(name="pool_a")(x)
    x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu", name=name)(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name=f"tiny_{seed}")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """Two checkpoints of one architecture, one other architecture, one narrower model."""
    folder = tmp_path_factory.mktemp("compare")
    models = {
        "a": _tiny(1),
        "b": _tiny(2),
        "other": _tiny(3, name="conv_other"),
        "narrow": _tiny(4, channels=4),
    }
    paths = {}
    for key, model in models.items():
        paths[key] = str(folder / f"{key}.keras")
        model.save(paths[key])
    return paths


class Engine:
    """A session whose messages are collected; status lines are left out."""

    def __init__(self) -> None:
        self.emitted: list[object] = []
        self.session = EngineSession(self.emitted.append)

    def do(self, request, should_stop=lambda: False) -> list[object]:
        self.emitted.clear()
        self.session.handle(request, should_stop)
        return results_of(self.emitted)


def _engine(files, b: str | None = "b", image: bool = True) -> Engine:
    engine = Engine()
    (loaded,) = engine.do(LoadModel(files["a"]))
    assert isinstance(loaded, ModelLoaded)
    if b is not None:
        (found,) = engine.do(LoadComparison(files[b]))
        assert isinstance(found, ComparisonLoaded) and found.summary.find(("probs",)) is not None
    if image:
        rng = np.random.default_rng(0)
        engine.do(OpenImage(pixels=rng.random((16, 16, 3)).astype(np.float32), source="noise"))
    return engine


def _split(messages: list[object]):
    frames = [m for m in messages if isinstance(m, CompareFrame)]
    results = [m for m in messages if isinstance(m, Comparison)]
    return frames, results


def _rises(frames: list[CompareFrame], side: str) -> bool:
    values = [v for f in frames if f.side == side for v in f.objectives]
    return len(values) == QUICK.steps and values[-1] > values[0]


def test_two_checkpoints_get_maps_predictions_and_live_visualizations(files) -> None:
    engine = _engine(files)
    request = Compare(CONV_B, 3, QUICK)
    frames, (first, last) = _split(engine.do(request))
    assert ended_of(engine.emitted).reason is EndReason.FINISHED and first.a.image is None
    assert {f.side for f in frames} == {"A", "B"}
    assert all(f.request_id == request.request_id for f in frames)
    # Side A runs first, then B: the frames arrive in that order.
    sides = [f.side for f in frames]
    assert sides == sorted(sides)
    assert _rises(frames, "A") and _rises(frames, "B")
    for side in (last.a, last.b):
        assert side.feature_map.shape == (8, 8) and not side.note
        assert len(side.predictions) == 4
        assert side.image.shape == (16, 16, 3) and np.isfinite(side.image).all()  # unclipped
        assert side.steps_done == QUICK.steps and side.activation > 0
    assert last.a.name == "tiny_1" and last.b.name == "tiny_2"
    # Different checkpoints: different feature maps, so a correlation below one.
    assert last.correlation is not None and -1 <= last.correlation < 0.999
    assert "correlate" in last.verdict or "top class differs" in last.verdict


def test_identical_models_grow_identical_images_with_the_same_recipe_and_seed(files) -> None:
    engine = Engine()
    engine.do(LoadModel(files["a"]))
    engine.do(LoadComparison(files["a"]))
    engine.do(OpenImage(pixels=np.full((16, 16), 0.5, np.float32), source="grey"))
    _, (_, last) = _split(engine.do(Compare(CONV_B, 1, QUICK)))
    np.testing.assert_allclose(last.a.image, last.b.image, atol=1e-6)
    assert last.verdict.startswith("Same top class")


def test_a_layer_model_b_lacks_gives_a_note_and_predictions_are_still_compared(files) -> None:
    engine = _engine(files, b="other")
    frames, (_, last) = _split(engine.do(Compare(CONV_B, 2, QUICK)))
    assert last.b.note == "model B has no layer 'conv_b'"
    assert last.b.feature_map is None and last.b.image is None
    assert len(last.a.predictions) == 4 and len(last.b.predictions) == 4
    assert {f.side for f in frames} == {"A"}  # only A can be visualized
    assert last.a.image is not None
    assert last.verdict.startswith(("B's top class differs", "Same top class"))


def test_a_unit_beyond_model_bs_channels_gives_a_note(files) -> None:
    engine = _engine(files, b="narrow")
    _, (_, last) = _split(engine.do(Compare(CONV_B, 6, QUICK)))
    assert last.b.note == ("model B's layer 'conv_b' has 4 channels (#0 to #3); there is no #6")
    assert last.a.feature_map is not None and last.a.image is not None


def test_without_an_image_only_the_visualizations_are_compared(files) -> None:
    engine = _engine(files, image=False)
    frames, (_, last) = _split(engine.do(Compare(CONV_B, 0, QUICK)))
    assert last.note == "No image open: visualizations only."
    assert not last.a.predictions and last.a.feature_map is None
    assert last.a.image is not None and last.b.image is not None
    assert {f.side for f in frames} == {"A", "B"}
    assert "activation A" in last.verdict


def test_stopping_after_the_first_frame_cancels_both_sides(files) -> None:
    engine = _engine(files)
    checks = []

    def should_stop() -> bool:
        checks.append(1)
        return any(isinstance(m, CompareFrame) for m in engine.emitted)

    frames, (_, last) = _split(engine.do(Compare(CONV_B, 3, QUICK), should_stop))
    assert ended_of(engine.emitted).reason is EndReason.CANCELLED
    assert {f.side for f in frames} == {"A"}  # B never started
    assert last.a.steps_done < QUICK.steps and last.b.image is None


def test_compare_without_model_b_says_how_to_choose_one(files) -> None:
    engine = _engine(files, b=None)
    with pytest.raises(ValueError, match="choose model B first"):
        engine.do(Compare(CONV_B, 0, QUICK))


def test_a_new_model_a_keeps_model_b_and_a_bad_b_keeps_the_old_b(files, tmp_path) -> None:
    engine = _engine(files)
    engine.do(LoadModel(files["other"]))
    bad = tmp_path / "broken.keras"
    bad.write_text("not a model")
    with pytest.raises(ModelLoadError, match=r"broken\.keras"):
        engine.do(LoadComparison(str(bad)))
    _, (_, last) = _split(engine.do(Compare(("conv_other",), 0, QUICK)))
    assert last.a.name == "tiny_3" and last.b.name == "tiny_2"
    assert last.b.note == "model B has no layer 'conv_other'"


# ----------------------------------------------------------------------------- the verdict


def _side(name: str, top: str | None = None, value: float | None = None) -> CompareSide:
    predictions = (Prediction(0, top, 0.9),) if top else ()
    return CompareSide(name, f"model {name}", predictions=predictions, value=value)


def test_the_verdict_names_a_different_top_class_first() -> None:
    line = verdict(_side("A", "3"), _side("B", "8"), 0.5, "conv3 #2")
    assert line == "B's top class differs: '3' vs '8'"


def test_the_verdict_gives_the_correlation_when_the_top_class_agrees() -> None:
    line = verdict(_side("A", "3"), _side("B", "3"), 0.42, "conv3 #2")
    assert (
        line == "Same top class '3' (A 90%, B 90%); conv3 #2's feature maps correlate at r = 0.42"
    )


def test_map_correlation_needs_two_maps_of_one_shape_that_vary() -> None:
    ramp = np.arange(16, dtype=np.float32).reshape(4, 4)
    assert map_correlation(ramp, 2 * ramp + 1) == pytest.approx(1.0)
    assert map_correlation(ramp, -ramp) == pytest.approx(-1.0)
    assert map_correlation(ramp, np.zeros((4, 4))) is None
    assert map_correlation(ramp, ramp[:2]) is None
    assert map_correlation(None, ramp) is None


def test_a_dense_unit_compares_its_values_instead_of_maps(files) -> None:
    engine = _engine(files)
    _, (_, last) = _split(engine.do(Compare(("probs",), 1, QUICK)))
    for side in (last.a, last.b):
        assert side.feature_map is None and 0 <= side.value <= 1 and side.image is not None
    assert last.correlation is None
    assert "probs #1" in last.verdict or "top class differs" in last.verdict


# ----------------------------------------------------------------------------- the mailbox


def test_a_new_model_a_does_not_drop_a_waiting_model_b_and_stop_cancels_a_compare() -> None:
    from engine.worker import EngineThread

    thread = EngineThread()  # not started: the mailbox alone
    thread.submit(LoadComparison("b.keras"))
    thread.submit(Compare(CONV_B, 0))
    thread.submit(LoadModel("a.keras"))
    assert [lane for lane, _slot in thread._mailbox] == ["comparison", "model"]
    compare = Compare(CONV_B, 1)
    thread.submit(compare)
    thread._running = compare  # as if it were running
    thread.submit(StopRun())
    assert thread._cancel.is_set()


def test_model_b_takes_the_preprocessing_chosen_for_it(files) -> None:
    from engine.protocol.input_spec import InputPreprocessing

    engine = Engine()
    request = LoadComparison(files["b"], preprocessing=InputPreprocessing.caffe())
    (loaded,) = engine.do(request)
    assert isinstance(loaded, ComparisonLoaded)
    assert loaded.summary.input_origin == "chosen"
    assert [layer.name for layer in loaded.summary.layers][:2] == ["pixels", "preprocess_caffe"]


def test_a_new_model_a_lets_model_bs_download_go_on_but_a_new_model_b_stops_it() -> None:
    from engine.worker import EngineThread

    thread = EngineThread()  # not started: the mailbox alone
    thread._running = LoadComparison("zoo:VGG16")  # as if downloading B's weights
    thread.submit(LoadModel("a.keras"))
    assert not thread._cancel.is_set()
    thread.submit(LoadComparison("zoo:VGG19"))
    assert thread._cancel.is_set()
