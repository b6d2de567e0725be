"""The microscope's chunk functions: pure maps from (context, chunk) to a result.

A `Context` holds what is expensive and the same for every chunk: the loaded model, its
scanners and its visualizer, built once per process from a picklable `Spec` (a Ray actor
holds one). `scan_chunk` returns the partial scan state of its images; `atlas_chunk` the
visualizations of its units with their verdicts. Neither writes files nor prints: the
executor stores results (`store_scan`, `store_atlas`), so a result is kept whole or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.dataset.sources import ImageSource
from engine.dataset.state import ScanState
from engine.microscope.layout import Layout, write_npz
from engine.microscope.plan import AtlasChunk, ScanChunk
from engine.protocol import ModelSummary
from engine.protocol.recipe import Recipe

if TYPE_CHECKING:
    from engine.dataset.scan import Scanner
    from engine.optvis.visualizer import Visualizer

# The verdicts judge against an even sample of the data list: this many images at most, and no
# more than REFERENCE_BYTES of model input (so 256 MNIST digits, ~400 ImageNet-sized photos).
REFERENCE_COUNT = 256
_PROBE = "microscope_probe_"  # names of the probe model's outputs, one per layer


@dataclass(frozen=True)
class Spec:
    """Everything a process needs to build a Context: plain values, picklable."""

    model: str  # as --model takes it
    random_weights: bool
    root: str  # the image folder
    names: tuple[str, ...]  # its images, sorted, relative to root
    groups: tuple[tuple[tuple[str, ...], ...], ...]  # the layers of each scan group
    recipe: dict
    top_k: int
    batch_size: int = 64


@dataclass
class Context:
    """A loaded model and what serves its chunks, built once per process."""

    spec: Spec
    model: Any  # a keras.Model (not imported here: TensorFlow loads in `build`)
    summary: ModelSummary
    label: str
    _scanners: dict[int, Scanner] = field(default_factory=dict)
    _visualizer: Visualizer | None = None

    @classmethod
    def build(cls, spec: Spec) -> Context:
        """Load the model of `spec` (CliError for a bad name)."""
        from engine.cli.common import load_model_arg
        from engine.models.introspect import describe_model

        model, meta, label, _ = load_model_arg(spec.model, spec.random_weights)
        return cls(spec, model, describe_model(model, meta, label), label)

    @property
    def source(self) -> ImageSource:
        return ImageSource(self.spec.root, self.spec.names, "")

    def scanner(self, group: int) -> Scanner:
        """The scanner of scan group `group`: one forward pass gives all its layers."""
        if group not in self._scanners:
            from engine.dataset.scan import Scanner

            layers = self.spec.groups[group]
            probe = probe_model(self.model, layers)
            self._scanners[group] = Scanner(
                probe,
                self.summary.input_shape,
                self.summary.input_range,
                [(f"{_PROBE}{k}",) for k in range(len(layers))],
                self.spec.top_k,
                batch_size=self.spec.batch_size,
                cache=False,
            )
        return self._scanners[group]

    def visualizer(self) -> Visualizer:
        """The visualizer, judging units against an even sample of the data list."""
        if self._visualizer is None:
            from engine.optvis.visualizer import Visualizer

            summary = self.summary
            self._visualizer = Visualizer(
                self.model, summary.input_shape, summary.input_range, self.references, summary
            )
        return self._visualizer

    def references(self) -> np.ndarray | None:
        """An even sample of the data list as model inputs (broken files left out)."""
        from engine.images.convert import ImageError, convert_image
        from engine.optvis.references import REFERENCE_BYTES, sample_names_evenly

        scanner = self.scanner(0)
        height, width, channels = scanner.input_shape
        count = max(1, min(REFERENCE_COUNT, REFERENCE_BYTES // (4 * height * width * channels)))
        found = []
        for name in sample_names_evenly(list(self.spec.names), count):
            try:
                picture = self.source.open(name)
                found.append(convert_image(picture, scanner.input_shape, scanner.input_range))
            except ImageError:
                continue
            if len(found) == count:
                break
        return np.stack([f.pixels for f in found]).astype(np.float32) if found else None


def probe_model(model, layers: tuple[tuple[str, ...], ...]):
    """One model from `model`'s input to each of `layers`, every output as a (B, h, w, C) map:
    a Dense layer's (B, C) becomes (B, 1, 1, C), so the scan treats every layer alike."""
    import keras

    from engine.dataset.scan import extractor

    trunk = extractor(model, layers)
    outputs = trunk.outputs
    x = keras.Input(shape=trunk.inputs[0].shape[1:], dtype=trunk.inputs[0].dtype)
    values = trunk(x)
    values = values if isinstance(values, list | tuple) else [values]
    maps = []
    for k, (value, symbolic) in enumerate(zip(values, outputs, strict=True)):
        shape = tuple(symbolic.shape)
        if len(shape) == 2:
            maps.append(keras.layers.Reshape((1, 1, int(shape[-1])), name=f"{_PROBE}{k}")(value))
        elif len(shape) == 4:
            maps.append(keras.layers.Identity(name=f"{_PROBE}{k}")(value))
        else:
            name = "/".join(layers[k])
            raise ValueError(f"layer {name!r} has output shape {shape}, expected 2-D or 4-D")
    return keras.Model(x, maps, name="microscope_probe")


