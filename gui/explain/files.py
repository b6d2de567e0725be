"""An explanation on disk: the picture as drawn (PNG) and the raw heatmap beside it (.npy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from engine.protocol import Explanation
from gui.common.heatmaps import HeatmapStyle
from gui.explain.view import render_explanation


def write_explanation(explanation: Explanation, style: HeatmapStyle, png_path: str | Path) -> Path:
    """Write the picture of `explanation` to `png_path` and its raw heatmap next to it as .npy;
    returns the .npy path."""
    png_path = Path(png_path)
    picture = render_explanation(explanation, style)
    Image.fromarray(picture, "RGB").save(png_path, format="PNG")
    npy_path = png_path.with_suffix(".npy")
    np.save(npy_path, np.asarray(explanation.heatmap, dtype=np.float32))
    return npy_path


def export_stem(explanation: Explanation) -> str:
    """'gradcam-class-3': the file name suggested for `explanation`."""
    return f"{explanation.method}-{explanation.label}".replace("'", "").replace(" ", "-")
