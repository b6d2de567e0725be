"""`python main.py microscope-site OUT SITE`: a microscope as a static website, opened in a
real headless Chromium (Debian's `chromium`; `.ci/run` installs it and sets
CONVSCOPE_REQUIRE_CHROMIUM=1, which, like CI=true, turns its skip into a failure).

CONVSCOPE_UPDATE_PICTURES=1 also rebuilds resources/microscope_site.png, the README's picture
of a layer page, from the built-in model.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import NoReturn
from urllib.parse import unquote, urlsplit

import pytest
from microscope_data import MNIST, tiny_model
from PIL import Image

from engine.cli import microscope, microscope_site
from engine.cli.scan import Signals
from engine.dataset.mnist import load_mnist_dir
from engine.microscope import manifest, site
from engine.models.meta import REPO_ROOT

PICTURE = REPO_ROOT / "resources" / "microscope_site.png"
# Names are user data: markup in them must stay text. TensorFlow allows '>' but no '<' or '&'
# in a layer's or a model's name (the manifest and the pages show the model's own name).
ODD_LAYER = "conv>1"
ODD_NAME = "mini>co"
ODD_MODEL = "<i>mini&co.keras"
# Every fourth image is named like this: were it pasted into a page unescaped, the browser
# would run its onerror and mark <body>.
ODD_IMAGE = '<img src=x onerror="document.body.dataset.pwned=1">'
TOP_K = 5


def _build(model: str, images: Path, out: Path, *extra: str) -> Path:
    paths = ["--model", model, "--images", str(images), "--out", str(out)]
    code = microscope.run(microscope._parse([*paths, *extra]), Signals())
    assert code == 0
    return out


def _digits(folder: Path, count: int, odd_every: int = 0) -> Path:
    folder.mkdir()
    digits, _ = load_mnist_dir(MNIST)
    for k in range(count):
        odd = odd_every and k % odd_every == 0
        Image.fromarray(digits[k]).save(folder / f"{ODD_IMAGE if odd else 'digit'}_{k:02d}.png")
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A finished microscope of a tiny model over 60 real MNIST digits."""
    if not MNIST.is_dir():
        pytest.skip("the MNIST test set is not in ../shared/data/mnist")
    root = tmp_path_factory.mktemp("site")
    images = _digits(root / "images", 60, odd_every=4)
    small = ("--steps", "6", "--scan-chunk", "64", "--atlas-chunk", "4", "--top-k", str(TOP_K))
    model = tiny_model(root / ODD_MODEL, 3, first=ODD_LAYER, name=ODD_NAME)
    return _build(str(model), images, root / "microscope", *small)


@pytest.fixture(scope="module")
def website(built) -> Path:
    out = built.parent / "website"
    assert microscope_site.main([str(built), str(out)]) == 0
    return out


