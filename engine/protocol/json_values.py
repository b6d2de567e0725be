"""Values as JSON holds them, for the reports the window and the headless commands write.

Numpy only, so both halves share one rule and one list of explanation settings.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Settings the explanation methods report in their details as they used them (defaults filled
# in): LIME's, occlusion's, Score-CAM's, SmoothGrad's, integrated gradients', a map output's.
EXPLAIN_SETTING_KEYS = (
    "patch", "stride", "occlusions", "n_segments", "segments_made", "fill", "samples",
    "compactness", "fit_r2", "labels", "sigma", "baseline", "channel", "position",
)  # fmt: skip


def json_ready(value: Any) -> Any:
    """`value` as JSON can hold it: arrays become lists, numpy numbers Python numbers."""
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def explain_settings(details: dict[str, Any]) -> dict[str, Any]:
    """The settings an explanation method used, from its details, ready for JSON."""
    return {key: json_ready(details[key]) for key in EXPLAIN_SETTING_KEYS if key in details}
