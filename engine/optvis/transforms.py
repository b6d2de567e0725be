"""Transformation robustness: small random changes to the image before the model sees it.

An image that only excites a unit at one exact position, scale and angle is mostly
high-frequency noise; asking it to work under random shifts, rescales and rotations is what
makes the structure readable. Each transform is a pure, differentiable function of the images,
a `tf.random.Generator` and its knobs. Knobs that may change during a run (shift, angle) are
tensors, so a compiled step reading them from `tf.Variable`s never retraces; only the padding,
which changes the image's shape, is a Python int.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

PAD_MODES = ("REFLECT", "CONSTANT")

# Gentle defaults for the small inputs convscope meets (MNIST is 28×28); Lucid's larger
# values (pad 12, jitter 8, ±10°) are meant for 224-pixel ImageNet models.
DEFAULT_SCALES = (0.95, 0.975, 1.0, 1.025, 1.05)


def _static_size(images: tf.Tensor) -> tuple[int, int]:
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:
        raise ValueError(f"images of shape {images.shape} need a static height and width")
    return int(height), int(width)


def pad(images: tf.Tensor, pixels: int, mode: str = "REFLECT", value: float = 0.5) -> tf.Tensor:
    """Add `pixels` on every side: (B, H, W, C) becomes (B, H + 2p, W + 2p, C).

    `pixels` is a Python int because it changes the shape (a new value means a new trace).
    Padding first gives jitter and rotation room, so what they wrap or fill in mostly lands in
    the border that `crop_to` removes afterwards. REFLECT needs pixels < H and < W.
    """
    if mode not in PAD_MODES:
        raise ValueError(f"pad mode {mode!r} is not one of {PAD_MODES}")
    if not isinstance(pixels, (int, np.integer)) or pixels < 0:
        raise ValueError(f"padding {pixels!r} must be an int >= 0")
    if pixels == 0:
        return images
    height, width = _static_size(images)
    if mode == "REFLECT" and pixels >= min(height, width):
        raise ValueError(f"reflect padding {pixels} needs an image larger than {height}×{width}")
    paddings = [[0, 0], [pixels, pixels], [pixels, pixels], [0, 0]]
    return tf.pad(images, paddings, mode=mode, constant_values=value if mode == "CONSTANT" else 0)


def crop_to(images: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """The centre `height` × `width` of the images (when the margin is odd, one more is cut
    from the bottom/right)."""
    current_h, current_w = _static_size(images)
    if not (0 < height <= current_h and 0 < width <= current_w):
        raise ValueError(f"cannot crop {current_h}×{current_w} images to {height}×{width}")
    top, left = (current_h - height) // 2, (current_w - width) // 2
    return images[:, top : top + height, left : left + width, :]


def jitter(images: tf.Tensor, rng: tf.random.Generator, max_shift: tf.Tensor) -> tf.Tensor:
    """Shift the whole batch by a uniform integer in [-max_shift, max_shift] along y and x.

    `tf.roll` rather than a random crop of a padded image: the crop would need a pad size fixed
    at trace time, while rolling takes the shift as a tensor, keeps the shape, is exactly the
    identity for a zero shift, and its gradient is just the opposite roll. The wrapped-around
    strip lands in the `pad` border when pad >= max_shift. Negative values count as 0.
    """
    limit = tf.maximum(tf.cast(max_shift, tf.int32), 0)
    shift = rng.uniform([2], minval=-limit, maxval=limit + 1, dtype=tf.int32)
    return tf.roll(images, shift, axis=[1, 2])


def _mirror_to_size(images: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Centre-crop or mirror-pad images of dynamic size to a static `height` × `width`."""
    size = tf.shape(images)[1:3]
    target = tf.constant([height, width], dtype=tf.int32)
    missing = tf.maximum(target - size, 0)
    before = missing // 2
    paddings = tf.stack([[0, 0], [before[0], missing[0] - before[0]]])
    paddings = tf.concat([paddings, [[before[1], missing[1] - before[1]], [0, 0]]], axis=0)
    # A mirror rather than zeros: a black frame would be an edge the model reacts to.
    # SYMMETRIC (edge repeated) allows a pad as large as the image itself, REFLECT one less.
    padded = tf.pad(images, paddings, mode="SYMMETRIC")
    offset = (tf.shape(padded)[1:3] - target) // 2
    cropped = tf.slice(padded, tf.stack([0, offset[0], offset[1], 0]), [-1, height, width, -1])
    return tf.ensure_shape(cropped, [images.shape[0], height, width, images.shape[3]])


