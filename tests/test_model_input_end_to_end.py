"""With the real engine: a model file nothing describes is asked about, and the choice puts the
preprocessing in front of the model, where the layer tree shows it."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox


def test_choosing_caffe_for_an_undescribed_file_reloads_it_with_the_layer(
    qtbot, real_window, saved_models
):
    window = real_window
    with qtbot.waitSignal(window.models.shown, timeout=60_000) as loaded:
        window.models.open_model(str(saved_models["tiny"]))
    assert loaded.args[0].input_origin == "assumed"
    dialog = window.model_input.dialog
    assert dialog.isVisible()
    dialog.radios["caffe"].setChecked(True)
    with qtbot.waitSignal(window.models.shown, timeout=60_000) as loaded:
        dialog.box.button(QDialogButtonBox.Ok).click()
    summary = loaded.args[0]
    assert (summary.input_origin, summary.input_range) == ("chosen", (0.0, 255.0))
    assert [layer.name for layer in summary.layers][:2] == ["pixels", "preprocess_caffe"]
    assert "Caffe BGR" in window.ui.model_label.text()
    # What one image of a visualization needs, from the engine's own memory plan.
    tip = window.ui.model_label.toolTip()
    assert "opening it takes about" in tip and "one image visualized needs about" in tip
    with qtbot.waitSignal(window.state.image_changed, timeout=30_000) as opened:
        window.images.open_image(sample="photo:chelsea")
    assert len(opened.args[0].predictions) == 4  # the tiny model's four classes
