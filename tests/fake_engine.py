"""A stand-in for EngineThread: the same signals and methods, no TensorFlow; it records what it
is asked and answers only when a test tells it to.

Tests drive the window with it by emitting results as the real engine would, e.g.
`engine.stream(request, steps)` or `engine.frame.emit(frame)`, end a job with
`engine.end(request, EndReason.FINISHED, value)` (what the real engine sends last for every
request), and check `engine.requests` for what the window submitted.
tests/test_engine_contract.py checks that the signals and methods are EngineThread's.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.protocol import (
    Ascend,
    Atlas,
    AtlasProgress,
    AtlasTile,
    Circuit,
    CircuitLink,
    ContinueRun,
    EndReason,
    EngineFailure,
    Explain,
    Explanation,
    FailureKind,
    FeatureMaps,
    Frame,
    ImageOpened,
    JobEnded,
    Kernels,
    LayerInfo,
    LayerKind,
    LoadModel,
    ModelLoaded,
    ModelSummary,
    OpenImage,
    Prediction,
    Progress,
    Request,
    RunFinished,
    ScanImages,
    ScanProgress,
    ScanSummary,
    ShowFeatureMaps,
    ShowKernels,
    ShowTopImages,
    TopImages,
    TraceCircuit,
    WalkNetwork,
)


class FakeEngine(QObject):
    """Same signals and methods as engine.worker.EngineThread; nothing runs by itself."""

    status = Signal(object)
    model_loaded = Signal(object)
    image_opened = Signal(object)
    feature_maps = Signal(object)
    frame = Signal(object)
    atlas_tile = Signal(object)
    atlas_progress = Signal(object)
    progress = Signal(object)
    kernels = Signal(object)
    circuit = Signal(object)
    scan_progress = Signal(object)
    scan_summary = Signal(object)
    top_images = Signal(object)
    training = Signal(object)
    comparison_loaded = Signal(object)
    comparison = Signal(object)
    compare_frame = Signal(object)
    download = Signal(object)
    microscope_progress = Signal(object)
    ended = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.requests: list[object] = []
        self._running = False

    # ------------------------------------------------------------------ EngineThread's API

    def submit(self, request: object) -> None:
        self.requests.append(request)

    def start(self) -> None:
        self._running = True

    def stop(self) -> None:
        self._running = False

    def wait(self, _msecs: int | None = None) -> bool:
        return True

    def is_busy(self) -> bool:
        return False

    # ------------------------------------------------------------------ for tests

    def _run_of(self, request: Ascend | ContinueRun) -> Ascend:
        """The Ascend a ContinueRun (perhaps of a ContinueRun) goes on with."""
        while isinstance(request, ContinueRun):
            request = next(r for r in self.requests if r.request_id == request.run_id)
        return request

    def of_type(self, kind: type) -> list:
        """Every request of class `kind`, oldest first."""
        return [r for r in self.requests if isinstance(r, kind)]

    def last(self, kind: type):
        """The newest request of class `kind`; AssertionError when there is none."""
        found = self.of_type(kind)
        assert found, f"no {kind.__name__} was submitted; got {self.requests}"
        return found[-1]

    def end(
        self,
        request: Request,
        reason: EndReason = EndReason.FINISHED,
        value: object = None,
        failure: EngineFailure | None = None,
    ) -> JobEnded:
        """Send the last word on `request`, as the real engine does for every request."""
        ended = JobEnded(request.request_id, reason, value, failure)
        self.ended.emit(ended)
        return ended

    def fail(self, request: Request, kind: FailureKind, message: str) -> JobEnded:
        """End `request` with a failure of `kind` whose message the user reads."""
        failure = EngineFailure(request.request_id, kind, message, "traceback")
        return self.end(request, EndReason.FAILED, failure=failure)

    def load(self, summary: ModelSummary | None = None) -> ModelSummary:
        """Answer the newest LoadModel as if its model had loaded, and end it."""
        summary = summary or fake_summary()
        loads = self.of_type(LoadModel)
        assert loads, "the window asked for no model: call window.models.open_model first"
        self.model_loaded.emit(ModelLoaded(loads[-1].request_id, summary))
        self.end(loads[-1])
        return summary

    def stream(
        self, request: Ascend | ContinueRun, steps: tuple[int, ...], size: int = 28
    ) -> list[Frame]:
        """Emit a frame for each step (milestones on 1, 2, 4, …), each image a different grey;
        a ContinueRun's frames are of the run it continues."""
        frames = []
        run = self._run_of(request)
        for step in steps:
            frame = Frame(
                request.request_id, run.layer, run.unit, step, run.settings.steps,
                grey_image(step / max(steps), size), (float(step),),
                milestone=step & (step - 1) == 0,
            )  # fmt: skip
            self.frame.emit(frame)
            frames.append(frame)
        return frames

    def finish(
        self,
        request: Ascend | ContinueRun,
        steps_done: int,
        reason: EndReason = EndReason.FINISHED,
        **changes,
    ) -> RunFinished:
        """End the visualization `request` with a RunFinished; `changes` set its activation,
        quality, resumable, … (a ContinueRun ends as the run it continues)."""
        run = self._run_of(request)
        values = dict(steps_done=steps_done, image=grey_image(1.0), objective=1.0, activation=1.0)
        values.update(changes)
        done = RunFinished(request.request_id, run.layer, run.unit, **values)
        self.end(request, reason, done)
        return done

    def stop_run(self, request: Ascend | ContinueRun, steps_done: int) -> RunFinished:
        """End `request` as the engine ends a stopped run: cancelled, resumable."""
        return self.finish(request, steps_done, EndReason.CANCELLED, resumable=True)

    def open(self, image: np.ndarray | None = None, source: str = "digit 3") -> ImageOpened:
        """Answer the newest OpenImage as if its image had opened (a grey gradient unless
        `image` is given), and end it."""
        image = gradient_image() if image is None else image
        top = (Prediction(3, "3", 0.9), Prediction(8, "8", 0.05))
        opens = self.of_type(OpenImage)
        request_id = opens[-1].request_id if opens else 0
        opened = ImageOpened(request_id, source, image, image.shape[1::-1], top)
        self.image_opened.emit(opened)
        if opens:
            self.end(opens[-1])
        return opened

    def explain(
        self, request: Explain, heatmap: np.ndarray | None = None, **changes
    ) -> Explanation:
        """Emit the Explanation of `request`: a bump in the middle unless `heatmap` is given."""
        heatmap = bump_heatmap() if heatmap is None else heatmap
        target = request.target_class
        values = dict(
            class_index=target if target is not None else 3,
            label=f"class '{target if target is not None else 3}'", layer=request.layer,
            heatmap=heatmap, image=gradient_image(heatmap.shape[0]), signed=False, seconds=0.25,
            details={},
        )  # fmt: skip
        values.update(changes)
        done = Explanation(request.request_id, request.method, **values)
        self.end(request, EndReason.FINISHED, done)
        return done

    def report(self, request_id: int, fraction: float, text: str = "") -> None:
        self.progress.emit(Progress(request_id, fraction, text))

    def maps(self, layer: tuple[str, ...], values: np.ndarray) -> FeatureMaps:
        """Answer the newest request for `layer`'s feature maps: a ShowFeatureMaps (ended too)
        or an OpenImage that asked for them (answer before `open`, which ends it)."""
        asked = [
            r for r in self.requests
            if isinstance(r, (ShowFeatureMaps, OpenImage)) and r.layer == layer
        ]  # fmt: skip
        assert asked, f"nothing asked for the feature maps of {layer}; got {self.requests}"
        sent = FeatureMaps(asked[-1].request_id, layer, values)
        self.feature_maps.emit(sent)
        if isinstance(asked[-1], ShowFeatureMaps):
            self.end(asked[-1])
        return sent

    def walk(self, request: WalkNetwork, summary: ModelSummary | None = None) -> dict:
        """Emit FeatureMaps of every layer with channels or units, in model order."""
        sent = {}
        for info in (summary or fake_summary()).walk():
            if info.kind is LayerKind.NONE:
                continue
            sent[info.path] = layer_maps(info)
            self.feature_maps.emit(FeatureMaps(request.request_id, info.path, sent[info.path]))
        self.end(request)
        return sent

    def tile(self, request_id: int, layer, unit: int, *, dead: bool = False, final=True) -> None:
        self.atlas_tile.emit(
            AtlasTile(request_id, layer, unit, colour_image(unit), 2.0, 0.8, dead, final)
        )

    def atlas_step(self, request_id: int, layer, done: int, total: int, **flags) -> None:
        """Emit AtlasProgress (the `progress` signal is EngineThread's, for explanations)."""
        self.atlas_progress.emit(AtlasProgress(request_id, layer, done, total, **flags))

    def end_atlas(
        self, request: Atlas, done: int, total: int, reason=EndReason.FINISHED, **flags
    ) -> AtlasProgress:
        """End the atlas (or cache look-up) `request` at `done` of `total` filters."""
        last = AtlasProgress(request.request_id, request.layer, done, total, **flags)
        self.end(request, reason, last)
        return last

    def show_kernels(
        self,
        request: ShowKernels,
        kernel: np.ndarray | None = None,
        input_maps: np.ndarray | None = None,
    ) -> Kernels:
        """Emit Kernels for `request`: a seeded (3, 3, 8) kernel unless `kernel` is given, with
        the layer's `input_maps` ((H, W, in)) when given."""
        rng = np.random.default_rng(request.unit)
        kernel = rng.standard_normal((3, 3, 8)).astype(np.float32) if kernel is None else kernel
        stats = dict(min=float(kernel.min()), max=float(kernel.max()), mean=float(kernel.mean()),
                     std=float(kernel.std()), near_zero=0.0)  # fmt: skip
        layer_weights = rng.standard_normal(16 * kernel.size).astype(np.float32)
        histogram = np.histogram(layer_weights, bins=20)
        per_filter = rng.standard_normal((16, 5)).astype(np.float32)
        done = Kernels(request.request_id, request.layer, request.unit, kernel, 0.1, stats,
                       dict(stats, max=9.0), histogram, per_filter,
                       input_maps=input_maps)  # fmt: skip
        self.kernels.emit(done)
        self.end(request)
        return done

    def trace(self, request: TraceCircuit, sums=(2.0, -1.5, 0.5), note: str = "") -> Circuit:
        """Emit a Circuit whose links read conv1 channels 0, 1, 2 with weight sums `sums`."""
        links = tuple(
            CircuitLink(("conv1",), k, abs(s) + 1.0 - 0.1 * k, s, np.full((3, 3), s, np.float32))
            for k, s in enumerate(sums)
        )
        done = Circuit(request.request_id, request.layer, request.unit, links, note)
        self.circuit.emit(done)
        self.end(request)
        return done

    def scan_step(self, request_id: int, done: int, total: int, **flags) -> None:
        self.scan_progress.emit(ScanProgress(request_id, done, total, **flags))

    def scan_done(self, request_id: int, fire: dict, images: int = 1797) -> ScanSummary:
        """Emit a ScanSummary with `fire` fractions per layer path (mean/max copied from it)."""
        summary = ScanSummary(request_id, "digits", images, 0, fire, fire, fire)
        self.scan_summary.emit(summary)
        return summary

    def end_scan(
        self, request: ScanImages, done: int, total: int, reason=EndReason.FINISHED, **flags
    ) -> ScanProgress:
        """End the scan `request` at `done` of `total` images."""
        last = ScanProgress(request.request_id, done, total, **flags)
        self.end(request, reason, last)
        return last

    def top(self, request: ShowTopImages, k: int = 9) -> TopImages:
        """Emit the top `k` images of `request`: random colour images, bump maps, names."""
        images = np.stack([colour_image(j) for j in range(k)])
        maps = np.stack([bump_heatmap(7) for _ in range(k)])
        scores = np.linspace(9.0, 1.0, k).astype(np.float32)
        names = tuple(f"img_{j:03d}.png" for j in range(k))
        done = TopImages(request.request_id, request.layer, request.unit, request.rank_by,
                         images, maps, scores, names)  # fmt: skip
        self.top_images.emit(done)
        self.end(request)
        return done


