"""`manifest.json`: what a microscope folder holds, what it was built from, and how far it got.

The identity (format version, model fingerprint, recipe, data list digest, top-k, display mode,
chunk sizes) decides whether a folder can be reused: a run with any other identity is refused,
never mixed in. Layers are not part of it: a later run may add layers to a folder.
"""

from __future__ import annotations

import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from engine.microscope.layout import Layout, read_json, write_json
from engine.microscope.plan import AtlasChunk, LayerChunk, Plan, ScanChunk
from engine.protocol.microscope_format import FORMAT_NAME, FORMAT_VERSION

IDENTITY_KEYS = ("format_version", "fingerprint", "recipe", "images_digest", "top_k", "display")


class ManifestMismatch(ValueError):
    """The folder holds a microscope of another model, recipe or data list."""


def identity(
    fingerprint: str, recipe: dict, images_digest: str, top_k: int, display: str, chunks: dict
) -> dict:
    """What must be equal for a folder to be reused; `chunks` holds the chunk sizes."""
    return {
        "format_version": FORMAT_VERSION,
        "fingerprint": fingerprint,
        "recipe": recipe,
        "images_digest": images_digest,
        "top_k": int(top_k),
        "display": display,
        "chunking": dict(chunks),
    }


def load(layout: Layout) -> dict | None:
    """The folder's manifest, or None when it has none; ManifestMismatch for a damaged one."""
    if not layout.manifest.exists():
        return None
    try:
        manifest = read_json(layout.manifest)
    except (OSError, ValueError) as error:
        raise ManifestMismatch(f"{str(layout.manifest)!r} cannot be read ({error})") from None
    if manifest.get("format") != FORMAT_NAME:
        raise ManifestMismatch(f"{str(layout.manifest)!r} is not a convscope microscope manifest")
    return manifest


def check(manifest: dict, wanted: dict) -> None:
    """ManifestMismatch naming what differs between a folder's identity and `wanted`."""
    found = manifest.get("identity", {})
    for key in (*IDENTITY_KEYS, "chunking"):
        if found.get(key) != wanted[key]:
            raise ManifestMismatch(_difference(key, found.get(key), wanted[key]))


def _difference(key: str, found: object, wanted: object) -> str:
    what = {
        "fingerprint": "another model (its weights' fingerprint differs)",
        "recipe": "another recipe",
        "images_digest": "another data list (files added, removed or changed)",
        "top_k": f"--top-k {found}",
        "display": f"display mode {found!r}",
        "format_version": f"format version {found}",
        "chunking": f"chunk sizes {found}",
    }[key]
    if key == "recipe" and isinstance(found, dict) and isinstance(wanted, dict):
        changed = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
        what += f" ({', '.join(changed)} differ)"
    return (
        f"the folder holds a microscope built for {what}; it is never reused for another. "
        "Choose another --out, or pass --force to rebuild it from scratch"
    )


def versions() -> dict[str, str]:
    """The versions of what built the files: convscope, TensorFlow, Keras, numpy, Python."""
    found = {"python": platform.python_version()}
    for name in ("convscope", "tensorflow", "keras", "numpy"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "unknown"
    return found


def stage_entries(plan: Plan, done: set[str]) -> dict[str, dict]:
    """Per stage, its chunk ids in plan order and which are done."""
    stages: dict[str, Sequence[ScanChunk | AtlasChunk | LayerChunk]] = {
        "scan": plan.scan,
        "atlas": plan.atlas,
        "layers": plan.layers,
    }
    return {
        name: {
            "chunks": [chunk.id for chunk in chunks],
            "done": [chunk.id for chunk in chunks if chunk.id in done],
        }
        for name, chunks in stages.items()
    }


def write(layout: Layout, body: dict, plan: Plan, done: set[str]) -> dict:
    """The manifest: `body` (identity, model, images, layers, ...) with the stages and whether
    everything is done, written atomically; returns what was written."""
    stages = stage_entries(plan, done)
    complete = all(len(s["done"]) == len(s["chunks"]) for s in stages.values())
    manifest = {"format": FORMAT_NAME, **body, "stages": stages, "complete": complete}
    write_json(layout.manifest, manifest)
    return manifest


def chunk_files(layout: Layout) -> list[Path]:
    """Every finished chunk file in the folder."""
    folder = layout.root / ".chunks"
    return sorted(folder.glob("*.npz")) if folder.is_dir() else []
