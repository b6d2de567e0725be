"""The layer atlas request: many filters of one layer, batched, cached on disk.

A job (engine/jobs/job.py): it yields tiles and progress, and ends with the last AtlasProgress.
Each final tile carries its filter's verdict (engine/optvis/verdict.py): only a filter that no
real image and no starting image makes fire is dead.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.jobs.job import Done, Job, ShouldStop
from engine.optvis import atlas_cache
from engine.optvis.visualizer import Visualizer
from engine.protocol import (
    Atlas,
    AtlasProgress,
    AtlasTile,
    EndReason,
    LayerInfo,
    ObjectiveTerm,
    Status,
    VerdictKind,
)


def run_atlas(
    request: Atlas,
    info: LayerInfo,
    visualizer: Visualizer,
    fingerprint: str,
    should_stop: ShouldStop,
) -> Job:
    """Show the cached atlas for `request`, or compute it (unless `cache_only`) and cache it."""
    units = tuple(range(info.size)) if request.units is None else request.units
    recipe = replace(request.settings, batch=1, diversity=0.0, negate=False)
    key = atlas_cache.atlas_key(fingerprint, request.layer, recipe)
    cached = atlas_cache.load(key)
    if cached is not None and set(units) <= set(cached.units.tolist()):
        return (yield from _cached_tiles(request, units, cached, visualizer))
    if request.cache_only:
        return Done(AtlasProgress(request.request_id, request.layer, 0, 0))
    yield Status(f"Visualizing all of {info.name}…", busy=True)
    done, results = 0, {}
    for chunk in visualizer.atlas(request.layer, units, recipe, should_stop):
        # A final chunk carries activations and deadness; a live one only images.
        activations = chunk.activations if chunk.final else None
        dead = chunk.dead if chunk.final else None
        for k, unit in enumerate(chunk.units):
            quality, activation, is_dead, verdict = None, float("nan"), False, None
            if activations is not None and dead is not None:
                activation = float(activations[k])
                quality = visualizer.quality(
                    [ObjectiveTerm(request.layer, unit)], recipe, activation
                )
                from_real = chunk.from_real is not None and bool(chunk.from_real[k])
                verdict = visualizer.unit_verdict(
                    request.layer, unit, activation, from_real, chunk.images[k]
                )
                is_dead = verdict.kind is VerdictKind.DEAD
                results[unit] = (chunk.images[k], activation, quality, is_dead)
            yield AtlasTile(
                request.request_id,
                request.layer,
                unit,
                chunk.images[k].copy(),
                activation,
                quality,
                is_dead,
                chunk.final,
                verdict,
            )
        if chunk.final:
            done += len(chunk.units)
            yield AtlasProgress(request.request_id, request.layer, done, len(units))
    last = AtlasProgress(request.request_id, request.layer, done, len(units))
    if done < len(units):
        return Done(last, EndReason.CANCELLED)
    atlas_cache.save(key, _cached(units, results))
    return Done(last)


def _cached_tiles(
    request: Atlas, units, cached: atlas_cache.CachedAtlas, visualizer: Visualizer
) -> Job:
    """The cached tiles, each judged again (the verdict rules may be newer than the cache)."""
    index = {int(unit): k for k, unit in enumerate(cached.units)}
    for unit in units:
        k = index[unit]
        quality = float(cached.qualities[k])
        activation = float(cached.activations[k])
        verdict = visualizer.unit_verdict(request.layer, unit, activation, image=cached.images[k])
        yield AtlasTile(
            request.request_id,
            request.layer,
            unit,
            cached.images[k].copy(),
            activation,
            None if np.isnan(quality) else quality,
            verdict.kind is VerdictKind.DEAD,
            True,
            verdict,
        )
    return Done(
        AtlasProgress(request.request_id, request.layer, len(units), len(units), from_cache=True)
    )


def _cached(units, results) -> atlas_cache.CachedAtlas:
    order = list(units)
    return atlas_cache.CachedAtlas(
        units=np.array(order),
        images=np.stack([results[u][0] for u in order]),
        activations=np.array([results[u][1] for u in order], np.float32),
        qualities=np.array([np.nan if results[u][2] is None else results[u][2] for u in order]),
        dead=np.array([results[u][3] for u in order]),
    )
