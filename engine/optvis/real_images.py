"""How a model's units fire on real images: the evidence behind quality numbers and verdicts.

The reference images (engine/optvis/references.py) are run through the model once per layer;
each unit's mean activation on each image (what a run maximizes) and its peak (its highest
value anywhere on the image) are kept, so a verdict can say on how many images a unit fires
and which one excites it most, and a run can start from that image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np

from engine.models.surgery import linearized
from engine.optvis import verdict as verdicts
from engine.protocol import ObjectiveTerm, Verdict
from engine.protocol.recipe import Recipe

BATCH = 256  # reference images per forward pass


class RealImages:
    """The reference images of one model and its units' activations on them, cached."""

    def __init__(
        self,
        model: keras.Model,
        input_range: tuple[float, float],
        images: Callable[[], np.ndarray | None],
    ) -> None:
        self.model = model
        self.input_range = input_range
        self._load = images
        self._images: np.ndarray | None = None
        self._loaded = False
        self._activations: dict[tuple[str, ...], np.ndarray | None] = {}
        self._peaks: dict[tuple[str, ...], np.ndarray | None] = {}

    def images(self) -> np.ndarray | None:
        """The reference images as model inputs, (N, H, W, C), loaded once (None: none)."""
        if not self._loaded:
            found = self._load()
            self._images = found if found is not None and len(found) else None
            self._loaded = True
        return self._images

    def activations(self, layer: tuple[str, ...]) -> np.ndarray | None:
        """Each unit's mean activation on each reference image, (N, units); None: no images."""
        if layer not in self._activations:
            self._measure(layer)
        return self._activations[layer]

    def peaks(self, layer: tuple[str, ...]) -> np.ndarray | None:
        """Each unit's highest value on each reference image, (N, units); None: no images."""
        if layer not in self._peaks:
            self._measure(layer)
        return self._peaks[layer]

    def _measure(self, layer: tuple[str, ...]) -> None:
        images = self.images()
        if images is None:
            self._activations[layer] = self._peaks[layer] = None
            return
        extractor = linearized(self.model, layer)
        means, peaks = [], []
        for start in range(0, len(images), BATCH):
            out = extractor(images[start : start + BATCH], training=False).numpy()
            flat = out.reshape(out.shape[0], -1, out.shape[-1])
            means.append(flat.mean(axis=1))
            peaks.append(flat.max(axis=1))
        self._activations[layer] = np.concatenate(means).astype(np.float64)
        self._peaks[layer] = np.concatenate(peaks).astype(np.float64)

    def maxima(self, layer: tuple[str, ...]) -> np.ndarray | None:
        """Each unit's highest mean activation over the reference images (None: no images)."""
        found = self.activations(layer)
        return None if found is None else found.max(axis=0)

    def threshold(self, layer: tuple[str, ...]) -> float:
        """The activation above which a unit of `layer` fires (0.0 without reference images)."""
        return verdicts.fire_threshold(verdicts.layer_scale(self.activations(layer)))

    def fires(self, layer: tuple[str, ...], unit: int, activation: float) -> bool:
        """Whether an image on which `unit` reaches `activation` (a mean) makes it fire: above
        the threshold, or at least as high as on its best real image when that fires."""
        if activation > self.threshold(layer):
            return True
        maxima = self.maxima(layer)
        return (
            self.best_start(layer, unit) is not None
            and maxima is not None
            and (0 < float(maxima[unit]) <= activation)
        )

    def best_start(self, layer: tuple[str, ...], unit: int) -> np.ndarray | None:
        """The reference image on which `unit` fires most, (H, W, C) in [0, 1], if it fires."""
        found = self.activations(layer)
        images = self.images()
        if found is None or images is None:
            return None
        column = found[:, unit]
        best = int(np.argmax(column))
        peaks = self.peaks(layer)
        fires = (
            peaks is not None and verdicts.firing(peaks[:, unit], verdicts.layer_scale(peaks)).any()
        )
        if not (fires or column[best] > self.threshold(layer)):
            return None
        low, high = self.input_range
        return np.clip((images[best] - low) / (high - low), 0.0, 1.0).astype(np.float32)

    def verdict(
        self,
        layer: tuple[str, ...],
        unit: int,
        activation: float,
        from_real: bool = False,
        image: np.ndarray | None = None,
    ) -> Verdict:
        """The verdict on `unit` of `layer` for an `image` (fractions of the input range) that
        reached `activation`."""
        found, peaks = self.activations(layer), self.peaks(layer)
        column = None if found is None else found[:, unit]
        scale = verdicts.layer_scale(found)
        value = float(activation) if np.isfinite(activation) else 0.0
        evidence = None if peaks is None else (peaks[:, unit], verdicts.layer_scale(peaks))
        judged = verdicts.judge(value, column, scale, from_real, evidence)
        return verdicts.with_image(judged, image)


def single_unit(terms: Sequence[ObjectiveTerm], recipe: Recipe) -> ObjectiveTerm | None:
    """The one channel a run maximizes, or None (several terms, a neuron, negated): only such a
    run compares with real images."""
    if len(terms) != 1 or terms[0].neuron is not None or recipe.negate:
        return None
    return terms[0]
