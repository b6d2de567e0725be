"""The vocabulary between the window and the engine thread.

Requests go from the GUI to the engine; results come back as signals carrying these value
objects. Everything here is frozen and holds only plain Python values and numpy arrays, so the
GUI can import it without pulling in TensorFlow.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from engine.input_spec import InputPreprocessing
from engine.recipe import Recipe

_request_ids = itertools.count(1)


def next_request_id() -> int:
    """A process-wide increasing id: a higher id is always the newer request."""
    return next(_request_ids)


# ----------------------------------------------------------------------------- model description


class LayerKind(str, Enum):
    """What a layer offers to look at."""

    CHANNELS = "channels"  # 4-D output (batch, H, W, C): one feature map per channel
    UNITS = "units"  # 2-D output of a Dense layer: one number per unit
    NONE = "none"  # nothing convscope can visualize (Flatten, Dropout, InputLayer, ...)


@dataclass(frozen=True)
class LayerInfo:
    """One row of the layer tree. `path` names the layer through any nested sub-models."""

    path: tuple[str, ...]
    name: str
    type_name: str
    output_shape: tuple[int | None, ...] | None
    params: int
    kind: LayerKind
    size: int  # channels or units; 0 when kind is NONE
    is_output: bool = False  # the model's final layer: units are classes
    children: tuple[LayerInfo, ...] = ()

    @property
    def visualizable(self) -> bool:
        return self.kind is not LayerKind.NONE


@dataclass(frozen=True)
class ModelSummary:
    """What the window needs to know about a loaded model."""

    name: str
    source: str  # file path, or "built-in default model"
    input_shape: tuple[int | None, int | None, int]  # H, W, C
    input_range: tuple[float, float]
    class_names: tuple[str, ...]
    layers: tuple[LayerInfo, ...]
    description: str = ""
    # How pixels become the model's input, and who said so: "zoo", "sidecar", "chosen" (the
    # user, in the window) or "assumed" ([0, 1] because nothing said; the window then asks).
    preprocessing: InputPreprocessing = field(default_factory=InputPreprocessing)
    input_origin: str = "sidecar"
    free_size: bool = False  # the model takes any size; input_shape holds the size in use

    def find(self, path: tuple[str, ...]) -> LayerInfo | None:
        """The layer at `path`, searching nested sub-models."""
        level = self.layers
        found: LayerInfo | None = None
        for name in path:
            found = next((layer for layer in level if layer.name == name), None)
            if found is None:
                return None
            level = found.children
        return found

    def resolve(self, path: tuple[str, ...]) -> LayerInfo | None:
        """The layer at `path`; a bare name also finds a layer inside a nested sub-model when
        no other layer has that name (users type 'block3_conv2', not 'vgg16/block3_conv2')."""
        found = self.find(path)
        if found is not None or len(path) != 1:
            return found
        named = [layer for layer in self.walk() if layer.name == path[0]]
        return named[0] if len(named) == 1 else None

    def walk(self) -> list[LayerInfo]:
        """Every layer, depth first, in model order."""
        out: list[LayerInfo] = []

        def visit(layers: tuple[LayerInfo, ...]) -> None:
            for layer in layers:
                out.append(layer)
                visit(layer.children)

        visit(self.layers)
        return out

    def default_layer(self) -> LayerInfo | None:
        """The last convolution-like layer, which shows the most interesting filters first."""
        channel_layers = [lay for lay in self.walk() if lay.kind is LayerKind.CHANNELS]
        conv = [lay for lay in channel_layers if "Conv" in lay.type_name]
        pick = conv or channel_layers or [lay for lay in self.walk() if lay.visualizable]
        return pick[-1] if pick else None


# ----------------------------------------------------------------------------- requests


# The knobs of a visualization are a Recipe (engine/recipe.py); the name stays for callers that
# only set the classic ones (steps, learning rate, jitter, seed, frame interval).
AscentSettings = Recipe


@dataclass(frozen=True)
class ObjectiveTerm:
    """One part of an objective: `weight` × a channel's mean (or one neuron) of a layer."""

    layer: tuple[str, ...]
    unit: int
    weight: float = 1.0
    neuron: tuple[int, int] | None = None  # (row, column) in the feature map; None: the mean


