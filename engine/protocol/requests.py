"""What the window asks of the engine: one frozen value object per kind of request.

Each kind declares its own scheduling in `policy()`: its lane, whether it is quick enough to be
served between the steps of a running long job, and which lanes it stops (their waiting request
is dropped, their running job cancelled). The engine thread reads that and nothing else; the
rule for every pair of requests follows from it (the table is in engine/worker.py).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar

import numpy as np

from engine.protocol.catalogue import is_slow_method
from engine.protocol.input_spec import InputPreprocessing
from engine.protocol.model import LayerPath
from engine.protocol.recipe import Recipe

_request_ids = itertools.count(1)


def next_request_id() -> int:
    """A process-wide increasing id: a higher id is always the newer request."""
    return next(_request_ids)


class Lane(str, Enum):
    """A slot of the engine's mailbox: one waiting request per lane, the newest wins."""

    MODEL = "model"  # model A
    COMPARISON = "comparison"  # model B of a comparison
    RUN = "run"  # the one long job at a time: a visualization, atlas, scan, training, compare
    EXPLAIN = "explain"  # an explanation of the current image
    IMAGE = "image"
    MAPS = "maps"  # one layer's feature maps
    WALK = "walk"  # every layer's feature maps, one layer per slice
    TWEAK = "tweak"  # live knobs of the running visualization
    CACHE = "cache"  # a look-up in the atlas cache
    KERNELS = "kernels"
    CIRCUIT = "circuit"
    TOP = "top"  # a filter's top images from the last scan
    CONTROL = "control"  # StopRun, CancelExplain, CancelLoad: act at once, never queued


@dataclass(frozen=True)
class Policy:
    """How the engine schedules one request."""

    lane: Lane
    quick: bool = False  # served between the steps of a running long job, one slice at a time
    also_stops: frozenset[Lane] = frozenset()  # whole lanes stopped besides its own slot
    queued: bool = True  # False: a control message, which only stops (StopRun, CancelLoad)
    # Requests of one lane with different slots wait side by side (the atlas cache is looked up
    # for several layers at once); one slot holds one request, the newest.
    slot: str = ""

    @property
    def key(self) -> tuple[Lane, str]:
        """The mailbox slot this request waits in."""
        return self.lane, self.slot

    def stops(self, other: Policy) -> bool:
        """Whether this drops a waiting request of policy `other` and cancels it running."""
        return other.lane in self.also_stops or (self.queued and other.key == self.key)


class Scheduled:
    """What every request has: an id, and its policy (a class constant unless overridden)."""

    POLICY: ClassVar[Policy]
    request_id: int

    def policy(self) -> Policy:
        return self.POLICY

    def aims_at(self, other: Scheduled) -> bool:
        """Whether stopping `other` (in a lane this stops) is meant; CancelLoad picks one load."""
        return True


# Everything that refers to the current model A: a new model A makes all of it stale.
_MODEL_A_LANES = frozenset(Lane) - {Lane.COMPARISON, Lane.CONTROL}


@dataclass(frozen=True)
class ObjectiveTerm:
    """One part of an objective: `weight` × a channel's mean (or one neuron) of a layer."""

    layer: tuple[str, ...]
    unit: int
    weight: float = 1.0
    neuron: tuple[int, int] | None = None  # (row, column) in the feature map; None: the mean


@dataclass(frozen=True)
class LoadModel(Scheduled):
    """Load a model file; `path=None` loads the built-in default model. "zoo:NAME" builds a
    keras.applications classifier, untrained when `random_weights`. A file holding Python code
    (a Lambda layer) loads only when `trusted`."""

    POLICY: ClassVar[Policy] = Policy(Lane.MODEL, also_stops=_MODEL_A_LANES)

    path: str | None = None
    random_weights: bool = False
    trusted: bool = False  # the user trusts the file: load it even if it holds Python code
    # The user's choice of pixel preprocessing (None: the sidecar's, else [0, 1]) and, for a
    # model that takes any size, the side to use (None: FREE_INPUT_SIZE).
    preprocessing: InputPreprocessing | None = None
    input_size: int | None = None
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class OpenImage(Scheduled):
    """Decode an image file (or a named sample), convert it to the model's input and predict."""

    POLICY: ClassVar[Policy] = Policy(Lane.IMAGE, quick=True)

    path: str | None = None
    sample: str | None = None
    layer: tuple[str, ...] | None = None  # also compute this layer's feature maps
    pixels: np.ndarray | None = field(default=None, compare=False)  # e.g. the sketch pad, (H, W)
    source: str = ""  # a name for `pixels`
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class ShowFeatureMaps(Scheduled):
    """Compute the current image's activations at one layer."""

    POLICY: ClassVar[Policy] = Policy(Lane.MAPS, quick=True)

    layer: tuple[str, ...]
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class Ascend(Scheduled):
    """Grow an input that maximizes one channel (or unit, or neuron) of one layer.

    `extra_terms` are added to the objective with their weights (a weighted sum of filters,
    possibly of other layers). With `settings.negate` the run minimizes instead.
    """

    # A new run stops a running explanation too: the user asked for it last.
    POLICY: ClassVar[Policy] = Policy(Lane.RUN, also_stops=frozenset({Lane.EXPLAIN}))

    layer: tuple[str, ...]
    unit: int
    settings: Recipe = field(default_factory=Recipe)
    neuron: tuple[int, int] | None = None
    extra_terms: tuple[ObjectiveTerm, ...] = ()
    request_id: int = field(default_factory=next_request_id)
    # With settings.init == "image": the image to start from, (H, W, C) in [0, 1], instead of
    # the open image (a run's result, "Continue from this image", or a unit's best real image).
    start_image: np.ndarray | None = field(default=None, compare=False)

    def terms(self) -> tuple[ObjectiveTerm, ...]:
        return (ObjectiveTerm(self.layer, self.unit, 1.0, self.neuron), *self.extra_terms)


