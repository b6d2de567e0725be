"""The Microscope tab: a folder opens as one tile per unit, sorted and filtered, a click shows
the unit's detail, a layer of 2,048 units opens without loading its pictures, bad folders give
a message, a build shows progress and cancels; and the BuildMicroscope job itself, on a tiny
model, writes a folder the tab reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fake_engine import FakeEngine, fake_window
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from engine.protocol import (
    Ascend,
    BuildMicroscope,
    EndReason,
    Explain,
    JobEnded,
    LoadModel,
    MicroscopeProgress,
    OpenImage,
    StopRun,
)
from engine.protocol.microscope_format import open_microscope, read_units
from gui.common.names import MICROSCOPE_KEY, Tab

VERDICTS = ("fine", "weak", "dead", "fine", "failed", "fine", "dead", "fine")


def _png(path: Path, value: int, side: int = 8) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((side, side), value, np.uint8)).save(path)


def _unit(layer: str, unit: int, top_k: int, pictures: bool, root: Path) -> dict:
    verdict = VERDICTS[unit % len(VERDICTS)]
    source = None if layer == "conv1" else "conv1"  # conv2 reads conv1; conv1 the image
    tops = {}
    for rank in ("max", "mean"):
        tops[rank] = []
        for k in range(top_k):
            png = f"{layer}/top/{unit}_{rank}_{k}.png"
            if pictures:
                _png(root / png, 20 * k)
            entry = {"rank": k, "image": f"digit_{k}.png", "score": 1.0 - k / 10, "png": png}
            tops[rank].append(entry | ({"box": [0, 0, 8, 8]} if rank == "max" else {}))
    if pictures:
        _png(root / f"{layer}/vis/{unit}.png", 10 * unit % 256)
    return {
        "unit": unit,
        "fires_percent": 0.0 if verdict == "dead" else float((unit * 37) % 100),
        "mean": unit / 10,
        "max": None if verdict == "dead" else float(unit),
        "quality": None,
        "verdict": verdict,
        "message": f"unit {unit} is {verdict}",
        "vis": f"{layer}/vis/{unit}.png",
        "top_max": tops["max"],
        "top_mean": tops["mean"],
        "circuit": {"inputs": [{"source_layer": source, "channel": unit % 8, "weight_norm": 0.5,
                                "weight_sum": 0.1}], "note": ""},
    }  # fmt: skip


def write_microscope(
    root: Path, layers: dict[str, int], top_k: int = 3, pictures: bool = True, version: int = 1
) -> Path:
    """A folder in the microscope format, written with PIL and json: the model is the fake
    engine's ('fake', conv1 of 8 units, conv2 of 16)."""
    root.mkdir(parents=True, exist_ok=True)
    entries = [
        {"name": n, "path": [n], "folder": n, "units": c, "kind": "channels", "group": 0}
        for n, c in layers.items()
    ]
    manifest = {
        "format": "convscope-microscope", "format_version": version, "complete": True,
        "model": {"name": "fake", "source": "fake.keras"}, "top_k": top_k,
        "images": {"root": str(root / "images"), "count": 100}, "layers": entries,
    }  # fmt: skip
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    for name, count in layers.items():
        units = [_unit(name, u, top_k, pictures, root) for u in range(count)]
        (root / name).mkdir(exist_ok=True)
        (root / name / "units.json").write_text(json.dumps({"units": units}), encoding="utf-8")
    _png(root / "images" / "digit_0.png", 200, 28)
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_microscope(tmp_path_factory.mktemp("ms") / "out", {"conv1": 8, "conv2": 16})


def _shown(view) -> list:
    return view.model.shown()


def test_a_folder_opens_as_one_tile_per_unit_and_is_remembered(window, folder):
    view = window.ui.microscope_view
    assert window.microscope.open_folder(str(folder))
    assert [view.layer_combo.itemText(k) for k in range(view.layer_combo.count())] == [
        "conv1",
        "conv2",
    ]
    assert view.model.rowCount() == 8 and "8 of 8 units" in view.count_label.text()
    view.select_layer("conv2")
    assert view.model.rowCount() == 16
    assert window.settings.value(MICROSCOPE_KEY) == str(folder)