# The end of a model-load failure for a file that holds Python code; the window then offers to
# load it anyway (LoadModel(trusted=True)).
TRUST_NOTE = "convscope loads it only if you trust the file: it could run any code."
# The side, in pixels, at which a model that takes images of any size is visualized.
FREE_INPUT_SIZE = 128


@dataclass(frozen=True)
class LoadModel:
    """Load a model file; `path=None` loads the built-in default model. "zoo:NAME" builds a
    keras.applications classifier, untrained when `random_weights`. A file holding Python code
    (a Lambda layer) loads only when `trusted`."""

    path: str | None = None
    random_weights: bool = False
    trusted: bool = False  # the user trusts the file: load it even if it holds Python code
    # The user's choice of pixel preprocessing (None: the sidecar's, else [0, 1]) and, for a
    # model that takes any size, the side to use (None: FREE_INPUT_SIZE).
    preprocessing: InputPreprocessing | None = None
    input_size: int | None = None
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class OpenImage:
    """Decode an image file (or a named sample), convert it to the model's input and predict."""

    path: str | None = None
    sample: str | None = None
    layer: tuple[str, ...] | None = None  # also compute this layer's feature maps
    pixels: np.ndarray | None = field(default=None, compare=False)  # e.g. the sketch pad, (H, W)
    source: str = ""  # a name for `pixels`
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class ShowFeatureMaps:
    """Compute the current image's activations at one layer."""

    layer: tuple[str, ...]
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class Ascend:
    """Grow an input that maximizes one channel (or unit, or neuron) of one layer.

    `extra_terms` are added to the objective with their weights (a weighted sum of filters,
    possibly of other layers). With `settings.negate` the run minimizes instead.
    """

    layer: tuple[str, ...]
    unit: int
    settings: AscentSettings = field(default_factory=AscentSettings)
    neuron: tuple[int, int] | None = None
    extra_terms: tuple[ObjectiveTerm, ...] = ()
    request_id: int = field(default_factory=next_request_id)

    def terms(self) -> tuple[ObjectiveTerm, ...]:
        return (ObjectiveTerm(self.layer, self.unit, 1.0, self.neuron), *self.extra_terms)


@dataclass(frozen=True)
class TweakRun:
    """New values for the live knobs (recipe.LIVE_KNOBS) of the running visualization."""

    settings: AscentSettings
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class Atlas:
    """Visualize many filters of one layer at once, in batches; `units=None` means all."""

    layer: tuple[str, ...]
    units: tuple[int, ...] | None = None
    settings: AscentSettings = field(default_factory=AscentSettings)
    cache_only: bool = False  # only show what is cached for these settings; compute nothing
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class StopRun:
    """Cancel the running visualization, keeping what it has made so far."""

    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class CancelLoad:
    """Cancel the download of a model's weights (`load_id`: that LoadModel or LoadComparison;
    None: any).

    Separate from StopRun, which stops visualizations: Esc on a run must not also abandon a
    model that is downloading, and a cancelled load keeps the current model.
    """

    load_id: int | None = None
    request_id: int = field(default_factory=next_request_id)


# The attribution methods the engine knows (engine/attribution), in the order menus list them.
EXPLAIN_METHODS = (
    "gradcam", "gradcam++", "scorecam", "cam", "saliency", "smoothgrad", "gradient_x_input",
    "integrated_gradients", "guided_backprop", "guided_gradcam", "deconvnet", "occlusion", "lime",
)  # fmt: skip

# What the window calls each method, and which are slow enough for progress and Cancel. Here,
# beside the names, because both halves need them and the window may not import engine code
# that loads Keras.
EXPLAIN_TITLES = {
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
    "scorecam": "Score-CAM",
    "cam": "CAM",
    "saliency": "Saliency (gradient)",
    "smoothgrad": "SmoothGrad",
    "gradient_x_input": "Gradient × input",
    "integrated_gradients": "Integrated gradients",
    "guided_backprop": "Guided backpropagation",
    "guided_gradcam": "Guided Grad-CAM",
    "deconvnet": "Deconvnet",
    "occlusion": "Occlusion sensitivity",
    "lime": "LIME superpixels",
}
EXPLAIN_LONG_METHODS = frozenset(
    {"scorecam", "integrated_gradients", "smoothgrad", "occlusion", "lime"}
)


