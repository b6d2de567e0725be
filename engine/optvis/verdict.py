"""Honest verdicts on a visualization: dead, weak, failed or fine, from evidence one can show.

"Fires" is relative to the layer's activation scale, not merely above zero: a unit whose
kernels are ~1e-19 produces ~1e-17 in a layer whose units reach ~1, and that is dead. A real
image makes a unit fire when some position of its feature map exceeds a small fraction of the
layer's peak (its strongest unit's highest value on any reference image); a run's image, when
its mean (what a run maximizes) exceeds that fraction of the layer's best mean. Pure numpy, so
the rules are tested without TensorFlow.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.protocol.results import Verdict, VerdictKind

# "Fires" means above this fraction of the layer's activation scale.
FIRE_FRACTION = 1e-3
# A run that ends below this fraction of its unit's best real image has failed.
FAILED_RATIO = 0.5
# A unit firing on less than this share of the real images "rarely fires".
RARE_SHARE = 0.1

# Pixel values further than this outside [0, 1] (a fraction of the range) count as outside it.
OUT_OF_RANGE_EPS = 1e-3

FAILED_HINT = "try Start from its best real image, another preset (Lucid), or more steps"
WEAK_HINT = "start from its best real image to see what excites it"
FROM_REAL_HINT = "Run › Continue from This Image for a second pass, or the Lucid preset"


def layer_scale(reference_activations: np.ndarray | None) -> float:
    """The layer's activation scale: the highest value of any of its units over the reference
    images, (N, units) means or peaks; 0.0 without images or when nothing is positive."""
    if reference_activations is None or not np.size(reference_activations):
        return 0.0
    finite = np.nan_to_num(np.asarray(reference_activations, np.float64), nan=0.0)
    return max(0.0, float(finite.max()))


def fire_threshold(scale: float) -> float:
    """The activation above which a unit of a layer with activation `scale` fires."""
    if not np.isfinite(scale) or scale < 0:
        raise ValueError(f"activation scale {scale!r} must be finite and >= 0")
    return FIRE_FRACTION * scale


def firing(peaks: np.ndarray | None, peak_scale: float) -> np.ndarray:
    """Which reference images make the unit fire, from its peak on each, (N,) bool."""
    if peaks is None:
        return np.zeros(0, bool)
    values = np.nan_to_num(np.asarray(peaks, np.float64).ravel(), nan=-np.inf)
    return values > fire_threshold(peak_scale)


def judge(
    activation: float,
    references: np.ndarray | None,
    scale: float,
    from_real: bool = False,
    peaks: tuple[np.ndarray, float] | None = None,
) -> Verdict:
    """The verdict on a unit whose run reached `activation` (a mean over its feature map).

    `references` are the unit's mean activations on each reference image (None: there are
    none), `scale` the layer's scale of means (layer_scale), `from_real` whether the run had
    to start from the unit's best real image because no other start made it fire. `peaks`:
    the unit's highest value on each reference image and the layer's peak scale; without
    them, an image makes it fire when its mean is above the threshold.
    """
    if not np.isfinite(activation):
        raise ValueError(f"activation {activation!r} is not a finite number")
    threshold = fire_threshold(scale)
    values = np.zeros(0) if references is None else np.asarray(references, np.float64).ravel()
    values = np.nan_to_num(values, nan=-np.inf)
    fires = values > threshold if peaks is None else firing(*peaks)
    if fires.size != values.size:
        raise ValueError(f"{fires.size} peaks for {values.size} reference images")
    evidence = Verdict(
        VerdictKind.FINE,
        "",
        float(activation),
        scale=float(scale),
        threshold=threshold,
        references=int(values.size),
        from_real=from_real,
        peak_threshold=threshold if peaks is None else fire_threshold(peaks[1]),
    )
    if not values.size:
        return _without_references(evidence)
    best_index = int(np.argmax(values))
    best = float(values[best_index])
    fires_on = int(np.count_nonzero(fires))
    evidence = replace(evidence, best_real=best, best_index=best_index, fires_on=fires_on)
    if not fires_on and activation <= threshold:
        message = (
            f"never fires: on none of {values.size} real images does it exceed "
            f"{evidence.peak_threshold:.3g} anywhere, and no starting image made its mean "
            f"exceed {threshold:.3g} (a {FIRE_FRACTION:g} share of the layer's scale); "
            f"it reached {activation:.3g}"
        )
        return replace(evidence, kind=VerdictKind.DEAD, message=message)
    if not fires_on:  # the run found what no real image has
        message = f"fires on none of {values.size} real images; this run makes it fire"
        return replace(evidence, message=message)
    ratio = float(activation) / best if best > 0 else None
    # A run that reaches its best real image (which fires) fires too, even below the threshold.
    fired = activation > threshold or (ratio is not None and ratio >= 1)
    return _against_best(replace(evidence, ratio=ratio), fired)


def _against_best(evidence: Verdict, fired: bool) -> Verdict:
    """The verdict on a unit that fires on some real images, by its run's ratio to the best."""
    ratio, best, index = evidence.ratio, evidence.best_real or 0.0, evidence.best_index
    share = f"fires on {evidence.fires_on} of {evidence.references} real images"
    best_text = f"its best real image #{index} ({best:.3g})"
    rare = evidence.fires_on < RARE_SHARE * evidence.references
    if not fired:
        word = "rarely fires" if rare else "weak"
        message = f"{word}: {share} (best: #{index}, {best:.3g}); this run did not"
        return replace(evidence, kind=VerdictKind.WEAK, message=message, hint=WEAK_HINT)
    if ratio is None:  # no real image has a positive mean: nothing to compare with
        return replace(evidence, message=f"{share}; this run makes it fire")
    if ratio < FAILED_RATIO:
        message = f"failed: ends at {ratio:.2g}× {best_text}; {share}"
        return replace(evidence, kind=VerdictKind.FAILED, message=message, hint=FAILED_HINT)
    reached = "beats" if ratio >= 1 else "reaches"
    if evidence.from_real:
        message = (
            f"does not fire from noise: started from {best_text}, {reached} it {ratio:.2g}×; "
            f"{share}"
        )
        return replace(evidence, kind=VerdictKind.WEAK, message=message, hint=FROM_REAL_HINT)
    message = f"{reached} its best real image: {ratio:.2g}× #{index}; {share}"
    return replace(evidence, message=f"{message} (it rarely fires)" if rare else message)


def with_image(verdict: Verdict, image: np.ndarray | None) -> Verdict:
    """`verdict` with the share of `image`'s values (fractions of the input range) outside
    [0, 1]; a message that claims a real image is matched or beaten says so when that share is
    more than 1% (Verdict.leaves_range), since no real input reaches such values."""
    if image is None or not np.size(image):
        return verdict
    values = np.asarray(image, np.float64)
    share = float(np.mean((values < -OUT_OF_RANGE_EPS) | (values > 1 + OUT_OF_RANGE_EPS)))
    judged = replace(verdict, outside_range=share)
    claims = verdict.kind is not VerdictKind.DEAD and verdict.ratio is not None
    if claims and judged.leaves_range:
        judged = replace(
            judged,
            message=f"{verdict.message}; {share:.0%} of its pixel values lie outside the "
            "model's input range (unclipped ascent)",
        )
    return judged


def _without_references(evidence: Verdict) -> Verdict:
    """No real image to judge by: only a run that never moved off zero is dead."""
    if evidence.activation > evidence.threshold:
        return replace(evidence, message="fires (no real images to compare it with)")
    message = f"never fires: no starting image made it respond (reached {evidence.activation:.3g})"
    return replace(evidence, kind=VerdictKind.DEAD, message=message)
