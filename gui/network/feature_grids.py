"""A layer's activations as one picture: thumbnails in rows, bars for Dense units, export grids.

Plain numpy: each layer becomes a single array, so a VGG-size walk paints in milliseconds
rather than building a widget per channel. An exported grid carries a colorbar strip under it
saying which values its colours stand for.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gui.common.heatmaps import value_range
from gui.common.imaging import apply_colormap, normalize_per_channel

GAP = 2
GAP_GREY = 90
BAR_HEIGHT = 44
_BAR_COLOR = np.array((70, 130, 200), np.uint8)
_NEGATIVE_COLOR = np.array((220, 120, 40), np.uint8)
_HIGHLIGHT = np.array((230, 40, 40), np.uint8)
STRIP_BAR = 12  # the colorbar's height in an exported grid
STRIP_MIN_WIDTH = 240  # room for its labels under a narrow grid (ten Dense units)
_PAPER, _INK = (255, 255, 255), (0, 0, 0)
_MARGIN = 6


def sample_square(maps: np.ndarray, side: int) -> np.ndarray:
    """(H, W, C) maps at (side, side, C), nearest pixel: small maps stay crisp squares."""
    height, width = maps.shape[:2]
    rows = ((np.arange(side) + 0.5) * height / side).astype(int)
    cols = ((np.arange(side) + 0.5) * width / side).astype(int)
    return maps[rows][:, cols]


def tile_grid(
    tiles: np.ndarray,
    columns: int,
    gap: int = GAP,
    background: tuple[int, int, int] | int = GAP_GREY,
) -> np.ndarray:
    """(N, h, w, 3) uint8 tiles laid out `columns` to a line, `gap` pixels of `background`
    between them (and in the empty cells of the last line)."""
    count, height, width = tiles.shape[:3]
    columns = max(1, min(columns, count))
    lines = math.ceil(count / columns)
    out = np.empty((lines * (height + gap) - gap, columns * (width + gap) - gap, 3), np.uint8)
    out[:] = background
    for k in range(count):
        top, left = (k // columns) * (height + gap), (k % columns) * (width + gap)
        out[top : top + height, left : left + width] = tiles[k]
    return out


def channel_thumbnails(maps: np.ndarray, side: int, limit: int | None = None) -> np.ndarray:
    """(N, side, side, 3) uint8: the first `limit` channels of (H, W, C) raw maps, each scaled
    to its own range, in viridis."""
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(f"channel maps must be (H, W, C), got shape {maps.shape}")
    chosen = maps[:, :, : maps.shape[2] if limit is None else limit]
    small = normalize_per_channel(sample_square(chosen, side))
    colored = apply_colormap(np.moveaxis(small, 2, 0).reshape(-1, side), "viridis")
    return colored.reshape(small.shape[2], side, side, 3)


def unit_bars(
    values: np.ndarray,
    bar_width: int,
    height: int = BAR_HEIGHT,
    highlight: int | None = None,
    scale: float | None = None,
    signed: bool | None = None,
) -> np.ndarray:
    """(height, N * (bar_width + 1) - 1, 3) uint8 bars of Dense values, scaled to the largest
    magnitude (or `scale`); with negatives (or `signed`) they hang below a middle line in
    orange; `highlight` is drawn red."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float64).ravel())
    if scale is None:
        scale = float(np.max(np.abs(values))) if values.size else 0.0
    if signed is None:
        signed = bool(values.size) and float(values.min()) < 0
    base = height // 2 if signed else height - 1
    room = base if signed else height - 1
    out = np.full((height, max(1, values.size * (bar_width + 1) - 1), 3), 245, np.uint8)
    for k, value in enumerate(values):
        length = round(room * abs(value) / scale) if scale > 0 else 0
        left = k * (bar_width + 1)
        color = _HIGHLIGHT if k == highlight else _BAR_COLOR if value >= 0 else _NEGATIVE_COLOR
        top, bottom = (base - length, base + 1) if value >= 0 else (base, base + length + 1)
        out[max(top, 0) : bottom, left : left + bar_width] = color
    return out


def cell_at(
    x: int, y: int, cell_width: int, cell_height: int, columns: int, gap_x: int = GAP
) -> int | None:
    """The index of the cell under (x, y) in a grid of `columns` cells a line, or None in a gap."""
    column, dx = divmod(x, cell_width + gap_x)
    line, dy = divmod(y, cell_height + GAP)
    if x < 0 or y < 0 or dx >= cell_width or dy >= cell_height or column >= columns:
        return None
    return line * columns + column