@dataclass(frozen=True)
class Explain:
    """Which pixels of the current image made the model decide (or made a unit fire).

    `target_class=None` means the predicted class; with `unit` set (a channel of `unit_layer`),
    the method explains that inner unit instead of a class. `layer` picks the conv layer of the
    CAM methods (None: the last one). `options` are method settings as (name, value) pairs.
    """

    method: str
    target_class: int | None = None
    unit_layer: tuple[str, ...] | None = None
    unit: int | None = None
    layer: tuple[str, ...] | None = None
    options: tuple[tuple[str, float], ...] = ()
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class WalkNetwork:
    """Feature maps of every layer with channels or units, for the current image."""

    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class ShowKernels:
    """The weights of one filter (`unit`) of a conv layer, and the layer's weight statistics;
    `input_channel` picks the channel of the layer-level grid of every filter's kernel."""

    layer: tuple[str, ...]
    unit: int
    input_channel: int = 0
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class TraceCircuit:
    """Which input channels one filter draws on, followed back to the previous conv layer."""

    layer: tuple[str, ...]
    unit: int
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class ScanImages:
    """Run a folder of images (None: the built-in real images) through the model and keep, per
    layer and channel, the top images and activation statistics. Cached; a rescan resumes."""

    folder: str | None = None
    top_k: int = 9
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class ShowTopImages:
    """The top images of one filter from the last scan, ranked by "l2" or "max"."""

    layer: tuple[str, ...]
    unit: int
    rank_by: str = "l2"
    projection: str = "none"  # "none", "deconvnet" or "gradcam" of that filter on each image
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class TrainDefault:
    """Train the built-in MNIST CNN from scratch; save it to `output` (.keras), or with None to
    a new file in the user's data folder. Stopped like any long job, by StopRun."""

    epochs: int = 15
    output: str | None = None
    mnist_dir: str | None = None  # None: keras.datasets.mnist, else ../shared/data/mnist
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class LoadComparison:
    """Load a second model, "B", to compare with the session's model; same paths as LoadModel
    (a file, "zoo:NAME", None for the built-in one). Loading a new model A keeps B."""

    path: str | None = None
    random_weights: bool = False
    trusted: bool = False
    preprocessing: InputPreprocessing | None = None  # as LoadModel: the user's choice for B
    input_size: int | None = None
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class Compare:
    """Models A and B side by side on one layer and unit: feature maps and predictions for the
    current image, then a visualization of each grown with the same recipe and seed."""

    layer: tuple[str, ...]
    unit: int
    settings: AscentSettings = field(default_factory=AscentSettings)
    request_id: int = field(default_factory=next_request_id)


Request = (
    LoadModel
    | OpenImage
    | ShowFeatureMaps
    | Ascend
    | TweakRun
    | Atlas
    | StopRun
    | CancelLoad
    | Explain
    | WalkNetwork
    | ShowKernels
    | TraceCircuit
    | ScanImages
    | ShowTopImages
    | TrainDefault
    | LoadComparison
    | Compare
)


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Frame:
    """A snapshot of a running visualization.

    `image` is (H, W, C) float32 in [0, 1] for display, a fresh array owned by the receiver.
    `objectives` holds the objective of every step since the previous frame, so the curve in the
    window has every point even when frames are sent only every few steps.
    """

    request_id: int
    layer: tuple[str, ...]
    unit: int
    step: int  # steps done so far
    steps: int  # steps asked for
    image: np.ndarray
    objectives: tuple[float, ...]
    milestone: bool = False  # a filmstrip step: 1, 2, 4, 8, ...


@dataclass(frozen=True)
class RunFinished:
    """A visualization ended: completed, or stopped early (`cancelled`)."""

    request_id: int
    layer: tuple[str, ...]
    unit: int
    steps_done: int
    cancelled: bool
    image: np.ndarray  # the last image, (H, W, C) float32 in [0, 1]
    objective: float
    predictions: tuple[Prediction, ...] = ()  # what the model says of the image, for class vis
    reason: str = "steps"  # why it ended: "steps", "converged", "cancelled" or "dead"
    activation: float = float("nan")  # the filter's activation reached (no penalties)
    quality: float | None = None  # activation / the filter's best over real images
    restarted: bool = False  # the filter was dead at first; a search found a start that fires


