"""The microscope website's pages as HTML text: the index, a tile page per layer and a page per
unit (engine/microscope/site.py writes them).

Every string that comes from the folder (model, layer and image names, messages) is user data
and goes through `html.escape`; every link through `urllib.parse.quote` as well, since a file
name may hold '#', '?' or '%'. The data a layer page sorts by travels inside the page as JSON,
so the page works from file:// with no fetch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import quote

from engine.microscope.site_assets import LAYER_SCRIPT, STYLE_SHEET, UNIT_SCRIPT

if TYPE_CHECKING:
    from engine.microscope.site_layer import SiteLayer

__all__ = ["STYLE_SHEET", "index_page", "layer_page", "number", "unit_page"]

VERDICTS = ("fine", "weak", "failed", "dead")  # the atlas's kinds, in the order pages list them
WORDS = {"fine": "ok"}  # as the window's Microscope tab says them
SORT_KEYS = {
    "unit": "unit number",
    "verdict": "verdict",
    "fires_percent": "fires on (% of images)",
    "max": "max activation",
    "mean": "mean activation",
    "activation": "visualization's activation",
    "quality": "vs. best real image",
}
TILE_CROPS = 4  # top crops a tile shows beside the visualization
PREVIEW_UNITS = 10  # visualizations the index shows per layer


def number(value: object, digits: int = 3) -> str:
    """A statistic as the pages show it: 3 significant digits, '–' for none or not finite."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}g}"


def _object(parent: dict, key: str) -> dict:
    """`parent[key]` where it is a JSON object, else an empty one (a folder may lack it)."""
    value = parent.get(key)
    return value if isinstance(value, dict) else {}


def _model_name(manifest: dict) -> str:
    return str(_object(manifest, "model").get("name") or "model")


def _link(path: str) -> str:
    """An href or src for a microscope-relative path, from a page one folder down."""
    return escape("../" + quote(path))


def _page(title: str, body: str, depth: int, script: str = "") -> str:
    style = escape("../" * depth + "site.css")
    tail = f"<script>{script}</script>\n" if script else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<title>{escape(title)}</title>\n<link rel="stylesheet" href="{style}">\n'
        f"</head>\n<body>\n{body}\n{tail}</body>\n</html>\n"
    )


def _badge(verdict: str) -> str:
    kind = verdict if verdict in VERDICTS else "other"
    return f'<span class="badge {kind}">{_word(verdict)}</span>'


def _word(verdict: str) -> str:
    return escape(WORDS.get(verdict, verdict))


def _counts(units: tuple[dict, ...]) -> dict[str, int]:
    kinds = [unit["verdict"] for unit in units]
    extra = sorted(set(kinds) - set(VERDICTS))
    return {kind: kinds.count(kind) for kind in (*VERDICTS, *extra)}


def index_page(manifest: dict, layers: list[SiteLayer]) -> str:
    """The site's front page: the model, what the microscope was built from, and its layers."""
    name = _model_name(manifest)
    images = _object(manifest, "images")
    recipe = _object(manifest, "recipe")
    built = [unit for layer in layers for unit in layer.units or ()]
    totals = _counts(tuple(built))
    cards = "".join(
        f'<div class="card {kind}"><b>{count:,}</b>{_word(kind)}</div>'
        for kind, count in totals.items()
    )
    rows = "".join(_layer_row(layer) for layer in layers)
    skipped = _object(images, "skipped")
    facts = (
        f"{number(images.get('scanned', images.get('count')), 9)} images scanned"
        f" ({len(skipped):,} skipped) · {number(recipe.get('steps'), 9)} ascent steps per unit"
        f" · top {number(manifest.get('top_k'), 9)} images per unit"
    )
    unfinished = (
        ""
        if manifest.get("complete")
        else '<p class="notice">This microscope is not finished: run the same '
        "<code>python main.py microscope</code> command again to resume it, then this one.</p>"
    )
    body = (
        f'<header><h1>{escape(name)}</h1><p class="sub">convscope microscope · {facts}</p>'
        f'</header>\n{unfinished}<div class="cards"><div class="card"><b>{len(built):,}'
        f'</b>units</div>{cards}</div>\n<table class="layers"><thead><tr><th>Layer</th>'
        "<th>Kind</th><th>Units</th><th>Verdicts</th><th>First units</th></tr></thead>\n"
        f"<tbody>{rows}</tbody></table>\n{_versions(manifest)}"
    )
    return _page(f"{name} · microscope", body, 0)


