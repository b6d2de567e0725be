"""Reading a microscope folder (engine/microscope/ writes it): the manifest, each layer's
`units.json`, and where its pictures are, in the standard library alone so the window can read
one without TensorFlow.

Reading never trusts the folder: a missing or foreign manifest, another format version or a
damaged `units.json` raise MicroscopeError with a message for the user; a unit entry missing a
field reads as None or empty, and a picture that is not there is the caller's placeholder.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

FORMAT_NAME = "convscope-microscope"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
IMAGES_LIST = "images.json"
UNITS = "units.json"
# The atlas's verdict kinds, as units.json writes them ("fine" is what the window calls ok).
VERDICTS = ("fine", "weak", "dead", "failed")
RANKINGS = ("max", "mean")  # top images by the channel's maximum (cropped) and by its mean


class MicroscopeError(ValueError):
    """A folder or file that is not a readable microscope; the message is for the user."""


@dataclass(frozen=True)
class MicroscopeLayer:
    """One layer of a microscope: its name ('block1/conv1'), path, folder and unit count."""

    name: str
    path: tuple[str, ...]
    folder: str
    units: int


@dataclass(frozen=True)
class Microscope:
    """What a microscope folder's manifest says it holds."""

    root: Path
    model_name: str
    model_source: str
    layers: tuple[MicroscopeLayer, ...]
    top_k: int
    images_root: str  # the image folder the top images come from
    image_count: int
    complete: bool  # every chunk done (an interrupted build is readable up to where it got)
    input_shape: tuple[int, ...] = ()  # the model's (height, width, channels), when known
    fingerprint: str = ""  # the model's weights' (ModelSummary.fingerprint); "": not recorded

    def layer(self, name: str) -> MicroscopeLayer:
        """The layer called `name`; KeyError names one the microscope lacks."""
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"the microscope has no layer {name!r}")

    def units_file(self, layer: MicroscopeLayer) -> Path:
        return self.root / layer.folder / UNITS


@dataclass(frozen=True)
class TopImage:
    """One of a unit's top dataset images: its rank, file (relative to the image folder),
    score, crop box ([top, left, bottom, right), by max only) and picture in the folder."""

    rank: int
    image: str
    score: float
    png: str | None  # the picture's path
    box: tuple[int, ...] | None = None


@dataclass(frozen=True)
class CircuitInput:
    """One of the input channels that feed a unit most strongly."""

    source_layer: str | None  # None: the model's input image
    channel: int
    weight_norm: float
    weight_sum: float


@dataclass(frozen=True)
class UnitEntry:
    """One unit's statistics, verdict and pictures, as units.json has them.

    Its top images and circuit are read from the entry when first asked for: a tile needs six
    of them, and reading all ~40,000 of a 2,048-unit layer up front would take a second."""

    unit: int
    fires_percent: float | None
    mean: float | None
    max: float | None
    quality: float | None
    verdict: str
    message: str
    vis: str | None  # the visualization's path
    root: str = field(default="", repr=False, compare=False)  # the folder
    entry: dict = field(default_factory=dict, repr=False, compare=False)  # units.json's

    @cached_property
    def top_max(self) -> tuple[TopImage, ...]:
        """The top images by the channel's maximum, each cropped around the peak."""
        return _tops(self.root, self.entry.get("top_max"))

    @cached_property
    def top_mean(self) -> tuple[TopImage, ...]:
        """The top images by the channel's mean, whole."""
        return _tops(self.root, self.entry.get("top_mean"))

    @cached_property
    def circuit(self) -> tuple[CircuitInput, ...]:
        """The input channels that feed the unit most, strongest first."""
        inputs = _list(_object(self.entry.get("circuit")).get("inputs"))
        return tuple(_input(link) for link in inputs if isinstance(link, dict))

    @property
    def circuit_note(self) -> str:
        return str(_object(self.entry.get("circuit")).get("note", ""))


def open_microscope(root: str | Path) -> Microscope:
    """The microscope in folder `root`; MicroscopeError says why a folder is not one."""
    root = Path(root)
    path = root / MANIFEST
    if not path.is_file():
        raise MicroscopeError(
            f"{root} holds no {MANIFEST}: it is not a microscope folder (build one with "
            "'python main.py microscope' or Build for the Open Model…)"
        )
    manifest = read_manifest(path)
    model, images = _object(manifest.get("model")), _object(manifest.get("images"))
    layers = tuple(_layer(e) for e in _list(manifest.get("layers")) if isinstance(e, dict))
    return Microscope(
        root,
        str(model.get("name", "")),
        str(model.get("source", "")),
        layers,
        _integer(manifest.get("top_k")) or 0,
        str(images.get("root", "")),
        _integer(images.get("count")) or 0,
        bool(manifest.get("complete", False)),
        tuple(v for v in map(_integer, _list(model.get("input_shape"))) if v is not None),
        str(_object(manifest.get("identity")).get("fingerprint") or ""),
    )