def test_a_folder_dropped_on_the_tab_opens_and_the_last_one_comes_back(window, folder, qtbot):
    view = window.ui.microscope_view
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    view.dropEvent(QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    assert view.model.rowCount() == 8
    again = fake_window(qtbot, FakeEngine())  # a new window, the same settings
    assert again.ui.microscope_view.model.rowCount() == 0  # nothing read before the tab shows
    again.show_tab(Tab.MICROSCOPE)
    assert again.ui.microscope_view.model.rowCount() == 8


def test_the_command_line_opens_a_microscope_on_its_tab(qtbot, engine, folder):
    import main
    from gui.startup import Startup

    assert tuple(tab.name.lower() for tab in Tab) == main.TAB_NAMES  # --tab knows every tab
    window = fake_window(qtbot, engine, model=False)
    Startup(window, None, None, tab="microscope", microscope=str(folder)).begin()
    view = window.ui.microscope_view
    assert window.ui.current_tab() is Tab.MICROSCOPE and view.model.rowCount() == 8
    assert view.detail.unit is not None and view.detail.unit.unit == 0  # a picture shows one


def test_sorting_and_filtering_the_tiles(window, folder):
    view = window.ui.microscope_view
    window.microscope.open_folder(str(folder))
    view.sort_combo.setCurrentText("Fires %")
    fires = [u.fires_percent for u in _shown(view)]
    assert fires == sorted(fires, reverse=True) and len(fires) == 8
    view.verdict_combo.setCurrentText("Dead")
    assert {u.verdict for u in _shown(view)} == {"dead"} and view.model.rowCount() == 2
    view.verdict_combo.setCurrentText("All verdicts")
    view.units_edit.setText("3-5, 7")
    assert [u.unit for u in _shown(view)] == [5, 7, 4, 3]  # still by fires %, highest first
    view.units_edit.setText("three")
    assert view.model.rowCount() == 0 and "'three'" in view.count_label.text()


def test_clicking_a_tile_shows_its_detail_with_every_top_image(window, folder, qtbot):
    view = window.ui.microscope_view
    window.show_tab(Tab.MICROSCOPE)
    window.microscope.open_folder(str(folder))
    index = view.model.index(2, 0)
    qtbot.mouseClick(
        view.grid.viewport(), Qt.MouseButton.LeftButton, pos=view.grid.visualRect(index).center()
    )
    detail = view.detail
    assert detail.unit is not None and detail.unit.unit == 2
    assert len(detail.crop_buttons) == 3 + 3  # top 3 by max and by mean
    assert "conv1 #2" in detail.title.text() and "dead" in detail.title.text()
    assert "unit 2 is dead" in detail.message.text()
    assert "input image #2" in detail.circuit.text()


def test_a_circuit_input_walks_back_to_that_unit(window, folder):
    view = window.ui.microscope_view
    window.microscope.open_folder(str(folder))
    view.select_layer("conv2")
    view.verdict_combo.setCurrentText("OK")
    view.show_unit(11)
    assert 'href="conv1:3"' in view.detail.circuit.text()
    view.detail.circuit.linkActivated.emit("conv1:3")
    assert view.layer_combo.currentText() == "conv1" and view.detail.unit.unit == 3


def test_a_layer_of_2048_units_opens_without_loading_its_pictures(window, tmp_path, qtbot):
    folder = write_microscope(tmp_path / "big", {"conv1": 2048}, top_k=9, pictures=False)
    view = window.ui.microscope_view
    window.show_tab(Tab.MICROSCOPE)
    window.microscope.open_folder(str(folder))
    assert view.model.rowCount() == 2048
    view.grid.viewport().grab()  # paints the tiles in view
    qtbot.waitUntil(lambda: view.cache.loads > 0)
    assert view.cache.loads < 2048 // 8  # only the tiles in view, each vis + 6 crops
    assert len(view.cache) <= view.cache.loads + 1


def test_a_folder_that_is_no_microscope_or_of_another_version_says_so(window, tmp_path):
    view = window.ui.microscope_view
    assert not window.microscope.open_folder(str(tmp_path))
    assert "no manifest.json" in view.status_label.text()
    future = write_microscope(tmp_path / "future", {"conv1": 2}, version=2)
    assert not window.microscope.open_folder(str(future))
    assert "format version 2" in view.status_label.text()
    assert "format version 2" in window.ui.message_bar.text()


def test_a_damaged_layer_or_a_missing_picture_shows_a_placeholder(window, tmp_path):
    folder = write_microscope(tmp_path / "bad", {"conv1": 4, "conv2": 4})
    (folder / "conv2" / "units.json").write_text("{not json", encoding="utf-8")
    (folder / "conv1" / "vis" / "1.png").unlink()
    view = window.ui.microscope_view
    window.microscope.open_folder(str(folder))
    view.show_unit(1)
    assert not view.detail.picture.pixmap().isNull()  # the placeholder
    view.select_layer("conv2")
    assert view.model.rowCount() == 0 and "cannot be read" in view.count_label.text()


def test_a_unit_opens_in_the_visualize_tab_of_its_model(window, engine, folder, qtbot):
    view = window.ui.microscope_view
    window.show_tab(Tab.MICROSCOPE)
    window.microscope.open_folder(str(folder))
    view.select_layer("conv2")
    assert view.show_unit(5)
    qtbot.mouseClick(view.detail.visualize_button, Qt.MouseButton.LeftButton)
    assert window.ui.current_tab() is Tab.VISUALIZE
    assert window.state.layer.path == ("conv2",) and window.state.unit == 5
    assert engine.last(Ascend).unit == 5


def test_explain_top_image_opens_it_in_the_explain_tab(window, engine, folder, qtbot):
    view = window.ui.microscope_view
    window.microscope.open_folder(str(folder))
    view.show_unit(0)
    qtbot.mouseClick(view.detail.explain_button, Qt.MouseButton.LeftButton)
    assert window.ui.current_tab() is Tab.EXPLAIN
    path = str(folder / "images" / "digit_0.png")
    assert engine.last(OpenImage).path == path
    engine.open(source=path)
    explain = engine.last(Explain)  # the unit's evidence on its own top image
    assert explain.unit_layer == ("conv1",) and explain.unit == 0


def test_a_microscope_of_another_model_does_not_link(window, tmp_path, qtbot):
    folder = write_microscope(tmp_path / "other", {"conv1": 3})  # the fake conv1 has 8 units
    view = window.ui.microscope_view
    window.microscope.open_folder(str(folder))
    view.show_unit(0)
    qtbot.mouseClick(view.detail.visualize_button, Qt.MouseButton.LeftButton)
    assert window.ui.current_tab() is not Tab.VISUALIZE or window.state.unit != 0
    assert "This microscope is of 'fake', whose layers" in window.ui.message_bar.text()


def test_a_build_shows_progress_cancels_and_opens_the_folder(window, engine, folder, qtbot):
    view = window.ui.microscope_view
    images = folder / "images"
    window.microscope.build(str(images), str(folder))
    request = engine.last(BuildMicroscope)
    assert request.images == str(images) and window.ui.current_tab() is Tab.MICROSCOPE
    assert view.cancel_button.isVisibleTo(window) and not view.build_button.isEnabled()
    engine.microscope_progress.emit(
        MicroscopeProgress(request.request_id, "atlas", 1, 4, 24, 146, eta=32.0)
    )
    assert "24 of 146 units" in view.status_label.text()
    assert "about 32 s left" in view.status_label.text()
    assert 10 < view.progress.value() < 30
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    assert isinstance(engine.requests[-1], StopRun)
    engine.end(request, EndReason.CANCELLED, str(folder))
    assert not view.cancel_button.isVisibleTo(window)
    assert view.model.rowCount() == 8 and "build into" in view.status_label.text()


# ---------------------------------------------------------------------- the engine's job


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The BuildMicroscope job of a tiny model's session, on 40 noise and flat images."""
    import keras

    from engine.session import EngineSession

    root = tmp_path_factory.mktemp("job")
    keras.utils.set_random_seed(3)
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    keras.Model(inputs, keras.layers.Dense(3, name="out")(x), name="mini").save(root / "m.keras")
    rng = np.random.default_rng(0)
    for k in range(20):
        _png(root / "images" / f"d{k:02d}.png", int(rng.integers(0, 255)), 28)
        Image.fromarray(rng.integers(0, 255, (28, 28), np.uint8)).save(
            root / "images" / f"n{k}.png"
        )
    emitted: list = []
    session = EngineSession(emitted.append)
    session.handle(LoadModel(str(root / "m.keras")), lambda: False)
    request = BuildMicroscope(
        str(root / "images"), str(root / "out"), (("conv2",), ("out",)), steps=4, top_k=3
    )
    ended = session.handle(request, lambda: False)
    return root, session, emitted, ended


def test_the_job_builds_a_folder_the_tab_reads(built, window):
    root, _session, emitted, ended = built
    assert ended.reason is EndReason.FINISHED and ended.value == str(root / "out")
    stages = {p.stage for p in emitted if isinstance(p, MicroscopeProgress)}
    assert stages == {"scan", "atlas", "layers"}
    microscope = open_microscope(root / "out")
    assert [layer.name for layer in microscope.layers] == ["conv2", "out"]
    units = read_units(microscope, microscope.layer("conv2"))
    assert [u.unit for u in units] == [0, 1, 2, 3] and all(len(u.top_max) == 3 for u in units)
    assert all(u.vis is not None and Path(u.vis).is_file() for u in units)
    window.microscope.open_folder(str(root / "out"))
    assert window.ui.microscope_view.model.rowCount() == 4


def test_a_stopped_job_keeps_the_chunks_it_finished(built, tmp_path):
    root, session, emitted, _ended = built
    out = tmp_path / "stopped"
    request = BuildMicroscope(str(root / "images"), str(out), steps=4, top_k=3)
    seen = len(emitted)

    def stop_after_the_scan() -> bool:
        return any(isinstance(p, MicroscopeProgress) and p.stage == "atlas" for p in emitted[seen:])

    ended = session.handle(request, stop_after_the_scan)
    assert isinstance(ended, JobEnded) and ended.reason is EndReason.CANCELLED
    assert ended.value == str(out) and not open_microscope(out).complete
    stages = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["stages"]
    assert stages["scan"]["done"] == stages["scan"]["chunks"]  # kept: a rerun goes on from here
    assert stages["atlas"]["done"] == []