def grey_image(level: float, size: int = 28) -> np.ndarray:
    return np.full((size, size, 1), level, np.float32)


def colour_image(seed: int, size: int = 28) -> np.ndarray:
    return np.random.default_rng(seed).random((size, size, 3)).astype(np.float32)


def gradient_image(size: int = 28) -> np.ndarray:
    """A grey left-to-right ramp, (size, size, 1) in [0, 1]."""
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    return np.repeat(ramp[None, :], size, axis=0)[:, :, None]


def bump_heatmap(size: int = 28, signed: bool = False) -> np.ndarray:
    """A Gaussian bump in the middle (minus a second one on the left when `signed`)."""
    y, x = np.mgrid[:size, :size].astype(np.float32)
    bump = np.exp(-((x - size / 2) ** 2 + (y - size / 2) ** 2) / (size / 4) ** 2)
    if signed:
        bump -= np.exp(-((x - size / 6) ** 2 + (y - size / 2) ** 2) / (size / 8) ** 2)
    return (3.0 * bump).astype(np.float32)


def layer_maps(info: LayerInfo, seed: int = 0) -> np.ndarray:
    """Random raw maps of the shape `info` has: (H, W, C) or (units,)."""
    rng = np.random.default_rng(seed + info.size)
    shape = tuple(d for d in info.output_shape[1:])
    return (rng.standard_normal(shape) + 0.2).astype(np.float32)