def random_scale(images: tf.Tensor, rng: tf.random.Generator, scales: tf.Tensor) -> tf.Tensor:
    """Resize (bilinear) by one factor drawn from the 1-D `scales`, then centre-crop or
    mirror-pad back to the original size, so the shape stays static.

    Factors must lie in [0.5, 2]: well below 0.5 the mirror would need more than the image.
    """
    scales = tf.convert_to_tensor(scales, dtype=tf.float32)
    known = tf.get_static_value(scales)
    if known is not None and (known.ndim != 1 or known.size == 0 or not _scales_ok(known)):
        raise ValueError(f"scale factors {known.tolist()} must be a non-empty list in [0.5, 2]")
    height, width = _static_size(images)
    index = rng.uniform([], minval=0, maxval=tf.size(scales), dtype=tf.int32)
    factor = scales[index]
    new_size = tf.cast(tf.round(factor * tf.constant([height, width], tf.float32)), tf.int32)
    resized = tf.image.resize(images, tf.maximum(new_size, 1), method="bilinear")
    return _mirror_to_size(resized, height, width)


def _scales_ok(scales: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(scales)) and np.all(scales >= 0.5) and np.all(scales <= 2))


def random_rotate(images: tf.Tensor, rng: tf.random.Generator, max_degrees: tf.Tensor) -> tf.Tensor:
    """Rotate the batch about its centre by a uniform angle in ±max_degrees, bilinear, with
    reflected fill; the shape is unchanged and 0 degrees is exactly the identity."""
    height, width = _static_size(images)
    limit = tf.abs(tf.cast(max_degrees, tf.float32))
    angle = rng.uniform([], minval=-limit, maxval=limit) * (math.pi / 180.0)
    cos, sin = tf.cos(angle), tf.sin(angle)
    # The op maps each output pixel (x, y) to the input point it samples; choosing the offsets
    # so the centre ((W-1)/2, (H-1)/2) maps onto itself makes this a rotation about the centre.
    x_offset = ((width - 1) - (cos * (width - 1) - sin * (height - 1))) / 2.0
    y_offset = ((height - 1) - (sin * (width - 1) + cos * (height - 1))) / 2.0
    matrix = tf.stack([cos, -sin, x_offset, sin, cos, y_offset, 0.0, 0.0])[None, :]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=tf.tile(matrix, [tf.shape(images)[0], 1]),
        output_shape=tf.constant([height, width], dtype=tf.int32),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="REFLECT",
    )


class Transforms:
    """pad → jitter → random scale → random rotation → centre crop back to the input size.

    `max_shift` and `max_degrees` are `tf.Variable`s (assign to them between steps without
    retracing); the padding and the scale factors are fixed at construction. The output has
    the size of the images passed in, or `size` (height, width) when given.
    """

    def __init__(
        self,
        pad_pixels: int = 4,
        pad_mode: str = "REFLECT",
        max_shift: int = 4,
        max_degrees: float = 5.0,
        scales: Sequence[float] = DEFAULT_SCALES,
        size: tuple[int, int] | None = None,
    ) -> None:
        if pad_mode not in PAD_MODES:
            raise ValueError(f"pad mode {pad_mode!r} is not one of {PAD_MODES}")
        if not isinstance(pad_pixels, (int, np.integer)) or pad_pixels < 0:
            raise ValueError(f"padding {pad_pixels!r} must be an int >= 0")
        factors = np.asarray(scales, dtype=np.float32)
        if factors.ndim != 1 or factors.size == 0 or not _scales_ok(factors):
            raise ValueError(f"scale factors {list(scales)} must be a non-empty list in [0.5, 2]")
        self.pad_pixels = int(pad_pixels)
        self.pad_mode = pad_mode
        self.size = size
        self.max_shift = tf.Variable(0, dtype=tf.int32, trainable=False, name="max_shift")
        self.max_degrees = tf.Variable(0.0, dtype=tf.float32, trainable=False, name="max_degrees")
        self.scales = tf.constant(factors)
        self.set(max_shift=max_shift, max_degrees=max_degrees)

    def set(self, max_shift: int | None = None, max_degrees: float | None = None) -> None:
        """Change the run-time knobs; ValueError for negative values."""
        if max_shift is not None:
            if max_shift < 0:
                raise ValueError(f"jitter {max_shift!r} must be >= 0 pixels")
            self.max_shift.assign(int(max_shift))
        if max_degrees is not None:
            if not (np.isfinite(max_degrees) and max_degrees >= 0):
                raise ValueError(f"rotation {max_degrees!r} must be a finite angle >= 0 degrees")
            self.max_degrees.assign(float(max_degrees))

    def __call__(self, images: tf.Tensor, rng: tf.random.Generator) -> tf.Tensor:
        height, width = self.size or _static_size(images)
        x = pad(images, self.pad_pixels, self.pad_mode)
        x = jitter(x, rng, self.max_shift)
        x = random_scale(x, rng, self.scales)
        x = random_rotate(x, rng, self.max_degrees)
        return crop_to(x, height, width)
