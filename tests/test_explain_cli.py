"""`python main.py explain`: attribution maps written to a folder, bad input refused clearly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.cli.explain import colorize, main, overlay

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def digit_png(tmp_path) -> Path:
    from engine.images.samples import load_sample

    path = tmp_path / "seven.png"
    load_sample("digit:7").save(path)
    return path


def test_gradcam_end_to_end_writes_heatmap_overlay_and_npy(tmp_path, digit_png):
    out = tmp_path / "out"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "main.py", "explain", "--image", str(digit_png), "--method", "gradcam",
         "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    heatmap = np.load(out / "gradcam.npy")
    assert heatmap.shape == (28, 28) and heatmap.max() > 0
    with Image.open(out / "gradcam_overlay.png") as picture:
        assert min(picture.size) >= 256
    report = json.loads((out / "gradcam.json").read_text())
    assert report["predicted"] == 7 and report["class"] == 7 and report["layer"] == "conv3"


@pytest.mark.parametrize("method", ["saliency", "integrated_gradients", "occlusion"])
def test_other_methods_and_an_inner_unit(tmp_path, digit_png, method):
    out = tmp_path / method
    assert main(["--image", str(digit_png), "--method", method, "--unit", "conv2:3",
                 "--out", str(out)]) == 0  # fmt: skip
    assert np.load(out / f"{method}.npy").shape == (28, 28)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "gradcam", "--layer", "nowhere"], "nowhere"),
        (["--method", "gradcam", "--class", "12"], "--class 12"),
        (["--method", "gradcam", "--unit", "conv2"], "LAYER:CHANNEL"),
        (["--method", "gradcam", "--unit", "conv2:99"], "no #99"),
        (["--method", "magic"], "magic"),
    ],
)
def test_bad_arguments_exit_1_with_a_message(tmp_path, digit_png, capsys, args, message):
    code = main(["--image", str(digit_png), "--out", str(tmp_path / "o"), *args])
    assert code == 1
    assert message in capsys.readouterr().err


def test_a_broken_image_is_refused(tmp_path, capsys):
    broken = tmp_path / "broken.png"
    broken.write_text("not a picture")
    assert main(["--image", str(broken), "--method", "saliency", "--out", str(tmp_path)]) == 1
    assert "broken.png" in capsys.readouterr().err


def test_colours_signed_maps_red_and_blue():
    rgb = colorize(np.array([[-1.0, 0.0, 1.0]]), signed=True)
    assert tuple(rgb[0, 0]) == (0, 0, 255) and tuple(rgb[0, 2]) == (255, 0, 0)
    assert tuple(rgb[0, 1]) == (255, 255, 255)
    mixed = overlay(np.zeros((1, 3, 1)), rgb, opacity=0.5)
    assert mixed.shape == (1, 3, 3) and mixed[0, 2, 0] == 128


@pytest.mark.parametrize(("where", "message"), [("folder", "is a folder"), ("device", "regular")])
def test_a_folder_or_a_device_is_not_an_image(tmp_path, capsys, where, message):
    image = str(tmp_path) if where == "folder" else "/dev/zero"
    if not Path(image).exists():
        pytest.skip("no /dev/zero here")
    assert main(["--image", image, "--method", "saliency", "--out", str(tmp_path / "o")]) == 1
    error = capsys.readouterr().err
    assert message in error and "no such file" not in error


def test_nan_and_inf_pixels_are_cleaned_and_noted(tmp_path, capsys):
    values = np.linspace(0.0, 1.0, 28 * 28, dtype=np.float32).reshape(28, 28)
    values[:4, :4], values[10, 10] = np.nan, np.inf
    image = tmp_path / "float.tif"
    Image.fromarray(values).save(image)
    out = tmp_path / "out"
    assert main(["--image", str(image), "--method", "gradcam", "--out", str(out)]) == 0
    assert "17 NaN or infinite pixels replaced" in capsys.readouterr().err
    report = json.loads((out / "gradcam.json").read_text())
    assert any("NaN" in note for note in report["notes"])
    assert np.isfinite(np.load(out / "gradcam.npy")).all()


# Keras's own model.save of a Variable warns under NumPy 2; nothing of ours.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_nan_outputs_are_an_error_not_class_0(tmp_path, digit_png, capsys):
    import keras

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(x)))
    model.get_layer("conv").kernel.assign(np.full((3, 3, 1, 2), np.nan, np.float32))
    path = tmp_path / "nan.keras"
    model.save(path)
    out = tmp_path / "out"
    assert main(["--model", str(path), "--image", str(digit_png), "--method", "saliency",
                 "--out", str(out)]) == 1  # fmt: skip
    assert "NaN or infinite" in capsys.readouterr().err
    assert not (out / "saliency.json").exists()
