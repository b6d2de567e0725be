"""The layer atlas request: many filters of one layer, batched, cached on disk.

Split from the session so each module keeps to one purpose; it reports through `emit` exactly
as the session does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from engine.optvis import atlas_cache
from engine.optvis.visualizer import Visualizer
from engine.protocol import Atlas, AtlasProgress, AtlasTile, LayerInfo, ObjectiveTerm, Status


def run_atlas(
    request: Atlas,
    info: LayerInfo,
    visualizer: Visualizer,
    fingerprint: str,
    emit: Callable[[object], None],
    should_stop: Callable[[], bool],
) -> None:
    """Show the cached atlas for `request`, or compute it (unless `cache_only`) and cache it."""
    units = tuple(range(info.size)) if request.units is None else request.units
    recipe = replace(request.settings, batch=1, diversity=0.0, negate=False)
    key = atlas_cache.atlas_key(fingerprint, request.layer, recipe)
    cached = atlas_cache.load(key)
    if cached is not None and set(units) <= set(cached.units.tolist()):
        _emit_cached(request, units, cached, emit)
        return
    if request.cache_only:
        emit(AtlasProgress(request.request_id, request.layer, 0, 0, finished=True))
        return
    emit(Status(f"Visualizing all of {info.name}…", busy=True))
    done, results = 0, {}
    for chunk in visualizer.atlas(request.layer, units, recipe, should_stop):
        for k, unit in enumerate(chunk.units):
            quality = None
            if chunk.final:
                term = ObjectiveTerm(request.layer, unit)
                quality = visualizer.quality([term], recipe, float(chunk.activations[k]))
                results[unit] = (chunk.images[k], chunk.activations[k], quality,
                                 bool(chunk.dead[k]))  # fmt: skip
            emit(
                AtlasTile(
                    request.request_id, request.layer, unit, chunk.images[k].copy(),
                    float(chunk.activations[k]) if chunk.final else float("nan"),
                    quality, bool(chunk.dead[k]) if chunk.final else False, chunk.final,
                )
            )  # fmt: skip
        if chunk.final:
            done += len(chunk.units)
            emit(AtlasProgress(request.request_id, request.layer, done, len(units)))
    cancelled = done < len(units)
    if not cancelled:
        atlas_cache.save(key, _cached(units, results))
    emit(
        AtlasProgress(
            request.request_id, request.layer, done, len(units),
            finished=True, cancelled=cancelled,
        )
    )  # fmt: skip


def _emit_cached(request: Atlas, units, cached: atlas_cache.CachedAtlas, emit) -> None:
    index = {int(unit): k for k, unit in enumerate(cached.units)}
    for unit in units:
        k = index[unit]
        quality = float(cached.qualities[k])
        emit(
            AtlasTile(
                request.request_id, request.layer, unit, cached.images[k].copy(),
                float(cached.activations[k]), None if np.isnan(quality) else quality,
                bool(cached.dead[k]), True,
            )
        )  # fmt: skip
    emit(
        AtlasProgress(
            request.request_id, request.layer, len(units), len(units),
            finished=True, from_cache=True,
        )
    )  # fmt: skip


def _cached(units, results) -> atlas_cache.CachedAtlas:
    order = list(units)
    return atlas_cache.CachedAtlas(
        units=np.array(order),
        images=np.stack([results[u][0] for u in order]),
        activations=np.array([results[u][1] for u in order], np.float32),
        qualities=np.array([np.nan if results[u][2] is None else results[u][2] for u in order]),
        dead=np.array([results[u][3] for u in order]),
    )