@dataclass(frozen=True)
class Explanation:
    """An attribution map for the current image.

    `heatmap` is (H, W) float32 at the image's size, raw values (signed when `signed`); the
    window normalizes it for display. `details` holds method extras (LIME's superpixel labels
    and weights, the CAM layer used, ...).
    """

    request_id: int
    method: str
    class_index: int | None  # the class explained (None for an inner unit)
    label: str  # what was explained, for titles: "class '7'", "conv3 #12"
    layer: tuple[str, ...] | None  # the conv layer a CAM method used
    heatmap: np.ndarray
    image: np.ndarray  # (H, W, C) float32 in [0, 1]: the image explained
    signed: bool = False
    seconds: float = 0.0
    details: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Progress:
    """How far a long request is (0..1), for a progress bar with Cancel."""

    request_id: int
    fraction: float
    text: str = ""


@dataclass(frozen=True)
class DownloadProgress:
    """Bytes of a file a LoadModel or LoadComparison (`request_id`) downloads first, e.g.
    ImageNet weights.

    `total_bytes` is 0 when the server does not say; `finished` comes once at the end, done,
    failed (an EngineFailure follows) or `cancelled` (the current model stays).
    """

    request_id: int
    what: str  # "ImageNet weights for ResNet50"
    done_bytes: int
    total_bytes: int
    finished: bool = False
    cancelled: bool = False


@dataclass(frozen=True)
class Kernels:
    """One filter's weights and its layer's statistics.

    `kernel` is (kh, kw, in_channels) for the filter (depthwise: (kh, kw, 1)); `stats` maps
    "min", "max", "mean", "std", "near_zero" to floats for this filter, `layer_stats` the same
    for the whole layer; `histogram` is (counts, edges) over the layer's weights.
    `grid` is (filters, kh, kw) — every filter's kernel for input channel `grid_channel` — for the
    layer-level grid (the window asks again with another channel through `ShowKernels`).
    """

    request_id: int
    layer: tuple[str, ...]
    unit: int
    kernel: np.ndarray
    bias: float | None
    stats: dict
    layer_stats: dict
    histogram: tuple[np.ndarray, np.ndarray]
    per_filter_stats: np.ndarray  # (filters, 5): min, max, mean, std, near_zero
    rgb: np.ndarray | None = None  # (kh, kw, 3) in [0, 1] for a first layer on RGB input
    grid: np.ndarray | None = None  # (filters, kh, kw): every filter's kernel for grid_channel
    grid_channel: int = 0
    input_channels: int = 0  # how many input channels the grid can show


@dataclass(frozen=True)
class CircuitLink:
    """One input channel of a filter: where it comes from and how strongly it feeds it."""

    source_layer: tuple[str, ...] | None  # the conv layer producing it (None: the image)
    channel: int  # channel index in source_layer's output
    weight_norm: float  # L2 norm of the kernel slice reading this channel
    weight_sum: float  # its sum: > 0 excitatory, < 0 inhibitory
    kernel: np.ndarray  # (kh, kw) slice
    path: tuple[str, ...] = ()  # layers crossed on the way (pooling, batch norm, add, ...)


@dataclass(frozen=True)
class Circuit:
    """A filter's input channels, strongest first; `note` says where the trace had to stop."""

    request_id: int
    layer: tuple[str, ...]
    unit: int
    links: tuple[CircuitLink, ...]
    note: str = ""


@dataclass(frozen=True)
class ScanProgress:
    """A running (or finished) scan: images done of total, skipped files and why."""

    request_id: int
    done: int
    total: int
    skipped: int = 0
    finished: bool = False
    cancelled: bool = False
    from_cache: bool = False
    message: str = ""


@dataclass(frozen=True)
class ScanSummary:
    """Per-layer firing statistics of the last scan, for flags in the tree and the grid.

    `fire_fraction[layer]` is (channels,) — the fraction of images on which each channel's
    maximum activation is above zero; `mean`/`max` likewise (channels,).
    """

    request_id: int
    source: str
    images: int
    skipped: int
    fire_fraction: dict
    mean: dict
    max: dict


@dataclass(frozen=True)
class TrainProgress:
    """One finished epoch of a TrainDefault, or (`finished`) its end.

    Validation metrics are on the held-out images; the final one carries the saved `path` and
    its `held_out_accuracy` (no file and `cancelled` when the user stopped it).
    """

    request_id: int
    epoch: int  # epochs done, 1-based
    epochs: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    finished: bool = False
    cancelled: bool = False
    path: str = ""
    held_out_accuracy: float = float("nan")


