"""What the engine sends back: frozen value objects carried by the engine thread's signals.

Every array in a result is a fresh array owned by the receiver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from engine.protocol.model import ModelSummary

# The end of a model-load failure for a file that holds Python code, in the message a person
# reads; the window recognizes the case by FailureKind.UNTRUSTED, never by this text.
TRUST_NOTE = "convscope loads it only if you trust the file: it could run any code."


class EndReason(str, Enum):
    """Why a job ended."""

    FINISHED = "finished"  # did everything it was asked (a run: all its steps)
    CONVERGED = "converged"  # a visualization whose objective stopped rising
    DEAD = "dead"  # a visualization whose filter never fired
    CANCELLED = "cancelled"  # stopped, replaced by a newer request, or never started
    FAILED = "failed"  # `failure` says why


class FailureKind(str, Enum):
    """What went wrong, for the window to act on; the message is for people only."""

    INPUT = "input"  # the user's file, image, layer or unit cannot be used; the message says why
    UNTRUSTED = "untrusted"  # the file holds code: the window offers "Open anyway"
    DOWNLOAD = "download"  # weights could not be fetched: the window offers random weights
    MEMORY = "memory"  # the job needs more memory than the machine has
    BUG = "bug"  # anything else: `details` holds the traceback for a report
    STARTUP = "startup"  # TensorFlow could not start; nothing will run


@dataclass(frozen=True)
class EngineFailure:
    """A request failed. `message` is for the user; `details` is the traceback for a bug report."""

    request_id: int
    kind: FailureKind
    message: str
    details: str = ""
    # A MEMORY failure of a model that takes any size: the largest input side at which the job
    # fits, for the window to offer (None: no such side, or another kind of failure).
    fitting_side: int | None = None


@dataclass(frozen=True)
class JobEnded:
    """The last word on every request the engine took (quick or long, run or dropped unrun).

    `value` is the job's final result, the generator's return value (a visualization's
    RunFinished, an atlas's AtlasDone, a scan's ScanDone, ...), None when there is none.
    """

    request_id: int
    reason: EndReason
    value: object = None
    failure: EngineFailure | None = None

    @property
    def cancelled(self) -> bool:
        return self.reason is EndReason.CANCELLED


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


class VerdictKind(str, Enum):
    """What a visualization says of its unit, judged against real images (optvis/verdict.py)."""

    FINE = "fine"  # reaches (or beats) its best real image
    FAILED = "failed"  # fires, but the run ends far below its best real image
    WEAK = "weak"  # real images excite it, random starts do not: it rarely fires
    DEAD = "dead"  # no real image and no starting image makes it fire


@dataclass(frozen=True)
class Verdict:
    """A unit's verdict with the evidence behind it; `message` says it in words, `hint` what
    to try. Activations are the unit's mean over its feature map."""

    kind: VerdictKind
    message: str
    activation: float  # what the run (or atlas tile) reached
    best_real: float | None = None  # the unit's best over the reference images (None: none)
    best_index: int | None = None  # which reference image that is
    fires_on: int = 0  # reference images on which it fires
    references: int = 0  # reference images looked at
    scale: float = 0.0  # the layer's activation scale: its strongest unit's best real image
    threshold: float = 0.0  # a run "fires" when its mean is above this (a share of `scale`)
    peak_threshold: float = 0.0  # a real image, when the unit exceeds this somewhere on it
    ratio: float | None = None  # activation / best_real
    from_real: bool = False  # the run started from its best real image
    hint: str = ""
    # Share of the image's pixel values outside the model's input range: an unclipped run
    # (the notebooks' way) may beat its best real image only with inputs no real image has.
    outside_range: float = 0.0

    @property
    def leaves_range(self) -> bool:
        """More than 1% of the image's values lie outside the input range: worth saying."""
        return self.outside_range > 0.01

    def to_dict(self) -> dict:
        """The verdict as JSON-ready values."""
        return {
            "kind": self.kind.value,
            "message": self.message,
            "hint": self.hint,
            "activation": self.activation,
            "best_real": self.best_real,
            "best_index": self.best_index,
            "fires_on": self.fires_on,
            "references": self.references,
            "scale": self.scale,
            "threshold": self.threshold,
            "peak_threshold": self.peak_threshold,
            "ratio": self.ratio,
            "from_real": self.from_real,
            "outside_range": self.outside_range,
        }


@dataclass(frozen=True)
class RunFinished:
    """What a visualization made, the value of its JobEnded (which says why it ended).

    `resumable`: the engine kept the state it stopped in, so ContinueRun can take it on.
    """

    request_id: int
    layer: tuple[str, ...]
    unit: int
    steps_done: int
    image: np.ndarray  # the last image, (H, W, C) float32 in [0, 1]
    objective: float
    predictions: tuple[Prediction, ...] = ()  # what the model says of the image, for class vis
    activation: float = float("nan")  # the filter's activation reached (no penalties)
    quality: float | None = None  # activation / the filter's best over real images
    restarted: bool = False  # the filter was dead at first; a search found a start that fires
    resumable: bool = False
    verdict: Verdict | None = None  # single-filter runs that ran to an end
    # The unit's best reference image (H, W, C) in [0, 1], for the window to show and start from.
    best_real_image: np.ndarray | None = field(default=None, compare=False)


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
    verdict: str = "ok"  # or "empty", "constant", "non-finite": the map shows nothing
    warning: str = ""  # for a verdict other than "ok": what, why when known, what to try
    score: str = ""  # what was explained, in words: "logit of class 3"
    # The photo at its own geometry ((h, w, 3) in [0, 1], long side <= 1024 px): the model
    # saw it resized to `image`, so the map goes back over it by the inverse resize. None: none.
    original: np.ndarray | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Progress:
    """How far a long request is (0..1), for a progress bar with Cancel."""

    request_id: int
    fraction: float
    text: str = ""


