"""What a model's output vector says, as the window lists it: the top classes."""

from __future__ import annotations

import numpy as np

from engine.protocol import Prediction


def top_predictions(
    outputs: np.ndarray, class_names: tuple[str, ...], k: int = 5, scores_are: str = "logits"
):
    """The `k` most likely classes of one output vector. Probabilities stay as they are, and
    so do a sigmoid head's independent scores (`scores_are` "independent": multi-label, each
    class its own 0..1); logits become probabilities by a softmax."""
    scores = np.asarray(outputs, dtype=np.float64).reshape(-1)
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
