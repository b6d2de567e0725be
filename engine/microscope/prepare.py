"""Setting a microscope build up, the same for `python main.py microscope` and the window.

Both hand over a loaded model (a Context), the image folder and what was asked for; here the
folder's manifest is checked (a folder of another model, recipe or data list is refused, never
reused), the scan groups and chunks are planned, the manifest's body is made and the list of
images written. So a folder built from the window and from the command for the same model, data
and recipe has the same manifest, and either can resume the other's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from engine.dataset.sources import ImageSource
from engine.microscope import manifest
from engine.microscope.layout import Layout, layer_folder_name, layer_text, write_json
from engine.microscope.plan import ATLAS_CHUNK, SCAN_CHUNK, Plan, make_plan
from engine.microscope.work import Context, Spec
from engine.protocol import LayerInfo, ModelSummary
from engine.protocol.display import DEFAULT_DISPLAY
from engine.protocol.recipe import Recipe

Groups = list[list[tuple[str, ...]]]
DEFAULT_NAMES = ("default", "builtin", "built-in")  # what --model takes for the built-in model


@dataclass(frozen=True)
class BuildSettings:
    """What a build is asked for, besides the model and the images."""

    recipe: Recipe  # as chosen; atlas_recipe() makes it the atlas's
    top_k: int = 9
    layers: tuple[tuple[str, ...], ...] | None = None  # None: every conv layer and the output
    display: str = DEFAULT_DISPLAY
    batch_size: int = 64  # images per forward pass of the scan
    scan_chunk: int = SCAN_CHUNK
    atlas_chunk: int = ATLAS_CHUNK

    def __post_init__(self) -> None:
        for name in ("top_k", "batch_size", "scan_chunk", "atlas_chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class Prepared:
    """A checked microscope, ready for any executor: its folder, chunks and model."""

    layout: Layout
    plan: Plan
    spec: Spec
    body: dict  # the manifest without its stages (and without the executor's "engine")
    context: Context  # the model, loaded here (the driver's; finishing layers runs on it)
    steps: int


def atlas_recipe(recipe: Recipe) -> Recipe:
    """`recipe` as the atlas runs it: one image per unit, nothing pushing images apart,
    maximize (ValueError for a recipe that cannot be)."""
    return replace(recipe, batch=1, diversity=0.0, negate=False)


def model_source(text: str) -> str:
    """Where the model came from, written the same whoever builds: 'default' for the built-in
    model (as --model names it, or the window's label for it), a file's absolute path,
    'zoo:NAME' for a zoo model, else `text` as it is."""
    from engine.models.meta import DEFAULT_MODEL_LABEL

    if text.lower() in DEFAULT_NAMES or text == DEFAULT_MODEL_LABEL:
        return "default"
    if Path(text).exists():
        return str(Path(text).resolve())
    from engine.models.zoo import zoo_entry  # lazy: it imports Keras

    entry = zoo_entry(text.split(" (")[0])  # a zoo label may end in " (random weights)"
    return f"zoo:{entry.name}" if entry is not None else text


def chosen_layers(
    summary: ModelSummary, wanted: tuple[tuple[str, ...], ...] | None
) -> list[LayerInfo]:
    """The LayerInfo of each layer asked for (None: every conv layer and the output), in
    order, each once; ValueError names a layer the model lacks."""
    if wanted is None:
        chosen = [info for info in summary.walk() if info.has_kernels or info.is_output]
    else:
        chosen = []
        for path in wanted:
            info = summary.resolve(tuple(path))
            if info is None:
                raise ValueError(f"the model has no layer {'/'.join(path)!r}")
            chosen.append(info)
    if not chosen:
        raise ValueError("the model has no conv layer and no output layer to show")
    return list({info.path: info for info in chosen}.values())


def scan_groups(existing: dict | None, layers: list[LayerInfo]) -> Groups:
    """The scan groups of an existing folder, plus one for the layers it lacks."""
    groups = [[tuple(text.split("/")) for text in g] for g in (existing or {}).get("groups", [])]
    known = {layer for group in groups for layer in group}
    new = [tuple(info.path) for info in layers if tuple(info.path) not in known]
    return [*groups, new] if new else groups


def prepare(
    layout: Layout,
    source: ImageSource,
    context: Context,
    fingerprint: str,
    settings: BuildSettings,
    origin: str,
) -> Prepared:
    """Check the folder against what is asked (ManifestMismatch, a ValueError, for a folder of
    another), plan the chunks, write the list of images and set `context.spec` to the build's.
    `origin` is the model_source() of the model."""
    recipe = atlas_recipe(settings.recipe)
    names = tuple(sorted(source.names))
    existing = manifest.load(layout)
    chunking = {"scan_chunk": settings.scan_chunk, "atlas_chunk": settings.atlas_chunk}
    wanted = manifest.identity(
        fingerprint, recipe.to_dict(), source.signature, settings.top_k, settings.display, chunking
    )
    if existing is not None:
        manifest.check(existing, wanted)
    summary = context.summary
    groups = scan_groups(existing, chosen_layers(summary, settings.layers))
    infos = {path: summary.resolve(path) for group in groups for path in group}
    counts = {path: info.size for path, info in infos.items() if info is not None}
    plan = make_plan(
        len(names), groups, counts, recipe.seed, settings.scan_chunk, settings.atlas_chunk
    )
    context.spec = Spec(
        context.spec.model, context.spec.random_weights, source.root, names,
        tuple(tuple(g) for g in groups), recipe.to_dict(), settings.top_k, settings.batch_size,
    )  # fmt: skip
    body = manifest_body(summary, origin, wanted, groups, infos, source)
    write_json(layout.images_list, {"root": source.root, "names": list(names)})
    return Prepared(layout, plan, context.spec, body, context, recipe.steps)


def manifest_body(
    summary: ModelSummary,
    origin: str,
    wanted: dict,
    groups: Groups,
    infos: dict[tuple[str, ...], LayerInfo | None],
    source: ImageSource,
) -> dict:
    """The manifest without its stages."""
    layers = [
        {
            "name": layer_text(path),
            "path": list(path),
            "folder": layer_folder_name(path),
            "units": info.size if info else 0,
            "kind": info.kind.value if info else None,
            "group": group,
        }
        for group, members in enumerate(groups)
        for path in members
        for info in [infos.get(path)]
    ]
    return {
        "format_version": wanted["format_version"],
        "identity": wanted,
        "model": {
            "name": summary.name,
            "source": origin,
            "fingerprint": wanted["fingerprint"],
            "input_shape": list(summary.input_shape),
            "input_range": list(summary.input_range),
        },
        "recipe": wanted["recipe"],
        "display": wanted["display"],
        "top_k": wanted["top_k"],
        "images": {
            "root": source.root,
            "count": len(source.names),
            "list": "images.json",
            "digest": source.signature,
        },
        "groups": [[layer_text(path) for path in group] for group in groups],
        "layers": layers,
        "versions": manifest.versions(),
    }