@dataclass(frozen=True)
class ContinueRun(Scheduled):
    """Resume a stopped visualization (`run_id`: its Ascend or ContinueRun) from the very state
    it stopped in, for the steps it had left; the engine keeps the last few stopped runs."""

    POLICY: ClassVar[Policy] = Policy(Lane.RUN, also_stops=frozenset({Lane.EXPLAIN}))

    run_id: int
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class TweakRun(Scheduled):
    """New values for the live knobs (recipe.LIVE_KNOBS) of the running visualization."""

    POLICY: ClassVar[Policy] = Policy(Lane.TWEAK, quick=True)

    settings: Recipe
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class Atlas(Scheduled):
    """Visualize many filters of one layer at once, in batches; `units=None` means all."""

    POLICY: ClassVar[Policy] = Policy(Lane.RUN, also_stops=frozenset({Lane.EXPLAIN}))

    layer: tuple[str, ...]
    units: tuple[int, ...] | None = None
    settings: Recipe = field(default_factory=Recipe)
    cache_only: bool = False  # only show what is cached for these settings; compute nothing
    request_id: int = field(default_factory=next_request_id)

    def policy(self) -> Policy:
        # A look-up in the cache computes nothing: it never waits for a run, nor stops one.
        if self.cache_only:
            return Policy(Lane.CACHE, quick=True, slot=str(LayerPath(self.layer)))
        return self.POLICY


@dataclass(frozen=True)
class StopRun(Scheduled):
    """Cancel the running visualization, keeping what it has made so far."""

    POLICY: ClassVar[Policy] = Policy(
        Lane.CONTROL, also_stops=frozenset({Lane.RUN, Lane.EXPLAIN}), queued=False
    )

    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class CancelExplain(Scheduled):
    """Cancel the explanation running or waiting (the Explain tab's Cancel); a visualization
    goes on."""

    POLICY: ClassVar[Policy] = Policy(
        Lane.CONTROL, also_stops=frozenset({Lane.EXPLAIN}), queued=False
    )

    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class CancelLoad(Scheduled):
    """Cancel the download of a model's weights (`load_id`: that LoadModel or LoadComparison;
    None: any).

    Separate from StopRun, which stops visualizations: Esc on a run must not also abandon a
    model that is downloading, and a cancelled load keeps the current model.
    """

    POLICY: ClassVar[Policy] = Policy(
        Lane.CONTROL, also_stops=frozenset({Lane.MODEL, Lane.COMPARISON}), queued=False
    )

    load_id: int | None = None
    request_id: int = field(default_factory=next_request_id)

    def aims_at(self, other: Scheduled) -> bool:
        return self.load_id in (None, other.request_id)


@dataclass(frozen=True)
class Explain(Scheduled):
    """Which pixels of the current image made the model decide (or made a unit fire).

    `target_class=None` means the predicted class; with `unit` set (a channel of `unit_layer`),
    the method explains that inner unit instead of a class. `layer` picks the conv layer of the
    CAM methods (None: the last one). `options` are method settings as (name, value) pairs.

    An explanation the user asked for on purpose (`interrupts`, the Explain tab's button) stops
    a running visualization, which Run › Continue resumes. One made by itself (Live, a new
    image) never does: a fast method is served between the run's steps, a slow one waits for
    the run to end.
    """

    POLICY: ClassVar[Policy] = Policy(Lane.EXPLAIN)

    method: str
    target_class: int | None = None
    unit_layer: tuple[str, ...] | None = None
    unit: int | None = None
    layer: tuple[str, ...] | None = None
    options: tuple[tuple[str, float], ...] = ()
    interrupts: bool = False
    score: str = "logit"  # a class's logit, or "probability" (after the softmax)
    position: tuple[int, int] | None = None  # a map output's (row, column); None: spatial mean
    request_id: int = field(default_factory=next_request_id)

    def policy(self) -> Policy:
        if self.interrupts:
            return Policy(Lane.EXPLAIN, also_stops=frozenset({Lane.RUN}))
        return Policy(Lane.EXPLAIN, quick=not is_slow_method(self.method))


