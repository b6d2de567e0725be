"""What a model's output vector says, as the window lists it: the top classes."""

from __future__ import annotations

import numpy as np

from engine.protocol import Prediction

# Said under the predictions of a model whose output is a map (a fully convolutional detector).
MAP_NOTE = (
    "the output is a map: its classes are the channels, each scored by its mean over the map's "
    "positions"
)


def class_scores(outputs: np.ndarray) -> np.ndarray:
    """One image's class scores: the output vector as it is, or for a map output (H', W', K),
    e.g. a P-Net's, the spatial mean of each channel (its classes are its channels)."""
    values = np.asarray(outputs, dtype=np.float64)
    if values.ndim == 3:
        return values.reshape(-1, values.shape[-1]).mean(axis=0)
    return values.reshape(-1)


def top_predictions(
    outputs: np.ndarray, class_names: tuple[str, ...], k: int = 5, scores_are: str = "logits"
):
    """The `k` most likely classes of one output vector (a map output: per channel, see
    `class_scores`). Probabilities stay as they are, and so do a sigmoid head's independent
    scores (`scores_are` "independent": multi-label, each class its own 0..1); logits become
    probabilities by a softmax."""
    scores = class_scores(outputs)
    if not np.isfinite(scores).all():  # NaN has no rank: list nothing rather than a wrong class
        return ()
    looks_like_probabilities = scores.min() >= 0 and abs(scores.sum() - 1.0) < 1e-3
    if scores_are != "independent" and not looks_like_probabilities:
        scores = np.exp(scores - scores.max())
        scores /= scores.sum()
    order = np.argsort(scores)[::-1][:k]
    names = class_names if len(class_names) == len(scores) else ()
    return tuple(
        Prediction(int(i), names[i] if names else f"class {i}", float(scores[i])) for i in order
    )
