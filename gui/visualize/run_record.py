"""What the window remembers of the current (or last) visualization, and how it describes it."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from engine.protocol import (
    Ascend,
    EndReason,
    LayerPath,
    ObjectiveTerm,
    RunFinished,
    Verdict,
    VerdictKind,
)
from engine.protocol.recipe import LIVE_KNOBS, Recipe
from gui.common.imaging import to_rgb8, visualization_picture, visualization_rgb8
from gui.visualize.exports import GIF_MAX_FRAMES, thin_evenly

# Why a run ended: the word exported settings use (as they always have), and the caption.
_REASONS = {
    EndReason.FINISHED: ("steps", "done at step {n}"),
    EndReason.CONVERGED: ("converged", "converged at step {n}"),
    EndReason.CANCELLED: ("cancelled", "stopped at step {n}"),
    EndReason.DEAD: ("dead", "never fires"),
}


class RunRecord:
    """The request of one run, its frames (thinned as they come) and how it ended.

    At most twice `max_frames` frames are kept: when more arrive, every other one is dropped
    and from then on only every other frame is taken, so the kept ones stay evenly spaced
    however long the run is.
    """

    def __init__(self, request: Ascend, label: str, max_frames: int = GIF_MAX_FRAMES) -> None:
        self.request = request
        self.label = label  # how the window names the objective, e.g. "conv3 #5 + #7"
        self.recipe: Recipe = request.settings  # live knobs changed mid-run are folded in
        self.finished: RunFinished | None = None
        self.reason: EndReason | None = None
        self._max_frames = max_frames
        self._frames: list[np.ndarray] = []
        self._stride = 1
        self._seen = 0

    def add_frame(self, image: np.ndarray) -> None:
        """Keep a frame's picture (as RGB bytes) if it falls on the current stride."""
        if self._seen % self._stride == 0:
            # Drawn as the window shows it (View ▸ Display), so the GIF matches the canvas.
            self._frames.append(visualization_rgb8(image))
            if len(self._frames) > 2 * self._max_frames:
                self._frames = self._frames[::2]
                self._stride *= 2
        self._seen += 1

    def tweak(self, recipe: Recipe) -> None:
        """Note the live knobs of `recipe`, which the running visualization now uses."""
        self.recipe = replace(self.recipe, **{k: getattr(recipe, k) for k in LIVE_KNOBS})

    def finish(self, done: RunFinished, reason: EndReason) -> None:
        """The run ended with `done` for `reason`; its final image becomes the last frame. A
        continued run ends again later: the newest end counts."""
        self.finished, self.reason = done, reason
        self._frames.append(to_rgb8(done.image))

    def animation_frames(self) -> list[np.ndarray]:
        """At most `max_frames` evenly spaced frames, ending with the final picture."""
        return thin_evenly(self._frames, self._max_frames)

    def document(self) -> dict[str, Any]:
        """The recipe's fields at the top level (so `Recipe.from_dict` reads it back), and under
        'run' what was visualized and how it went."""
        request, done = self.request, self.finished
        run: dict[str, Any] = {
            "layer": str(LayerPath(request.layer)),
            "unit": request.unit,
            "neuron": list(request.neuron) if request.neuron is not None else None,
            "extra_terms": [_term_dict(term) for term in request.extra_terms],
            "objective": self.label,
            "seed": self.recipe.seed,
        }
        if done is not None and self.reason is not None:
            run.update(
                steps_done=done.steps_done,
                stop_reason=_REASONS.get(self.reason, (self.reason.value, ""))[0],
                activation=done.activation,
                quality=done.quality,
                restarted=done.restarted,
                verdict=None if done.verdict is None else done.verdict.to_dict(),
            )
        return {**self.recipe.to_dict(), "run": run}


def _term_dict(term: ObjectiveTerm) -> dict[str, Any]:
    neuron = list(term.neuron) if term.neuron is not None else None
    layer = str(LayerPath(term.layer))
    return {"layer": layer, "unit": term.unit, "weight": term.weight, "neuron": neuron}