def _layer_row(layer: SiteLayer) -> str:
    preview = "".join(
        f'<img src="{escape(quote(unit["vis"]))}" loading="lazy" alt="unit {unit["unit"]}">'
        for unit in (layer.units or ())[:PREVIEW_UNITS]
    )
    if layer.units is None:
        name, verdicts = escape(layer.name), '<span class="muted">not finished yet</span>'
    else:
        name = f'<a href="{escape(quote(layer.folder))}/index.html">{escape(layer.name)}</a>'
        total = max(len(layer.units), 1)
        counts = _counts(layer.units)
        bar = "".join(
            f'<span class="{kind if kind in VERDICTS else "other"}" '
            f'style="width:{100 * count / total:.2f}%"></span>'
            for kind, count in counts.items()
            if count
        )
        words = ", ".join(f"{count} {_word(kind)}" for kind, count in counts.items() if count)
        verdicts = f'<span class="bar">{bar}</span> {words}'
    return (
        f"<tr><td>{name}</td><td>{escape(layer.kind)}</td><td>{layer.expected:,}</td>"
        f'<td>{verdicts}</td><td><span class="preview">{preview}</span></td></tr>\n'
    )


def _versions(manifest: dict) -> str:
    versions = _object(manifest, "versions")
    text = " · ".join(f"{escape(str(k))} {escape(str(v))}" for k, v in versions.items())
    return f"<footer>Built with {text}</footer>" if text else ""


