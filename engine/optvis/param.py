"""Image parameterizations: what the optimizer actually changes when it grows an image.

A parameterization owns its `tf.Variable`s (created once, in `__init__`) and maps them to an
image with `image()`, in fractions of the model's input range: [0, 1], unless a pixel image is
left unclipped (`set_clipped(False)`, the notebooks' way), when values may leave it.
Pixels are the obvious choice; Lucid's Fourier basis with a 1/frequency spectrum and
decorrelated colours is the better-conditioned one: an equal step on every parameter then
changes coarse structure more than fine noise, so high-frequency "adversarial" patterns stop
dominating the result.

Every method except `assign_image` runs inside `tf.function`; none creates variables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import tensorflow as tf

from engine.fast_assign import put

# The square root of ImageNet's colour correlation (Lucid's `color_correlation_svd_sqrt`),
# normalised by its largest column norm so no decorrelated channel is amplified.
_COLOR_CORRELATION_SVD_SQRT = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float64
)
COLOR_CORRELATION = (
    _COLOR_CORRELATION_SVD_SQRT / np.linalg.norm(_COLOR_CORRELATION_SVD_SQRT, axis=0).max()
).astype(np.float32)

# Clipping before the logit keeps assigned images away from sigmoid's flat tails, where the
# optimizer would need huge parameter steps to change a pixel at all.
_LOGIT_CLIP = (0.01, 0.99)

# Lucid divides its Fourier image by this constant so a unit-variance spectrum gives pixel
# logits of about unit variance instead of saturating the sigmoid.
_LUCID_MAGIC = 4.0

Shape = tuple[int, int, int, int]


@runtime_checkable
class ImageParam(Protocol):
    """What every parameterization offers the ascent loop."""

    shape: Shape  # (batch, height, width, channels)
    variables: list[tf.Variable]

    def image(self) -> tf.Tensor:
        """The (B, H, W, C) image, differentiable w.r.t. `variables`."""
        ...

    def assign_image(self, pixels: np.ndarray) -> None:
        """Set the variables so that `image()` ≈ `pixels` ((B, H, W, C), [0, 1] if clipped)."""
        ...

    def constrain(self) -> None:
        """Project the variables back into their valid set after an optimizer update."""
        ...

    def set_clipped(self, clipped: bool) -> None:
        """Keep the image inside [0, 1] (True) or let it leave the range; applies next step."""
        ...


def check_shape(shape: Sequence[int]) -> Shape:
    """`shape` as a tuple of four positive ints (B, H, W, C); ValueError names a bad one."""
    values = tuple(shape)
    if len(values) != 4 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in values):
        raise ValueError(f"image shape {shape!r} is not four positive ints (B, H, W, C)")
    batch, height, width, channels = (int(v) for v in values)
    return batch, height, width, channels


def _checked_pixels(pixels: np.ndarray, shape: Shape) -> np.ndarray:
    array = np.asarray(pixels, dtype=np.float32)
    if array.shape != shape:
        raise ValueError(f"pixels of shape {array.shape} do not fit a parameter of shape {shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("pixels contain NaN or infinite values")
    return array


class PixelParam:
    """The variable is the image itself, kept in [0, 1] by clipping after each update unless
    `clipped` is False (the notebooks optimise unclipped)."""

    def __init__(self, shape: Sequence[int], clipped: bool = True) -> None:
        self.shape = check_shape(shape)
        self._pixels = tf.Variable(tf.fill(self.shape, 0.5), name="pixels")
        self.variables = [self._pixels]
        # The bounds are variables, not Python numbers, so switching clipping on or off does
        # not retrace the compiled step; ±inf bounds make the clip the identity.
        self._low = tf.Variable(0.0, trainable=False)
        self._high = tf.Variable(1.0, trainable=False)
        self.set_clipped(clipped)

    def image(self) -> tf.Tensor:
        # identity() gives a tensor, so callers cannot accidentally assign into the variable.
        return tf.identity(self._pixels)

    def assign_image(self, pixels: np.ndarray) -> None:
        low, high = self._bounds  # kept here too: reading the variables back costs a sync
        put(self._pixels, np.clip(_checked_pixels(pixels, self.shape), low, high))

    def constrain(self) -> None:
        self._pixels.assign(tf.clip_by_value(self._pixels, self._low, self._high))

    def set_clipped(self, clipped: bool) -> None:
        self._bounds = (0.0, 1.0) if clipped else (-np.inf, np.inf)
        put(self._low, self._bounds[0])
        put(self._high, self._bounds[1])


def spectrum_scale(height: int, width: int, decay: float) -> np.ndarray:
    """Per-frequency gain (H, W // 2 + 1) of the Fourier parameterization.

    1 / max(|f|, 1 / max(H, W)) ** decay, times sqrt(H W) so that `irfft2d` (which divides by
    H W) becomes unitary and learning rates match the pixel parameterization, as in Lucid.
    """
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    freqs = np.sqrt(fx * fx + fy * fy)
    scale = 1.0 / np.maximum(freqs, 1.0 / max(height, width)) ** decay
    return (scale * np.sqrt(height * width)).astype(np.float32)


class FourierParam:
    """Lucid's parameterization: a scaled spectrum, optional colour decorrelation, a sigmoid.

    The variable holds the real and imaginary parts of `rfft2d` coefficients, shape
    (2, B, C, H, W // 2 + 1). `tf.signal.irfft2d` with an explicit `fft_length` handles odd
    sizes directly, so no extra frequency has to be kept and cropped off as Lucid does.
    A fresh parameter is all zeros: a flat 0.5 grey image.
    """

    def __init__(self, shape: Sequence[int], decorrelate: bool = True, decay: float = 1.0) -> None:
        self.shape = check_shape(shape)
        if not (np.isfinite(decay) and decay >= 0):
            raise ValueError(f"spectrum decay {decay!r} must be a finite number >= 0")
        batch, height, width, channels = self.shape
        self.decay = float(decay)
        # Colours only decorrelate for RGB; other channel counts go straight to the sigmoid.
        self.decorrelate = bool(decorrelate) and channels == 3
        self._fft_length = tf.constant([height, width], dtype=tf.int32)
        self._scale = tf.constant(spectrum_scale(height, width, self.decay) / _LUCID_MAGIC)
        self._color = tf.constant(COLOR_CORRELATION.T)
        spectrum_shape = (2, batch, channels, height, width // 2 + 1)
        self._spectrum = tf.Variable(tf.zeros(spectrum_shape), name="spectrum")
        self.variables = [self._spectrum]

    def logits(self) -> tf.Tensor:
        """The image before the sigmoid, (B, H, W, C): useful for inspecting saturation."""
        real = self._spectrum[0] * self._scale
        imag = self._spectrum[1] * self._scale
        planes = tf.signal.irfft2d(tf.complex(real, imag), fft_length=self._fft_length)
        linear = tf.transpose(planes, (0, 2, 3, 1))  # irfft2d works on the last two axes
        if self.decorrelate:
            linear = tf.linalg.matmul(linear, self._color)
        return linear

    def image(self) -> tf.Tensor:
        return tf.sigmoid(self.logits())

    def assign_image(self, pixels: np.ndarray) -> None:
        array = np.clip(_checked_pixels(pixels, self.shape), *_LOGIT_CLIP).astype(np.float64)
        linear = np.log(array / (1.0 - array))
        if self.decorrelate:
            linear = linear @ np.linalg.inv(COLOR_CORRELATION.T.astype(np.float64))
        planes = tf.transpose(tf.constant(linear, dtype=tf.float32), (0, 3, 1, 2))
        spectrum = tf.signal.rfft2d(planes, fft_length=self._fft_length)
        self._spectrum.assign(
            tf.stack([tf.math.real(spectrum), tf.math.imag(spectrum)]) / self._scale
        )

    def constrain(self) -> None:
        # The sigmoid already keeps every pixel in [0, 1]; nothing to project.
        return None

    def set_clipped(self, clipped: bool) -> None:
        # The sigmoid keeps the image in [0, 1] either way.
        return None


PARAM_KINDS = ("pixel", "fourier")


def make_param(kind: str, shape: Sequence[int], decorrelate: bool = True) -> ImageParam:
    """A parameterization by name: "pixel" or "fourier" (decorrelated colours by default)."""
    if kind == "pixel":
        return PixelParam(shape)
    if kind == "fourier":
        return FourierParam(shape, decorrelate=decorrelate)
    raise ValueError(f"unknown parameterization {kind!r}; expected one of {PARAM_KINDS}")
