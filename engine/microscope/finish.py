"""One layer's files from its finished chunks: statistics, top images, crops, visualizations,
verdicts and circuits, with `units.json` written last (its presence says the layer is done).

The crop of a top image is the receptive field around the position where the channel peaks
on it (as DeepVis shows them): its centre maps the peak's position proportionally onto the
input, its side is the layer's receptive field (the whole image where that is unknown or
global), shifted to lie inside the image.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from PIL import Image

from engine.dataset.state import ScanState, merge_states, top_images
from engine.microscope.layout import Layout, layer_text, read_npz, write_json, write_npy, write_png
from engine.microscope.plan import LayerChunk, Plan
from engine.microscope.work import Context, load_scan

CIRCUIT_LINKS = 8  # strongest input channels kept per unit
CROP_MIN_SIDE = 64  # crops are upscaled (nearest neighbour) to at least this
BATCH = 64


def merged_scan(layout: Layout, plan: Plan, group: int) -> ScanState:
    """The scan state of scan group `group` over every image: its chunks merged, once (kept
    as `.chunks/merged-gN.npz`, so each layer of the group does not merge them again)."""
    kept = layout.chunk(f"merged-g{group}")
    if kept.exists():
        return load_scan(kept)
    merged = merge_states([load_scan(layout.chunk(c.id)) for c in plan.scan_of(group)])
    merged.save(kept)
    return merged


def finish_layer(
    context: Context, layout: Layout, plan: Plan, chunk: LayerChunk, display: str
) -> dict:
    """Write `chunk.layer`'s folder; returns its summary (units, verdict counts)."""
    from engine.cli.atlas import to_png

    layer = chunk.layer
    state = merged_scan(layout, plan, chunk.group)
    atlas = _atlas_arrays(layout, plan, layer)
    units = [int(u) for u in atlas["units"]]
    verdicts = [v for part in atlas["verdicts"] for v in part]
    tops = {rank: [top_images(state, layer, u, rank) for u in units] for rank in ("max", "mean")}
    boxes = _crop_boxes(context, state, chunk, units, [paths for paths, _ in tops["max"]])
    entries = []
    for k, unit in enumerate(units):
        write_png(layout.vis(layer, unit), to_png(atlas["images"][k], display))
        entry = _unit_entry(state, layer, unit, atlas, k, verdicts[k])
        entry["vis"] = layout.relative(layout.vis(layer, unit))
        for rank in ("max", "mean"):
            paths, scores = tops[rank][k]
            entry[f"top_{rank}"] = _write_tops(
                context, chunk, layout, state, unit, rank, (paths, scores), boxes[k]
            )
        entry["circuit"] = _circuit(context, layer, unit)
        entries.append(entry)
    _write_arrays(layout, state, layer, atlas)
    body = {
        "layer": layer_text(layer),
        "units": entries,
        "summary": _summary(entries),
        "crop": "receptive field around the channel's maximum; box = [top, left, bottom, right)",
        "fires_percent": "share of the scanned images on which the unit's maximum is above 0",
        "verdict": "the atlas's verdict, judged against an even sample of the images "
        "(evidence.references of them) with the layer's threshold (evidence.threshold)",
    }
    write_json(layout.units(layer), body)
    return _summary(entries)


def _atlas_arrays(layout: Layout, plan: Plan, layer: tuple[str, ...]) -> dict:
    parts = [read_npz(layout.chunk(c.id)) for c in plan.atlas_of(layer)]
    joined: dict[str, Any] = {
        name: np.concatenate([part[name] for part in parts])
        for name in ("units", "images", "activations", "dead", "from_real", "quality")
    }
    joined["verdicts"] = [json.loads(str(part["verdicts"])) for part in parts]
    return joined


def _unit_entry(state, layer, unit: int, atlas: dict, k: int, verdict: dict) -> dict:
    stats = state.stats[layer]
    peak = float(stats.max[unit])
    quality = float(atlas["quality"][k])
    return {
        "unit": unit,
        "fires_percent": 100.0 * float(state.fire_fraction(layer)[unit]),
        "mean": float(state.mean(layer)[unit]),
        "max": peak if np.isfinite(peak) else None,
        "activation": float(atlas["activations"][k]),
        "quality": quality if np.isfinite(quality) else None,
        "from_real": bool(atlas["from_real"][k]),
        "verdict": verdict["kind"],
        "message": verdict["message"],
        "evidence": verdict,
    }


