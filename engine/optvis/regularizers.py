"""Penalties that keep a grown image natural, and a blur applied to it every few steps.

Each penalty maps images (B, H, W, C) in [0, 1] to one number per image, shape (B,), that the
ascent subtracts (times a weight) from its objective, so a batch of different images can
carry different penalties. All are differentiable and run inside `tf.function`; their sizes
are per-pixel means, so one weight suits any image size.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

# Penalties measure distance from mid-grey: the image a fresh ascent starts from and the
# colour that carries no information.
GREY = 0.5


def _per_image_mean(values: tf.Tensor) -> tf.Tensor:
    return tf.reduce_mean(values, axis=[1, 2, 3])


def l2(images: tf.Tensor) -> tf.Tensor:
    """Mean squared distance from grey, per image: keeps pixels from running to the extremes."""
    return _per_image_mean(tf.square(images - GREY))


def lp(images: tf.Tensor, p: float) -> tf.Tensor:
    """Mean |x - 0.5| ** p per image; larger p punishes the brightest outliers harder.

    p must be >= 1: below it the gradient at exactly grey is infinite.
    """
    if not (np.isfinite(p) and p >= 1):
        raise ValueError(f"norm order p={p!r} must be a finite number >= 1")
    return _per_image_mean(tf.pow(tf.abs(images - GREY), float(p)))


def total_variation(images: tf.Tensor) -> tf.Tensor:
    """Mean absolute difference between vertical and between horizontal neighbours, averaged
    over both axes, per image: small for smooth images, large for pixel noise."""
    height, width = images.shape[1], images.shape[2]
    if (height is not None and height < 2) or (width is not None and width < 2):
        raise ValueError(f"total variation needs images of at least 2×2, not {height}×{width}")
    down = tf.abs(images[:, 1:, :, :] - images[:, :-1, :, :])
    across = tf.abs(images[:, :, 1:, :] - images[:, :, :-1, :])
    return 0.5 * (_per_image_mean(down) + _per_image_mean(across))


def gaussian_kernel(sigma: float) -> np.ndarray:
    """A normalised 1-D Gaussian of radius ceil(3 sigma) (99.7 % of its mass)."""
    radius = max(1, math.ceil(3.0 * sigma))
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    return (kernel / kernel.sum()).astype(np.float32)


def gaussian_blur(images: tf.Tensor, sigma: float) -> tf.Tensor:
    """Blur each channel with a separable Gaussian of `sigma` pixels; same shape out.

    Not a penalty: applied to the image itself every few steps, it damps the high frequencies
    the ascent keeps adding. The border is extended symmetrically (edge pixel repeated), which
    keeps each image's mean exactly and avoids the dark frame zero padding would add; the
    kernel is shortened to the image size where it would be longer. sigma == 0 is the identity.
    """
    if not (np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"blur sigma {sigma!r} must be a finite number >= 0")
    if sigma == 0:
        return images
    height, width = images.shape[1], images.shape[2]
    channels = images.shape[3]
    if height is None or width is None or channels is None:
        raise ValueError(f"images of shape {images.shape} need static height, width, channels")
    kernel = gaussian_kernel(sigma)
    # SYMMETRIC padding may add at most the image's own size.
    radius = min(len(kernel) // 2, height, width)
    if radius < len(kernel) // 2:
        kernel = kernel[len(kernel) // 2 - radius : len(kernel) // 2 + radius + 1]
        kernel = kernel / kernel.sum()
    padded = tf.pad(images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], "SYMMETRIC")
    taps = np.repeat(kernel[:, None], channels, axis=1)  # (k, C)
    vertical = tf.constant(taps[:, None, :, None])  # (k, 1, C, 1): one filter per channel
    horizontal = tf.constant(taps[None, :, :, None])  # (1, k, C, 1)
    blurred = tf.nn.depthwise_conv2d(padded, vertical, strides=[1, 1, 1, 1], padding="VALID")
    return tf.nn.depthwise_conv2d(blurred, horizontal, strides=[1, 1, 1, 1], padding="VALID")
