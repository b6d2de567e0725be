"""A microscope folder as a static website: HTML, PNG and JSON that open from file://.

`write_site(out, site)` reads the folder `python main.py microscope` wrote (manifest.json, each
layer's units.json and PNGs), checks every name and path in it, and writes `site`: index.html,
a tile page per layer (LAYER/index.html) and a page per unit (LAYER/UNIT.html), with the PNGs
hard-linked (copied across file systems) and the JSON beside them. No server, no fetch, no
script from elsewhere. A site folder is updated in place: files whose content is unchanged are
left alone, and the only files ever removed are ones an earlier run recorded in site.json.

It reads the folder with the window's reader of the format (engine/protocol/
microscope_format.py: names, version check) and never loads TensorFlow.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from engine.microscope import site_pages
from engine.microscope.site_layer import SiteLayer
from engine.protocol.microscope_format import (
    MANIFEST,
    UNITS,
    MicroscopeError,
    read_manifest,
    read_object,
)

RECORD = "site.json"  # what this site's last run wrote: the files it may remove later
STYLE = "site.css"
RESERVED = {"index.html", MANIFEST, RECORD, STYLE, "images.json"}


class SiteError(MicroscopeError):
    """The microscope folder cannot be shown; the message names the folder, file or value."""


@dataclass(frozen=True)
class SiteReport:
    """What `write_site` did, for the command's summary line."""

    root: Path
    layers: int
    unit_pages: int
    images: int
    written: int  # files created or changed
    unchanged: int
    removed: int  # stale files an earlier run of this site wrote


def read_microscope(out: str | Path) -> tuple[dict, list[SiteLayer]]:
    """The manifest and layers of microscope folder `out`; SiteError for a missing folder, a
    damaged manifest or units.json, an unsafe name or path, or a PNG that is not there."""
    root = Path(out)
    if not root.is_dir():
        raise SiteError(f"{str(root)!r} is not a folder (a `python main.py microscope --out`)")
    if not (root / MANIFEST).is_file():
        raise SiteError(f"{str(root / MANIFEST)!r} is missing: not a microscope folder")
    try:
        manifest = read_manifest(root / MANIFEST)
    except MicroscopeError as error:
        raise SiteError(str(error)) from None
    entries = manifest.get("layers")
    if not isinstance(entries, list):
        raise SiteError(f"{str(root / MANIFEST)!r} has no list of layers")
    layers = [_layer(root, entry) for entry in entries]
    for what in ("name", "folder"):
        values = [getattr(layer, what) for layer in layers]
        if len(set(values)) != len(values):
            raise SiteError(f"{str(root / MANIFEST)!r} names a layer {what} twice: {values}")
    return manifest, layers


def _layer(root: Path, entry: object) -> SiteLayer:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise SiteError(f"{str(root / MANIFEST)!r} has a layer entry without a name: {entry!r}")
    folder = entry.get("folder")
    if not isinstance(folder, str) or not _safe_part(folder) or folder in RESERVED:
        raise SiteError(f"layer {entry['name']!r} has an unusable folder name {folder!r}")
    expected = entry.get("units")
    path = root / folder / UNITS
    units = None
    if path.exists():
        body = _json_object(path)
        found = body.get("units")
        if not isinstance(found, list):
            raise SiteError(f"{str(path)!r} has no list of units")
        units = tuple(_unit(root, path, unit) for unit in found)
        numbers = [unit["unit"] for unit in units]
        if len(set(numbers)) != len(numbers):
            raise SiteError(f"{str(path)!r} lists a unit number twice")
    kind = entry.get("kind")
    return SiteLayer(
        entry["name"],
        folder,
        kind if isinstance(kind, str) else "",
        expected if isinstance(expected, int) else len(units or ()),
        units,
    )


def _unit(root: Path, source: Path, unit: object) -> dict:
    """A unit entry of units.json, checked: an integer unit, a verdict, existing PNGs."""
    if not isinstance(unit, dict) or not _is_int(unit.get("unit")):
        raise SiteError(f"{str(source)!r} has a unit entry without a unit number: {unit!r:.80}")
    label = f"{str(source)!r}, unit {unit['unit']}"
    if not isinstance(unit.get("verdict"), str):
        raise SiteError(f"{label} has no verdict")
    _png(root, label, unit.get("vis"))
    for rank in ("max", "mean"):
        tops = unit.get(f"top_{rank}", [])
        if not isinstance(tops, list):
            raise SiteError(f"{label}: top_{rank} is {tops!r:.80}, expected a list")
        for top in tops:
            if not isinstance(top, dict) or not isinstance(top.get("image"), str):
                raise SiteError(f"{label}: a top_{rank} entry has no image name: {top!r:.80}")
            _png(root, label, top.get("png"))
    return unit


def _png(root: Path, label: str, relative: object) -> None:
    parts = PurePosixPath(relative).parts if isinstance(relative, str) else ()
    if not parts or not all(map(_safe_part, parts)) or not parts[-1].endswith(".png"):
        raise SiteError(f"{label} names an unusable file path {relative!r}")
    if not root.joinpath(*parts).is_file():
        raise SiteError(f"{label}: {str(root.joinpath(*parts))!r} is missing")


