"""Which real images make a filter fire: one pass of a model over a folder of images.

Every image goes through the model once; for every chosen layer and channel the scan keeps the
top-k images by the L2 norm of the channel's map and by its maximum, the running mean and max,
and how often the channel fires at all. Forward passes only, no gradients, no Qt.

The state is saved to the cache every few batches, keyed by the model's weights, the folder and
its files, so a cancelled scan resumes where it stopped and a different model never mixes in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from engine.dataset.sources import ImageSource, as_source, digest
from engine.dataset.state import LayerStats, ScanState, top_images, update_stats
from engine.images.convert import ImageError, convert_image, shown_name
from engine.models.surgery import find_layer, layer_output, model_input_tensor, outer_input_tensor
from engine.optvis.atlas_cache import cache_root, weights_fingerprint
from engine.protocol import LayerPath

BATCH_SIZE = 64
SAVE_EVERY = 8  # batches between saves of a running scan
FREE_SIDE = 224  # images for a model with a free input size are batched at this size
_DECODE_WORKERS = min(8, os.cpu_count() or 1)


def _conv_layers(model, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths of every layer with a 4-D output, inside nested sub-models too, in model order."""
    import keras

    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model):
            found.extend(_conv_layers(layer, (*prefix, layer.name)))
            continue
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):
            continue
        if len(shape) == 4:
            found.append((*prefix, layer.name))
    return found


def extractor(model, paths: Sequence[tuple[str, ...]]):
    """One keras.Model from `model`'s input to the outputs of all `paths`, in that order.

    Layers inside a nested sub-model are reached by cutting the sub-model the same way and
    calling it on the tensor that feeds it, as `surgery.truncate` does for one layer.
    """
    import keras

    for path in paths:
        find_layer(model, path)  # a clear error for a wrong name before any graph work
    model_input = model_input_tensor(model)
    heads = list(dict.fromkeys(path[0] for path in paths))
    ends: list[keras.KerasTensor] = []
    nested = {}
    for head_name in heads:
        head = model.get_layer(head_name)
        inner = [path[1:] for path in paths if path[0] == head_name and len(path) > 1]
        if inner:
            nested[head_name] = (extractor(head, inner), len(ends))
            ends.append(outer_input_tensor(model, head))
        if any(path == (head_name,) for path in paths):
            ends.append(layer_output(model, head))
    x = keras.Input(shape=model_input.shape[1:], dtype=model_input.dtype)
    trunk = keras.Model(model_input, ends)
    values = trunk(x)
    values = values if isinstance(values, list | tuple) else [values]
    by_path, position = {}, 0
    for head_name in heads:
        if head_name in nested:
            sub, _ = nested[head_name]
            outs = sub(values[position])
            outs = outs if isinstance(outs, list | tuple) else [outs]
            inner = [path for path in paths if path[0] == head_name and len(path) > 1]
            by_path.update(dict(zip(inner, outs, strict=True)))
            position += 1
        if (head_name,) in paths:
            by_path[(head_name,)] = values[position]
            position += 1
    return keras.Model(x, [by_path[tuple(path)] for path in paths], name=f"{model.name}_scan")


def scan_key(
    fingerprint: str, source: ImageSource, layers: Sequence[tuple[str, ...]], top_k: int
) -> str:
    """The cache key: model weights, folder, its files (sizes, times), layers and k."""
    layer_text = ",".join(str(LayerPath(layer)) for layer in layers)
    return digest([fingerprint, source.root, source.signature, layer_text, top_k])[:32]


def scans_dir() -> Path:
    """Where scans are cached: `scans` in convscope's cache folder ($CONVSCOPE_CACHE_DIR too)."""
    return cache_root() / "scans"


