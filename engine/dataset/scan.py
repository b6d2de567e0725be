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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.dataset.sources import ImageSource, as_source, digest
from engine.images.convert import ImageError, convert_image
from engine.models.surgery import find_layer, layer_output, model_input_tensor, outer_input_tensor
from engine.optvis.atlas_cache import cache_dir, weights_fingerprint

BATCH_SIZE = 64
SAVE_EVERY = 8  # batches between saves of a running scan
FREE_SIDE = 224  # images for a model with a free input size are batched at this size
RANKINGS = ("l2", "max")
_DECODE_WORKERS = min(8, os.cpu_count() or 1)


@dataclass
class LayerStats:
    """Running statistics of one layer's channels over the images scanned so far."""

    mean_sum: np.ndarray  # (C,) float64: sum over images of the channel's mean activation
    max: np.ndarray  # (C,) float32, -inf before the first image
    fired: np.ndarray  # (C,) int64: images on which the channel's max is above zero
    top: dict[str, tuple[np.ndarray, np.ndarray]]  # rank_by -> ((C, k) scores, (C, k) indices)

    @classmethod
    def empty(cls, channels: int, top_k: int) -> LayerStats:
        top = {
            rank: (np.full((channels, top_k), -np.inf, np.float32), np.full((channels, top_k), -1))
            for rank in RANKINGS
        }
        return cls(
            np.zeros(channels), np.full(channels, -np.inf, np.float32), np.zeros(channels, int), top
        )


@dataclass
class ScanState:
    """Everything a scan knows; `done[i]` says whether `names[i]` has been looked at."""

    key: str
    root: str
    names: tuple[str, ...]
    layers: tuple[tuple[str, ...], ...]
    top_k: int
    fingerprint: str
    done: np.ndarray  # (N,) bool
    count: int  # images that went through the model (done and not skipped)
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why
    stats: dict[tuple[str, ...], LayerStats] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return bool(self.done.all())

    def fire_fraction(self, layer: tuple[str, ...]) -> np.ndarray:
        return self.stats[tuple(layer)].fired / max(self.count, 1)

    def mean(self, layer: tuple[str, ...]) -> np.ndarray:
        return self.stats[tuple(layer)].mean_sum / max(self.count, 1)

    def save(self, path: str | Path) -> None:
        """Write the state to one .npz, atomically (a temporary file renamed over it)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "key": self.key,
            "root": self.root,
            "names": list(self.names),
            "layers": ["/".join(lay) for lay in self.layers],
            "top_k": self.top_k,
            "fingerprint": self.fingerprint,
            "count": self.count,
            "skipped": self.skipped,
        }
        arrays = {"meta": np.array(json.dumps(meta)), "done": self.done}
        for i, layer in enumerate(self.layers):
            stats = self.stats[layer]
            arrays.update({f"{i}_mean_sum": stats.mean_sum, f"{i}_max": stats.max})
            arrays[f"{i}_fired"] = stats.fired
            for rank, (scores, indices) in stats.top.items():
                arrays.update({f"{i}_{rank}_scores": scores, f"{i}_{rank}_indices": indices})
        temporary = path.with_name(path.name + ".tmp.npz")
        # allow_pickle by name (its default): mypy would match the arrays' names against it.
        np.savez(temporary, allow_pickle=True, **arrays)
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: str | Path) -> ScanState:
        """A state saved by `save`; OSError/KeyError/ValueError for a missing or damaged file."""
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            layers = tuple(tuple(text.split("/")) for text in meta["layers"])
            stats = {}
            for i, layer in enumerate(layers):
                top = {r: (data[f"{i}_{r}_scores"], data[f"{i}_{r}_indices"]) for r in RANKINGS}
                stats[layer] = LayerStats(
                    data[f"{i}_mean_sum"], data[f"{i}_max"], data[f"{i}_fired"], top
                )
            return cls(
                meta["key"],
                meta["root"],
                tuple(meta["names"]),
                layers,
                meta["top_k"],
                meta["fingerprint"],
                data["done"],
                meta["count"],
                meta["skipped"],
                stats,
            )


def merge_top(scores: np.ndarray, indices: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """The top-k of (C, n) candidates per row: highest score first, ties to the lower index.

    The tie rule makes the result independent of the order images arrive in (ReLU maps tie at
    zero all the time), so a resumed or sharded scan ends exactly where a single one does.
    """
    scores = np.where(indices < 0, -np.inf, scores)
    indices = np.where(indices < 0, np.iinfo(np.int64).max, indices)
    count = scores.shape[1]
    if count > 2 * top_k:  # most candidates cannot make it: keep those ≥ the k-th best, ties too
        cut = np.partition(scores, count - top_k, axis=1)[:, count - top_k]
        width = int((scores >= cut[:, None]).sum(axis=1).max())
        if width < count:
            keep = np.argpartition(-scores, width - 1, axis=1)[:, :width]
            scores = np.take_along_axis(scores, keep, axis=1)
            indices = np.take_along_axis(indices, keep, axis=1)
    by_index = np.argsort(indices, axis=1, kind="stable")
    scores = np.take_along_axis(scores, by_index, axis=1)
    indices = np.take_along_axis(indices, by_index, axis=1)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :top_k]
    best_scores = np.take_along_axis(scores, order, axis=1).astype(np.float32)
    best_indices = np.take_along_axis(indices, order, axis=1)
    best_indices = np.where(np.isfinite(best_scores), best_indices, -1)
    pad = top_k - best_scores.shape[1]
    if pad > 0:
        best_scores = np.pad(best_scores, ((0, 0), (0, pad)), constant_values=-np.inf)
        best_indices = np.pad(best_indices, ((0, 0), (0, pad)), constant_values=-1)
    return best_scores, best_indices


def update_stats(
    stats: LayerStats, reduced: dict[str, np.ndarray], indices: np.ndarray, top_k: int
) -> None:
    """Fold one batch's per-image (B, C) 'l2', 'max' and 'mean' into `stats`."""
    stats.mean_sum += reduced["mean"].astype(np.float64).sum(axis=0)
    stats.max = np.maximum(stats.max, reduced["max"].max(axis=0))
    stats.fired += (reduced["max"] > 0).sum(axis=0)
    batch_indices = np.broadcast_to(indices[None, :], (reduced["max"].shape[1], len(indices)))
    for rank in RANKINGS:
        scores, known = stats.top[rank]
        stats.top[rank] = merge_top(
            np.concatenate([scores, reduced[rank].T], axis=1),
            np.concatenate([known, batch_indices], axis=1),
            top_k,
        )


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
    layer_text = ",".join("/".join(layer) for layer in layers)
    return digest([fingerprint, source.root, source.signature, layer_text, top_k])[:32]


