"""The microscope website's style sheet and its two small inline scripts (site_pages.py puts
them in the pages). Nothing here loads anything from elsewhere: the site works from file://."""

STYLE_SHEET = """\
:root {
  --ink: #1d2330; --muted: #667085; --line: #e3e6ec; --paper: #f6f7f9; --card: #fff;
  --fine: #2e7d4f; --weak: #b7791f; --failed: #c0392b; --dead: #7b8190; --other: #5b6bbf;
  --accent: #2456c7;
}
* { box-sizing: border-box; }
body {
  margin: 0 auto; max-width: 1280px; padding: 20px 28px 40px; background: var(--paper);
  color: var(--ink); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
h1 { font-size: 24px; margin: 6px 0 10px; }
h1 small, h2 small { color: var(--muted); font-weight: normal; font-size: 14px; }
h2 { font-size: 17px; margin: 26px 0 10px; }
img { image-rendering: pixelated; background: #000; }
code { background: #eef0f4; padding: 1px 4px; border-radius: 3px; }
header .sub, .muted, footer { color: var(--muted); }
footer { margin-top: 32px; font-size: 12px; }
.crumbs { color: var(--muted); }
.pager { float: right; }
.pager a { margin-left: 14px; }
.notice { background: #fff6e0; border: 1px solid #f0d48a; padding: 8px 12px; border-radius: 6px; }
.badge {
  display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px;
  font-weight: 600; vertical-align: middle; background: var(--other);
}
.badge.fine, .bar .fine { background: var(--fine); }
.badge.weak, .bar .weak { background: var(--weak); }
.badge.failed, .bar .failed { background: var(--failed); }
.badge.dead, .bar .dead { background: var(--dead); }
.bar .other { background: var(--other); }
.cards { display: flex; gap: 12px; margin: 16px 0; flex-wrap: wrap; }
.card {
  background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 10px 18px; min-width: 110px; color: var(--muted);
}
.card b { display: block; font-size: 22px; color: var(--ink); }
.card.fine { border-left: 4px solid var(--fine); }
.card.weak { border-left: 4px solid var(--weak); }
.card.failed { border-left: 4px solid var(--failed); }
.card.dead { border-left: 4px solid var(--dead); }
.preview { display: flex; gap: 3px; }
.preview img { width: 28px; height: 28px; border-radius: 2px; }
table { border-collapse: collapse; background: var(--card); }
th, td { text-align: left; padding: 6px 12px; border-bottom: 1px solid var(--line); }
thead th { color: var(--muted); font-weight: 600; font-size: 12px; }
table.layers { width: 100%; border: 1px solid var(--line); }
.bar {
  display: inline-flex; width: 220px; height: 10px; border-radius: 5px; overflow: hidden;
  vertical-align: middle; background: var(--line); margin-right: 8px;
}
.controls {
  display: flex; flex-wrap: wrap; gap: 10px 16px; align-items: center; background: var(--card);
  border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; margin: 12px 0 16px;
  position: sticky; top: 0; z-index: 1;
}
.controls select, .controls input { font: inherit; padding: 2px 4px; }
.filters { display: flex; gap: 12px; }
.check { cursor: pointer; white-space: nowrap; }
#shown { margin-left: auto; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(228px, 1fr)); gap: 12px; }
.tile {
  display: block; background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 8px 10px; color: var(--ink);
}
.tile:hover { border-color: var(--accent); text-decoration: none; box-shadow: 0 1px 4px #0002; }
.tile[hidden] { display: none; }
.tile-head { display: flex; justify-content: space-between; align-items: center; }
.tile-images { display: grid; grid-template-columns: 100px 1fr; gap: 6px; margin: 6px 0; }
.tile-images .vis { width: 100px; height: 100px; border-radius: 4px; }
.crops { display: grid; grid-template-columns: repeat(2, 47px); gap: 6px; }
.crops img { width: 47px; height: 47px; border-radius: 3px; }
.tile-stats {
  display: block; color: var(--muted); font-size: 11px; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis;
}
.message { font-size: 15px; margin: 4px 0 12px; }
.hint { color: var(--muted); }
.overview { display: flex; gap: 28px; align-items: flex-start; }
figure { margin: 0; }
.big img { width: 240px; height: 240px; border-radius: 6px; }
.big figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
.overview h3 { margin: 0 0 6px; font-size: 13px; color: var(--muted); font-weight: 600; }
.overview table { border: 1px solid var(--line); }
.overview th { font-weight: normal; color: var(--muted); }
.overview td { font-variant-numeric: tabular-nums; }
.strip { display: flex; flex-wrap: wrap; gap: 12px; }
.strip figure {
  background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 6px;
}
.strip img { width: 96px; height: 96px; display: block; }
.strip figcaption { display: flex; flex-direction: column; width: 96px; font-size: 12px; }
.strip .name { overflow-wrap: anywhere; }
.strip .score { color: var(--muted); }
.circuit img { width: 32px; height: 32px; vertical-align: middle; margin-right: 8px; }
"""