def scan_chunk(
    context: Context, chunk: ScanChunk, should_stop: Callable[[], bool] = lambda: False
) -> ScanState | None:
    """The scan state of images `chunk.start` to `chunk.stop` for the layers of its group;
    files that cannot be read are in its `skipped`, not fatal. None when stopped early."""
    scanner = context.scanner(chunk.group)
    names = context.spec.names[chunk.start : chunk.stop]
    state = scanner.scan(context.source.subset(names), should_stop)
    if not state.complete:
        return None
    layers = context.spec.groups[chunk.group]
    stats = {layer: state.stats[(f"{_PROBE}{k}",)] for k, layer in enumerate(layers)}
    return replace(state, layers=tuple(layers), stats=stats, key=chunk.id)


def atlas_chunk(
    context: Context, chunk: AtlasChunk, should_stop: Callable[[], bool] = lambda: False
) -> dict[str, np.ndarray] | None:
    """The visualizations of `chunk`'s units with activations, deadness, verdicts and
    qualities, as arrays; None when `should_stop` stopped it before the end."""
    from engine.protocol import ObjectiveTerm

    visualizer = context.visualizer()
    recipe = replace(Recipe.from_dict(context.spec.recipe), seed=chunk.seed)
    recipe = replace(recipe, batch=1, diversity=0.0, negate=False)
    finals = []
    for part in visualizer.atlas(chunk.layer, chunk.units, recipe, should_stop, 1 << 30):
        if part.final:
            finals.append(part)
    if sum(len(part.units) for part in finals) != len(chunk.units):
        return None
    images = np.concatenate([part.images for part in finals]).astype(np.float32)
    activations = np.concatenate([part.activations for part in finals]).astype(np.float64)
    from_real = np.concatenate([part.from_real for part in finals]).astype(bool)
    verdicts, qualities = [], []
    for k, unit in enumerate(chunk.units):
        verdict = visualizer.unit_verdict(
            chunk.layer, unit, float(activations[k]), bool(from_real[k]), images[k]
        )
        verdicts.append(verdict.to_dict())
        term = ObjectiveTerm(chunk.layer, unit)
        quality = visualizer.quality([term], recipe, float(activations[k]))
        qualities.append(np.nan if quality is None else quality)
    return {
        "units": np.array(chunk.units, np.int64),
        "images": images,
        "activations": activations,
        "dead": np.array([v["kind"] == "dead" for v in verdicts]),
        "from_real": from_real,
        "quality": np.array(qualities, np.float64),
        "verdicts": np.array(json.dumps(verdicts)),
    }


def store_scan(layout: Layout, chunk: ScanChunk, state: ScanState) -> None:
    """Keep a scan chunk's state (atomically: ScanState.save renames a finished file)."""
    state.save(layout.chunk(chunk.id))


def store_atlas(layout: Layout, chunk: AtlasChunk, arrays: dict[str, np.ndarray]) -> None:
    """Keep an atlas chunk's arrays, atomically."""
    write_npz(layout.chunk(chunk.id), arrays)


def load_scan(path: Path) -> ScanState:
    """A stored scan chunk."""
    return ScanState.load(path)