@dataclass(frozen=True)
class WalkNetwork(Scheduled):
    """Feature maps of every layer with channels or units, for the current image."""

    POLICY: ClassVar[Policy] = Policy(Lane.WALK, quick=True)

    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class ShowKernels(Scheduled):
    """The weights of one filter (`unit`) of a conv layer, and the layer's weight statistics;
    `input_channel` picks the channel of the layer-level grid of every filter's kernel."""

    POLICY: ClassVar[Policy] = Policy(Lane.KERNELS, quick=True)

    layer: tuple[str, ...]
    unit: int
    input_channel: int = 0
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class TraceCircuit(Scheduled):
    """Which input channels one filter draws on, followed back to the previous conv layer."""

    POLICY: ClassVar[Policy] = Policy(Lane.CIRCUIT, quick=True)

    layer: tuple[str, ...]
    unit: int
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class ScanImages(Scheduled):
    """Run a folder of images (None: the built-in real images) through the model and keep, per
    layer and channel, the top images and activation statistics. Cached; a rescan resumes."""

    POLICY: ClassVar[Policy] = Policy(Lane.RUN, also_stops=frozenset({Lane.EXPLAIN}))

    folder: str | None = None
    top_k: int = 9
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class EvaluateDataset(Scheduled):
    """Predict every image of a labelled folder (labels from its sub-folders, else its file
    names; None: the built-in model's held-out MNIST digits) and compare with the labels.
    A long job like a scan: StopRun cancels it, keeping what it has done."""

    POLICY: ClassVar[Policy] = Policy(Lane.RUN, also_stops=frozenset({Lane.EXPLAIN}))

    folder: str | None = None
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class ShowTopImages(Scheduled):
    """The top images of one filter from the last scan, ranked by "l2" or "max"."""

    POLICY: ClassVar[Policy] = Policy(Lane.TOP, quick=True)

    layer: tuple[str, ...]
    unit: int
    rank_by: str = "l2"
    projection: str = "none"  # "none", "deconvnet" or "gradcam" of that filter on each image
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class TrainDefault(Scheduled):
    """Train the built-in MNIST CNN from scratch; save it to `output` (.keras), or with None to
    a new file in the user's data folder. Stopped like any long job, by StopRun."""

    POLICY: ClassVar[Policy] = Policy(Lane.RUN, also_stops=frozenset({Lane.EXPLAIN}))

    epochs: int = 15
    output: str | None = None
    mnist_dir: str | None = None  # None: keras.datasets.mnist, else ../shared/data/mnist
    seed: int = 0  # the data split, initial weights, shuffling and augmentation
    train_images: int | None = None  # None: 8,000 local digits (or all of keras's 60,000)
    batch_size: int = 64
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class LoadComparison(Scheduled):
    """Load a second model, "B", to compare with the session's model; same paths as LoadModel
    (a file, "zoo:NAME", None for the built-in one). Loading a new model A keeps B."""

    POLICY: ClassVar[Policy] = Policy(Lane.COMPARISON)

    path: str | None = None
    random_weights: bool = False
    trusted: bool = False
    preprocessing: InputPreprocessing | None = None  # as LoadModel: the user's choice for B
    input_size: int | None = None
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class Compare(Scheduled):
    """Models A and B side by side on one layer and unit: feature maps and predictions for the
    current image, then a visualization of each grown with the same recipe and seed."""

    POLICY: ClassVar[Policy] = Policy(Lane.RUN, also_stops=frozenset({Lane.EXPLAIN}))

    layer: tuple[str, ...]
    unit: int
    settings: Recipe = field(default_factory=Recipe)
    request_id: int = field(default_factory=next_request_id)


@dataclass(frozen=True)
class BuildMicroscope(Scheduled):
    """Build a microscope of the loaded model into folder `out` from the images of folder
    `images` (engine/microscope/): every unit of `layers` (None: every conv layer and the
    output) visualized with `recipe` (None: Classic with `steps` steps from `seed`), with its
    `top_k` images. A long job like a scan: StopRun stops it between chunks, and building into
    `out` again resumes."""

    POLICY: ClassVar[Policy] = Policy(Lane.RUN, also_stops=frozenset({Lane.EXPLAIN}))

    images: str
    out: str
    layers: tuple[tuple[str, ...], ...] | None = None
    steps: int = 64
    top_k: int = 9
    seed: int = 0
    recipe: Recipe | None = None  # the Method panel's; its own steps and seed then count
    request_id: int = field(default_factory=next_request_id)

    def __post_init__(self) -> None:
        for name in ("steps", "top_k"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


Request = (
    LoadModel
    | OpenImage
    | ShowFeatureMaps
    | Ascend
    | ContinueRun
    | TweakRun
    | Atlas
    | StopRun
    | CancelLoad
    | CancelExplain
    | Explain
    | WalkNetwork
    | ShowKernels
    | TraceCircuit
    | ScanImages
    | EvaluateDataset
    | ShowTopImages
    | TrainDefault
    | LoadComparison
    | Compare
    | BuildMicroscope
)
