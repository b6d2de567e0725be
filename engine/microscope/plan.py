"""The microscope's work cut into chunks, the same for the same inputs on any machine.

Three stages: scan chunks (a fixed range of the sorted image list, all layers of one scan group
at once), atlas chunks (a fixed range of one layer's units, optimized as one batch) and one
finishing chunk per layer. A chunk's id, its images or units and its seed follow from the
inputs alone, never from the order an executor runs chunks in, so any executor (here, Ray)
that runs every chunk gets the same files.

A scan group is the layers one run added: a later run that asks for more layers scans only
those, in a new group, and reuses everything else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from engine.microscope.layout import layer_folder_name

SCAN_CHUNK = 256  # images per scan chunk
ATLAS_CHUNK = 64  # units per atlas chunk: the atlas's largest batch (visualizer.ATLAS_BATCH)


@dataclass(frozen=True)
class ScanChunk:
    """Images `start` to `stop` (exclusive) of the sorted list, for the layers of `group`."""

    id: str
    group: int
    start: int
    stop: int


@dataclass(frozen=True)
class AtlasChunk:
    """Units `first` to `stop` (exclusive) of `layer`, visualized as one batch from `seed`."""

    id: str
    layer: tuple[str, ...]
    first: int
    stop: int
    seed: int

    @property
    def units(self) -> list[int]:
        return list(range(self.first, self.stop))


@dataclass(frozen=True)
class LayerChunk:
    """Everything of `layer` once its scan group and its atlas chunks are done."""

    id: str
    layer: tuple[str, ...]
    group: int


@dataclass(frozen=True)
class Plan:
    """Every chunk of a microscope, stage by stage."""

    scan: tuple[ScanChunk, ...]
    atlas: tuple[AtlasChunk, ...]
    layers: tuple[LayerChunk, ...]

    def atlas_of(self, layer: tuple[str, ...]) -> list[AtlasChunk]:
        return [chunk for chunk in self.atlas if chunk.layer == tuple(layer)]

    def scan_of(self, group: int) -> list[ScanChunk]:
        return [chunk for chunk in self.scan if chunk.group == group]


def chunk_seed(seed: int, layer: tuple[str, ...], first: int) -> int:
    """The seed of the atlas chunk that starts at unit `first` of `layer`: a hash of the base
    seed, the layer and the unit, so that it does not depend on which chunks ran before."""
    text = f"{int(seed)}\0{'/'.join(layer)}\0{int(first)}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "big") % 2**31


def make_plan(
    image_count: int,
    groups: list[list[tuple[str, ...]]],
    unit_counts: dict[tuple[str, ...], int],
    seed: int,
    scan_chunk: int = SCAN_CHUNK,
    atlas_chunk: int = ATLAS_CHUNK,
) -> Plan:
    """The chunks for `image_count` images and the layers of `groups` (each layer in exactly
    one), whose unit counts `unit_counts` gives; ValueError names a bad size."""
    if scan_chunk < 1 or atlas_chunk < 1:
        raise ValueError(f"chunk sizes must be at least 1, got {scan_chunk} and {atlas_chunk}")
    if image_count < 1:
        raise ValueError(f"a microscope needs at least one image, got {image_count}")
    scan, atlas, layers = [], [], []
    seen: set[tuple[str, ...]] = set()
    for group, members in enumerate(groups):
        for start in range(0, image_count, scan_chunk):
            stop = min(start + scan_chunk, image_count)
            scan.append(ScanChunk(f"scan-g{group}-{start:07d}", group, start, stop))
        for layer in members:
            layer = tuple(layer)
            if layer in seen:
                raise ValueError(f"layer {'/'.join(layer)!r} is in more than one scan group")
            seen.add(layer)
            count = unit_counts.get(layer, 0)
            if count < 1:
                raise ValueError(f"layer {'/'.join(layer)!r} has {count} units")
            folder = layer_folder_name(layer)
            for first in range(0, count, atlas_chunk):
                stop = min(first + atlas_chunk, count)
                chunk_id = f"atlas-{folder}-{first:06d}"
                atlas.append(
                    AtlasChunk(chunk_id, layer, first, stop, chunk_seed(seed, layer, first))
                )
            layers.append(LayerChunk(f"layer-{folder}", layer, group))
    return Plan(tuple(scan), tuple(atlas), tuple(layers))
