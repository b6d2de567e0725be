"""The microscope's clean-ups: the window and the command write the same manifest for the same
model, data and recipe; the loaded model carries its weights' fingerprint and the tab links a
unit only to the very model the microscope was built for; the Build form takes the Method
panel's recipe, top-k and layers and remembers its answers."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from fake_engine import fake_summary, fake_window
from microscope_data import tiny_model
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from engine.protocol import Ascend, BuildMicroscope, EndReason, LoadModel, ModelLoaded
from engine.protocol.recipe import PRESETS
from gui.common.names import Tab

STEPS = 4


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """A tiny model, a retrained copy of it (the same layers, other weights) and 24 images."""
    root = tmp_path_factory.mktemp("cleanup")
    rng = np.random.default_rng(0)
    (root / "images").mkdir()
    for k in range(24):
        pixels = rng.integers(0, 255, (28, 28), np.uint8)
        Image.fromarray(pixels).save(root / "images" / f"n{k:02d}.png")
    model = tiny_model(root / "mini.keras", 3, classes=3)
    return {"root": root, "images": root / "images", "model": model, "retrained": _nudged(model)}


def _nudged(path: Path) -> Path:
    """The model of `path` with one kernel nudged, as a little more training would."""
    import keras

    model = keras.models.load_model(path)
    kernel, bias = model.get_layer("conv1").get_weights()
    model.get_layer("conv1").set_weights([kernel + 1e-3, bias])
    model.save(path.with_name("retrained.keras"))
    return path.with_name("retrained.keras")


def _session(model: Path):
    from engine.session import EngineSession

    emitted: list = []
    session = EngineSession(emitted.append)
    session.handle(LoadModel(str(model)), lambda: False)
    loaded = next(e for e in emitted if isinstance(e, ModelLoaded))
    return session, loaded.summary


def test_the_window_and_the_command_write_the_same_manifest(data):
    from engine.cli import microscope
    from engine.cli.scan import Signals

    session, summary = _session(data["model"])
    recipe = replace(PRESETS["Lucid"], steps=STEPS, seed=7)
    layers = (("conv2",), ("out",))
    request = BuildMicroscope(
        str(data["images"]), str(data["root"] / "window"), layers, top_k=3, recipe=recipe
    )
    assert session.handle(request, lambda: False).reason is EndReason.FINISHED
    argv = ["--model", str(data["model"]), "--images", str(data["images"])]
    argv += ["--out", str(data["root"] / "command"), "--preset", "lucid", "--steps", str(STEPS)]
    argv += ["--seed", "7", "--layers", "conv2,out", "--top-k", "3"]
    assert microscope.run(microscope._parse(argv), Signals()) == 0

    window, command = (
        json.loads((data["root"] / name / "manifest.json").read_text(encoding="utf-8"))
        for name in ("window", "command")
    )
    assert window == command  # so either resumes the other's folder
    assert window["model"]["name"] == "mini"  # the model's own name, from either
    assert window["model"]["source"] == str(data["model"].resolve())
    assert window["recipe"]["param"] == PRESETS["Lucid"].param and window["recipe"]["steps"] == 4
    assert window["identity"]["fingerprint"] == summary.fingerprint
    # The window's build asked for again with the same settings: nothing is left to do.
    again = BuildMicroscope(
        str(data["images"]), str(data["root"] / "command"), layers, top_k=3, recipe=recipe
    )
    assert session.handle(again, lambda: False).reason is EndReason.FINISHED


def test_the_built_in_model_and_zoo_names_are_written_one_way():
    from engine.microscope.prepare import model_source
    from engine.models.meta import DEFAULT_MODEL_LABEL

    assert model_source("default") == model_source(DEFAULT_MODEL_LABEL) == "default"
    assert model_source("zoo:resnet50") == model_source("ResNet50") == "zoo:ResNet50"
    assert model_source("zoo:ResNet50 (random weights)") == "zoo:ResNet50"


def test_a_loaded_model_carries_its_weights_fingerprint(data):
    from engine.optvis.atlas_cache import weights_fingerprint

    session, summary = _session(data["model"])
    assert summary.fingerprint == weights_fingerprint([w.numpy() for w in session.model.weights])
    _, retrained = _session(data["retrained"])
    assert [i.path for i in retrained.walk()] == [i.path for i in summary.walk()]
    assert retrained.fingerprint != summary.fingerprint  # same layers, other weights


# ---------------------------------------------------------------------- the tab's links


def _folder(root: Path, fingerprint: str) -> Path:
    """A one-layer microscope of the fake model (conv1, 8 units) made by `fingerprint`."""
    root.mkdir(parents=True, exist_ok=True)
    units = [
        {"unit": u, "fires_percent": 50.0, "mean": 0.1, "max": 1.0, "quality": None,
         "verdict": "fine", "message": "", "vis": None, "top_max": [], "top_mean": [],
         "circuit": {"inputs": [], "note": ""}}
        for u in range(8)
    ]  # fmt: skip
    manifest = {
        "format": "convscope-microscope", "format_version": 1, "complete": True,
        "identity": {"fingerprint": fingerprint},
        "model": {"name": "fake", "source": "/models/fake.keras", "input_shape": [28, 28, 1]},
        "top_k": 3, "images": {"root": str(root / "images"), "count": 8},
        "layers": [{"name": "conv1", "path": ["conv1"], "folder": "conv1", "units": 8}],
    }  # fmt: skip
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (root / "conv1").mkdir(exist_ok=True)
    (root / "conv1" / "units.json").write_text(json.dumps({"units": units}), encoding="utf-8")
    return root


@pytest.fixture
def window(qtbot, engine):
    summary = replace(fake_summary(), fingerprint="a1" * 32)
    return fake_window(qtbot, engine, summary=summary)


def test_a_microscope_of_a_retrained_copy_says_to_open_its_model(window, engine, tmp_path, qtbot):
    folder = _folder(tmp_path / "other", "b2" * 32)  # the same layers, other weights
    view = window.ui.microscope_view
    window.show_tab(Tab.MICROSCOPE)
    assert window.microscope.open_folder(str(folder))
    view.show_unit(3)
    asked = len(engine.requests)
    qtbot.mouseClick(view.detail.visualize_button, Qt.MouseButton.LeftButton)
    message = window.ui.message_bar.text()
    assert "built for another model ('fake' from /models/fake.keras" in message
    assert "b2b2b2b2b2b2" in message and "a1a1a1a1a1a1" in message and "open it first" in message
    assert window.ui.current_tab() is Tab.MICROSCOPE
    assert not any(isinstance(r, Ascend) for r in engine.requests[asked:])


def test_a_microscope_of_the_open_model_links_its_units(window, engine, tmp_path, qtbot):
    folder = _folder(tmp_path / "same", "a1" * 32)
    view = window.ui.microscope_view
    window.show_tab(Tab.MICROSCOPE)
    window.microscope.open_folder(str(folder))
    view.show_unit(3)
    qtbot.mouseClick(view.detail.visualize_button, Qt.MouseButton.LeftButton)
    assert window.ui.current_tab() is Tab.VISUALIZE
    assert engine.last(Ascend).unit == 3 and window.state.layer.path == ("conv1",)


# ---------------------------------------------------------------------- the Build form


def test_the_build_form_uses_the_method_panel_and_remembers_its_answers(
    window, engine, tmp_path, qtbot
):
    images, out = tmp_path / "images", tmp_path / "out"
    images.mkdir()
    controls = window.ui.controls
    controls.choose_preset("Lucid")
    controls.set_settings(replace(controls.settings(), steps=96, seed=5))
    window.microscope.choose_build()
    form = window.microscope.build_form
    assert form is not None and "96 steps" in form.recipe_label.text()
    form.images_edit.setText(str(images))
    form.out_edit.setText(str(out))
    form.top_k_box.setValue(4)
    form.layers_edit.setText("conv2, nowhere")
    form.accept()  # a layer the model lacks: it says so and stays open
    assert "'nowhere'" in form.error_label.text() and form.isVisible()
    assert not any(isinstance(r, BuildMicroscope) for r in engine.requests)
    form.layers_edit.setText("conv2, out")
    build = form.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert build.text() == "Build"
    qtbot.mouseClick(build, Qt.MouseButton.LeftButton)
    request = engine.last(BuildMicroscope)
    assert request.recipe == controls.settings() and request.recipe.steps == 96
    assert request.recipe.param == PRESETS["Lucid"].param
    assert (request.images, request.out, request.top_k) == (str(images), str(out), 4)
    assert request.layers == (("conv2",), ("out",))
    engine.end(request, EndReason.CANCELLED, None)

    window.microscope.choose_build()  # the next time: the same answers
    again = window.microscope.build_form
    assert again is not None and again is not form
    assert again.choice() == form.choice()
    again.reject()
