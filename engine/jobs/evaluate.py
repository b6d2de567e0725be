"""The EvaluateDataset request: the model's predictions on labelled images, against the labels.

Images are decoded and predicted a batch at a time (cancellable before every batch); only a
small thumbnail of each is kept, so a huge folder does not fill memory. Files that cannot be
read are skipped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np
from PIL import Image

from engine.dataset.labelled import MNIST_SOURCE, LabelledSet, labelled_folder, mnist_holdout
from engine.images.convert import ImageError, convert_image
from engine.jobs.job import Done, Job, ShouldStop
from engine.models.predictions import top_predictions
from engine.optvis.memory import plan_batch
from engine.optvis.references import MNIST_DIR
from engine.protocol import EndReason, EvaluateDataset, Evaluation, ModelSummary, Progress

BATCH_SIZE = 64
THUMB_SIDE = 48  # pixels of a thumbnail's longer side (an MNIST digit keeps its 28)
MAX_THUMBNAILS = 20_000  # about 140 MB of RGB thumbnails at most; the rest go without


def match_classes(
    labels: tuple[str, ...], model_names: tuple[str, ...], outputs: int
) -> tuple[tuple[int, ...], str]:
    """The model output each label means (-1: none) and a sentence saying how they matched.

    A label matches a class name of the model (case, spaces and underscores aside), else a
    digit label "3" means output 3 when the model has that many outputs.
    """
    names = model_names if len(model_names) == outputs else ()
    by_name = {_plain(name): k for k, name in enumerate(names)}
    expected = []
    for label in labels:
        index = by_name.get(_plain(label), -1)
        if index < 0 and label.isdigit() and int(label) < outputs and not by_name:
            index = int(label)
        expected.append(index)
    unmatched = [label for label, k in zip(labels, expected, strict=True) if k < 0]
    if not unmatched:
        return tuple(expected), f"All {len(labels)} labels match the model's outputs."
    listed = ", ".join(repr(label) for label in unmatched[:5]) + ("…" if len(unmatched) > 5 else "")
    if len(unmatched) == len(labels):
        note = (
            f"The labels ({listed}) cannot be matched to the model's {outputs} outputs: "
            "predictions are shown, but no accuracy."
        )
    else:
        note = (
            f"{len(unmatched)} of {len(labels)} labels match none of the model's outputs "
            f"({listed}); accuracy counts only the images of the others."
        )
    return tuple(expected), note


def _plain(name: str) -> str:
    return name.strip().lower().replace("_", " ")


@dataclass
class _Tally:
    """What the batches have found so far."""

    names: list[str] = field(default_factory=list)
    true: list[int] = field(default_factory=list)
    predicted: list[int] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    thumbnails: list[np.ndarray] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # name: why


def run_evaluation(
    request: EvaluateDataset, model: keras.Model, summary: ModelSummary, should_stop: ShouldStop
) -> Job:
    """Predict the labelled images batch by batch, yielding a Progress after each; the job's
    value is the Evaluation (of the images done so far, when cancelled)."""
    folder = request.folder
    data = mnist_holdout(MNIST_DIR) if folder is None else labelled_folder(folder)
    outputs = _output_count(model)
    expected, note = match_classes(data.class_names, summary.class_names, outputs)
    total = len(data.source.names)
    batch = plan_batch(summary, summary.layers[-1].path, BATCH_SIZE, "evaluation").batch
    tally = _Tally()
    cancelled = False
    for start in range(0, total, batch):
        if should_stop():
            cancelled = True
            break
        _predict_batch(model, summary, data, range(start, min(start + batch, total)), tally)
        done = min(start + batch, total)
        text = f"{done:,} of {total:,} images" + (
            f", {len(tally.skipped)} skipped" if tally.skipped else ""
        )
        yield Progress(request.request_id, done / total, text)
    result = _evaluation(request, data, tally, expected, outputs, summary, note, total)
    return Done(result, EndReason.CANCELLED if cancelled else EndReason.FINISHED)


def _output_count(model: keras.Model) -> int:
    shape = tuple(model.outputs[0].shape) if model.outputs else ()
    if len(shape) != 2 or shape[1] is None:
        raise ValueError(
            f"the model's output has shape {shape}, not one score per class: "
            "it cannot be evaluated on labelled images"
        )
    return int(shape[1])


def _predict_batch(
    model: keras.Model, summary: ModelSummary, data: LabelledSet, indices: range, tally: _Tally
) -> None:
    pixels: list[np.ndarray] = []
    kept: list[int] = []
    for i in indices:
        name = data.source.names[i]
        try:
            converted = convert_image(
                data.source.open(name), summary.input_shape, summary.input_range
            )
        except (ImageError, OSError, ValueError) as error:
            tally.skipped[name] = str(error) or type(error).__name__
            continue
        if pixels and converted.pixels.shape != pixels[0].shape:  # a free-size model
            tally.skipped[name] = f"size {converted.pixels.shape[:2]} differs from the batch's"
            continue
        pixels.append(converted.pixels)
        kept.append(i)
        if len(tally.thumbnails) < MAX_THUMBNAILS:
            tally.thumbnails.append(_thumbnail(converted.display))
    if not pixels:
        return
    scores = np.asarray(model(np.stack(pixels), training=False))
    for i, row in zip(kept, scores, strict=True):
        top = top_predictions(row, summary.class_names, k=1, scores_are=summary.scores)
        tally.names.append(data.source.names[i])
        tally.true.append(data.labels[i])
        tally.predicted.append(top[0].index if top else -1)
        tally.confidence.append(top[0].probability if top else float("nan"))


def _thumbnail(display: np.ndarray) -> np.ndarray:
    """(h, w, C) uint8 of an image in [0, 1], its longer side at most THUMB_SIDE."""
    data = np.clip(np.asarray(display) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    height, width = data.shape[:2]
    if max(height, width) <= THUMB_SIDE:
        return data
    scale = THUMB_SIDE / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    picture = Image.fromarray(data[:, :, 0] if data.shape[2] == 1 else data)
    small = np.asarray(picture.resize(size, Image.Resampling.BILINEAR))
    return small.reshape(size[1], size[0], data.shape[2])


def _evaluation(
    request: EvaluateDataset,
    data: LabelledSet,
    tally: _Tally,
    expected: tuple[int, ...],
    outputs: int,
    summary: ModelSummary,
    note: str,
    total: int,
) -> Evaluation:
    true = np.asarray(tally.true, dtype=np.int64)
    predicted = np.asarray(tally.predicted, dtype=np.int64)
    columns = sorted({k for k in expected if k >= 0} | {int(k) for k in predicted if k >= 0})
    where = {k: c for c, k in enumerate(columns)}
    confusion = np.zeros((len(data.class_names), len(columns)), dtype=np.int64)
    for t, p in zip(true, predicted, strict=True):
        if p >= 0:
            confusion[t, where[int(p)]] += 1
    wanted = np.asarray(expected, dtype=np.int64)[true] if len(true) else true
    matched = wanted >= 0
    accuracy = float(np.mean(wanted[matched] == predicted[matched])) if matched.any() else None
    names = summary.class_names if len(summary.class_names) == outputs else ()
    column_names = tuple(names[k] if names else f"class {k}" for k in columns)
    skipped = len(tally.skipped) + data.unlabelled
    notes = [note, *_skipped_notes(tally.skipped, data.unlabelled)]
    thumbs = tally.thumbnails
    shapes = {t.shape for t in thumbs}
    stacked = np.stack(thumbs) if thumbs and len(shapes) == 1 else _padded(thumbs)
    root = "" if data.source.root == MNIST_SOURCE else data.source.root
    return Evaluation(
        request.request_id,
        request.folder or MNIST_SOURCE,
        data.rule,
        root,
        tuple(tally.names),
        data.class_names,
        true,
        predicted,
        np.asarray(tally.confidence, dtype=np.float32),
        expected,
        tuple(columns),
        column_names,
        confusion,
        stacked,
        accuracy,
        total + data.unlabelled,
        skipped,
        " ".join(n for n in notes if n),
    )


def _skipped_notes(skipped: dict[str, str], unlabelled: int) -> list[str]:
    notes = []
    if skipped:
        name, why = next(iter(skipped.items()))
        notes.append(
            f"{len(skipped)} files could not be read and were skipped (e.g. {name}: {why})."
        )
    if unlabelled:
        notes.append(f"{unlabelled} files have no label in their name and were left out.")
    return notes


def _padded(thumbs: list[np.ndarray]) -> np.ndarray:
    """Thumbnails of different shapes (images of other aspect ratios) on one black canvas each."""
    if not thumbs:
        return np.zeros((0, 1, 1, 1), dtype=np.uint8)
    channels = thumbs[0].shape[2]
    side = max(max(t.shape[0], t.shape[1]) for t in thumbs)
    out = np.zeros((len(thumbs), side, side, channels), dtype=np.uint8)
    for k, thumb in enumerate(thumbs):
        out[k, : thumb.shape[0], : thumb.shape[1]] = thumb
    return out