def _crop_boxes(
    context: Context, state, chunk: LayerChunk, units: list[int], top_paths: list
) -> list[list]:
    """Per unit of `units`, the crop box of each of its top images by max."""
    from engine.images.convert import convert_image
    from engine.models.receptive_field import receptive_fields
    from engine.protocol import LayerPath

    scanner = context.scanner(chunk.group)
    position = context.spec.groups[chunk.group].index(chunk.layer)
    wanted = sorted({p.relative_to(state.root).as_posix() for paths in top_paths for p in paths})
    peaks: dict[str, np.ndarray] = {}
    for first in range(0, len(wanted), BATCH):
        names = wanted[first : first + BATCH]
        shape, value_range = scanner.input_shape, scanner.input_range
        pixels = [convert_image(context.source.open(n), shape, value_range).pixels for n in names]
        outputs = scanner.extractor(np.stack(pixels), training=False)
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        maps = np.asarray(outputs[position], np.float32)
        peaks.update(zip(names, maps, strict=True))
    field = receptive_fields(context.model).get(LayerPath(chunk.layer))
    height, width = scanner.input_shape[:2]
    boxes = []
    for unit, paths in zip(units, top_paths, strict=True):
        row = []
        for path in paths:
            channel_map = peaks[path.relative_to(state.root).as_posix()][..., unit]
            row.append(crop_box(channel_map, field, height, width))
        boxes.append(row)
    return boxes


def crop_box(channel_map: np.ndarray, field, height: int, width: int) -> list[int]:
    """[top, left, bottom, right) of the receptive field around `channel_map`'s maximum.

    Map cell r sits at r·jump + offset on the input, the offset centring the grid of cells on
    it (exact for 'valid' and 'same' padding alike); the box is shifted to lie inside."""
    cells = channel_map.shape
    peak = np.unravel_index(int(np.argmax(channel_map)), cells)
    if field is None or field.whole or cells[0] * cells[1] == 1:
        return [0, 0, height, width]
    box = []
    for axis, size in enumerate((height, width)):
        side = int(min(max(field.size[axis], 1), size))
        jump = field.jump[axis] or size / cells[axis]
        centre = int(peak[axis]) * jump + (size - (cells[axis] - 1) * jump) / 2
        start = min(max(round(centre - side / 2), 0), size - side)
        box.append((start, start + side))
    return [box[0][0], box[1][0], box[0][1], box[1][1]]


def _write_tops(context, chunk, layout, state, unit, rank, tops, boxes) -> list[dict]:
    """The top images of one ranking as PNGs (crops for max, whole images for mean)."""
    from engine.images.convert import convert_image

    scanner = context.scanner(chunk.group)
    layer, (paths, scores) = chunk.layer, tops
    found = []
    for index, (path, score) in enumerate(zip(paths, scores, strict=True)):
        name = path.relative_to(state.root).as_posix()
        shown = convert_image(context.source.open(name), scanner.input_shape, scanner.input_range)
        entry = {"rank": index, "image": name, "score": float(score)}
        picture = shown.display
        if rank == "max":
            top, left, bottom, right = boxes[index]
            picture = picture[top:bottom, left:right]
            entry["box"] = boxes[index]
        target = layout.crop(layer, unit, rank, index)
        write_png(target, _picture(picture))
        entry["png"] = layout.relative(target)
        found.append(entry)
    return found


def _picture(pixels: np.ndarray) -> Image.Image:
    values = np.round(np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8)
    factor = max(1, -(-CROP_MIN_SIDE // max(1, min(values.shape[:2]))))
    values = values.repeat(factor, axis=0).repeat(factor, axis=1)
    return Image.fromarray(values[..., 0] if values.shape[-1] == 1 else values)


def _circuit(context: Context, layer: tuple[str, ...], unit: int) -> dict | None:
    """The unit's strongest input channels (conv layers only; None for others)."""
    from engine.anatomy.circuits import trace

    try:
        circuit = trace(context.model, layer, unit, 0)
    except ValueError:
        return None
    links = [
        {
            "source_layer": None if link.source_layer is None else "/".join(link.source_layer),
            "channel": link.channel,
            "weight_norm": link.weight_norm,
            "weight_sum": link.weight_sum,
        }
        for link in circuit.links[:CIRCUIT_LINKS]
    ]
    return {"inputs": links, "note": circuit.note}


def _write_arrays(layout: Layout, state, layer, atlas: dict) -> None:
    """The raw arrays beside units.json: visualizations and the scan's top-k per ranking."""
    folder = layout.layer(layer)
    write_npy(folder / "vis.npy", atlas["images"])
    stats = state.stats[layer]
    for rank in ("max", "mean", "l2"):
        scores, indices = stats.top[rank]
        write_npy(folder / f"top_{rank}_indices.npy", indices)
        write_npy(folder / f"top_{rank}_scores.npy", scores)


def _summary(entries: list[dict]) -> dict:
    kinds = [entry["verdict"] for entry in entries]
    return {
        "units": len(entries),
        "verdicts": {kind: kinds.count(kind) for kind in ("fine", "failed", "weak", "dead")},
    }
