"""`python main.py microscope`: every unit visualized with its top images, resumable."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest
from microscope_data import digit_folder, tiny_model
from PIL import Image

from engine.cli import microscope
from engine.cli.scan import Signals

SMALL = ("--steps", "8", "--scan-chunk", "32", "--atlas-chunk", "4", "--top-k", "5")
LAYERS = {"conv1": 4, "conv2": 4, "out": 4}


class Stop(Exception):
    """Stands for a process killed right after a chunk was kept."""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """A tiny model and 100 real MNIST digits plus one corrupt file."""
    folder = tmp_path_factory.mktemp("microscope")
    return {
        "root": folder,
        "images": digit_folder(folder / "images"),
        "model": tiny_model(folder / "mini.keras", 5),
        "other": tiny_model(folder / "other.keras", 6),
    }


def _run(data, out: Path, *extra: str, model: str = "model", after=lambda _id, _s: None):
    paths = ["--model", str(data[model]), "--images", str(data["images"]), "--out", str(out)]
    args = microscope._parse([*paths, *SMALL, *extra])
    signals = Signals()  # not entered: no handlers installed; `signum` is the stop flag
    return microscope.run(args, signals, lambda chunk_id: after(chunk_id, signals)), signals


@pytest.fixture(scope="module")
def built(data) -> Path:
    out = data["root"] / "whole"
    code, _ = _run(data, out)
    assert code == 0
    return out


def _listed_files(out: Path) -> list[Path]:
    """Every file the manifest and the layers' units.json name."""
    manifest = json.loads((out / "manifest.json").read_text())
    files = [out / manifest["images"]["list"]]
    for layer in manifest["layers"]:
        units = json.loads((out / layer["folder"] / "units.json").read_text())
        for unit in units["units"]:
            files.append(out / unit["vis"])
            files.extend(out / top["png"] for r in ("max", "mean") for top in unit[f"top_{r}"])
    return files


def test_builds_every_unit_of_every_layer(built):
    manifest = json.loads((built / "manifest.json").read_text())
    assert manifest["complete"]
    assert {layer["name"]: layer["units"] for layer in manifest["layers"]} == LAYERS
    assert manifest["images"]["count"] == 101 and manifest["images"]["scanned"] == 100
    assert list(manifest["images"]["skipped"]) == ["broken.png"]  # counted, not fatal
    assert manifest["summary"]["units"] == 12
    assert sum(manifest["summary"]["verdicts"].values()) == 12
    for key in ("tensorflow", "keras", "numpy", "convscope"):
        assert manifest["versions"][key]
    files = _listed_files(built)
    assert len(files) == 1 + 12 * (1 + 2 * 5) and all(path.is_file() for path in files)
    names = json.loads((built / "images.json").read_text())["names"]
    conv2 = json.loads((built / "conv2" / "units.json").read_text())["units"]
    for unit in conv2:
        assert set(unit) >= {"fires_percent", "mean", "max", "verdict", "evidence", "circuit"}
        assert unit["circuit"]["inputs"][0]["source_layer"] == "conv1"
        scores = [top["score"] for top in unit["top_max"]]
        assert scores == sorted(scores, reverse=True) and scores[0] == pytest.approx(unit["max"])
        for top in unit["top_max"]:
            t, left, b, r = top["box"]
            assert 0 <= t < b <= 28 and 0 <= left < r <= 28 and (b - t, r - left) == (8, 8)
            assert top["image"] in names and top["image"] != "broken.png"
    indices = np.load(built / "conv2" / "top_max_indices.npy")
    assert [names[i] for i in indices[0]] == [top["image"] for top in conv2[0]["top_max"]]
    means = np.load(built / "conv2" / "top_mean_scores.npy")
    assert means[0][0] == pytest.approx(conv2[0]["top_mean"][0]["score"])


