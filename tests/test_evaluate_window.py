"""The Dataset tab with a fake engine: an evaluation's progress and ETA, its grid with the
misclassified first, a confusion-matrix click filtering the grid, a click opening an image; and
the Filter effect's input maps for a deeper layer."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from engine.protocol import (
    EndReason,
    EvaluateDataset,
    Evaluation,
    OpenImage,
    Progress,
    ShowKernels,
    StopRun,
)
from gui.common.names import FiltersTab, Tab
from gui.dataset.controller import eta_text


def _evaluation(request_id: int) -> Evaluation:
    """Six digits labelled 3 or 7: image 1 (a 3 read as 8, 90 %) and image 4 (a 7 read as 3,
    60 %) are wrong."""
    true = np.array([0, 0, 0, 1, 1, 1])
    predicted = np.array([3, 8, 3, 7, 3, 7])
    confidence = np.array([0.99, 0.9, 0.95, 0.97, 0.6, 0.98], dtype=np.float32)
    columns = (3, 7, 8)
    confusion = np.array([[2, 0, 1], [1, 2, 0]])
    thumbs = np.arange(6 * 28 * 28, dtype=np.uint8).reshape(6, 28, 28, 1)
    return Evaluation(
        request_id, "held-out MNIST digits", "held-out MNIST", "",
        tuple(f"mnist/{k:04d}" for k in range(6)), ("3", "7"), true, predicted, confidence,
        (3, 7), columns, ("3", "7", "8"), confusion, thumbs, 4 / 6, 6,
    )  # fmt: skip


def _finish_mnist(window, engine) -> Evaluation:
    window.evaluation.evaluate_mnist()
    request = engine.last(EvaluateDataset)
    engine.progress.emit(Progress(request.request_id, 0.5, "3 of 6 images"))
    result = _evaluation(request.request_id)
    engine.end(request, EndReason.FINISHED, result)
    return result


def test_the_held_out_digits_are_one_click_away_and_show_accuracy(window, engine, qtbot):
    view = window.ui.evaluation_view
    qtbot.mouseClick(view.mnist_button, Qt.MouseButton.LeftButton)
    request = engine.last(EvaluateDataset)
    assert request.folder is None and window.ui.current_tab() is Tab.DATASET
    assert view.cancel_button.isVisibleTo(window)
    engine.progress.emit(Progress(request.request_id, 0.5, "1,000 of 2,000 images"))
    assert "1,000 of 2,000" in view.status_label.text() and view.progress.value() == 50
    engine.end(request, EndReason.FINISHED, _evaluation(request.request_id))
    assert "Accuracy 66.7%: 4 of 6 images right" in view.status_label.text()
    assert not view.cancel_button.isVisibleTo(window)


def test_the_grid_shows_the_misclassified_first(window, engine):
    _finish_mnist(window, engine)
    view = window.ui.evaluation_view
    assert view.shown_indices()[:2] == [1, 4]  # wrong ones, the more confident first
    assert len(view.shown_indices()) == 6
    assert view.grid.item(0).text().startswith("✗ 3 → 8")


def test_a_confusion_cell_click_filters_the_grid(window, engine, qtbot):
    _finish_mnist(window, engine)
    view = window.ui.evaluation_view
    assert view.confusion.count(1, 0) == 1  # a 7 read as 3
    view.confusion.cellClicked.emit(1, 0)
    assert view.shown_indices() == [4]
    assert "labelled '7', predicted '3'" in view.grid_label.text()
    view.confusion.cellClicked.emit(0, 0)
    assert view.shown_indices() == [0, 2]  # the right 3s, most confident first
    qtbot.mouseClick(view.all_button, Qt.MouseButton.LeftButton)
    assert len(view.shown_indices()) == 6


def test_clicking_a_thumbnail_opens_it_as_the_current_image(window, engine):
    result = _finish_mnist(window, engine)
    view = window.ui.evaluation_view
    view.grid.itemClicked.emit(view.grid.item(0))
    opened = engine.last(OpenImage)
    assert opened.source == "mnist/0001"
    np.testing.assert_array_equal(opened.pixels, result.thumbnails[1][..., 0])


def test_a_folder_result_opens_the_file(window, engine, tmp_path):
    window.evaluation.evaluate_folder(str(tmp_path))
    request = engine.last(EvaluateDataset)
    assert request.folder == str(tmp_path)
    result = _evaluation(request.request_id)
    from dataclasses import replace

    engine.end(request, EndReason.FINISHED, replace(result, root=str(tmp_path)))
    window.ui.evaluation_view.image_chosen.emit(3)
    assert engine.last(OpenImage).path == str(tmp_path / "mnist/0003")


def test_cancel_stops_and_keeps_what_was_done(window, engine, qtbot):
    view = window.ui.evaluation_view
    window.evaluation.evaluate_mnist()
    request = engine.last(EvaluateDataset)
    qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    assert engine.of_type(StopRun)
    engine.end(request, EndReason.CANCELLED, _evaluation(request.request_id))
    assert "Cancelled after 6 of 6" in view.status_label.text()


def test_a_dropped_file_that_is_no_folder_says_so(window, engine, tmp_path):
    window.ui.evaluation_view.folder_dropped.emit(str(tmp_path / "x.png"))
    assert not engine.of_type(EvaluateDataset)
    assert window.ui.message_bar.is_error()


def test_the_eta_follows_the_share_done():
    assert eta_text(0.25, 10.0) == "about 30 s left"
    assert eta_text(0.0, 10.0) == "" and eta_text(1.0, 10.0) == ""


def test_the_filter_effect_shows_a_deeper_layers_input_maps(window, engine):
    window.filters.show_filters(FiltersTab.KERNELS)
    item = window.ui.filter_picker.unit_item(2)
    window.ui.filter_picker.setCurrentItem(item)
    request = engine.last(ShowKernels)
    assert request.layer == ("conv2",)  # reads conv1's 8 maps, not the image
    maps = np.random.default_rng(0).random((14, 14, 8)).astype(np.float32)
    engine.show_kernels(request, input_maps=maps)
    effect = window.ui.filters_panel.kernel_view.effect
    assert effect.input_count() == 3
    assert "not shown" not in effect.note_label.text()
    window.ui.filter_picker.setCurrentItem(window.ui.filter_picker.unit_item(3))
    engine.show_kernels(engine.last(ShowKernels))  # no maps came: the note says why
    assert effect.input_count() == 0 and "not shown" in effect.note_label.text()