def fake_summary() -> ModelSummary:
    """A small MNIST-like model: conv1 (8), conv2 (16), flatten, dense (10 classes)."""

    def conv(name: str, size: int, channels: int) -> LayerInfo:
        shape = (None, size, size, channels)
        return LayerInfo(
            (name,), name, "Conv2D", shape, 100, LayerKind.CHANNELS, channels, has_kernels=True
        )

    layers = (
        conv("conv1", 28, 8),
        conv("conv2", 14, 16),
        LayerInfo(("flatten",), "flatten", "Flatten", (None, 3136), 0, LayerKind.NONE, 0),
        LayerInfo(("out",), "out", "Dense", (None, 10), 31370, LayerKind.UNITS, 10, True),
    )
    return ModelSummary("fake", "fake.keras", (28, 28, 1), (0.0, 1.0), tuple("0123456789"), layers)


def fake_window(
    qtbot,
    engine: FakeEngine,
    *,
    model: bool = True,
    image: bool = True,
    summary: ModelSummary | None = None,
):
    """A MainWindow on `engine` at the default size, shown, with a model (`summary`, else the
    fake one) and an image loaded, as the window's start-up asks for them."""
    from gui.main_window import MainWindow

    window = MainWindow(engine)
    qtbot.addWidget(window)
    window.resize(1400, 860)
    window.show()
    engine.start()
    if model:
        window.models.open_model(None)
        engine.load(summary)
    if model and image:
        window.images.open_image(sample="digit:3")
        engine.open()
    return window
