"""Starting images: shapes, ranges, determinism and structure."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from engine.optvis.initial import from_image, grey_noise, make_initial, scale_mixture

SHAPE = (2, 16, 16, 3)


def _rng(seed=0):
    return np.random.default_rng(seed)


STARTS = {
    "grey": lambda shape, rng: grey_noise(shape, rng),
    "scales": lambda shape, rng: scale_mixture(shape, rng),
    "blocky": lambda shape, rng: scale_mixture(shape, rng, smooth=False),
    "image": lambda shape, rng: from_image(_rng(9).uniform(size=(20, 30, 3)), shape, 0.1, rng),
}


@pytest.mark.parametrize("name", sorted(STARTS))
@pytest.mark.parametrize("shape", [SHAPE, (1, 9, 7, 1)])
def test_shape_dtype_and_range(name, shape):
    start = STARTS[name](shape, _rng())
    assert start.shape == shape and start.dtype == np.float32
    assert start.min() >= 0.0 and start.max() <= 1.0


@pytest.mark.parametrize("name", sorted(STARTS))
def test_same_seed_same_start_and_other_seeds_differ(name):
    first, again, other = (STARTS[name](SHAPE, _rng(seed)) for seed in (0, 0, 1))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_grey_noise_stays_near_grey():
    start = grey_noise(SHAPE, _rng(), noise=0.05)
    assert np.abs(start - 0.5).max() <= 0.05 + 1e-6
    assert np.array_equal(grey_noise(SHAPE, _rng(), noise=0.0), np.full(SHAPE, 0.5, np.float32))


def test_scale_mixture_has_the_amplitude_and_coarse_structure():
    start = scale_mixture((4, 32, 32, 1), _rng(), amplitude=0.1)
    assert np.abs(start.mean() - 0.5) < 0.02
    assert start.std() == pytest.approx(0.1, rel=0.05)
    # Most of the variance survives a 2× downsampling: the noise is mostly coarse.
    halved = start.reshape(4, 16, 2, 16, 2, 1).mean(axis=(2, 4))
    assert halved.var() > 0.6 * start.var()
    # ... but not all of it: the finer scales are there too.
    fine_only = scale_mixture((4, 32, 32, 1), _rng(), scales=((28, 1.0),), amplitude=0.1)
    fine_halved = fine_only.reshape(4, 16, 2, 16, 2, 1).mean(axis=(2, 4))
    assert fine_halved.var() < halved.var()


def test_scale_mixture_channels_are_independent():
    start = scale_mixture((1, 16, 16, 3), _rng())
    assert not np.allclose(start[..., 0], start[..., 1])


def test_from_image_resizes_and_matches_channels():
    photo = np.zeros((40, 60, 3), np.float32)
    photo[:, :30, 0] = 1.0  # left half red
    grey = from_image(photo, (3, 10, 12, 1))
    assert grey.shape == (3, 10, 12, 1)
    assert grey[0, 5, 1, 0] == pytest.approx(0.299, abs=1e-3)
    assert grey[0, 5, -2, 0] == pytest.approx(0.0, abs=1e-3)
    np.testing.assert_array_equal(grey[0], grey[2])
    colour = from_image(np.full((5, 5), 0.25, np.float32), (1, 8, 8, 3))
    np.testing.assert_allclose(colour, 0.25, atol=1e-6)
    rgba = from_image(np.ones((4, 4, 4), np.float32), (1, 4, 4, 3))
    np.testing.assert_allclose(rgba, 1.0)


def test_make_initial_dispatches_by_kind():
    np.testing.assert_array_equal(make_initial("grey", SHAPE, _rng()), grey_noise(SHAPE, _rng()))
    np.testing.assert_array_equal(
        make_initial("scales", SHAPE, _rng(), amplitude=0.2),
        scale_mixture(SHAPE, _rng(), amplitude=0.2),
    )
    pixels = _rng(3).uniform(size=(8, 8, 3))
    np.testing.assert_array_equal(
        make_initial("image", SHAPE, _rng(), pixels=pixels, noise=0.1),
        from_image(pixels, SHAPE, noise=0.1, rng=_rng()),
    )


def test_module_needs_no_tensorflow():
    # Starting images are plain numpy, so building one never waits for TensorFlow to load.
    probe = "import sys, engine.optvis.initial; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_initial("plasma", SHAPE, _rng()), "plasma"),
        (lambda: make_initial("image", SHAPE, _rng()), "pixels"),
        (lambda: grey_noise((16, 16, 3), _rng()), r"\(16, 16, 3\)"),
        (lambda: grey_noise(SHAPE, _rng(), noise=0.7), "0.7"),
        (lambda: scale_mixture(SHAPE, _rng(), scales=((0, 1.0),)), "0"),
        (lambda: scale_mixture(SHAPE, _rng(), amplitude=-0.1), "-0.1"),
        (lambda: from_image(np.full((4, 4, 3), 2.0), SHAPE), "2.0"),
        (lambda: from_image(np.zeros((4, 4, 2)), SHAPE), "2 channels"),
        (lambda: from_image(np.zeros((2, 4, 4, 3)), SHAPE), r"\(2, 4, 4, 3\)"),
        (lambda: from_image(np.zeros((4, 4, 3)), SHAPE, noise=0.1), "rng"),
    ],
)
def test_bad_values_raise_value_errors_naming_them(call, message):
    with pytest.raises(ValueError, match=message):
        call()