def scans_dir() -> Path:
    """Where scans are cached: beside the atlas cache."""
    return cache_dir().parent / "scans"


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
                    f"layer {'/'.join(layer)!r} has output shape {tensor.shape}, expected 4-D"
                )
        self._reduce = tf.function(self._reductions, reduce_retracing=True)

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
            return f"{name} could not be read ({type(error).__name__}: {error})"

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


def top_images(
    state: ScanState, layer: tuple[str, ...] | str, unit: int, rank_by: str = "l2"
) -> tuple[list[Path], np.ndarray]:
    """The best images of one channel, best first, and their scores."""
    layer = tuple(layer.split("/")) if isinstance(layer, str) else tuple(layer)
    if layer not in state.stats:
        known = ", ".join("/".join(lay) for lay in state.layers)
        raise ValueError(f"layer {'/'.join(layer)!r} was not scanned; scanned: {known}")
    if rank_by not in RANKINGS:
        raise ValueError(f"rank_by {rank_by!r}: expected one of {', '.join(RANKINGS)}")
    scores, indices = state.stats[layer].top[rank_by]
    if not 0 <= unit < scores.shape[0]:
        raise ValueError(f"layer {'/'.join(layer)!r} has {scores.shape[0]} channels, no #{unit}")
    found = indices[unit] >= 0
    paths = [Path(state.root) / state.names[i] for i in indices[unit][found]]
    return paths, scores[unit][found].copy()


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


def merge_states(states: Sequence[ScanState], key: str | None = None) -> ScanState:
    """One state from the states of disjoint shards of one folder scanned with one model.

    Top-k lists are re-merged over the union of the files (the same tie rule), means and fire
    counts add up by image counts, so the result equals a scan of all the files at once.
    """
    if not states:
        raise ValueError("no shard states to merge")
    first = states[0]
    for state in states[1:]:
        for what in ("root", "fingerprint", "layers", "top_k"):
            if getattr(state, what) != getattr(first, what):
                raise ValueError(
                    f"shards differ in {what}: {getattr(first, what)!r} vs {getattr(state, what)!r}"
                )
    names = sorted(name for state in states for name in state.names)
    if len(set(names)) != len(names):
        raise ValueError("shards overlap: some files were scanned by more than one shard")
    position = {name: i for i, name in enumerate(names)}
    stats = {}
    for layer in first.layers:
        parts = [state.stats[layer] for state in states]
        top = {}
        for rank in RANKINGS:
            scores = np.concatenate([p.top[rank][0] for p in parts], axis=1)
            remapped = [
                np.where(p.top[rank][1] >= 0, _remap(state, position)[p.top[rank][1]], -1)
                for p, state in zip(parts, states, strict=True)
            ]
            top[rank] = merge_top(scores, np.concatenate(remapped, axis=1), first.top_k)
        stats[layer] = LayerStats(
            np.sum([p.mean_sum for p in parts], axis=0),
            np.max([p.max for p in parts], axis=0),
            np.sum([p.fired for p in parts], axis=0),
            top,
        )
    done = np.zeros(len(names), bool)
    for state in states:
        done[_remap(state, position)[:-1]] = state.done
    skipped = {name: why for state in states for name, why in state.skipped.items()}
    return ScanState(
        key or digest(sorted(state.key for state in states))[:32],
        first.root,
        tuple(names),
        first.layers,
        first.top_k,
        first.fingerprint,
        done,
        sum(state.count for state in states),
        skipped,
        stats,
    )


def _remap(state: ScanState, position: dict[str, int]) -> np.ndarray:
    """Where each of `state`'s files sits in the merged list (-1 appended for 'none')."""
    return np.array([position[name] for name in state.names] + [-1], np.int64)
