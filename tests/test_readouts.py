"""Readouts people expect: the value under the mouse, colorbars with values, plain-number axes,
and how fast a long job goes with the time it has left."""

from __future__ import annotations

import numpy as np
import pytest
from fake_engine import bump_heatmap
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from pytestqt.exceptions import TimeoutError as WaitTimeout

from engine.protocol import Ascend, Atlas, Explain, Recipe, ScanImages, TrainProgress, WalkNetwork
from engine.protocol.display import DEFAULT_DISPLAY
from gui.common.canvas import Canvas
from gui.common.imaging import set_display_mode
from gui.common.names import Tab
from gui.common.rate import RateMeter, time_left_text
from gui.common.readout import readout_text, value_text
from gui.dialogs.training_dialog import TrainingDialog
from gui.main_window import MainWindow
from gui.visualize.objective_plot import ObjectivePlot

CONV2 = ("conv2",)


class Clock:
    """A clock the test moves by hand: rates follow from these times, not the machine's."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _hover(qtbot, canvas: Canvas, x: float, y: float, expected: str) -> None:
    """Move the mouse over picture pixel (x, y) and check the readout says `expected` (waited
    for: the move arrives through the event loop)."""
    scene = canvas.view.mapViewToScene(QPointF(x, y))
    # Qt drops a move to where the mouse already is: come from the corner, so it always moves.
    QTest.mouseMove(canvas.graphics.viewport(), QPoint(1, 1))
    qtbot.wait(30)  # moves sent back to back can reach the scene as the first one only
    QTest.mouseMove(canvas.graphics.viewport(), canvas.graphics.mapFromScene(scene))
    try:
        qtbot.waitUntil(lambda: canvas.readout_text() == expected, timeout=2_000)
    except WaitTimeout:
        assert canvas.readout_text() == expected  # says what it showed instead


@pytest.fixture
def canvas(qtbot) -> Canvas:
    widget = Canvas()
    qtbot.addWidget(widget)
    widget.resize(420, 420)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_the_readout_says_the_activation_and_the_pixel_under_the_mouse(qtbot, canvas) -> None:
    values = np.arange(70.0).reshape(7, 10) / 4
    canvas.show_map(values, "map")
    _hover(qtbot, canvas, 6.5, 2.5, "x 6, y 2 · activation 6.5")  # values[2, 6]
    canvas.show_map(values * 2, "next frame")  # the mouse stays: the readout follows the data
    assert canvas.readout_text() == "x 6, y 2 · activation 13"
    image = np.zeros((7, 10, 3), np.float32)
    image[4, 1] = (0.25, 0.5, 1.0)
    canvas.show_image(image, "photo")
    _hover(qtbot, canvas, 1.5, 4.5, "x 1, y 4 · pixel (0.25, 0.5, 1)")
    canvas.show_rgb8(np.zeros((7, 10, 3), np.uint8))  # a chart: no raw values behind it
    assert canvas.readout_text() == ""


def test_a_feature_map_has_a_colorbar_of_its_raw_values(qtbot, canvas) -> None:
    canvas.show_map(np.linspace(-2.0, 3.0, 20).reshape(4, 5), "map")
    assert canvas.colorbar.scene() is not None
    assert canvas.colorbar.levels() == pytest.approx((-2.0, 3.0))
    assert canvas.current_rgb8().shape == (4, 5, 3)  # the bar is beside the picture, not in it
    canvas.show_image(np.zeros((4, 5, 1)))
    assert canvas.colorbar.scene() is None


def test_a_wide_picture_reads_the_values_it_was_enlarged_from(qtbot, canvas) -> None:
    canvas.show_rgb8(np.zeros((40, 60, 3), np.uint8))  # 10x enlarged, a 20 px bar on the right
    canvas.set_readout(np.arange(16.0).reshape(4, 4), "heatmap", span=(40, 40))
    _hover(qtbot, canvas, 35.0, 12.0, "x 3, y 1 · heatmap 7")
    with pytest.raises(ValueError, match="shape"):
        canvas.set_readout(np.zeros(5), "heatmap")


def test_an_explanation_reads_its_heatmap_value(qtbot, window: MainWindow, engine) -> None:
    window.show_tab(Tab.EXPLAIN)
    qtbot.mouseClick(window.ui.explain_panel.controls.explain_button, Qt.LeftButton)
    heatmap = bump_heatmap()
    with qtbot.waitSignal(window.explainer.shown):
        engine.explain(engine.last(Explain), heatmap)
    canvas = window.ui.explain_panel.view.canvas
    factor = canvas.current_rgb8().shape[0] // 28  # enlarged to 280 px
    _hover(qtbot, canvas, 14.5 * factor, 9.5 * factor, f"x 14, y 9 · heatmap {heatmap[9, 14]:.4g}")


def test_the_network_tab_large_map_has_a_colorbar_and_a_readout(qtbot, window, engine) -> None:
    window.show_tab(Tab.NETWORK)
    sent = engine.walk(engine.last(WalkNetwork))
    network = window.ui.network
    network.show_unit(CONV2, 5)
    values = sent[CONV2][:, :, 5]
    assert network.canvas.colorbar.levels() == pytest.approx((values.min(), values.max()))
    _hover(qtbot, network.canvas, 3.5, 7.5, f"x 3, y 7 · activation {values[7, 3]:.4g}")


def test_the_objective_axis_has_no_si_prefix(qtbot) -> None:
    plot = ObjectivePlot()
    qtbot.addWidget(plot)
    plot.reset("tiny", 10)
    plot.append([1e-9, 2e-9, 3e-9])
    plot.flush()
    left = plot.getAxis("left")
    assert left.labelString().count("x1e") == 0 and "objective" in left.labelString()
    assert left.autoSIPrefixScale == 1.0


def test_training_accuracy_is_plotted_in_percent_with_plain_numbers(qtbot) -> None:
    dialog = TrainingDialog()
    qtbot.addWidget(dialog)
    dialog.set_started(3)
    dialog.add_progress(TrainProgress(1, 1, 3, 0.5, 0.81, 0.6, 0.79))
    axis = dialog.accuracy_plot.getAxis("left")
    assert "accuracy (%)" in axis.labelString() and "(x" not in axis.labelString()
    assert list(dialog.accuracy_curve.getData()[1]) == pytest.approx([81.0])
    assert dialog.points()["accuracy"] == pytest.approx([0.81])


def test_a_run_shows_steps_per_second_and_time_left_after_a_few_frames(
    qtbot, window, engine
) -> None:
    controls = window.ui.controls
    controls.set_settings(Recipe(steps=200))
    clock = Clock()
    controls.rate_meter.clock = clock
    window.runs.visualize(3)
    run = engine.last(Ascend)
    for step in (1, 2):
        clock.now += 0.5
        engine.stream(run, (step,))
        window.runs.painter.flush()
    assert controls.rate_label.text() == ""  # two frames say nothing yet
    for step in (12, 22):
        clock.now += 0.5
        engine.stream(run, (step,))
        window.runs.painter.flush()
    # 21 steps in 1.5 s since step 1: 14 steps/s, and 178 steps to go at that speed.
    assert controls.progress_label.text() == "step 22 / 200"
    assert controls.rate_label.text() == "14.0 steps/s · about 13 s left"
    engine.stop_run(run, 22)  # a stopped run has no time left; its speed stays
    assert controls.rate_label.text() == "14.0 steps/s"


def test_the_atlas_shows_its_time_left(qtbot, window, engine) -> None:
    bar = window.ui.atlas_bar
    clock = Clock()
    bar.rate_meter.clock = clock
    window.menu_actions["atlas"].trigger()
    request = engine.last(Atlas)
    assert bar.eta_text() == ""
    clock.now += 2.0
    engine.atlas_step(request.request_id, CONV2, 4, 16)
    assert bar.eta_text() == "about 6 s left"  # 4 filters in 2 s, 12 to go
    assert bar.progress_text() == "conv2 · 4 / 16"


def test_a_scan_shows_its_speed_and_time_left(qtbot, window, engine) -> None:
    view = window.ui.filters_panel.dataset_view
    clock = Clock()
    view.rate_meter.clock = clock
    window.dataset.scan_folder("/data/digits")
    request = engine.last(ScanImages)
    for done in (0, 100, 200):
        engine.scan_step(request.request_id, done, 1000)
        clock.now += 1.0
    assert view.status_label.text() == "Scanning digits… 100 images/s · about 8 s left"


def test_the_rate_meter_never_divides_by_zero_and_starts_afresh() -> None:
    clock = Clock()
    meter = RateMeter(clock=clock)
    for done in (0, 5, 10, 15):  # all at the same instant
        meter.update(done, 100)
    assert meter.per_second() is None and meter.text() == ""
    for done in (1, 2, 3):  # backwards: a new run, whose timing starts now
        clock.now += 1.0
        meter.update(done, 100)
    assert meter.per_second() == pytest.approx(1.0)
    clock.now += 1.0
    meter.update(100, 100)
    assert meter.seconds_left() is None and meter.text() == "33.0 steps/s"
    with pytest.raises(ValueError, match="min_updates"):
        RateMeter(min_updates=1)


def test_readout_words() -> None:
    assert value_text(np.float32(0.5)) == "0.5"
    assert value_text(np.arange(6.0)) == "(0, 1, 2, 3, …)"
    assert readout_text(np.zeros((2, 2)), 5, 0, "pixel") == ""
    assert time_left_text(30) == "30 s" and time_left_text(600) == "10 min"
    assert time_left_text(3 * 3600 + 300) == "3 h 05 min"


def test_every_display_mode_change_redraws_and_the_readout_keeps_raw_values(qtbot, canvas) -> None:
    raw = np.linspace(-1.0, 2.0, 48, dtype=np.float32).reshape(4, 4, 3)
    try:
        set_display_mode("raw")
        canvas.show_visualization(raw, "grown")
        pictures = [canvas.current_rgb8()]
        for mode in ("minmax", "raw"):  # the second change must redraw too
            set_display_mode(mode)
            canvas.redraw()
            pictures.append(canvas.current_rgb8())
    finally:
        set_display_mode(DEFAULT_DISPLAY)
    assert not np.array_equal(pictures[0], pictures[1])
    np.testing.assert_array_equal(pictures[0], pictures[2])
    _hover(qtbot, canvas, 0.5, 0.5, "x 0, y 0 · pixel (-1, -0.9362, -0.8723)")