def layer_grid(maps: np.ndarray, tile_min: int = 48) -> np.ndarray:
    """Every channel of one layer as one (h, w, 3) uint8 picture for export.

    Channel maps are each scaled to their own range and enlarged by a whole factor to at least
    `tile_min` px; Dense units become squares scaled over the whole layer.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim == 1:
        span = float(maps.max() - maps.min()) if maps.size else 0.0
        levels = (maps - maps.min()) / span if span > 0 else np.zeros_like(maps)
        squares = apply_colormap(levels[None, :], "viridis")[0]
        tiles = np.broadcast_to(squares[:, None, None, :], (maps.size, 16, 16, 3))
        return tile_grid(np.ascontiguousarray(tiles), math.ceil(math.sqrt(maps.size)))
    if maps.ndim != 3:
        raise ValueError(f"feature maps must be (H, W, C) or (units,), got shape {maps.shape}")
    factor = max(1, math.ceil(tile_min / max(1, min(maps.shape[:2]))))
    levels = normalize_per_channel(maps)
    big = np.repeat(np.repeat(levels, factor, axis=0), factor, axis=1)
    height, width, channels = big.shape
    colored = apply_colormap(np.moveaxis(big, 2, 0).reshape(-1, width), "viridis")
    tiles = colored.reshape(channels, height, width, 3)
    return tile_grid(tiles, math.ceil(math.sqrt(channels)))


def strip_labels(maps: np.ndarray) -> tuple[list[tuple[float, str]], str]:
    """What the colorbar under `maps`' grid says: (place along it in [0, 1], text) for its ends
    (and zero when the values change sign), and a caption line.

    Dense units share one scale, so the ends are the layer's values. Channel maps are each
    scaled to their own range (see `normalize_per_channel`), so one number per end would lie:
    the ends say so and the caption gives the layer's range instead.
    """
    low, high = value_range(maps, signed=False)
    if np.asarray(maps).ndim != 1:
        caption = f"each map from its own min to its max; layer values {low:.3g} to {high:.3g}"
        return [(0.0, "map min"), (1.0, "map max")], caption
    labels = [(0.0, f"{low:.3g}"), (1.0, f"{high:.3g}")]
    if low < 0.0 < high:
        labels.append((-low / (high - low), "0"))
    return labels, "one scale for all units"


def colorbar_strip(width: int, maps: np.ndarray) -> np.ndarray:
    """A (h, width', 3) uint8 strip: viridis from low (left) to high, `strip_labels` under it;
    `width'` is `width` or wider when the caption needs it."""
    labels, caption = strip_labels(maps)
    font = ImageFont.load_default()
    width = max(width, STRIP_MIN_WIDTH, int(font.getlength(caption)) + 2 * _MARGIN)
    bar_width = width - 2 * _MARGIN
    gradient = apply_colormap(np.linspace(0.0, 1.0, bar_width)[None, :], "viridis")
    line = 14
    paper = Image.new("RGB", (width, _MARGIN + STRIP_BAR + 2 * line + 4), _PAPER)
    paper.paste(Image.fromarray(np.repeat(gradient, STRIP_BAR, axis=0)), (_MARGIN, _MARGIN))
    draw = ImageDraw.Draw(paper)
    top = _MARGIN + STRIP_BAR
    for place, text in labels:
        x = _MARGIN + round(place * (bar_width - 1))
        draw.line([(x, top), (x, top + 3)], fill=_INK)
        text_width = font.getlength(text)
        left = int(np.clip(x - text_width / 2, 0, width - text_width))
        draw.text((left, top + 3), text, fill=_INK, font=font)
    draw.text((_MARGIN, top + 3 + line), caption, fill=_INK, font=font)
    return np.asarray(paper)


def export_picture(maps: np.ndarray) -> np.ndarray:
    """`layer_grid(maps)` with its colorbar strip under it, as one (h, w, 3) uint8 picture."""
    grid = layer_grid(maps)
    strip = colorbar_strip(grid.shape[1], maps)
    width = strip.shape[1]
    out = np.full((grid.shape[0] + strip.shape[0], width, 3), _PAPER, np.uint8)
    out[: grid.shape[0], : grid.shape[1]] = grid
    out[grid.shape[0] :] = strip
    return out


def file_stem(path: tuple[str, ...]) -> str:
    """A file name for a layer path: 'block-conv2'; characters a file system dislikes become _."""
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", "-".join(path)) or "layer"


def write_layer_grids(maps: dict[tuple[str, ...], np.ndarray], folder: str | Path) -> list[Path]:
    """One PNG per layer, '<layer>.png', each a grid of its channel maps over a colorbar;
    returns the paths."""
    folder = Path(folder)
    written = []
    for path, values in maps.items():
        target = folder / f"{file_stem(path)}.png"
        Image.fromarray(export_picture(values), "RGB").save(target, format="PNG")
        written.append(target)
    return written
