"""An explanation on disk: the picture as drawn (PNG), the raw heatmap beside it (.npy) and
what it is (.json: method, score, verdict and warning, the method's settings as used)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from engine.protocol import Explanation, LayerPath
from engine.protocol.json_values import explain_settings, json_ready
from gui.common.heatmaps import HeatmapStyle, value_range
from gui.explain.view import render_explanation


def explanation_report(explanation: Explanation) -> dict:
    """What the exported picture shows, for the .json beside it."""
    details = explanation.details
    return {
        "method": explanation.method,
        "explained": explanation.label,
        "score": explanation.score,
        "layer": None if explanation.layer is None else str(LayerPath(explanation.layer)),
        "signed": explanation.signed,
        "range": list(value_range(explanation.heatmap, explanation.signed)),
        "verdict": explanation.verdict,
        "warning": explanation.warning,
        "check": json_ready(details.get("check")),
        "settings": explain_settings(details),
        "seconds": round(explanation.seconds, 4),
    }


def write_explanation(explanation: Explanation, style: HeatmapStyle, png_path: str | Path) -> Path:
    """Write the picture of `explanation` to `png_path`, its raw heatmap next to it as .npy and
    what it is as .json; returns the .npy path."""
    png_path = Path(png_path)
    picture = render_explanation(explanation, style)
    Image.fromarray(picture, "RGB").save(png_path, format="PNG")
    npy_path = png_path.with_suffix(".npy")
    np.save(npy_path, np.asarray(explanation.heatmap, dtype=np.float32))
    report = explanation_report(explanation)
    png_path.with_suffix(".json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return npy_path


def export_stem(explanation: Explanation) -> str:
    """'gradcam-class-3': the file name suggested for `explanation`."""
    return f"{explanation.method}-{explanation.label}".replace("'", "").replace(" ", "-")