def _safe_part(name: str) -> bool:
    """Whether `name` is one plain path component: no separator, no '..', no NUL."""
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\\\0")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _json_object(path: Path) -> dict:
    if not path.is_file():
        raise SiteError(f"{str(path)!r} is missing: not a microscope folder")
    try:
        return read_object(path)
    except MicroscopeError as error:
        raise SiteError(str(error)) from None


def write_site(out: str | Path, site: str | Path) -> SiteReport:
    """Write (or update) the website of microscope folder `out` into folder `site`."""
    root = Path(out)
    manifest, layers = read_microscope(root)
    target = Path(site)
    if target.resolve() == root.resolve() or target.resolve().is_relative_to(root.resolve()):
        raise SiteError(f"the site {str(target)!r} must lie outside the microscope {str(root)!r}")
    if target.exists() and not target.is_dir():
        raise SiteError(f"the site {str(target)!r} exists and is not a folder")
    writer = _Writer(root, target)
    for relative, text in _pages(manifest, layers):
        writer.text(relative, text)
    writer.copy(MANIFEST)
    for layer in layers:
        for relative in _layer_files(layer):
            writer.copy(relative)
    removed = writer.finish()
    finished = [layer for layer in layers if layer.units is not None]
    return SiteReport(
        target,
        len(finished),
        sum(len(layer.units or ()) for layer in finished),
        sum(1 for layer in finished for name in _layer_files(layer) if name.endswith(".png")),
        writer.written,
        writer.unchanged,
        removed,
    )


def _pages(manifest: dict, layers: list[SiteLayer]) -> Iterator[tuple[str, str]]:
    """(site-relative path, HTML) of every page, and the style sheet."""
    yield STYLE, site_pages.STYLE_SHEET
    yield "index.html", site_pages.index_page(manifest, layers)
    built = {layer.name: layer for layer in layers if layer.units is not None}
    for layer in built.values():
        yield f"{layer.folder}/index.html", site_pages.layer_page(manifest, layer)
        units = layer.units or ()
        for k, unit in enumerate(units):
            neighbours = (units[k - 1] if k else None, units[k + 1] if k + 1 < len(units) else None)
            page = site_pages.unit_page(manifest, layer, unit, neighbours, built)
            yield f"{layer.folder}/{unit['unit']}.html", page


def _layer_files(layer: SiteLayer) -> Iterator[str]:
    """The microscope files a finished layer's pages show: units.json and every PNG."""
    if layer.units is None:
        return
    yield f"{layer.folder}/{UNITS}"
    for unit in layer.units:
        yield unit["vis"]
        for rank in ("max", "mean"):
            yield from (top["png"] for top in unit.get(f"top_{rank}", []))


class _Writer:
    """Writes the site's files, leaving unchanged ones untouched, and keeps the record."""

    def __init__(self, source: Path, root: Path) -> None:
        self.source = source
        self.root = root
        self.done: set[str] = set()
        self.written = 0
        self.unchanged = 0

    def text(self, relative: str, text: str) -> None:
        self._place(relative, text.encode("utf-8"), None)

    def copy(self, relative: str) -> None:
        """The microscope's file `relative`, hard-linked where the file system allows."""
        self._place(relative, None, self.source / relative)

    def _place(self, relative: str, data: bytes | None, source: Path | None) -> None:
        if relative in self.done:
            return
        self.done.add(relative)
        path = self.root / relative
        if path.exists() and _same(path, data, source):
            self.unchanged += 1
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        if source is None:
            temporary.write_bytes(data or b"")
        else:
            try:
                os.link(source, temporary)
            except OSError:  # another file system, or one without hard links
                shutil.copyfile(source, temporary)
        os.replace(temporary, path)  # a reader never sees half a file
        self.written += 1

    def finish(self) -> int:
        """Write the record and remove what the last run wrote that this one did not."""
        record = self.root / RECORD
        earlier: list = []
        if record.is_file():
            try:
                earlier = json.loads(record.read_text(encoding="utf-8")).get("files", [])
            except (OSError, ValueError, AttributeError):
                earlier = []  # unreadable: remove nothing rather than guess
        removed = 0
        keep = self.done | {RECORD}
        for relative in earlier if isinstance(earlier, list) else []:
            safe = isinstance(relative, str) and all(map(_safe_part, relative.split("/")))
            if safe and relative not in keep and (self.root / relative).is_file():
                (self.root / relative).unlink()
                removed += 1
        body = {"format": "convscope-microscope-site", "source": str(self.source.resolve())}
        self._place(RECORD, _record_json(body, sorted(keep)), None)
        return removed


def _record_json(body: dict, files: list[str]) -> bytes:
    return (json.dumps({**body, "files": files}, indent=1) + "\n").encode("utf-8")


def _same(path: Path, data: bytes | None, source: Path | None) -> bool:
    """Whether `path` already holds `data` (or the content of `source`)."""
    if source is not None:
        if os.path.samefile(path, source):
            return True
        if path.stat().st_size != source.stat().st_size:
            return False
        data = source.read_bytes()
    return path.read_bytes() == data
