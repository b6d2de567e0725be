"""Per-channel numbers of one layer for the current image: what the grid sorts by and tells."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SORT_KEYS = ("channel", "max activation", "mean activation")


@dataclass(frozen=True)
class ChannelStats:
    """One value per channel (or Dense unit): its largest and mean activation and the fraction
    of its positions above zero."""

    maximum: np.ndarray
    mean: np.ndarray
    positive: np.ndarray

    def __len__(self) -> int:
        return int(self.maximum.size)


def channel_stats(maps: np.ndarray) -> ChannelStats:
    """Statistics of (H, W, C) channel maps or (units,) Dense values."""
    maps = np.nan_to_num(np.asarray(maps, dtype=np.float64))
    if maps.ndim == 1:
        flat = maps[None, :]
    elif maps.ndim == 3:
        flat = maps.reshape(-1, maps.shape[2])
    else:
        raise ValueError(f"feature maps must be (H, W, C) or (units,), got shape {maps.shape}")
    return ChannelStats(flat.max(axis=0), flat.mean(axis=0), (flat > 0).mean(axis=0))


def sort_order(stats: ChannelStats | None, key: str, count: int) -> list[int]:
    """Units in display order for `key` (one of SORT_KEYS): by number, or by value descending
    (ties keep channel order). Without statistics, channel order."""
    if key not in SORT_KEYS:
        raise ValueError(f"unknown sort key {key!r}; known: {', '.join(SORT_KEYS)}")
    if stats is None or key == "channel" or len(stats) != count:
        return list(range(count))
    values = stats.maximum if key == "max activation" else stats.mean
    return [int(k) for k in np.argsort(-values, kind="stable")]


def stats_text(stats: ChannelStats, unit: int) -> str:
    """'max 3.21 · mean 0.456 · 37% positive' for a tooltip."""
    return (
        f"max {stats.maximum[unit]:.3g} · mean {stats.mean[unit]:.3g} · "
        f"{stats.positive[unit]:.0%} positive"
    )