def finished_caption(label: str, done: RunFinished, reason: EndReason) -> str:
    """'conv3 #5 · converged at step 180 · activation 2.31 · 1.4× its best real image'; with a
    verdict, what it says ('failed: 0.0052× its best real image', 'rarely fires …')."""
    verdict = done.verdict
    dead = reason is EndReason.DEAD if verdict is None else verdict.kind is VerdictKind.DEAD
    caption = _REASONS[EndReason.DEAD][1] if dead else _REASONS.get(reason, ("", ""))[1]
    parts = [label, (caption or "ended at step {n}").format(n=done.steps_done)]
    if not dead:
        if math.isfinite(done.activation):
            parts.append(f"activation {done.activation:.3g}")
        judged = verdict is not None and verdict.best_real is not None
        if verdict is not None and judged:
            parts.append(_judged(verdict))
        if verdict is not None and verdict.leaves_range:
            parts.append(f"{verdict.outside_range:.0%} of pixels outside the input range")
        elif not judged and done.quality is not None and math.isfinite(done.quality):
            # the verdict's ratio, when there is one, already says this
            parts.append(f"{done.quality:.2g}× its best real image")
    text = " · ".join(parts)
    if verdict is not None and verdict.from_real:
        text += f" (started from its best real image #{verdict.best_index})"
    elif done.restarted:
        text += " (restarted from a start that fires)"
    return text


def _judged(verdict: Verdict) -> str:
    """The caption's part for a verdict judged against real images."""
    ratio = "" if verdict.ratio is None else f"{verdict.ratio:.2g}× its best real image"
    if verdict.kind is VerdictKind.FAILED:
        return f"failed: {ratio}"
    if verdict.kind is VerdictKind.WEAK:
        weak = f"weak: fires on {verdict.fires_on} of {verdict.references} real images"
        return f"{ratio} · {weak}" if ratio else weak
    return ratio or f"fires on {verdict.fires_on} of {verdict.references} real images"


def dead_message(label: str, verdict: Verdict | None = None) -> str:
    """What the message bar says of a filter no start could make respond."""
    if verdict is not None:
        return f"{label} {verdict.message}."
    return f"{label} never fires: no starting image made it respond."


def verdict_warning(label: str, verdict: Verdict) -> str | None:
    """What the message bar says of a weak or failed run (with what to try); None otherwise."""
    if verdict.kind not in (VerdictKind.WEAK, VerdictKind.FAILED):
        return None
    hint = f" Try: {verdict.hint}." if verdict.hint else ""
    return f"{label} {verdict.message}.{hint}"


def first_image(image: np.ndarray, record: RunRecord) -> np.ndarray:
    """The first of a batch of images tiled side by side, for a thumbnail or a start."""
    batch = record.recipe.batch
    width = image.shape[1] // batch if batch > 1 else image.shape[1]
    return image[:, :width] if width > 0 else image


def from_last_image(record: RunRecord) -> Ascend | None:
    """The same objective again, starting from the image its run ended with (the notebooks'
    second pass); None before the run has ended."""
    done = record.finished
    if done is None:
        return None
    # The picture on screen, as the notebooks re-seed from their deprocessed image: an unclipped
    # run's raw values may leave [0, 1], which a start may not.
    start = visualization_picture(first_image(done.image, record))
    request = record.request
    return Ascend(
        request.layer,
        request.unit,
        replace(record.recipe, init="image", init_noise=0.0),
        neuron=request.neuron,
        extra_terms=request.extra_terms,
        start_image=start,
    )


def from_best_real_image(record: RunRecord) -> Ascend | None:
    """The run's unit again, starting from the real image that excites it most; None when the
    engine sent no such image (not a single-filter run, or no real image makes it fire)."""
    done = record.finished
    if done is None or done.best_real_image is None:
        return None
    settings = replace(record.recipe, init="image")
    return Ascend(done.layer, done.unit, settings, start_image=done.best_real_image)