def read_units(microscope: Microscope, layer: MicroscopeLayer) -> tuple[UnitEntry, ...]:
    """Every unit of `layer` in unit order; MicroscopeError for a layer not built yet or a
    units.json that cannot be read. Entries that are not objects are left out."""
    path = microscope.units_file(layer)
    if not path.is_file():
        raise MicroscopeError(f"layer {layer.name!r} is not finished in {microscope.root} yet")
    body = read_object(path)
    entries = body.get("units")
    if not isinstance(entries, list):
        raise MicroscopeError(f"{path} has no list of units")
    root = str(microscope.root)
    units = [_unit(root, entry) for entry in entries if isinstance(entry, dict)]
    return tuple(sorted((u for u in units if u is not None), key=lambda u: u.unit))


def read_manifest(path: Path) -> dict:
    """The manifest at `path` as a dict; MicroscopeError unless it is a convscope microscope
    manifest in the format version this convscope reads (the window and the website alike)."""
    manifest = read_object(path)
    if manifest.get("format") != FORMAT_NAME:
        raise MicroscopeError(f"{path} is not a convscope microscope manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise MicroscopeError(
            f"{path} is in microscope format version {version!r}; this convscope reads version "
            f"{FORMAT_VERSION} only (rebuild the folder, or open it with a matching convscope)"
        )
    return manifest


def read_object(path: Path) -> dict:
    """The JSON object in file `path`; MicroscopeError for a missing, unreadable or non-object
    file."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise MicroscopeError(f"{path} cannot be read ({error})") from None
    if not isinstance(value, dict):
        raise MicroscopeError(f"{path} holds {type(value).__name__}, expected a JSON object")
    return value


def _layer(entry: dict) -> MicroscopeLayer:
    path = tuple(str(part) for part in entry.get("path", []) or [entry.get("name", "")])
    name = str(entry.get("name") or "/".join(path))
    return MicroscopeLayer(
        name, path, str(entry.get("folder") or "__".join(path)), _integer(entry.get("units")) or 0
    )


def _unit(root: str, entry: dict) -> UnitEntry | None:
    unit = _integer(entry.get("unit"))
    if unit is None:
        return None
    return UnitEntry(
        unit,
        _number(entry.get("fires_percent")),
        _number(entry.get("mean")),
        _number(entry.get("max")),
        _number(entry.get("quality")),
        str(entry.get("verdict", "failed")),
        str(entry.get("message", "")),
        _picture(root, entry.get("vis")),
        root,
        entry,
    )


def _tops(root: str, entries: object) -> tuple[TopImage, ...]:
    if not isinstance(entries, list):
        return ()
    found = []
    for k, entry in enumerate(e for e in entries if isinstance(e, dict)):
        box = entry.get("box")
        found.append(
            TopImage(
                _integer(entry.get("rank")) or k,
                str(entry.get("image", "")),
                _number(entry.get("score")) or 0.0,
                _picture(root, entry.get("png")),
                tuple(int(v) for v in box) if isinstance(box, list) and len(box) == 4 else None,
            )
        )
    return tuple(found)


def _input(link: dict) -> CircuitInput:
    source = link.get("source_layer")
    return CircuitInput(
        None if source is None else str(source),
        _integer(link.get("channel")) or 0,
        _number(link.get("weight_norm")) or 0.0,
        _number(link.get("weight_sum")) or 0.0,
    )


def _picture(root: str, relative: object) -> str | None:
    """A picture of the folder; None for a missing name or one that would leave the folder.
    Plain strings, not Paths: a layer of 2,048 units names ~40,000 pictures, and pathlib
    would take seconds over them."""
    if not isinstance(relative, str) or not relative or relative.startswith(("/", "\\")):
        return None
    if ".." in relative.replace("\\", "/").split("/") or ":" in relative:
        return None
    return f"{root}/{relative}"


def _object(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list:
    return value if isinstance(value, list) else []


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _integer(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return int(value)