@dataclass(frozen=True)
class MicroscopeProgress:
    """How far a BuildMicroscope is: `done` of `total` chunks of `stage` ("scan", "atlas" or
    "layers"), covering `items` of `total_items` (images, units or layers), with the seconds
    left at this stage's pace (None until it is known)."""

    request_id: int
    stage: str
    done: int
    total: int
    items: int = 0
    total_items: int = 0
    eta: float | None = None


@dataclass(frozen=True)
class DownloadProgress:
    """Bytes of a file a LoadModel or LoadComparison (`request_id`) downloads first, e.g.
    ImageNet weights.

    `total_bytes` is 0 when the server does not say. The load's JobEnded ends the download too
    (cancelled: the current model stays; failed with FailureKind.DOWNLOAD: no weights).
    """

    request_id: int
    what: str  # "ImageNet weights for ResNet50"
    done_bytes: int
    total_bytes: int


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
    # What the layer reads for the current image, (H, W, in_channels) raw values: the image
    # itself for a first layer, the previous layer's maps for a deeper one (None: no image).
    input_maps: np.ndarray | None = field(default=None, compare=False)
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
    """A running scan: images done of total, skipped files and why. The last one, with
    `from_cache` when nothing had to be scanned, is the value of the scan's JobEnded."""

    request_id: int
    done: int
    total: int
    skipped: int = 0
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
    """One finished epoch of a TrainDefault; metrics with `val_` are on the held-out images."""

    request_id: int
    epoch: int  # epochs done, 1-based
    epochs: int
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float


@dataclass(frozen=True)
class TrainingDone:
    """A completed TrainDefault, the value of its JobEnded: the saved model and its accuracy."""

    path: str
    held_out_accuracy: float
    epochs: int
    # Largest absolute difference between its weights and the built-in model's, compared
    # weight by weight (0.0: bit-identical); None when the built-in model could not be read.
    builtin_difference: float | None = None


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
class Evaluation:
    """A model's predictions on labelled images (an EvaluateDataset), the value of its JobEnded;
    cancelled part way, it holds the images done so far.

    Per image i: `names[i]` (relative to `root`; `root` is "" when the images are no files, as
    the held-out MNIST digits), `true[i]` (an index into `class_names`, the dataset's labels),
    `predicted[i]` (a model output index) and `confidence[i]` (its probability). `expected[c]`
    is the model output that dataset class c means (-1: none matches). `confusion` counts
    (true class, column) pairs, `columns` being the model outputs shown (named by
    `column_names`): the expected ones and any predicted. `thumbnails` (uint8 (n, h, w, C), what
    the model saw, shrunk) cover the first n images only when there are very many.
    `accuracy` is over the images whose label matches an output (None: none does).
    """

    request_id: int
    source: str  # the folder, or "held-out MNIST digits"
    rule: str  # where the labels came from: "sub-folders", "file names", "held-out MNIST"
    root: str
    names: tuple[str, ...]
    class_names: tuple[str, ...]
    true: np.ndarray  # (N,) int
    predicted: np.ndarray  # (N,) int
    confidence: np.ndarray  # (N,) float32
    expected: tuple[int, ...]
    columns: tuple[int, ...]
    column_names: tuple[str, ...]
    confusion: np.ndarray  # (len(class_names), len(columns)) int
    thumbnails: np.ndarray
    accuracy: float | None
    total: int  # images listed; more than len(names) when cancelled or some were skipped
    skipped: int = 0  # files that could not be read (or gave no label), left out
    note: str = ""  # how labels matched the model's outputs, and what was skipped

    def correct(self) -> np.ndarray:
        """(N,) bool: the prediction is the output the image's label means."""
        expected = np.asarray(self.expected, dtype=np.int64).reshape(-1)
        if not len(self.true):
            return np.zeros(0, dtype=bool)
        return expected[self.true] == self.predicted


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
    verdict: Verdict | None = None  # once final


@dataclass(frozen=True)
class AtlasProgress:
    """How far a layer atlas is: `done` of `total` filters. The last one, with `from_cache`
    when the atlas came from the cache, is the value of the atlas's JobEnded."""

    request_id: int
    layer: tuple[str, ...]
    done: int
    total: int
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
    """A Compare's result: sent once with maps and predictions before the visualizations
    run, and at the end, with their images, as the value of the Compare's JobEnded. `verdict` is
    one line saying what differs most; `correlation` is that of the two feature maps when their
    shapes match."""

    request_id: int
    layer: tuple[str, ...]
    unit: int
    a: CompareSide
    b: CompareSide
    verdict: str
    correlation: float | None = None
    note: str = ""  # about both sides (no image open, ...)


@dataclass(frozen=True)
class Status:
    """A line for the status bar: what the engine is busy with."""

    text: str
    busy: bool = False
