"""Memory stays bounded: jobs are planned before they start, batches sized to what is free, and
running out is a sentence that says what ran out and what would fit."""

from __future__ import annotations

from dataclasses import replace

import keras
import pytest
import tensorflow as tf

from engine.cli import atlas as atlas_cli
from engine.failures import failure_kind, user_message
from engine.models.introspect import describe_model
from engine.models.meta import ModelMeta
from engine.optvis import memory
from engine.optvis.visualizer import ATLAS_BATCH, Visualizer
from engine.protocol import FailureKind
from engine.protocol.recipe import PRESETS

BIG_SIDE = 4096


def _visualizer(model: keras.Model, free_size: bool = False) -> Visualizer:
    summary = describe_model(model, ModelMeta(), "model.keras")
    if free_size:
        channels = summary.input_shape[-1]
        summary = replace(summary, input_shape=(512, 512, channels), free_size=True)
    return Visualizer(model, summary.input_shape, (0.0, 1.0), lambda: None, summary)


def _tiny(side: int | None) -> keras.Model:
    inputs = keras.Input((side, side, 3))
    hidden = keras.layers.Conv2D(4, 3, padding="same", name="c")(inputs)
    outputs = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="d")(hidden)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def big_model() -> keras.Model:
    return _tiny(BIG_SIDE)


def test_budget_comes_from_the_variable_or_meminfo(tmp_path, monkeypatch):
    monkeypatch.delenv(memory.BUDGET_VARIABLE, raising=False)
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:  8000000 kB\nMemAvailable:  1000000 kB\n")
    assert memory.available_bytes(meminfo) == int(1000000 * 1024 * memory.USABLE_SHARE)
    assert memory.available_bytes(tmp_path / "absent") is None
    monkeypatch.setenv(memory.BUDGET_VARIABLE, "2G")
    assert memory.available_bytes(meminfo) == 2 * 2**30
    assert memory.parse_bytes("512M") == 512 * 2**20
    assert memory.parse_bytes("1000") == 1000
    with pytest.raises(ValueError, match="CONVSCOPE_MEMORY_BUDGET='lots'"):
        memory.parse_bytes("lots")


def test_the_estimate_counts_input_and_the_activations_up_to_the_target():
    summary = _visualizer(_tiny(32)).summary
    assert summary is not None
    pixels = 32 * 32 * 3
    at_c = memory.image_bytes(summary, ("c",))
    at_d = memory.image_bytes(summary, ("d",))
    assert at_c == 4 * (memory.INPUT_BUFFERS * pixels + memory.ACTIVATION_COPIES * 32 * 32 * 4)
    assert at_d - at_c == 4 * memory.ACTIVATION_COPIES * 16 * 16 * 4


def test_the_planned_batch_shrinks_when_the_plan_exceeds_the_budget():
    vis = _visualizer(_tiny(32))
    roomy = vis.atlas_plan(("d",), 64, budget_bytes=2**40)
    assert roomy.batch == ATLAS_BATCH
    tight = vis.atlas_plan(("d",), 64, budget_bytes=10 * roomy.per_image + 1)
    assert tight.batch == 10 and tight.total <= 10 * roomy.per_image + 1
    assert vis.atlas_plan(("d",), 3, budget_bytes=2**40).batch == 3  # never more than asked


def test_the_atlas_runs_its_filters_in_the_smaller_batches_that_fit():
    vis = _visualizer(_tiny(16))
    per_image = vis.atlas_plan(("c",), 4).per_image
    recipe = replace(PRESETS["Classic"], steps=4, batch=1)
    chunks = [
        c
        for c in vis.atlas(("c",), [0, 1, 2, 3], recipe, lambda: False, 2, 2 * per_image)
        if c.final
    ]
    assert [c.units for c in chunks] == [[0, 1], [2, 3]]


def test_a_4096_px_model_plans_one_image_or_refuses_before_allocating(big_model):
    vis = _visualizer(big_model)
    per_image = vis.atlas_plan(("c",), 64, budget_bytes=2**50).per_image
    assert per_image > 1.5 * 2**30  # 4096×4096×3 with its buffers and a 4096² activation
    assert vis.atlas_plan(("c",), 64, budget_bytes=3 * 2**30).batch == 1
    recipe = replace(PRESETS["Classic"], steps=2, batch=1)
    with pytest.raises(memory.NotEnoughMemory) as refused:
        next(vis.atlas(("c",), range(4), recipe, lambda: False, budget_bytes=2**30))
    text = str(refused.value)
    assert "layer atlas of c" in text and "4096×4096×3" in text and "1.0 GB is free" in text
    assert failure_kind(refused.value) is FailureKind.MEMORY
    assert user_message(refused.value) == text


def test_a_free_size_model_is_told_the_side_that_fits():
    vis = _visualizer(_tiny(None), free_size=True)
    assert vis.summary is not None
    budget = memory.image_bytes(vis.summary, ("d",), 200)
    with pytest.raises(memory.NotEnoughMemory, match="input side of 200 px or less"):
        vis.atlas_plan(("d",), 64, budget_bytes=budget)