class Scanner:
    """Scans image sources with one model: one forward pass per batch for all chosen layers."""

    def __init__(
        self,
        model,
        input_shape: tuple[int | None, int | None, int],
        input_range: tuple[float, float],
        layers: Sequence[tuple[str, ...] | str] | None = None,
        top_k: int = 9,
        *,
        batch_size: int = BATCH_SIZE,
        save_every: int = SAVE_EVERY,
        cache: str | Path | bool | None = True,
    ) -> None:
        import tensorflow as tf

        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        paths = _conv_layers(model) if layers is None else layers
        self.layers = tuple(tuple(p.split("/")) if isinstance(p, str) else tuple(p) for p in paths)
        if not self.layers:
            raise ValueError(f"model {model.name!r} has no layers with 4-D outputs to scan")
        height, width, channels = input_shape
        self.model = model
        self.input_shape = (height or FREE_SIDE, width or FREE_SIDE, channels)
        low, high = input_range
        self.input_range = (low, high)
        self.top_k, self.batch_size, self.save_every = top_k, batch_size, save_every
        self.cache_folder = scans_dir() if cache is True else (Path(cache) if cache else None)
        self.fingerprint = weights_fingerprint([w.numpy() for w in model.weights])
        self.extractor = extractor(model, self.layers)
        for layer, tensor in zip(self.layers, self.extractor.outputs, strict=True):
            if len(tensor.shape) != 4:
                raise ValueError(
                    f"layer {str(LayerPath(layer))!r} has output shape {tensor.shape}, expected 4-D"
                )
        # No autograph: Python branches only (engine/optvis/program.py says why it matters).
        self._reduce = tf.function(self._reductions, reduce_retracing=True, autograph=False)

    def _reductions(self, batch):
        import tensorflow as tf

        outputs = self.extractor(batch, training=False)
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        reduced = []
        for maps in outputs:
            maps = tf.cast(maps, tf.float32)
            reduced.append(
                {
                    "l2": tf.sqrt(tf.reduce_sum(tf.square(maps), axis=(1, 2))),
                    "max": tf.reduce_max(maps, axis=(1, 2)),
                    "mean": tf.reduce_mean(maps, axis=(1, 2)),
                }
            )
        return reduced

    def new_state(self, source: ImageSource) -> ScanState:
        key = scan_key(self.fingerprint, source, self.layers, self.top_k)
        stats = {
            layer: LayerStats.empty(int(tensor.shape[-1]), self.top_k)
            for layer, tensor in zip(self.layers, self.extractor.outputs, strict=True)
        }
        done = np.zeros(len(source.names), bool)
        return ScanState(
            key,
            source.root,
            source.names,
            self.layers,
            self.top_k,
            self.fingerprint,
            done,
            0,
            {},
            stats,
        )

    def cached(self, source: ImageSource) -> ScanState | None:
        """The saved (maybe partial) state of scanning `source` with this model, or None."""
        if self.cache_folder is None:
            return None
        key = scan_key(self.fingerprint, source, self.layers, self.top_k)
        try:
            state = ScanState.load(self.cache_folder / f"{key}.npz")
        except (OSError, KeyError, ValueError):
            return None
        return state if state.key == key and state.names == source.names else None

    def _save(self, state: ScanState) -> None:
        if self.cache_folder is None:
            return
        try:
            state.save(self.cache_folder / f"{state.key}.npz")
            summary = {
                "root": state.root,
                "images": len(state.names),
                "count": state.count,
                "skipped": len(state.skipped),
                "complete": state.complete,
            }
            temporary = self.cache_folder / f"{state.key}.json.tmp"
            temporary.write_text(json.dumps(summary), encoding="utf-8")
            os.replace(temporary, self.cache_folder / f"{state.key}.json")
        except OSError:
            pass  # a cache that cannot be written costs a rescan, not the scan

    def _decode(self, source: ImageSource, name: str) -> np.ndarray | str:
        """The image as model input, or why it cannot be used."""
        try:
            return convert_image(source.open(name), self.input_shape, self.input_range).pixels
        except ImageError as error:
            return str(error)
        except Exception as error:  # a decoder bug on one odd file must not end the scan
            return f"{shown_name(name)} could not be read ({type(error).__name__}: {error})"

    def scan(
        self,
        source: ImageSource | str | Path | Sequence[str | Path],
        should_stop: Callable[[], bool] = lambda: False,
        progress: Callable[[int, int, int], None] | None = None,
    ) -> ScanState:
        """Scan every image of `source` not yet in its cached state; returns the state.

        `should_stop` is asked between batches; a stopped scan is saved and resumes later.
        `progress(done, total, skipped)` is called after every batch.
        """
        source = as_source(source)
        state = self.cached(source) or self.new_state(source)
        todo = [int(i) for i in np.flatnonzero(~state.done)]
        total = len(state.names)
        batches = [todo[i : i + self.batch_size] for i in range(0, len(todo), self.batch_size)]
        with ThreadPoolExecutor(_DECODE_WORKERS) as pool:

            def submit(batch):
                return [pool.submit(self._decode, source, state.names[i]) for i in batch]

            pending = submit(batches[0]) if batches else []
            for number, batch in enumerate(batches):
                if should_stop():
                    break
                decoded = [future.result() for future in pending]
                # The next batch decodes while this one runs through the model.
                pending = submit(batches[number + 1]) if number + 1 < len(batches) else []
                self._fold(state, batch, decoded)
                if progress is not None:
                    progress(int(state.done.sum()), total, len(state.skipped))
                if (number + 1) % self.save_every == 0:
                    self._save(state)
            for future in pending:
                future.cancel()
        self._save(state)
        return state

    def _fold(self, state: ScanState, batch: list[int], decoded: list) -> None:
        pairs = list(zip(batch, decoded, strict=True))
        good = [(i, pixels) for i, pixels in pairs if not isinstance(pixels, str)]
        for i, reason in pairs:
            if isinstance(reason, str):
                state.skipped[state.names[i]] = reason
        if good:
            pixels = np.stack([p for _, p in good])
            if len(good) < self.batch_size:  # a fixed batch shape: the function never retraces
                pad = np.zeros((self.batch_size - len(good), *pixels.shape[1:]), np.float32)
                pixels = np.concatenate([pixels, pad])
            reduced = self._reduce(pixels)
            indices = np.array([i for i, _ in good], np.int64)
            for layer, values in zip(self.layers, reduced, strict=True):
                values = {name: v.numpy()[: len(good)] for name, v in values.items()}
                update_stats(state.stats[layer], values, indices, self.top_k)
            state.count += len(good)
        state.done[batch] = True

    def maps(
        self, source: ImageSource, names: Sequence[str], layer: tuple[str, ...], unit: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(k, H, W, C) display images in [0, 1] and (k, h, w) maps of `unit` at `layer`."""
        converted = [
            convert_image(source.open(n), self.input_shape, self.input_range) for n in names
        ]
        if not converted:
            return np.zeros((0, *self.input_shape), np.float32), np.zeros((0, 0, 0), np.float32)
        position = self.layers.index(tuple(layer))
        outputs = self.extractor(np.stack([c.pixels for c in converted]), training=False)
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        maps = np.array(outputs[position][..., unit], dtype=np.float32)
        return np.stack([c.display for c in converted]), maps


def top_image_maps(
    scanner: Scanner,
    source: ImageSource,
    state: ScanState,
    layer: tuple[str, ...],
    unit: int,
    rank_by: str = "l2",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]:
    """For `TopImages`: (images, maps, scores, names) of a channel's top images."""
    paths, scores = top_images(state, layer, unit, rank_by)
    names = tuple(path.relative_to(state.root).as_posix() for path in paths)
    images, maps = scanner.maps(source, names, tuple(layer), unit)
    return images, maps, scores, names