def _json_in_script(value: object) -> str:
    """JSON that cannot end its <script> element early, whatever strings it holds."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def layer_page(manifest: dict, layer: SiteLayer) -> str:
    """One layer's units as tiles (visualization beside its top crops), sortable and
    filterable by verdict and statistics; images load lazily, so 2,048 units are one page."""
    units = layer.units or ()
    model = _model_name(manifest)
    options = "".join(f'<option value="{k}">{escape(v)}</option>' for k, v in SORT_KEYS.items())
    boxes = "".join(
        f'<label class="check"><input type="checkbox" name="verdict" value="{escape(kind)}"'
        f" checked> {_badge(kind)} {count:,}</label>"
        for kind, count in _counts(units).items()
        if count
    )
    tiles = "\n".join(_tile(unit) for unit in units)
    keys = ("unit", "verdict", *[k for k in SORT_KEYS if k not in ("unit", "verdict")])
    data = [{key: unit.get(key) for key in keys} for unit in units]
    body = (
        f'<nav class="crumbs"><a href="../index.html">{escape(model)}</a> › '
        f"{escape(layer.name)}</nav>\n<h1>{escape(layer.name)} <small>{len(units):,} units"
        f' · {escape(layer.kind)}</small></h1>\n<form class="controls" id="controls">'
        f'<label>Sort by <select id="sort">{options}</select></label> <select id="order">'
        '<option value="asc">ascending</option><option value="desc">descending</option>'
        f'</select><span class="filters">{boxes}</span><label>Units <input id="numbers" '
        'type="search" size="12" placeholder="e.g. 3-10, 40"></label><span id="shown" '
        'class="muted">'
        f"{len(units):,} of {len(units):,} units</span></form>\n"
        f'<div class="tiles" id="tiles">\n{tiles}\n</div>\n'
        f'<script type="application/json" id="units-data">{_json_in_script(data)}</script>'
    )
    return _page(f"{layer.name} · {model}", body, 1, LAYER_SCRIPT)


def _tile(unit: dict) -> str:
    k, message = unit["unit"], escape(str(unit.get("message", "")))
    crops = "".join(
        f'<img src="{_link(top["png"])}" loading="lazy" alt="top {top.get("rank", 0)}: '
        f'{escape(top["image"])}" title="{escape(top["image"])}: {number(top.get("score"))}">'
        for top in unit.get("top_max", [])[:TILE_CROPS]
    )
    stats = (
        f"fires {number(unit.get('fires_percent'))}% · max {number(unit.get('max'), 2)}"
        f" · mean {number(unit.get('mean'), 2)}"
    )
    return (
        f'<a class="tile" href="{k}.html" data-unit="{k}" title="{message}">'
        f'<span class="tile-head"><b>#{k}</b>{_badge(unit["verdict"])}</span>'
        f'<span class="tile-images"><img class="vis" src="{_link(unit["vis"])}" loading="lazy" '
        f'alt="visualization of unit {k}"><span class="crops">{crops}</span></span>'
        f'<span class="tile-stats">{stats}</span></a>'
    )


def unit_page(
    manifest: dict,
    layer: SiteLayer,
    unit: dict,
    neighbours: tuple[dict | None, dict | None],
    built: Mapping[str, SiteLayer],
) -> str:
    """Every view of one unit: visualization, top crops by max and images by mean (names and
    scores), statistics, the verdict and its evidence, and its inputs linked to their pages."""
    model = _model_name(manifest)
    k = unit["unit"]
    pager = " ".join(
        f'<a href="{n["unit"]}.html">{arrow}</a>'
        for n, arrow in zip(neighbours, ("← previous", "next →"), strict=True)
        if n is not None
    )
    evidence = _object(unit, "evidence")
    hint = f'<p class="hint">{escape(str(evidence["hint"]))}</p>' if evidence.get("hint") else ""
    body = (
        f'<nav class="crumbs"><a href="../index.html">{escape(model)}</a> › <a href="index.html">'
        f'{escape(layer.name)}</a> › unit {k}<span class="pager">{pager}</span></nav>\n'
        f"<h1>{escape(layer.name)} · unit {k} {_badge(unit['verdict'])}</h1>\n"
        f'<p class="message">{escape(str(unit.get("message", "")))}</p>{hint}\n'
        '<p class="notice" id="missing" hidden></p>\n<section class="overview">'
        f'<figure class="big"><img src="{_link(unit["vis"])}" alt="visualization of unit {k}">'
        f"<figcaption>Visualization · activation {number(unit.get('activation'))}</figcaption>"
        f"</figure>{_stats(unit)}{_evidence(evidence)}</section>\n"
        f"<h2>Top images by maximum <small>receptive-field crop around the peak</small></h2>\n"
        f"{_strip(unit.get('top_max', []))}\n<h2>Top images by mean</h2>\n"
        f"{_strip(unit.get('top_mean', []))}\n{_circuit(unit.get('circuit'), built)}"
    )
    return _page(f"{layer.name} unit {k} · {model}", body, 1, UNIT_SCRIPT)


def _stats(unit: dict) -> str:
    rows = (
        ("Fires on", f"{number(unit.get('fires_percent'))}% of the scanned images"),
        ("Max activation", number(unit.get("max"))),
        ("Mean activation", number(unit.get("mean"))),
        ("Visualization's activation", number(unit.get("activation"))),
        ("vs. best real image", f"{number(unit.get('quality'))}×"),
        ("Started from", "a real image" if unit.get("from_real") else "noise"),
    )
    cells = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    return f'<div><h3>Statistics</h3><table class="stats">{cells}</table></div>'


def _strip(tops: list[dict]) -> str:
    if not tops:
        return '<p class="muted">none</p>'
    figures = "".join(
        f'<figure><img src="{_link(top["png"])}" alt="{escape(top["image"])}">'
        f'<figcaption><span class="name">{escape(top["image"])}</span>'
        f'<span class="score">{number(top.get("score"))}</span></figcaption></figure>'
        for top in tops
    )
    return f'<div class="strip">{figures}</div>'


def _circuit(circuit: object, built: Mapping[str, SiteLayer]) -> str:
    if not isinstance(circuit, dict) or not isinstance(circuit.get("inputs"), list):
        return ""
    rows = [
        f"<tr><td>{_input(link, built)}</td><td>{number(link.get('weight_norm'))}</td>"
        f"<td>{number(link.get('weight_sum'))}</td></tr>"
        for link in circuit["inputs"]
        if isinstance(link, dict)
    ]
    note = f'<p class="muted">{escape(str(circuit["note"]))}</p>' if circuit.get("note") else ""
    return (
        "<h2>Strongest inputs <small>by the norm of their kernel weights</small></h2>\n"
        '<table class="circuit"><thead><tr><th>Input channel</th><th>Weight norm</th>'
        f"<th>Weight sum</th></tr></thead><tbody>{''.join(rows)}</tbody></table>{note}"
    )


def _input(link: dict, built: Mapping[str, SiteLayer]) -> str:
    """An input channel of a circuit, linked to its unit page where the site has one."""
    source, channel = link.get("source_layer"), link.get("channel")
    label = f"{escape(str(source or 'input'))} #{escape(str(channel))}"
    layer = built.get(source) if isinstance(source, str) else None
    unit = layer.by_unit.get(channel) if layer and isinstance(channel, int) else None
    if layer is None or unit is None:
        return label
    page = f"../{quote(layer.folder)}/{unit['unit']}.html"
    return f'<a href="{escape(page)}"><img src="{_link(unit["vis"])}" alt="">{label}</a>'


def _evidence(evidence: dict) -> str:
    rows = "".join(
        f"<tr><th>{escape(str(key))}</th><td>{number(value, 4)}</td></tr>"
        for key, value in evidence.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    )
    if not rows:
        return ""
    return f'<div><h3>The verdict\'s evidence</h3><table class="evidence">{rows}</table></div>'
