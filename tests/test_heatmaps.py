"""The pictures of explanations and layers, as numpy: colormaps, overlays, outlines, grids."""

from __future__ import annotations

import numpy as np
import pytest

from gui.common.heatmaps import (
    OUTLINE_AGAINST,
    OUTLINE_FOR,
    OUTLINE_SUPERPIXELS,
    HeatmapStyle,
    colorize,
    fit_to,
    normalize_heatmap,
    render,
)
from gui.common.imaging import to_rgb8
from gui.layers.channel_stats import channel_stats, sort_order, stats_text
from gui.network.feature_grids import cell_at, channel_thumbnails, layer_grid, tile_grid, unit_bars


def test_signed_maps_keep_zero_white_in_the_middle_of_red_white_blue() -> None:
    values = np.array([[-2.0, 0.0, 4.0]], np.float32)
    np.testing.assert_allclose(normalize_heatmap(values, signed=True), [[0.25, 0.5, 1.0]])
    colors = colorize(values, signed=True, colormap="viridis")  # the colormap is not used
    blue, white, red = colors[0]
    assert white.min() >= 240  # zero is white
    assert red[0] > 150 and red[2] < 60  # the largest positive is red
    assert blue[2] > blue[0]  # negative is bluish, half as strong as the red
    assert blue.min() > colorize(np.array([[-4.0, 4.0]]), True)[0, 0].min()


def test_plain_maps_go_min_to_max_through_the_chosen_colormap() -> None:
    values = np.array([[1.0, 2.0, 3.0]], np.float32)
    np.testing.assert_allclose(normalize_heatmap(values, signed=False), [[0.0, 0.5, 1.0]])
    jet = colorize(values, signed=False, colormap="jet")
    assert jet[0, 0, 2] > 100 and jet[0, 0, 0] == 0  # jet starts blue
    assert jet[0, 2, 0] > 100 and jet[0, 2, 2] == 0  # and ends red
    assert not np.array_equal(jet, colorize(values, False, "inferno"))
    assert (normalize_heatmap(np.full((2, 2), 7.0), signed=False) == 0).all()  # flat: no NaN
    assert (normalize_heatmap(np.zeros((2, 2)), signed=True) == 0.5).all()


def test_render_blends_by_opacity_and_enlarges_with_square_pixels() -> None:
    image = np.zeros((8, 8, 1), np.float32)
    heatmap = np.arange(64, dtype=np.float32).reshape(8, 8)
    faint = render(image, heatmap, False, HeatmapStyle(opacity=0.2), min_side=256)
    strong = render(image, heatmap, False, HeatmapStyle(opacity=0.8), min_side=256)
    alone = render(image, heatmap, False, HeatmapStyle(alone=True))
    assert faint.shape == (256, 256, 3) and alone.shape == (8, 8, 3)
    assert strong.astype(int).sum() > faint.astype(int).sum()  # more colour over black
    np.testing.assert_array_equal(alone, colorize(heatmap, False, "jet"))
    np.testing.assert_array_equal(
        faint[::32, ::32], render(image, heatmap, False, HeatmapStyle(0.2))
    )
    zero = render(image, heatmap, False, HeatmapStyle(opacity=0.0))
    np.testing.assert_array_equal(zero, to_rgb8(image))


def test_a_heatmap_of_another_size_is_resized_to_the_image() -> None:
    small = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
    assert fit_to(small, (10, 12)).shape == (10, 12)
    picture = render(np.zeros((10, 12, 3), np.float32), small, False, HeatmapStyle(alone=True))
    assert picture.shape == (10, 12, 3)


def test_lime_superpixels_are_outlined_green_for_and_red_against() -> None:
    segments = np.repeat(np.repeat(np.arange(4).reshape(2, 2), 4, axis=0), 4, axis=1)
    details = {"segments": segments, "top_positive": [3], "top_negative": np.array([0])}
    picture = render(
        np.zeros((8, 8, 1), np.float32), np.zeros((8, 8)), False, HeatmapStyle(), details, 80
    )
    green = np.all(picture == OUTLINE_FOR, axis=-1)
    red = np.all(picture == OUTLINE_AGAINST, axis=-1)
    assert green[40:, 40:].any() and not green[:40, :40].any()
    assert red[:40, :40].any() and not red[40:, 40:].any()
    assert not green[60, 60]  # an outline, not a filled square
    plain = render(np.zeros((8, 8, 1), np.float32), np.zeros((8, 8)), False, HeatmapStyle())
    assert not np.all(plain == OUTLINE_FOR, axis=-1).any()


