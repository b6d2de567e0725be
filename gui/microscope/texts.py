"""What the Microscope tab says: a build's progress, a folder's contents, and why a unit of
another model does not open in the other tabs."""

from __future__ import annotations

from engine.protocol import MicroscopeProgress, ModelSummary
from engine.protocol.microscope_format import Microscope
from engine.protocol.recipe import Recipe

STAGE_WORDS = {"scan": "Scanning images", "atlas": "Visualizing units", "layers": "Writing layers"}
STAGE_ITEMS = {"scan": "images", "atlas": "units", "layers": "layers"}
# The share of a build each stage takes, roughly (the atlas's optimization dominates).
STAGE_SPANS = {"scan": (0.0, 0.1), "atlas": (0.1, 0.9), "layers": (0.9, 1.0)}


def progress_text(progress: MicroscopeProgress) -> str:
    """'Visualizing units: 24 of 146 units (1 of 4 chunks), about 32 s left'."""
    what = STAGE_WORDS.get(progress.stage, progress.stage)
    items = STAGE_ITEMS.get(progress.stage, "items")
    text = (
        f"{what}: {progress.items:,} of {progress.total_items:,} {items} "
        f"({progress.done} of {progress.total} chunks)"
    )
    if progress.eta is not None and progress.items < progress.total_items:
        left = progress.eta
        text += f", about {left:.0f} s left" if left < 90 else f", about {left / 60:.0f} min left"
    return text


def progress_fraction(progress: MicroscopeProgress) -> float:
    """How far the whole build is, 0..1, from the stage and its share done."""
    low, high = STAGE_SPANS.get(progress.stage, (0.0, 1.0))
    share = progress.items / progress.total_items if progress.total_items else 1.0
    return low + (high - low) * min(max(share, 0.0), 1.0)


def summary_text(microscope: Microscope) -> str:
    """What the folder holds, in one line."""
    units = sum(layer.units for layer in microscope.layers)
    state = "" if microscope.complete else " (not finished: build into it again to go on)"
    return (
        f"{microscope.model_name or 'A model'}: {len(microscope.layers)} layers, {units:,} units, "
        f"top {microscope.top_k} of {microscope.image_count:,} images — {microscope.root}{state}"
    )


def recipe_text(preset: str | None, recipe: Recipe) -> str:
    """The Method panel's recipe (`preset` when it matches one) as the Build form shows it."""
    return (
        f"{preset or 'Custom'} ({recipe.param}), {recipe.steps} steps, seed {recipe.seed}: the "
        "Method panel's, as a Visualize run would use it now (change it there); one image "
        "per unit"
    )


def another_model_text(microscope: Microscope, summary: ModelSummary, unit: str) -> str:
    """Why `unit` of `microscope` does not open: the open model's weights are others."""
    source = f" from {microscope.model_source}" if microscope.model_source else ""
    return (
        f"This microscope was built for another model ({microscope.model_name!r}{source}, "
        f"weights {microscope.fingerprint[:12]}; the open {summary.name!r} has weights "
        f"{summary.fingerprint[:12]}): open it first to look at {unit} there."
    )