class _Tags(HTMLParser):
    """Every tag of a page with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data) -> None:
        self.text.append(data)


def _parsed(page: Path) -> _Tags:
    parser = _Tags()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def _units(built: Path) -> dict[str, list[dict]]:
    found = {}
    for entry in json.loads((built / "manifest.json").read_text())["layers"]:
        units = json.loads((built / entry["folder"] / "units.json").read_text())["units"]
        found[entry["folder"]] = units
    return found


def test_every_unit_has_a_page_and_every_link_resolves(built, website):
    units = _units(built)
    assert sorted(units) == sorted([ODD_LAYER, "conv2", "out"])
    pages = sorted(website.rglob("*.html"))
    expected = {website / "index.html"} | {website / f / "index.html" for f in units}
    expected |= {website / f / f"{u['unit']}.html" for f, us in units.items() for u in us}
    assert set(pages) == expected  # 1 + 3 layer pages + 12 unit pages
    for page in pages:
        for tag, attrs in _parsed(page).tags:
            for name in ("href", "src"):
                link = attrs.get(name)
                if link is None or link.startswith("#"):
                    continue
                parts = urlsplit(link)
                assert not parts.scheme and not parts.netloc, f"{page}: {tag} {name}={link}"
                assert (page.parent / unquote(parts.path)).resolve().is_file(), f"{page}: {link}"
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<(script|link)[^>]+(src|href)=\"(https?:)?//", text)


def test_a_unit_page_shows_every_view(built, website):
    unit = _units(built)["conv2"][1]
    page = _parsed(website / "conv2" / "1.html")
    sources = [attrs["src"] for tag, attrs in page.tags if tag == "img"]
    shown = [top["png"] for rank in ("max", "mean") for top in unit[f"top_{rank}"]]
    assert sources[0] == "../" + unit["vis"]
    assert sources[1 : 1 + 2 * TOP_K] == ["../" + path for path in shown]
    text = " ".join(page.text)
    assert unit["message"] in text
    for top in unit["top_max"]:
        assert f"{top['score']:.3g}" in text
    inputs = [attrs["href"] for tag, attrs in page.tags if tag == "a"]
    channel = unit["circuit"]["inputs"][0]["channel"]
    assert f"../conv%3E1/{channel}.html" in inputs  # the input's own page


def test_names_from_the_folder_stay_text(website):
    everything = "\n".join(p.read_text(encoding="utf-8") for p in website.rglob("*.html"))
    assert "<img src=x" not in everything and "mini>co" not in everything
    assert "&lt;img src=x onerror=" in everything and "mini&gt;co" in everything
    texts = [" ".join(_parsed(p).text) for p in website.rglob("*.html")]
    assert any(ODD_IMAGE in text for text in texts)  # shown as the name it is
    assert all(ODD_NAME in text for text in texts)  # every page names the model
    assert any(f"{ODD_LAYER} · unit 0" in text for text in texts)


def test_an_existing_site_is_updated_in_place(built, website, tmp_path):
    notes = website / ODD_LAYER / "notes.txt"
    notes.write_text("mine")
    before = {p: p.stat().st_mtime_ns for p in website.rglob("*") if p.is_file()}
    report = site.write_site(built, website)
    assert report.written == 0 and report.removed == 0 and report.unit_pages == 12
    assert {p: p.stat().st_mtime_ns for p in website.rglob("*") if p.is_file()} == before
    # The same site from a microscope with one layer less: only what the site wrote goes.
    fewer = tmp_path / "fewer"
    shutil.copytree(built, fewer, ignore=shutil.ignore_patterns(".chunks"))
    body = json.loads((fewer / "manifest.json").read_text())
    body["layers"] = [e for e in body["layers"] if e["folder"] != ODD_LAYER]
    (fewer / "manifest.json").write_text(json.dumps(body))
    report = site.write_site(fewer, website)
    # Its index, units.json, and per unit a page, a visualization and 2 × TOP_K crops.
    assert report.layers == 2 and report.removed == 2 + 4 * (2 + 2 * TOP_K)
    assert notes.read_text() == "mine"
    assert not (website / ODD_LAYER / "index.html").exists()
    assert ODD_LAYER not in (website / "index.html").read_text(encoding="utf-8")


def _damaged(built: Path, where: Path) -> dict[str, Path]:
    """Copies of the microscope, each broken in one way."""
    cases = {}
    names = ("no_manifest", "bad_json", "future_format", "bad_units", "missing_png", "escaping")
    for name in names:
        cases[name] = where / name
        shutil.copytree(built, cases[name], ignore=shutil.ignore_patterns(".chunks"))
    (cases["no_manifest"] / "manifest.json").unlink()
    (cases["bad_json"] / "manifest.json").write_text("{ not json")
    future = json.loads((built / "manifest.json").read_text())
    future["format_version"] = 2  # a later convscope's folder: its fields may mean other things
    (cases["future_format"] / "manifest.json").write_text(json.dumps(future))
    (cases["bad_units"] / "conv2" / "units.json").write_text("[1, 2]")
    (cases["missing_png"] / "conv2" / "vis" / "3.png").unlink()
    units = cases["escaping"] / "out" / "units.json"
    body = json.loads(units.read_text())
    body["units"][0]["vis"] = "../../etc/passwd"
    units.write_text(json.dumps(body))
    return cases


def test_a_missing_or_damaged_folder_is_refused_with_a_message(built, tmp_path, capsys):
    said = {
        "missing": "is not a folder",
        "no_manifest": "manifest.json' is missing",
        "bad_json": "manifest.json cannot be read",
        "future_format": "format version 2; this convscope reads version 1 only",
        "bad_units": "holds list, expected a JSON object",
        "missing_png": "3.png' is missing",
        "escaping": "unusable file path '../../etc/passwd'",
    }
    cases = {"missing": tmp_path / "nothing", **_damaged(built, tmp_path)}
    for name, folder in cases.items():
        code = microscope_site.main([str(folder), str(tmp_path / f"site_{name}")])
        error = capsys.readouterr().err
        assert code == 2 and said[name] in error and "Traceback" not in error, (name, error)
        assert error.startswith("convscope microscope-site: error: ")
    assert microscope_site.main([str(built), str(built / "inside")]) == 2
    assert "outside the microscope" in capsys.readouterr().err


def test_the_command_starts_without_tensorflow(built, tmp_path):
    script = (
        "import sys; from main import main; code = main(['microscope-site', sys.argv[1], "
        "sys.argv[2]]); print(code, 'tensorflow' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(built), str(tmp_path / "s")],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
    )  # fmt: skip
    assert result.stdout.split()[-2:] == ["0", "False"], result.stderr
    assert "12 unit pages" in result.stdout


def _chromium_or_skip() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "Debian's chromium is not installed (sudo apt-get install -y chromium)"
        if os.environ.get("CONVSCOPE_REQUIRE_CHROMIUM") == "1" or os.environ.get("CI") == "true":
            _fail(reason)
        pytest.skip(reason)
    return found


def _fail(reason: str) -> NoReturn:
    pytest.fail(f"CONVSCOPE_REQUIRE_CHROMIUM=1 or CI=true but {reason}")


def _chromium(page: Path, profile: Path, *options: str, fragment: str = "") -> str:
    """What headless Chromium prints for `page` (a file:// URL) with `options`."""
    command = [
        _chromium_or_skip(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
        f"--user-data-dir={profile}", "--window-size=1280,900", "--virtual-time-budget=5000",
        *options, page.resolve().as_uri() + fragment,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_chromium_shows_a_unit_pages_images(website, tmp_path):
    pages = sorted(website.glob("*/[0-9]*.html"))
    page = next(p for p in pages if "&lt;img src=x" in p.read_text(encoding="utf-8"))
    wanted = sum(1 for tag, _ in _parsed(page).tags if tag == "img")
    assert wanted >= 1 + 2 * TOP_K  # the visualization, the top images, the inputs' pictures
    dom = _chromium(page, tmp_path / "profile", "--dump-dom")
    assert f'data-images-loaded="{wanted}/{wanted}"' in dom
    assert "data-pwned" not in dom and dom.count("<img") == wanted


def test_chromium_says_when_a_picture_is_missing(built, tmp_path):
    copy = tmp_path / "copy"
    site.write_site(built, copy)
    (copy / "conv2" / "top" / "2_mean_1.png").unlink()  # as a site copied without a file
    dom = _chromium(copy / "conv2" / "2.html", tmp_path / "profile", "--dump-dom")
    assert "1 of " in dom and "pictures could not be loaded" in dom


def _tiles(dom: str) -> list[tuple[int, bool]]:
    """(unit, shown) of each tile of a layer page's DOM, in page order."""
    found = re.findall(r'<a class="tile" href="\d+\.html" data-unit="(\d+)"([^>]*)>', dom)
    return [(int(unit), ' hidden=""' not in rest) for unit, rest in found]


def test_chromium_sorts_and_filters_a_layers_tiles(built, website, tmp_path):
    units = _units(built)["conv2"]
    page = website / "conv2" / "index.html"
    # Numbers sort highest first, as in the window.
    dom = _chromium(page, tmp_path / "p", "--dump-dom", fragment="#sort=max")
    by_max = sorted(units, key=lambda u: (-(u["max"] if u["max"] is not None else -1e9), u["unit"]))
    assert _tiles(dom) == [(u["unit"], True) for u in by_max]
    assert [u["unit"] for u in by_max] != sorted(u["unit"] for u in units)  # it did reorder
    # Hiding the verdict of the strongest unit, and asking for units 1-3, leaves exactly those.
    verdict = by_max[0]["verdict"]
    fragment = f"#sort=unit&hide={verdict}&units=1-3"
    dom = _chromium(page, tmp_path / "p", "--dump-dom", fragment=fragment)
    wanted = [(u["unit"], u["verdict"] != verdict and u["unit"] >= 1) for u in units]
    assert _tiles(dom) == wanted
    shown = sum(keep for _, keep in wanted)
    assert f"{shown} of {len(units)} units" in dom


def test_chromium_screenshots_a_layer_page(website, tmp_path):
    shot = tmp_path / "layer.png"
    _chromium(website / "conv2" / "index.html", tmp_path / "p", f"--screenshot={shot}")
    with Image.open(shot) as picture:
        assert picture.size == (1280, 900)
        assert len(picture.convert("RGB").getcolors(1 << 20) or ()) > 50  # not a blank page
    if os.environ.get("CONVSCOPE_UPDATE_PICTURES") == "1":
        _update_picture(tmp_path)


def _update_picture(where: Path) -> None:
    """resources/microscope_site.png: conv2 of the built-in model over 200 MNIST digits."""
    images = _digits(where / "digits", 200)
    out = _build("default", images, where / "builtin", "--layers", "conv2", "--steps", "32")
    site.write_site(out, where / "builtin_site")
    _chromium(
        where / "builtin_site" / "conv2" / "index.html", where / "p2", f"--screenshot={PICTURE}"
    )


def _synthetic(root: Path, count: int) -> Path:
    """A microscope folder of one layer of `count` units written by hand (no model): every
    unit shows the same few PNGs."""
    (root / "big" / "vis").mkdir(parents=True)
    Image.new("L", (8, 8), 128).save(root / "big" / "vis" / "0.png")
    tops = [{"rank": r, "image": f"i{r}.png", "score": 1.0 - r / 10, "png": "big/vis/0.png"}
            for r in range(TOP_K)]  # fmt: skip
    units = [
        {"unit": k, "verdict": ("fine", "dead")[k % 2], "message": "m", "max": k / count,
         "mean": 0.1, "fires_percent": 50.0, "vis": "big/vis/0.png", "top_max": tops,
         "top_mean": tops}
        for k in range(count)
    ]  # fmt: skip
    (root / "big" / "units.json").write_text(json.dumps({"layer": "big", "units": units}))
    layer = {"name": "big", "folder": "big", "units": count, "kind": "channels"}
    body = {"format": manifest.FORMAT_NAME, "format_version": manifest.FORMAT_VERSION}
    body |= {"model": {"name": "synthetic"}, "layers": [layer]}
    (root / "manifest.json").write_text(json.dumps(body))
    return root


def test_a_layer_of_2048_units_is_one_page_of_lazy_images(tmp_path):
    out = _synthetic(tmp_path / "microscope", 2048)
    started = time.perf_counter()
    report = site.write_site(out, tmp_path / "site")
    seconds = time.perf_counter() - started
    assert report.unit_pages == 2048 and seconds < 30
    page = _parsed(tmp_path / "site" / "big" / "index.html")
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    assert len(images) == 2048 * (1 + 4) and all(a.get("loading") == "lazy" for a in images)
    assert len([1 for tag, a in page.tags if tag == "a" and a.get("class") == "tile"]) == 2048


def test_an_unfinished_microscope_shows_what_is_done(tmp_path):
    out = _synthetic(tmp_path / "microscope", 3)
    body = json.loads((out / "manifest.json").read_text())
    body["layers"].append({"name": "later", "folder": "later", "units": 8, "kind": "channels"})
    (out / "manifest.json").write_text(json.dumps(body))  # "complete" is not true
    report = site.write_site(out, tmp_path / "site")
    assert (report.layers, report.unit_pages) == (1, 3)
    text = " ".join(_parsed(tmp_path / "site" / "index.html").text)
    assert "This microscope is not finished" in text and "not finished yet" in text
    assert not (tmp_path / "site" / "later").exists()