# Reorders and hides the tiles the page already holds (it works without the script, unsorted);
# numbers sort highest first unless the order is changed, as in the window. The view is kept in
# the address's #fragment, so a shared link shows the same.
LAYER_SCRIPT = """
(function () {
  "use strict";
  var units = JSON.parse(document.getElementById("units-data").textContent);
  var grid = document.getElementById("tiles"), tiles = {};
  Array.prototype.forEach.call(grid.children, function (t) { tiles[t.dataset.unit] = t; });
  var sort = document.getElementById("sort"), order = document.getElementById("order");
  var numbers = document.getElementById("numbers");
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input[name=verdict]"));
  var rank = {dead: 0, failed: 1, weak: 2, fine: 3};
  function value(u, key) {
    var v = key === "verdict" ? (u.verdict in rank ? rank[u.verdict] : 4) : u[key];
    return typeof v === "number" && isFinite(v) ? v : -Infinity;
  }
  function wanted() {  // "3-10, 40": the unit numbers to show; null shows all
    var parts = numbers.value.split(/[,;\\s]+/).filter(Boolean), keep = {};
    if (!parts.length) return null;
    parts.forEach(function (p) {
      var m = /^#?(\\d+)(?:-(\\d+))?$/.exec(p);
      if (m) for (var k = +m[1]; k <= +(m[2] || m[1]) && k - m[1] <= 100000; k++) keep[k] = 1;
    });
    return keep;
  }
  function update(remember) {
    var key = sort.value, sign = order.value === "desc" ? -1 : 1, shown = 0, only = wanted();
    var hidden = boxes.filter(function (b) { return !b.checked; })
      .map(function (b) { return b.value; });
    units.slice().sort(function (a, b) {
      var d = value(a, key) - value(b, key);
      return (isNaN(d) ? 0 : sign * d) || a.unit - b.unit;
    }).forEach(function (u) {
      var tile = tiles[u.unit], keep = hidden.indexOf(u.verdict) < 0 && (!only || only[u.unit]);
      tile.hidden = !keep; shown += keep ? 1 : 0; grid.appendChild(tile);
    });
    document.getElementById("shown").textContent = shown + " of " + units.length + " units";
    if (remember) {
      history.replaceState(null, "", "#sort=" + key + "&order=" + order.value +
        (hidden.length ? "&hide=" + hidden.map(encodeURIComponent).join(",") : "") +
        (numbers.value ? "&units=" + encodeURIComponent(numbers.value) : ""));
    }
  }
  var state = {};
  location.hash.slice(1).split("&").forEach(function (p) {
    var i = p.indexOf("="); if (i > 0) state[p.slice(0, i)] = decodeURIComponent(p.slice(i + 1));
  });
  var known = Array.prototype.some.call(sort.options,
    function (o) { return o.value === state.sort; });
  if (known) sort.value = state.sort;
  order.value = state.order === "asc" || state.order === "desc" ? state.order
    : (sort.value === "unit" || sort.value === "verdict" ? "asc" : "desc");
  var hide = (state.hide || "").split(",");
  boxes.forEach(function (b) { b.checked = hide.indexOf(b.value) < 0; });
  numbers.value = state.units || "";
  sort.addEventListener("change", function () {
    order.value = sort.value === "unit" || sort.value === "verdict" ? "asc" : "desc";
  });
  document.getElementById("controls").addEventListener("change", function () { update(true); });
  numbers.addEventListener("input", function () { update(true); });
  update(false);
})();
"""

# Says so on the page when a picture did not load (a file missing from a copied site), and
# records the count on <body> (the headless-browser test reads it from the DOM).
UNIT_SCRIPT = """
window.addEventListener("load", function () {
  "use strict";
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.dataset.imagesLoaded = loaded + "/" + images.length;
  if (loaded < images.length) {
    var notice = document.getElementById("missing");
    notice.textContent = (images.length - loaded) + " of " + images.length +
      " pictures could not be loaded: files are missing beside this page.";
    notice.hidden = false;
  }
});
"""
