"""Models whose input has 2, 4 or 5 channels open and work like grey and RGB ones: the layer
tree, a photo converted by the documented rule (with a note), feature maps, Grad-CAM, a
visualization, and the window drawing their images."""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest
from fake_engine import FakeEngine, colour_image, fake_summary, fake_window
from PIL import Image
from session_messages import results_of

from engine.cli.atlas import to_png
from engine.images.channels import display_part, expand_channels
from engine.images.convert import convert_image
from engine.optvis.initial import from_image
from engine.protocol import (
    Ascend,
    Explain,
    Explanation,
    FeatureMaps,
    Frame,
    ImageOpened,
    LayerKind,
    LoadModel,
    ModelLoaded,
    OpenImage,
    Recipe,
    RunFinished,
    ScanImages,
    ShowTopImages,
    TopImages,
)
from engine.session import EngineSession
from gui.common.imaging import to_rgb8, visualization_rgb8

SIDE = 16
QUICK = Recipe(steps=12, frame_every=3, jitter=1)
CONV2 = ("conv2",)


def _tiny_model(channels: int) -> keras.Model:
    inputs = keras.Input((SIDE, SIDE, channels), name="pixels")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name=f"tiny{channels}")


class Engine:
    """A session on a saved `channels`-channel model; `do` returns what one request emitted."""

    def __init__(self, path: str) -> None:
        self.emitted: list[object] = []
        self.session = EngineSession(self.emitted.append)
        (loaded,) = self.do(LoadModel(path))
        assert isinstance(loaded, ModelLoaded)

    def do(self, request) -> list[object]:
        self.emitted.clear()
        self.session.handle(request, lambda: False)
        return results_of(self.emitted)


@pytest.fixture(scope="module", params=[2, 4, 5], ids=lambda c: f"{c}ch")
def engine(request, tmp_path_factory) -> Engine:
    channels = request.param
    keras.utils.set_random_seed(channels)
    path = tmp_path_factory.mktemp("channels") / f"tiny{channels}.keras"
    _tiny_model(channels).save(path)
    engine = Engine(str(path))
    engine.channels = channels
    return engine


# ----------------------------------------------------------------------------- engine


def test_the_model_opens_with_its_layer_tree(engine):
    summary = engine.session.summary
    assert summary.input_shape == (SIDE, SIDE, engine.channels)
    conv1 = summary.find(("conv1",))
    assert (conv1.kind, conv1.size) == (LayerKind.CHANNELS, 4)
    assert conv1.output_shape == (None, 14, 14, 4)
    assert summary.find(("head",)).is_output


def test_a_photo_is_converted_with_a_note_and_shows_its_feature_maps(engine):
    opened, maps = engine.do(OpenImage(sample="photo:chelsea", layer=CONV2))
    assert isinstance(opened, ImageOpened) and isinstance(maps, FeatureMaps)
    # The window is shown the grey part (2 channels) or the RGB part (4 and more).
    assert opened.display.shape == (SIDE, SIDE, 1 if engine.channels == 2 else 3)
    assert 0.0 <= opened.display.min() <= opened.display.max() <= 1.0
    notes = " ".join(opened.notes)
    assert f"the model takes {engine.channels} channels" in notes
    assert engine.session.image.converted.pixels.shape == (SIDE, SIDE, engine.channels)
    assert maps.maps.shape == (12, 12, 6) and np.isfinite(maps.maps).all()
    assert len(opened.predictions) == 3


def test_grad_cam_explains_the_photo(engine):
    engine.do(OpenImage(sample="photo:chelsea"))
    (explanation,) = [r for r in engine.do(Explain("gradcam")) if isinstance(r, Explanation)]
    assert explanation.heatmap.shape == (SIDE, SIDE)
    assert np.isfinite(explanation.heatmap).all()
    assert explanation.layer == CONV2  # the last conv layer