@dataclass(frozen=True)
class TopImages:
    """The top images of one filter: (k, H, W, C) images in [0, 1], (k, h, w) activation maps,
    their scores, file names, and optional projections (k, H, W)."""

    request_id: int
    layer: tuple[str, ...]
    unit: int
    rank_by: str
    images: np.ndarray
    maps: np.ndarray
    scores: np.ndarray
    names: tuple[str, ...]
    projections: np.ndarray | None = None


@dataclass(frozen=True)
class AtlasTile:
    """One finished (or, with `final=False`, in-progress) filter image of a layer atlas."""

    request_id: int
    layer: tuple[str, ...]
    unit: int
    image: np.ndarray  # (H, W, C) float32 in [0, 1]
    activation: float
    quality: float | None
    dead: bool
    final: bool


@dataclass(frozen=True)
class AtlasProgress:
    """How far a layer atlas is: `done` of `total` filters; `finished` once it has ended."""

    request_id: int
    layer: tuple[str, ...]
    done: int
    total: int
    finished: bool = False
    cancelled: bool = False
    from_cache: bool = False


@dataclass(frozen=True)
class Prediction:
    index: int
    name: str
    probability: float


@dataclass(frozen=True)
class FeatureMaps:
    """Activations of one layer for the current image.

    `maps` is (H, W, C) float32 for channel layers and (units,) for Dense layers, raw values.
    """

    request_id: int
    layer: tuple[str, ...]
    maps: np.ndarray


@dataclass(frozen=True)
class ImageOpened:
    """An image converted to the model's input, with the model's top predictions."""

    request_id: int
    source: str  # file name or sample name, for the title
    display: np.ndarray  # (H, W, C) float32 in [0, 1]: what the model sees
    original_size: tuple[int, int]  # width, height before conversion
    predictions: tuple[Prediction, ...]
    notes: tuple[str, ...] = ()  # conversions the user should know of (resized, made grey, ...)


@dataclass(frozen=True)
class ModelLoaded:
    request_id: int
    summary: ModelSummary


@dataclass(frozen=True)
class ComparisonLoaded:
    """Model B of the comparison is loaded; `summary` describes it like ModelLoaded's."""

    request_id: int
    summary: ModelSummary


@dataclass(frozen=True)
class CompareFrame:
    """A snapshot of one side's visualization during a Compare: `side` is "A" or "B", `image`
    (H, W, C) float32 in [0, 1], `objectives` every step's objective since the last frame."""

    request_id: int
    side: str
    step: int
    steps: int
    image: np.ndarray
    objectives: tuple[float, ...]


@dataclass(frozen=True)
class CompareSide:
    """What one model makes of the compared layer, unit and image.

    `feature_map` is the unit's (H, W) raw map for channel layers (None for Dense units or
    without an image); `value` its mean (a Dense unit's value). `image` is the visualization
    ((H, W, C) in [0, 1]) once grown; `note` says why something is missing.
    """

    side: str
    name: str
    description: str = ""
    feature_map: np.ndarray | None = None
    value: float | None = None
    predictions: tuple[Prediction, ...] = ()
    image: np.ndarray | None = None
    activation: float | None = None
    steps_done: int = 0
    note: str = ""


@dataclass(frozen=True)
class Comparison:
    """A Compare's result: sent once with maps and predictions (`finished=False`) before the
    visualizations run, and again at the end with their images. `verdict` is one line saying
    what differs most; `correlation` is that of the two feature maps when their shapes match."""

    request_id: int
    layer: tuple[str, ...]
    unit: int
    a: CompareSide
    b: CompareSide
    verdict: str
    correlation: float | None = None
    finished: bool = False
    cancelled: bool = False
    note: str = ""  # about both sides (no image open, ...)


@dataclass(frozen=True)
class EngineFailure:
    """A request failed. `message` is for the user; `details` is the traceback for a bug report."""

    request_id: int
    what: str  # "model", "image", "layer", "visualization" or "engine"
    message: str
    details: str = ""


@dataclass(frozen=True)
class Status:
    """A line for the status bar: what the engine is busy with."""

    text: str
    busy: bool = False
