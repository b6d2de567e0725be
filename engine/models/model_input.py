"""Settle how a freshly loaded model takes its input: preprocessing, and a size when it is free.

The loaders (engine/models/loading.py, engine/models/zoo.py) return the model as saved; this
step decides
what the rest of convscope works with. The preprocessing comes from, in order: the zoo (built
into the model), the user's choice in the window, the JSON sidecar, or else [0, 1] — "assumed",
which the window takes as its cue to ask. A model that accepts any image size is given one
(the user's, or FREE_INPUT_SIZE) so that images, visualizations and scans agree on it.
"""

from __future__ import annotations

import re
from dataclasses import replace

import keras
import numpy as np

from engine.models.introspect import describe_model
from engine.models.meta import ModelLoadError, ModelMeta
from engine.models.preprocessing import with_preprocessing
from engine.optvis.atlas_cache import weights_fingerprint
from engine.optvis.memory import image_bytes
from engine.protocol import FREE_INPUT_SIZE, LoadModel, ModelSummary
from engine.protocol.input_spec import MAX_FREE_SIDE, MIN_FREE_SIDE, InputPreprocessing

ZOO, CHOSEN, SIDECAR, ASSUMED = "zoo", "chosen", "sidecar", "assumed"


def input_origin(request: LoadModel, meta: ModelMeta) -> str:
    """Who decides the preprocessing of the model `request` loads (a zoo model's is built in:
    the request's preprocessing and input size do not apply to it)."""
    if isinstance(request.path, str) and request.path.lower().startswith("zoo:"):
        return ZOO  # the zoo's preprocessing is built into the model's first layers
    if request.preprocessing is not None:
        return CHOSEN
    return SIDECAR if meta.preprocessing is not None else ASSUMED


def set_up_input(
    model: keras.Model, meta: ModelMeta, source: str, request: LoadModel
) -> tuple[keras.Model, ModelSummary]:
    """The model convscope works with (preprocessing in front when needed) and its summary.

    Raises ModelLoadError when the choice cannot apply to this model (Caffe on greyscale, a
    side it cannot take).
    """
    origin = input_origin(request, meta)
    if origin == ZOO:
        spec = InputPreprocessing.value_range(*meta.input_range)
    elif origin == CHOSEN and request.preprocessing is not None:
        spec = request.preprocessing
    else:
        spec = meta.preprocessing or InputPreprocessing.value_range(*meta.input_range)
    try:
        model = with_preprocessing(model, spec)
    except ValueError as error:
        raise ModelLoadError(f"{_name(source)}: {error}") from None
    summary = describe_model(model, replace(meta, input_range=spec.input_range), source)
    height, width, channels = summary.input_shape
    free = height is None or width is None
    if free:
        height, width = _free_size(model, (height, width, channels), source, request.input_size)
    summary = replace(
        summary,
        input_shape=(height, width, channels),
        preprocessing=spec,
        input_origin=origin,
        free_size=free,
    )
    last = summary.layers[-1].path if summary.layers else None
    # Hashed once here, so the window can tell the very model a microscope was built for.
    fingerprint = weights_fingerprint([w.numpy() for w in model.weights])
    return model, replace(
        summary, image_bytes=image_bytes(summary, last) if last else 0, fingerprint=fingerprint
    )


def _free_size(
    model: keras.Model,
    shape: tuple[int | None, int | None, int],
    source: str,
    chosen: int | None,
) -> tuple[int, int]:
    """The (height, width) to use: the user's side, checked; or, when they chose none, the
    default side doubled until the model takes it (deep strided models need more than 128 px),
    so such a model still opens and the user can pick a size afterwards."""
    height, width, channels = shape
    side = chosen or FREE_INPUT_SIZE
    while True:
        size = (height or side, width or side)
        try:
            _check_side(model, (*size, channels), source)
            return size
        except ModelLoadError:
            if chosen is not None or side * 2 > MAX_FREE_SIDE:
                raise
            side *= 2


def _check_side(model: keras.Model, shape: tuple[int, int, int], source: str) -> None:
    """Refuse a side the user picked that is out of bounds or too small for the model's strides."""
    height, width, _ = shape
    for side in (height, width):
        if not MIN_FREE_SIDE <= side <= MAX_FREE_SIDE:
            raise ModelLoadError(
                f"{_name(source)}: an input side of {side} px is out of bounds; "
                f"pick {MIN_FREE_SIDE} to {MAX_FREE_SIDE}"
            )
    try:
        output = np.asarray(model(np.zeros((1, *shape), np.float32), training=False))
        reason = "" if output.size else "its output would have no pixels"
    except Exception as error:  # a pooling or stride that runs out of pixels, in any of its forms
        layer = re.search(r"calling (\w+)\.call", str(error))
        reason = f"its {layer.group(1)} layer runs out of pixels" if layer else "it fails"
    if reason:
        raise ModelLoadError(
            f"{_name(source)} cannot take {height}×{width} images ({reason}); pick a larger size "
            "in Model › Input Preprocessing and Size…"
        )


def _name(source: str) -> str:
    return source.replace("\\", "/").rsplit("/", 1)[-1]
