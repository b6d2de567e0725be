"""Display normalizations: unclipped images show something, flat ones never crash a painter."""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest
from PySide6.QtCore import QSettings

from engine.models.meta import DEFAULT_MODEL_PATH
from engine.optvis.visualizer import Visualizer
from engine.protocol import DEFAULT_DISPLAY, DISPLAY_MODES, PRESETS, default_preset
from engine.protocol.display import normalize_for_display
from gui.common.canvas import Canvas
from gui.common.imaging import display_mode, set_display_mode
from gui.visualize.controls import AscentControls


@pytest.fixture(autouse=True)
def _default_display():
    yield
    set_display_mode(DEFAULT_DISPLAY)  # the mode is window-wide: leave it as found


def _contrast(picture: np.ndarray) -> float:
    return float(np.percentile(picture, 95) - np.percentile(picture, 5))


def test_each_mode_gives_a_picture_in_0_1_and_std_is_the_notebooks_deprocess():
    rng = np.random.default_rng(0)
    image = rng.normal(3.0, 20.0, (8, 9, 3))  # an unclipped run, far outside [0, 1]
    for mode in DISPLAY_MODES:
        picture = normalize_for_display(image, mode)
        assert picture.shape == image.shape and picture.dtype == np.float32
        assert picture.min() >= 0 and picture.max() <= 1
    expected = np.clip((image - image.mean()) / (image.std() + 1e-5) * 0.15 + 0.5, 0, 1)
    np.testing.assert_allclose(normalize_for_display(image, "std"), expected, atol=1e-6)
    assert normalize_for_display(image, "raw").mean() > 0.4  # mostly pinned at 0 or 1
    minmax = normalize_for_display(image, "minmax")
    assert minmax.min() == 0 and minmax.max() == 1
    channel = normalize_for_display(image, "channel")
    assert np.allclose(channel.min(axis=(0, 1)), 0) and np.allclose(channel.max(axis=(0, 1)), 1)


def test_flat_and_broken_images_never_crash_and_bad_modes_are_named():
    flat = np.full((4, 4, 1), 7.0)
    assert np.all(normalize_for_display(flat, "std") == 0.5)
    assert np.all(normalize_for_display(flat, "minmax") == 1.0)  # what raw shows: clipped
    broken = np.array([[np.nan, np.inf], [0.2, 0.4]])
    assert np.all(np.isfinite(normalize_for_display(broken, "minmax")))
    with pytest.raises(ValueError, match="sepia"):
        normalize_for_display(flat, "sepia")


def test_default_atlas_of_the_built_in_model_has_no_flat_tile():
    """The old default (clipped) left 9 of 24 conv1 filters as flat white squares."""
    model = keras.models.load_model(DEFAULT_MODEL_PATH)
    channels = int(model.input_shape[-1])
    recipe = replace(PRESETS[default_preset(channels)], steps=32)
    visualizer = Visualizer(model, (28, 28, channels), (0.0, 1.0), lambda: None)
    chunks = [c for c in visualizer.atlas(("conv1",), range(24), recipe, lambda: False) if c.final]
    tiles = np.concatenate([chunk.images for chunk in chunks])
    assert len(tiles) == 24
    contrasts = [_contrast(normalize_for_display(tile, DEFAULT_DISPLAY)) for tile in tiles]
    assert min(contrasts) > 0.1, contrasts
    clipped = [_contrast(np.clip(tile, 0, 1)) for tile in tiles]
    assert min(clipped) < 0.01  # raw clipping would hide some: the normalization is needed


def test_display_choice_redraws_the_canvas_and_is_remembered(qtbot, tmp_path):
    store = QSettings(str(tmp_path / "display.ini"), QSettings.Format.IniFormat)
    controls = AscentControls(store=store)
    canvas = Canvas()
    qtbot.addWidget(controls)
    qtbot.addWidget(canvas)
    image = np.linspace(-5.0, 5.0, 16 * 16).reshape(16, 16, 1)  # an unclipped visualization
    canvas.show_visualization(image, "conv1 #0")
    assert canvas.current_rgb8().std() > 30  # the notebooks' normalization: a visible ramp
    with qtbot.waitSignal(controls.display_mode_changed) as blocker:
        controls.set_display_mode("raw")
    assert blocker.args == ["raw"] and display_mode() == "raw"
    canvas.redraw()
    raw = canvas.current_rgb8()
    assert np.mean((raw == 0) | (raw == 255)) > 0.8  # raw clipping pins nearly every pixel
    controls.save(store)
    again = AscentControls(store=store)
    qtbot.addWidget(again)
    again.restore(store)
    assert again.display_mode() == "raw"


def test_colour_models_start_on_the_natural_preset_unless_the_user_chose(qtbot, tmp_path):
    store = QSettings(str(tmp_path / "panel.ini"), QSettings.Format.IniFormat)
    controls = AscentControls(store=store)
    qtbot.addWidget(controls)
    controls.offer_default(3)
    assert controls.current_preset() == default_preset(3) == "Lucid"
    controls.offer_default(1)
    assert controls.current_preset() == "Classic"
    controls.choose_preset("Notebook")
    controls.user_chose = True  # as choosing in the combo does
    controls.offer_default(3)
    assert controls.current_preset() == "Notebook"
    controls.save(store)
    restored = AscentControls(store=store)
    qtbot.addWidget(restored)
    restored.restore(store)
    restored.offer_default(3)
    assert restored.current_preset() == "Notebook"  # a remembered choice is kept


def test_old_saved_recipes_come_back_clipped(qtbot, tmp_path):
    store = QSettings(str(tmp_path / "old.ini"), QSettings.Format.IniFormat)
    store.setValue("ascent/steps", 99)  # saved by a version without keep_in_range
    controls = AscentControls(store=store)
    qtbot.addWidget(controls)
    controls.restore(store)
    assert controls.settings().keep_in_range is True
    assert controls.settings().steps == 99


def test_atlas_command_writes_tiles_in_the_display_mode_and_records_it(tmp_path):
    import json

    from PIL import Image

    import main

    out = tmp_path / "out"
    args = ["atlas", "--layer", "conv1", "--filters", "0-3", "--steps", "8", "--no-cache"]
    assert main.main([*args, "--display", "minmax", "--out", str(out)]) == 0
    report = json.loads((out / "atlas.json").read_text(encoding="utf-8"))
    assert report["display"] == "minmax"
    for entry in report["filters"]:
        tile = np.asarray(Image.open(out / entry["file"]), dtype=np.float32) / 255
        assert tile.min() == 0 and tile.max() == 1  # stretched: every tile shows its pattern
    assert main.main([*args, "--display", "sepia", "--out", str(out)]) != 0  # a usage error
