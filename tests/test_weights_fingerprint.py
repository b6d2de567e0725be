"""A model's weights' fingerprint stays what it was: atlas caches and microscope manifests
written before still match the model they were made of."""

from __future__ import annotations

import hashlib

import numpy as np

from engine.optvis.atlas_cache import weights_fingerprint


def _as_first_written(weights: list[np.ndarray]) -> str:
    """The fingerprint as convscope first computed it (a copy of every array's bytes)."""
    digest = hashlib.sha256()
    for array in weights:
        digest.update(str(array.shape).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def test_the_fingerprint_of_every_kind_of_weight_is_unchanged():
    weights = [
        np.arange(12, dtype=np.float32).reshape(3, 4).T,  # not contiguous
        np.float32(2.5) * np.ones(()),  # a scalar (PReLU-like)
        np.array([True, False]),
        np.zeros((0, 3), np.float32),  # empty
        np.random.default_rng(0).normal(size=(3, 3, 8, 16)).astype(np.float32),
    ]
    assert weights_fingerprint(weights) == _as_first_written(weights)
    retrained = [w.copy() for w in weights]
    retrained[-1][0, 0, 0, 0] += 1e-3
    assert weights_fingerprint(retrained) != weights_fingerprint(weights)