def test_channel_thumbnails_and_grids() -> None:
    maps = np.random.default_rng(0).random((5, 5, 70)).astype(np.float32)
    thumbs = channel_thumbnails(maps, 20, limit=64)
    assert thumbs.shape == (64, 20, 20, 3) and thumbs.dtype == np.uint8
    grid = tile_grid(thumbs, 16)
    assert grid.shape == (4 * 22 - 2, 16 * 22 - 2, 3)
    assert cell_at(22 * 3 + 5, 22 + 5, 20, 20, 16) == 16 + 3
    assert cell_at(21, 5, 20, 20, 16) is None  # in the gap
    whole = layer_grid(maps)
    # 70 channels of 5×5 px, each enlarged 10× (to >= 48 px): 9 to a line, 8 lines.
    assert whole.shape == (8 * 52 - 2, 9 * 52 - 2, 3)
    bars = unit_bars(np.array([1.0, -0.5, 2.0]), 4, 20, highlight=2)
    assert bars.shape == (20, 3 * 5 - 1, 3)
    assert layer_grid(np.array([0.0, 1.0, 2.0, 3.0])).shape == (34, 34, 3)


def test_channel_statistics_and_sort_orders() -> None:
    maps = np.zeros((2, 2, 3), np.float32)
    maps[..., 0] = [[1, -1], [-1, -1]]  # max 1, mean -0.5, 25% positive
    maps[..., 1] = [[3, 3], [3, 3]]  # max 3, mean 3
    maps[..., 2] = [[5, 0], [0, 0]]  # max 5, mean 1.25
    stats = channel_stats(maps)
    assert sort_order(stats, "max activation", 3) == [2, 1, 0]
    assert sort_order(stats, "mean activation", 3) == [1, 2, 0]
    assert sort_order(stats, "channel", 3) == [0, 1, 2]
    assert sort_order(None, "max activation", 3) == [0, 1, 2]
    assert stats_text(stats, 0) == "max 1 · mean -0.5 · 25% positive"
    dense = channel_stats(np.array([0.5, -2.0]))
    assert list(dense.maximum) == [0.5, -2.0] and list(dense.positive) == [1.0, 0.0]
    with pytest.raises(ValueError, match="sort key"):
        sort_order(stats, "colour", 3)


def test_the_lime_legend_names_the_colours_really_drawn() -> None:
    from engine.protocol import Explanation
    from gui.explain.view import explanation_title

    segments = (np.arange(8)[:, None] // 4) * 2 + np.arange(8)[None, :] // 4
    details = {"segments": segments, "top_positive": [3], "top_negative": [0]}
    picture = render(
        np.zeros((8, 8, 3), np.float32), np.zeros((8, 8)), True, HeatmapStyle(), details, 80
    )
    against = picture[np.all(picture == OUTLINE_AGAINST, axis=-1)]
    assert (
        against.size and OUTLINE_AGAINST[2] > 2 * OUTLINE_AGAINST[0]
    )  # blue, as the fill's "against"
    assert OUTLINE_FOR[1] > 2 * max(OUTLINE_FOR[0], OUTLINE_FOR[2])  # green
    done = Explanation(1, "lime", 3, "class '3'", None, np.zeros((8, 8)), np.zeros((8, 8, 3)),
                       True, details=details)  # fmt: skip
    title = explanation_title(done)
    assert (
        "red for, blue against" in title and "green strongest for, blue strongest against" in title
    )


def test_the_plain_superpixel_plot_draws_every_boundary_and_no_map() -> None:
    segments = (np.arange(8)[:, None] // 4) * 2 + np.arange(8)[None, :] // 4
    image = np.full((8, 8, 3), 0.5, np.float32)
    picture = render(
        image, np.ones((8, 8)), True, HeatmapStyle(superpixels=True), {"segments": segments}, 80
    )
    boundary = np.all(picture == OUTLINE_SUPERPIXELS, axis=-1)
    assert boundary[:, 39].all() and boundary[39, :].all()  # the cross between the 4 segments
    assert not boundary[:30, :30].any()
    np.testing.assert_array_equal(np.unique(picture[~boundary].reshape(-1, 3), axis=0), [[128] * 3])