def test_a_visualization_raises_the_objective(engine):
    *frames, finished = engine.do(Ascend(CONV2, 2, QUICK))
    assert all(isinstance(frame, Frame) for frame in frames) and isinstance(finished, RunFinished)
    assert finished.image.shape == (SIDE, SIDE, engine.channels)
    # Unclipped by default (the notebooks' way), so values may leave [0, 1]; never NaN.
    assert np.isfinite(finished.image).all()
    objectives = [value for frame in frames for value in frame.objectives]
    assert np.mean(objectives[-3:]) > np.mean(objectives[:3]), objectives
    assert finished.steps_done == QUICK.steps


def test_a_scanned_folders_top_images_and_their_grad_cams(engine, tmp_path):
    rng = np.random.default_rng(engine.channels)
    for k in range(3):
        pixels = (rng.random((20, 20, 4)) * 255).astype(np.uint8)
        Image.fromarray(pixels, "RGBA").save(tmp_path / f"{k}.png")
    engine.do(ScanImages(str(tmp_path), top_k=3))
    (top,) = engine.do(ShowTopImages(("conv1",), 0, projection="gradcam"))
    assert isinstance(top, TopImages) and len(top.names) == 3
    assert top.images.shape[-1] == (1 if engine.channels == 2 else 3)  # drawn as shown
    assert top.projections.shape == (3, SIDE, SIDE) and np.isfinite(top.projections).all()


# ----------------------------------------------------------------------------- the rule


def _picture(alpha: int | None = None) -> Image.Image:
    """8×8: left half pure red, right half pure blue; with `alpha`, the left half has it."""
    pixels = np.zeros((8, 8, 4), np.uint8)
    pixels[:, :4, 0] = 255
    pixels[:, 4:, 2] = 255
    pixels[..., 3] = 255
    if alpha is None:
        return Image.fromarray(pixels[..., :3])
    pixels[:, :4, 3] = alpha
    return Image.fromarray(pixels, "RGBA")


def test_two_channels_are_grey_and_alpha():
    opaque = convert_image(_picture(), (8, 8, 2), (0.0, 1.0))
    np.testing.assert_allclose(opaque.pixels[0, 0], [0.299, 1.0], atol=1e-3)
    np.testing.assert_allclose(opaque.pixels[0, -1], [0.114, 1.0], atol=1e-3)
    assert opaque.display.shape == (8, 8, 1)
    assert any("grey + alpha (1 everywhere" in note for note in opaque.notes)
    seen_through = convert_image(_picture(alpha=51), (8, 8, 2), (0.0, 1.0))
    assert seen_through.pixels[0, 0, 1] == pytest.approx(0.2, abs=1e-3)
    assert seen_through.pixels[0, 0, 0] == pytest.approx(0.299, abs=1e-3)  # not flattened
    assert any("alpha (its transparency)" in note for note in seen_through.notes)


def test_four_channels_are_rgb_and_alpha_in_the_models_range():
    converted = convert_image(_picture(alpha=0), (8, 8, 4), (-1.0, 1.0))
    np.testing.assert_allclose(converted.pixels[0, 0], [1.0, -1.0, -1.0, -1.0], atol=1e-3)
    np.testing.assert_allclose(converted.pixels[0, -1], [-1.0, -1.0, 1.0, 1.0], atol=1e-3)
    np.testing.assert_allclose(converted.display[0, 0], [1.0, 0.0, 0.0], atol=1e-3)
    assert any("R, G, B + alpha" in note for note in converted.notes)


def test_more_channels_are_rgb_then_grey_and_the_note_says_so():
    converted = convert_image(_picture(), (8, 8, 6), (0.0, 1.0))
    np.testing.assert_allclose(converted.pixels[0, 0], [1, 0, 0, 0.299, 0.299, 0.299], atol=1e-3)
    assert converted.display.shape == (8, 8, 3)
    assert any("channels 4–6 filled with the grey image" in n for n in converted.notes)
    five = convert_image(_picture(), (8, 8, 4 + 1), (0.0, 1.0))
    assert any("channels 4–5 filled" in n for n in five.notes)
    assert display_part(five.pixels).shape == (8, 8, 3)


def test_bad_channel_counts_are_refused_by_name():
    with pytest.raises(ValueError, match="at least 1 channel, not 0"):
        expand_channels(np.zeros((2, 2, 3)), None, 0)
    with pytest.raises(ValueError, match=r"\(2, 2, 2\)"):
        expand_channels(np.zeros((2, 2, 2)), None, 4)


