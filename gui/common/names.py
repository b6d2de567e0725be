"""The names the window gives things, each defined once: its tabs, its QSettings keys, and how
often a canvas (and the objective curve) repaints while frames stream in."""

from __future__ import annotations

from enum import IntEnum

# A canvas repaints at most this often (20 Hz) while frames arrive, with the newest one only:
# more would take CPU from the engine on a 2-core machine for nothing the eye can see.
REPAINT_INTERVAL_MS = 50
# The objective curve is redrawn at most this often, also only while values arrive. Redrawing a
# plot (axes, ticks, grid) costs far more than an image; 5 Hz is plenty to watch a curve rise.
PLOT_REDRAW_INTERVAL_MS = 200


class Tab(IntEnum):
    """The centre tabs, in their order (View › <name> Tab is Ctrl+<value + 1>)."""

    VISUALIZE = 0
    EXPLAIN = 1
    NETWORK = 2
    FILTERS = 3
    COMPARE = 4
    DATASET = 5
    MICROSCOPE = 6

    @property
    def title(self) -> str:
        return self.name.capitalize()


class FiltersTab(IntEnum):
    """The sub-tabs of the Filters tab."""

    KERNELS = 0
    CIRCUITS = 1
    DATASET = 2


# QSettings keys. Groups hold one key per item (a recipe field, a preset, a model file).
GEOMETRY_KEY = "window/geometry"
COLUMNS_KEY = "window/columns"
SPLITTERS_GROUP = "window/splitters"  # the other splitters, one key per name
LAST_DIR_KEY = "paths/last_dir"  # where the last file dialog was answered
RECENT_MODELS_KEY = "recent/models"
RECENT_IMAGES_KEY = "recent/images"
MODEL_B_KEY = "compare/model_b"  # the last model B, so the file dialog starts beside it
RECIPE_GROUP = "ascent"  # the method panel's recipe, one key per field
RECIPE_CHOSEN_KEY = "method/chosen"  # the user picked or edited the recipe: keep it
DISPLAY_KEY = "view/display"  # how visualizations are normalized for the screen
PRESET_GROUP = "presets"  # the user's presets, one JSON recipe per name
MODEL_INPUT_GROUP = "model_inputs"  # the input chosen for each model file, by hashed path
MICROSCOPE_KEY = "microscope/folder"  # the microscope folder last opened in its tab
MICROSCOPE_BUILD_GROUP = "microscope/build"  # the Build form's last answers, one key each
