"""Occlusion and LIME: forward-only methods find the region a model reads, and can be stopped."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from engine.attribution import Cancelled, Target, explain

TARGET = Target(class_index=0)


def _region_model(size: int, channels: int, rows: tuple[int, int], cols: tuple[int, int]):
    """A model whose only output is the mean brightness inside rows × cols (half-open)."""
    inputs = keras.Input((size, size, channels))
    x = keras.layers.Cropping2D(((rows[0], size - rows[1]), (cols[0], size - cols[1])))(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(1, name="score")
    outputs = dense(x)
    dense.set_weights([np.full((channels, 1), 1.0 / channels, np.float32), np.zeros(1, np.float32)])
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def left_half():
    return _region_model(28, 1, (0, 28), (0, 14))


@pytest.fixture(scope="module")
def top_left():
    return _region_model(64, 3, (0, 32), (0, 32))


def _bright(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.5, 1.0, shape).astype(np.float32)


def _colour_image() -> np.ndarray:
    """Coloured blocks with a little noise: something for SLIC to follow."""
    rng = np.random.default_rng(7)
    blocks = rng.uniform(0.3, 1.0, (8, 8, 3))
    image = np.kron(blocks, np.ones((8, 8, 1))) + rng.normal(0, 0.02, (64, 64, 3))
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def _stopping_after(batches: int):
    """should_stop and progress that stop the run once `batches` progress reports came in."""
    reports: list[float] = []
    return reports, (lambda: len(reports) >= batches), reports.append


# Occlusion


def test_occlusion_is_positive_on_the_read_half_and_zero_far_from_it(left_half):
    result = explain(left_half, _bright((28, 28, 1)), "occlusion", TARGET, options={"value": 0})
    patch = result.details["patch"]
    assert patch == 4 and result.details["stride"] == 2  # defaults for a 28-pixel image
    assert result.signed and result.heatmap.shape == (28, 28)
    assert np.all(result.heatmap[:, :14] > 0)
    # No patch reaching these columns touches the left half, so hiding them changes nothing.
    np.testing.assert_allclose(result.heatmap[:, 14 + patch :], 0.0, atol=1e-6)


def test_occlusion_reports_progress_up_to_one_and_can_be_cancelled(left_half):
    image = _bright((28, 28, 1))
    reports: list[float] = []
    explain(left_half, image, "occlusion", TARGET, options={"batch": 32}, progress=reports.append)
    assert len(reports) > 2 and reports == sorted(reports) and reports[-1] == 1.0

    reports, should_stop, progress = _stopping_after(1)
    with pytest.raises(Cancelled):
        explain(
            left_half, image, "occlusion", TARGET, options={"batch": 32},
            should_stop=should_stop, progress=progress,
        )  # fmt: skip
    assert len(reports) == 1  # stopped at the next batch


def test_occlusion_rejects_patches_larger_than_the_image(left_half):
    with pytest.raises(ValueError, match="patch 40"):
        explain(left_half, _bright((28, 28, 1)), "occlusion", TARGET, options={"patch": 40})


# LIME


def _inside(segments: np.ndarray, segment: int, rows: slice, cols: slice) -> float:
    """Fraction of superpixel `segment` lying inside the region."""
    mask = segments == segment
    return mask[rows, cols].sum() / mask.sum()


def test_lime_top_superpixel_lies_in_the_region_the_model_reads(top_left):
    result = explain(top_left, _colour_image(), "lime", TARGET, options={"fill": 0})
    details = result.details
    segments, weights = details["segments"], details["weights"]
    assert segments.shape == (64, 64) and segments.dtype.kind == "i"
    assert len(weights) == segments.max() + 1 > 20
    assert 1 <= len(details["top_positive"]) <= 5 and len(details["top_negative"]) <= 5
    assert _inside(segments, details["top_positive"][0], slice(0, 32), slice(0, 32)) > 0.5
    assert result.signed
    np.testing.assert_allclose(result.heatmap, weights[segments])
    outside = [
        s for s in range(len(weights)) if _inside(segments, s, slice(0, 32), slice(0, 32)) == 0
    ]
    assert np.abs(weights[outside]).max() < 0.1 * weights.max()


def test_lime_same_seed_same_map_other_seed_same_region(top_left):
    image = _colour_image()
    first = explain(top_left, image, "lime", TARGET, options={"fill": 0, "seed": 0})
    again = explain(top_left, image, "lime", TARGET, options={"fill": 0, "seed": 0})
    other = explain(top_left, image, "lime", TARGET, options={"fill": 0, "seed": 1})
    np.testing.assert_array_equal(first.heatmap, again.heatmap)
    assert not np.array_equal(first.heatmap, other.heatmap)
    segments = other.details["segments"]
    assert _inside(segments, other.details["top_positive"][0], slice(0, 32), slice(0, 32)) > 0.5
    assert np.corrcoef(first.heatmap.ravel(), other.heatmap.ravel())[0, 1] > 0.9


def test_lime_on_grey_images_finds_the_stroke_the_model_reads(left_half):
    image = np.zeros((28, 28, 1), np.float32)  # dark background, a bright bar in each half
    image[4:24, 4:8] = image[4:24, 18:22] = 1.0
    result = explain(left_half, image, "lime", TARGET, options={"samples": 200})
    segments, weights = result.details["segments"], result.details["weights"]
    assert 10 <= segments.max() + 1 <= 40  # about 25 superpixels for a small grey image
    best = result.details["top_positive"][0]
    assert _inside(segments, best, slice(0, 28), slice(0, 14)) > 0.5
    assert image[segments == best].mean() > 0.5  # a piece of the left bar
    right = [
        s for s in range(len(weights)) if _inside(segments, s, slice(0, 28), slice(0, 14)) == 0
    ]
    assert np.abs(weights[right]).max() < 0.1 * weights.max()


def test_lime_reports_progress_and_can_be_cancelled(left_half):
    image = _bright((28, 28, 1))
    reports: list[float] = []
    explain(left_half, image, "lime", TARGET, options={"samples": 100, "batch": 25},
            progress=reports.append)  # fmt: skip
    assert reports == [0.25, 0.5, 0.75, 1.0]

    reports, should_stop, progress = _stopping_after(2)
    with pytest.raises(Cancelled):
        explain(
            left_half, image, "lime", TARGET, options={"samples": 100, "batch": 25},
            should_stop=should_stop, progress=progress,
        )  # fmt: skip
    assert len(reports) == 2


# Both, on the real model


def test_built_in_model_evidence_for_its_class_lies_on_the_strokes():
    from engine.images.convert import convert_image
    from engine.images.samples import load_sample
    from engine.models.loading import load_model

    model, meta, _ = load_model(None)
    image = convert_image(load_sample("digit:3"), (28, 28, 1), meta.input_range).pixels
    strokes, background = image[..., 0] > 0.5, image[..., 0] < 0.1
    for method in ("occlusion", "lime"):
        heatmap = explain(model, image, method, Target(class_index=3)).heatmap
        assert heatmap[strokes].mean() > 2 * abs(heatmap[background].mean()), method