def test_a_rerun_does_nothing(data, built):
    before = {p: p.stat().st_mtime_ns for p in built.rglob("*") if p.is_file()}
    ran: list[str] = []
    code, _ = _run(data, built, after=lambda chunk_id, _s: ran.append(chunk_id))
    assert code == 0 and ran == []
    after = {p: p.stat().st_mtime_ns for p in built.rglob("*") if p.is_file()}
    assert set(after) == set(before)
    changed = {p.name for p in before if after[p] != before[p]}
    assert changed <= {"manifest.json", "images.json"}  # rewritten, with the same content


def _same_results(first: Path, second: Path) -> None:
    for layer in LAYERS:
        a = json.loads((first / layer / "units.json").read_text())
        b = json.loads((second / layer / "units.json").read_text())
        assert a == b
        for unit in range(LAYERS[layer]):
            name = f"{unit}.png"
            with (
                Image.open(first / layer / "vis" / name) as x,
                Image.open(second / layer / "vis" / name) as y,
            ):
                np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
        np.testing.assert_array_equal(
            np.load(first / layer / "vis.npy"), np.load(second / layer / "vis.npy")
        )


def test_killed_during_the_scan_and_stopped_in_the_atlas_resumes_to_the_same(data, built):
    out = data["root"] / "interrupted"

    def kill_at_second_scan_chunk(chunk_id: str, _signals) -> None:
        if chunk_id == "scan-g0-0000032":
            raise Stop  # as kill -9 right after the chunk was kept: nothing cleans up

    with pytest.raises(Stop):
        _run(data, out, after=kill_at_second_scan_chunk)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stages"]["scan"]["done"] == ["scan-g0-0000000", "scan-g0-0000032"]
    assert not manifest["complete"]

    def ctrl_c_in_atlas(chunk_id: str, signals) -> None:
        if chunk_id.startswith("atlas-"):
            signals.signum = signal.SIGINT  # what the SIGINT handler sets

    code, _ = _run(data, out, after=ctrl_c_in_atlas)
    assert code == 130
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["stages"]["scan"]["done"]) == 4
    assert manifest["stages"]["atlas"]["done"] == ["atlas-conv1-000000"]
    assert not (out / "conv1" / "units.json").exists()
    code, _ = _run(data, out)
    assert code == 0
    _same_results(built, out)
    assert json.loads((out / "manifest.json").read_text())["complete"]


def test_a_different_model_never_reuses_the_folder(data, built, capsys):
    before = (built / "conv1" / "units.json").read_bytes()
    argv = ["--model", str(data["other"]), "--images", str(data["images"]), "--out", str(built)]
    assert microscope.main([*argv, *SMALL]) == 1
    error = capsys.readouterr().err
    assert "another model" in error and "--force" in error
    assert (built / "conv1" / "units.json").read_bytes() == before


def test_bad_arguments_are_refused_with_a_message(tmp_path, capsys):
    argv = ["--images", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")]
    assert microscope.main(argv) == 1
    assert "does not exist" in capsys.readouterr().err
    assert microscope.main([*argv, "--top-k", "0"]) == 1
    assert "--top-k must be at least 1" in capsys.readouterr().err


def test_a_later_run_adds_layers_and_keeps_the_rest(data):
    out = data["root"] / "extended"
    assert _run(data, out, "--layers", "conv1")[0] == 0
    kept = (out / "conv1" / "units.json").stat().st_mtime_ns
    ran: list[str] = []
    code, _ = _run(data, out, "--layers", "conv2", after=lambda chunk_id, _s: ran.append(chunk_id))
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["groups"] == [["conv1"], ["conv2"]] and manifest["complete"]
    assert [layer["name"] for layer in manifest["layers"]] == ["conv1", "conv2"]
    assert all(chunk_id.startswith(("scan-g1-", "atlas-conv2-", "layer-conv2")) for chunk_id in ran)
    assert (out / "conv1" / "units.json").stat().st_mtime_ns == kept
    assert (out / "conv2" / "units.json").is_file()
