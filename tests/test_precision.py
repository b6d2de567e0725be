"""The precision choice: what "auto" picks on a machine, and bfloat16 runs that match float32."""

from __future__ import annotations

import json
from dataclasses import replace

import keras
import numpy as np
import pytest
from session_messages import results_of

from engine.optvis.fast_objective import FastObjective
from engine.optvis.visualizer import Visualizer
from engine.protocol import ObjectiveTerm, Recipe, cpu_flags, resolve_precision

RUN = Recipe(steps=12, frame_every=12, jitter=1, keep_in_range=True, learning_rate=0.02)


@pytest.mark.parametrize(
    "flags, gpus, expected",
    [
        ({"avx2", "avx512_bf16"}, [], "bfloat16"),
        ({"amx_bf16", "amx_tile"}, [], "bfloat16"),
        ({"avx2", "avx512f"}, [], "float32"),
        (set(), ["/physical_device:GPU:0"], "float16"),
    ],
)
def test_auto_picks_from_the_cpu_flags_and_gpus(flags, gpus, expected):
    picked = resolve_precision("auto", frozenset(flags), gpus, "linux")
    assert picked.compute == expected
    assert expected in picked.reason  # said in words, for the caption and the commands


def test_auto_keeps_small_models_in_float32():
    flags = frozenset({"avx512_bf16"})
    small = resolve_precision("auto", flags, [], "linux", pixels=28 * 28)
    assert small.compute == "float32" and "too small" in small.reason
    assert resolve_precision("auto", flags, [], "linux", pixels=224 * 224).compute == "bfloat16"
    asked = resolve_precision("bfloat16", flags, [], "linux", pixels=28 * 28)
    assert asked.compute == "bfloat16"  # asked for by name: given, whatever the size


def test_auto_is_float32_where_cpu_flags_cannot_be_read():
    assert resolve_precision("auto", frozenset(), [], "darwin").compute == "float32"
    assert resolve_precision("float32", frozenset({"avx512_bf16"}), [], "linux").compute == (
        "float32"
    )


def test_float16_is_refused_on_a_cpu_naming_the_slowdown():
    with pytest.raises(ValueError, match=r"5\.6x slower"):
        resolve_precision("float16", frozenset({"avx512_bf16"}), [], "linux")
    gpu = resolve_precision("float16", frozenset(), ["/physical_device:GPU:0"], "linux")
    assert gpu.compute == "float16" and "GPU:0" in gpu.reason
    with pytest.raises(ValueError, match="precision must be one of"):
        resolve_precision("int8", frozenset(), [], "linux")


def test_cpu_flags_reads_cpuinfo_and_survives_none(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx512_bf16 sse\n")
    assert "avx512_bf16" in cpu_flags(info)
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_recipe_round_trips_precision_and_reads_old_recipes():
    recipe = Recipe(precision="bfloat16")
    assert Recipe.from_dict(recipe.to_dict()).precision == "bfloat16"
    old = recipe.to_dict()
    del old["precision"]
    assert Recipe.from_dict(old).precision == "auto"
    with pytest.raises(ValueError, match="precision"):
        Recipe(precision="half")


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(11)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.Conv2D(12, 3, padding="same", name="c2")(x)
    x = keras.layers.Activation("relu", name="relu2")(x)
    return keras.Model(inputs, x)


def _run(model, recipe: Recipe, layer: str = "c2", unit: int = 3):
    vis = Visualizer(model, (16, 16, 3), (0.0, 1.0), lambda: None)
    terms = [ObjectiveTerm((layer,), unit)]
    snapshots = []
    generator = vis.run(terms, recipe, lambda: False)
    while True:
        try:
            snapshots.append(next(generator))
        except StopIteration as ended:
            return vis, vis.programs(terms, recipe)[0], snapshots, ended.value


def test_bfloat16_run_keeps_float32_state_and_the_objective_rises(model):
    recipe = replace(RUN, precision="bfloat16")
    vis, program, snapshots, result = _run(model, recipe, layer="relu2")
    assert isinstance(program.objective, FastObjective)
    assert program.objective.precision.compute == "bfloat16"
    assert all(v.dtype == "float32" for v in program.param.variables)
    assert all(m.dtype == "float32" for pair in program._moments for m in pair)
    objectives = [value for snap in snapshots for value in snap.objectives]
    assert objectives[-1] > objectives[0]
    assert result.images.dtype == np.float32
    assert program.trace_count() == 1  # no retrace per step
    # The activation reported is the float32 objective of the full model.
    exact = vis.evaluate(program, result.images)
    assert result.activation == pytest.approx(float(exact[0]))


def test_bfloat16_and_float32_runs_from_one_seed_are_close(model):
    _, _, _, f32 = _run(model, replace(RUN, precision="float32"))
    _, _, _, bf16 = _run(model, replace(RUN, precision="bfloat16"))
    moved = np.abs(f32.images - 0.5).mean()
    assert np.abs(bf16.images - f32.images).mean() < 0.25 * moved
    assert bf16.activation == pytest.approx(f32.activation, rel=0.05)


# ----------------------------------------------------------------------------- commands


def test_atlas_command_takes_precision_and_says_what_it_picked(tmp_path, capsys, monkeypatch):
    import main

    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    args = ["--layer", "conv1", "--filters", "0-1", "--steps", "4", "--no-cache"]
    status = main.main(["atlas", *args, "--precision", "bfloat16", "--out", str(out)])
    assert status == 0, capsys.readouterr().err
    assert "precision: bfloat16 as the recipe asks" in capsys.readouterr().out
    assert json.loads((out / "atlas.json").read_text())["recipe"]["precision"] == "bfloat16"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["atlas", "--layer", "conv1", "--precision", "half"], "--precision"),
        (["explain", "--image", "x.png", "--method", "gradcam", "--precision", "bfloat16"],
         "float32 only"),
        (["scan", "--images", ".", "--precision", "bfloat16"], "float32 only"),
    ],
)  # fmt: skip
def test_commands_refuse_a_precision_they_cannot_use(tmp_path, capsys, argv, message):
    import main

    status = main.main([*argv, "--out", str(tmp_path / "out")])
    assert status == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_atlas_refuses_float16_on_a_cpu(tmp_path, capsys):
    import main
    from engine.optvis.precision import visible_gpus

    if visible_gpus():
        pytest.skip("float16 is allowed where a GPU is visible")
    argv = ["atlas", "--layer", "conv1", "--precision", "float16", "--out", str(tmp_path)]
    assert main.main(argv) == 1
    assert "5.6x slower" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the session


def test_the_session_runs_a_nested_model_in_bfloat16_and_refuses_float16(saved_models):
    from engine.optvis.precision import visible_gpus
    from engine.protocol import Ascend, LoadModel, RunFinished
    from engine.session import EngineSession

    emitted: list[object] = []
    session = EngineSession(emitted.append)
    session.handle(LoadModel(str(saved_models["nested"])), lambda: False)
    recipe = Recipe(steps=4, frame_every=2, precision="bfloat16")
    emitted.clear()
    session.handle(Ascend(("block", "inner_conv2"), 3, recipe), lambda: False)
    finished = [m for m in results_of(emitted) if isinstance(m, RunFinished)]
    assert len(finished) == 1 and np.isfinite(finished[0].activation)
    if not visible_gpus():
        half = Ascend(("block", "inner_conv2"), 3, replace(recipe, precision="float16"))
        with pytest.raises(ValueError, match=r"5\.6x slower"):
            session.handle(half, lambda: False)
