"""What a scan keeps for every layer and channel, and how the states of shards combine.

Per channel: the top-k images by the L2 norm of its map, by its maximum and by its mean, the
running mean and max, and how often it fires. Plain numpy; `merge_states` makes the states of
disjoint shards of one folder equal one scan of all its files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.dataset.sources import digest
from engine.protocol import LayerPath

RANKINGS = ("l2", "max", "mean")


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
            "layers": [str(LayerPath(lay)) for lay in self.layers],
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


def top_images(
    state: ScanState, layer: tuple[str, ...] | str, unit: int, rank_by: str = "l2"
) -> tuple[list[Path], np.ndarray]:
    """The best images of one channel, best first, and their scores."""
    layer = tuple(layer.split("/")) if isinstance(layer, str) else tuple(layer)
    if layer not in state.stats:
        known = ", ".join(str(LayerPath(lay)) for lay in state.layers)
        raise ValueError(f"layer {str(LayerPath(layer))!r} was not scanned; scanned: {known}")
    if rank_by not in RANKINGS:
        raise ValueError(f"rank_by {rank_by!r}: expected one of {', '.join(RANKINGS)}")
    scores, indices = state.stats[layer].top[rank_by]
    if not 0 <= unit < scores.shape[0]:
        raise ValueError(
            f"layer {str(LayerPath(layer))!r} has {scores.shape[0]} channels, no #{unit}"
        )
    found = indices[unit] >= 0
    paths = [Path(state.root) / state.names[i] for i in indices[unit][found]]
    return paths, scores[unit][found].copy()


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