def test_tensorflow_running_out_all_the_same_is_a_sentence_with_a_smaller_batch(monkeypatch):
    vis = _visualizer(_tiny(16))

    def exhausted(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
        yield  # a generator, as the real one

    monkeypatch.setattr(vis, "_atlas", exhausted)
    recipe = replace(PRESETS["Classic"], steps=2, batch=1)
    with pytest.raises(memory.NotEnoughMemory) as ran_out:
        list(vis.atlas(("c",), range(8), recipe, lambda: False, budget_bytes=2**40))
    text = str(ran_out.value)
    assert "Out of memory in the layer atlas of c: a batch of 8 images" in text
    assert "A batch of 4 needs about" in text and "CONVSCOPE_MEMORY_BUDGET=" in text


@pytest.mark.parametrize("error", [MemoryError(), tf.errors.ResourceExhaustedError(None, None, "")])
def test_any_out_of_memory_error_says_what_ran_out_and_what_to_try(error):
    assert failure_kind(error) is FailureKind.MEMORY
    text = user_message(error)
    assert text.startswith("Out of memory:") and "smaller input side" in text


def test_the_atlas_command_prints_the_message_not_a_traceback(tmp_path, monkeypatch, capsys):
    path = tmp_path / "big.keras"
    _tiny(BIG_SIDE).save(path)
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv(memory.BUDGET_VARIABLE, "1G")
    args = ["--model", str(path), "--layer", "c", "--filters", "0-3", "--steps", "2"]
    status = atlas_cli.main([*args, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("convscope atlas: error: Not enough memory for the layer atlas of c")
    assert "Traceback" not in err and not (tmp_path / "out" / "atlas.json").exists()

    def exhausted(*args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM")

    monkeypatch.setattr(atlas_cli, "_compute", exhausted)
    assert atlas_cli.main([*args, "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.startswith("convscope atlas: error: Out of memory:")


def test_a_visualization_too_big_for_the_memory_is_refused_before_it_starts(monkeypatch):
    from engine.protocol import Ascend, FailureKind, LoadModel, Recipe
    from engine.session import EngineSession

    session = EngineSession(lambda _result: None)
    session.handle(LoadModel(None), lambda: False)
    assert session.summary.image_bytes > 0  # what one image needs, for the window to show
    monkeypatch.setenv(memory.BUDGET_VARIABLE, "1K")
    with pytest.raises(MemoryError, match="Not enough memory") as caught:
        session.handle(Ascend(("conv3",), 0, Recipe(steps=2)), lambda: False)
    assert failure_kind(caught.value) is FailureKind.MEMORY


def test_a_model_file_too_big_for_the_memory_is_refused_before_loading(monkeypatch, tmp_path):
    from engine.models.loading import load_model

    path = tmp_path / "big.keras"
    keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c")]).save(path)
    monkeypatch.setenv(memory.BUDGET_VARIABLE, "1K")
    with pytest.raises(MemoryError, match=r"big\.keras .* needs about .* to open"):
        load_model(str(path))
    monkeypatch.delenv(memory.BUDGET_VARIABLE)
    model, _meta, _label = load_model(str(path))  # with the memory there, it opens
    assert model.get_layer("c").filters == 2


def test_a_network_walk_too_big_for_the_memory_is_refused(monkeypatch):
    from engine.protocol import LoadModel, OpenImage, WalkNetwork
    from engine.session import EngineSession

    session = EngineSession(lambda _result: None)
    session.handle(LoadModel(None), lambda: False)
    session.handle(OpenImage(sample="digit:3"), lambda: False)
    monkeypatch.setenv(memory.BUDGET_VARIABLE, "1K")
    with pytest.raises(MemoryError, match="network walk"):
        session.handle(WalkNetwork(), lambda: False)


def test_a_free_size_model_too_big_at_its_side_is_told_the_side_that_fits(tmp_path, monkeypatch):
    from engine.failures import failure
    from engine.protocol import Ascend, LoadModel, Recipe
    from engine.session import EngineSession

    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    path = tmp_path / "free.keras"
    keras.Model(inputs, outputs).save(path)
    session = EngineSession(lambda _result: None)
    session.handle(LoadModel(str(path), input_size=512), lambda: False)
    budget = memory.image_bytes(session.summary, ("c1",), 256)  # 256 px fits, 512 does not
    monkeypatch.setenv(memory.BUDGET_VARIABLE, str(budget))
    with pytest.raises(memory.NotEnoughMemory) as caught:
        session.handle(Ascend(("c1",), 0, Recipe(steps=2)), lambda: False)
    side = caught.value.fitting_side
    assert side is not None and 200 <= side <= 256
    told = failure(7, caught.value)
    assert told.fitting_side == side and f"{side} px" in told.message
