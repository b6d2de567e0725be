"""Attribution maps made visible: colormaps, overlays on the image and LIME's outlines.

Plain numpy (and PIL for resizing) so every picture can be checked without a window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gui.common.imaging import apply_colormap, to_rgb8, upscale_nearest

# Colormaps offered for maps that only go up; signed maps always use DIVERGING.
HEATMAP_COLORMAPS = ("jet", "inferno", "viridis")
DIVERGING = "red-white-blue"
# ColorBrewer RdBu's ends and middle: negative blue, zero white, positive red.
_BLUE, _WHITE, _RED = (33, 102, 172), (247, 247, 247), (178, 24, 43)
OUTLINE_FOR = (0, 220, 60)  # LIME's superpixels that speak for the class
# and those against it: blue like the fill of negative evidence, never red, which means "for"
OUTLINE_AGAINST = (0, 110, 255)
OUTLINE_SUPERPIXELS = (255, 230, 0)  # every superpixel's boundary, for the plain plot
# Legend words for the colours above, so the caption can never disagree with the picture.
LEGEND_SIGNED = "red for, blue against"
LEGEND_OUTLINES = "outlined: green strongest for, blue strongest against"
COLORBAR_WIDTH = 16  # the bar itself, in pixels, before its labels
_BAR_PAPER, _BAR_INK = (255, 255, 255), (0, 0, 0)


@dataclass(frozen=True)
class HeatmapStyle:
    """How an explanation is drawn: heatmap opacity over the image, colormap, or the map alone."""

    opacity: float = 0.5
    colormap: str = "jet"
    alone: bool = False
    superpixels: bool = False  # LIME: every superpixel's boundary instead of the map
    on_photo: bool = False  # over the original photo at its own geometry, when there is one


@lru_cache(maxsize=4)
def _table(name: str) -> np.ndarray:
    """A (256, 3) uint8 lookup table; jet and the diverging map are made here, not looked up."""
    x = np.linspace(0.0, 1.0, 256)
    if name == "jet":
        channels = [np.clip(1.5 - np.abs(4.0 * x - c), 0.0, 1.0) for c in (3.0, 2.0, 1.0)]
        table = (np.stack(channels, axis=1) * 255.0 + 0.5).astype(np.uint8)
    elif name == DIVERGING:
        t = np.abs(2.0 * x - 1.0)[:, None]  # 0 in the middle (value 0), 1 at both ends
        ends = np.where((x < 0.5)[:, None], np.array(_BLUE, float), np.array(_RED, float))
        table = (np.array(_WHITE, float) * (1.0 - t) + ends * t + 0.5).astype(np.uint8)
    else:
        return apply_colormap(x[None, :], name)[0]
    table.setflags(write=False)
    return table


def normalize_heatmap(heatmap: np.ndarray, signed: bool) -> np.ndarray:
    """Raw values to [0, 1]: min to max for plain maps; signed maps keep 0 at 0.5, the largest
    magnitude at an end, so equal colours mean equal evidence on both sides."""
    values = np.nan_to_num(np.asarray(heatmap, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if signed:
        scale = float(np.max(np.abs(values))) if values.size else 0.0
        return (0.5 + 0.5 * values / scale if scale > 0 else np.full_like(values, 0.5)).astype(
            np.float32
        )
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if high <= low:
        return np.zeros_like(values, dtype=np.float32)
    return ((values - low) / (high - low)).astype(np.float32)


def colorize(heatmap: np.ndarray, signed: bool, colormap: str = "jet") -> np.ndarray:
    """An (H, W) raw map as (H, W, 3) uint8; signed maps ignore `colormap` for DIVERGING."""
    heatmap = np.asarray(heatmap)
    if heatmap.ndim != 2:
        raise ValueError(f"a heatmap must be (H, W), got shape {heatmap.shape}")
    levels = normalize_heatmap(heatmap, signed)
    table = _table(DIVERGING if signed else colormap)
    return np.ascontiguousarray(table[(levels * 255.0 + 0.5).astype(np.uint8)])


def diverging(values: np.ndarray, scale: float) -> np.ndarray:
    """(H, W) values as (H, W, 3) uint8 red-white-blue, white at 0 and `scale` (a magnitude
    shared by several maps, so their colours compare) at the ends."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float64))
    levels = 0.5 + 0.5 * values / scale if scale > 0 else np.full_like(values, 0.5)
    table = _table(DIVERGING)
    return np.ascontiguousarray(table[(np.clip(levels, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)])


def fit_to(heatmap: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """`heatmap` at (H, W) = `shape`; bilinear when the engine sent another size."""
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.shape == tuple(shape):
        return heatmap
    picture = Image.fromarray(heatmap, mode="F")
    return np.asarray(picture.resize((shape[1], shape[0]), Image.Resampling.BILINEAR))


def render(
    image: np.ndarray,
    heatmap: np.ndarray,
    signed: bool,
    style: HeatmapStyle,
    details: dict | None = None,
    min_side: int = 0,
) -> np.ndarray:
    """The explanation as (h, w, 3) uint8: the colored map blended over `image` ((H, W, C) in
    [0, 1]) with `style.opacity` (for signed maps, times the square root of the magnitude, so
    zero leaves the image as it is), or alone; enlarged with square pixels so the short side is
    >= `min_side`, then LIME's top superpixels outlined when `details` names them. With
    `style.superpixels` (and details holding LIME's segments) the image is drawn plain with
    every superpixel's boundary instead."""
    base = to_rgb8(image)
    if style.superpixels and details and details.get("segments") is not None:
        out = upscale_nearest(base, min_side) if min_side > 0 else base
        return draw_superpixel_boundaries(out, base.shape[:2], np.asarray(details["segments"]))
    colors = colorize(fit_to(heatmap, base.shape[:2]), signed, style.colormap)
    if style.alone:
        out = colors
    else:
        alpha = np.full((*base.shape[:2], 1), float(np.clip(style.opacity, 0.0, 1.0)))
        if signed:
            # White means no evidence: it should leave the image alone, not wash it out.
            levels = normalize_heatmap(fit_to(heatmap, base.shape[:2]), True)
            alpha *= np.sqrt(np.abs(2.0 * levels - 1.0))[:, :, None]
        blend = base.astype(np.float32) * (1.0 - alpha) + colors.astype(np.float32) * alpha
        out = (blend + 0.5).astype(np.uint8)
    out = upscale_nearest(out, min_side) if min_side > 0 else out
    return draw_superpixel_outlines(out, base.shape[:2], details or {})


def value_range(heatmap: np.ndarray, signed: bool) -> tuple[float, float]:
    """The raw values the colours span: (min, max), or (-m, m) with m the largest magnitude
    for a signed map (white at zero); NaN and infinities are left out."""
    values = np.asarray(heatmap, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 0.0
    if signed:
        scale = float(np.abs(finite).max())
        return -scale, scale
    return float(finite.min()), float(finite.max())


def colorbar(heatmap: np.ndarray, signed: bool, colormap: str, height: int) -> np.ndarray:
    """A (height, w, 3) uint8 strip: the colours from the map's top value (top) to its lowest,
    labelled with the raw values they stand for (0 in the middle of a signed map's bar)."""
    low, high = value_range(heatmap, signed)
    table = _table(DIVERGING if signed else colormap)
    levels = np.linspace(255, 0, max(height, 2)).round().astype(np.int64)
    bar = np.repeat(table[levels][:, None, :], COLORBAR_WIDTH, axis=1)
    font = ImageFont.load_default()
    labels = [(0, high), (height - 1, low)]
    if signed:
        labels.insert(1, ((height - 1) // 2, 0.0))
    texts = [(row, f"{value:.3g}") for row, value in labels]
    text_width = max(int(font.getlength(text)) for _, text in texts) + 8
    paper = Image.new("RGB", (COLORBAR_WIDTH + 4 + text_width, height), _BAR_PAPER)
    paper.paste(Image.fromarray(np.ascontiguousarray(bar)), (4, 0))
    draw = ImageDraw.Draw(paper)
    for row, text in texts:
        top = int(np.clip(row - 6, 0, max(0, height - 12)))
        draw.text((COLORBAR_WIDTH + 8, top), text, fill=_BAR_INK, font=font)
    return np.asarray(paper)


def with_colorbar(picture: np.ndarray, heatmap: np.ndarray, signed: bool, colormap: str):
    """`picture` with the map's colorbar on its right, as one (h, w', 3) uint8 picture."""
    strip = colorbar(heatmap, signed, colormap, picture.shape[0])
    return np.ascontiguousarray(np.concatenate([picture, strip], axis=1))


def draw_superpixel_boundaries(
    rgb8: np.ndarray, image_shape: tuple[int, int], segments: np.ndarray
) -> np.ndarray:
    """Every superpixel's boundary in OUTLINE_SUPERPIXELS on `rgb8` (the image enlarged by a
    whole factor): the plain superpixel plot, to judge the segmentation LIME worked with."""
    if segments.ndim != 2:
        return rgb8
    segments = _segments_at(segments, image_shape)
    factor = max(1, rgb8.shape[0] // image_shape[0])
    big = np.repeat(np.repeat(segments, factor, axis=0), factor, axis=1)
    edge = np.zeros_like(big, dtype=bool)
    edge[:-1, :] |= big[:-1, :] != big[1:, :]
    edge[:, :-1] |= big[:, :-1] != big[:, 1:]
    out = rgb8.copy()
    out[: edge.shape[0], : edge.shape[1]][edge] = OUTLINE_SUPERPIXELS
    return out


def draw_superpixel_outlines(
    rgb8: np.ndarray, image_shape: tuple[int, int], details: dict
) -> np.ndarray:
    """Outline details['top_positive'] superpixels of details['segments'] in green and
    details['top_negative'] in blue, on `rgb8` (the image enlarged by a whole factor)."""
    segments = details.get("segments")
    if segments is None:
        return rgb8
    segments = np.asarray(segments)
    if segments.ndim != 2:
        return rgb8
    segments = _segments_at(segments, image_shape)
    factor = rgb8.shape[0] // image_shape[0]
    big = np.repeat(np.repeat(segments, factor, axis=0), factor, axis=1)
    out = rgb8.copy()
    width = max(1, math.ceil(factor / 5))  # about a fifth of an image pixel, at least one
    for key, color in (("top_negative", OUTLINE_AGAINST), ("top_positive", OUTLINE_FOR)):
        chosen = np.asarray(details.get(key, ()), dtype=np.int64).ravel()
        if chosen.size == 0:
            continue
        edge = _edge(np.isin(big, chosen), width)
        out[: edge.shape[0], : edge.shape[1]][edge] = color
    return out


def _segments_at(segments: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Superpixel ids at another (H, W), nearest neighbour (the photo behind a model input)."""
    if segments.shape == tuple(shape):
        return segments
    rows = (np.arange(shape[0]) * segments.shape[0]) // shape[0]
    cols = (np.arange(shape[1]) * segments.shape[1]) // shape[1]
    return segments[rows][:, cols]


def _edge(mask: np.ndarray, width: int) -> np.ndarray:
    """The pixels of `mask` within `width` of its border (the picture's border included)."""
    inside = mask.copy()
    for _ in range(width):
        padded = np.pad(inside, 1, constant_values=False)
        inside = (
            padded[1:-1, 1:-1]
            & padded[:-2, 1:-1]
            & padded[2:, 1:-1]
            & padded[1:-1, :-2]
            & padded[1:-1, 2:]
        )
    return mask & ~inside