def test_the_shown_image_starts_a_visualization_for_any_channel_count():
    rgb = np.zeros((4, 4, 3), np.float32)
    rgb[..., 0] = 1.0
    start = from_image(rgb, (1, 4, 4, 5))
    np.testing.assert_allclose(start[0, 0, 0], [1, 0, 0, 0.299, 0.299], atol=1e-3)
    grey_alpha = from_image(np.full((4, 4, 1), 0.5, np.float32), (2, 4, 4, 2))
    np.testing.assert_allclose(grey_alpha[1, 2, 2], [0.5, 1.0], atol=1e-3)
    rgba = from_image(np.full((4, 4, 4), 0.25, np.float32), (1, 4, 4, 4))
    np.testing.assert_allclose(rgba, 0.25)  # a 4-channel image for a 4-channel model: as is


# ----------------------------------------------------------------------------- drawing


def test_to_rgb8_draws_two_channels_in_false_colour():
    image = np.zeros((3, 5, 2), np.float32)
    image[..., 0] = 1.0
    rgb = to_rgb8(image)
    assert rgb.shape == (3, 5, 3) and rgb.dtype == np.uint8 and rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb[0, 0], [255, 0, 128])  # red = ch0, green = ch1, blue = mean


@pytest.mark.parametrize("channels", [4, 5])
def test_to_rgb8_draws_the_first_three_channels(channels):
    image = np.random.default_rng(channels).uniform(size=(6, 7, channels)).astype(np.float32)
    rgb = to_rgb8(image)
    assert rgb.shape == (6, 7, 3) and rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb, to_rgb8(image[..., :3]))


@pytest.mark.parametrize("channels", [2, 4, 5])
def test_the_atlas_command_writes_pictures_the_window_would_draw(channels):
    image = np.random.default_rng(channels).uniform(size=(8, 8, channels)).astype(np.float32)
    picture = to_png(image)
    assert picture.mode == "RGB" and min(picture.size) >= 128
    factor = picture.size[0] // 8
    small = np.asarray(picture)[::factor, ::factor]
    np.testing.assert_allclose(small, to_rgb8(image), atol=1)


def test_to_rgb8_still_refuses_what_is_not_an_image():
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 5\)"):
        to_rgb8(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match=r"\(3, 4, 0\)"):
        to_rgb8(np.zeros((3, 4, 0)))


def test_a_four_channel_visualization_is_drawn_in_the_window(qtbot):
    engine = FakeEngine()
    window = fake_window(
        qtbot, engine, image=False, summary=replace(fake_summary(), input_shape=(28, 28, 4))
    )
    window.images.open_image(sample="photo:chelsea")
    engine.open(colour_image(1))  # the engine shows a 4-channel model's photo as RGB
    window.runs.visualize(3)
    request = engine.last(Ascend)
    rgba = np.concatenate([colour_image(2), np.full((28, 28, 1), 0.3, np.float32)], axis=-1)
    engine.frame.emit(Frame(request.request_id, request.layer, 3, 1, 4, rgba, (0.5,), True))
    engine.finish(request, 4, image=rgba)
    expected = visualization_rgb8(rgba)  # the first three channels, in the display mode
    qtbot.waitUntil(lambda: np.array_equal(window.ui.canvas.current_rgb8(), expected))
    assert window.ui.filmstrip.count() >= 1
    assert not window.ui.message_bar.is_error()


@pytest.mark.parametrize(
    ("model_channels", "words"),
    [(4, "reads the model's 4 input channels"), (3, "reads earlier feature maps")],
)
def test_the_filter_effect_says_why_a_first_layer_shows_no_inputs(qtbot, model_channels, words):
    from gui.filters.filter_effect import FilterEffect

    effect = FilterEffect()
    qtbot.addWidget(effect)
    kernel = np.random.default_rng(0).normal(size=(3, 3, 4)).astype(np.float32)
    effect.show_effect(kernel, colour_image(1), None, model_channels)
    assert words in effect.note_label.text()
