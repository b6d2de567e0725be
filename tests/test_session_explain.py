"""Explanations and the network walk through the engine session, as the window asks for them."""

from __future__ import annotations

import numpy as np
import pytest
from session_messages import ended_of, results_of

from engine.images.convert import ImageError
from engine.protocol import (
    EXPLAIN_METHODS,
    EndReason,
    Explain,
    Explanation,
    FeatureMaps,
    ImageOpened,
    LoadModel,
    OpenImage,
    Progress,
    WalkNetwork,
)
from engine.session import EngineSession


@pytest.fixture(scope="module")
def session():
    out: list = []
    engine = EngineSession(out.append)
    engine.handle(LoadModel(None), lambda: False)
    engine.handle(OpenImage(sample="digit:3"), lambda: False)
    engine.out = out
    return engine


def _run(session, request, should_stop=lambda: False) -> list:
    session.out.clear()
    session.handle(request, should_stop)
    return results_of(session.out)


@pytest.mark.parametrize("method", [m for m in EXPLAIN_METHODS if m != "cam"])
def test_every_method_explains_the_predicted_class(session, method):
    results = [r for r in _run(session, Explain(method)) if isinstance(r, Explanation)]
    assert len(results) == 1
    explanation = results[0]
    assert explanation.heatmap.shape == (28, 28) and explanation.class_index == 3
    assert explanation.label == "class '3'" and np.isfinite(explanation.heatmap).all()
    assert explanation.image.shape == (28, 28, 1)


def test_cam_says_why_it_does_not_fit_the_built_in_model(session):
    with pytest.raises(ValueError, match="GlobalAveragePooling2D"):
        _run(session, Explain("cam"))


def test_an_inner_unit_and_another_class(session):
    unit = _run(session, Explain("gradcam", unit_layer=("conv2",), unit=5))[-1]
    assert unit.label == "conv2 #5" and unit.class_index is None
    other = _run(session, Explain("saliency", target_class=8))[-1]
    assert other.class_index == 8 and other.label == "class '8'"


def test_long_methods_report_progress_and_can_be_cancelled(session):
    results = _run(session, Explain("lime"))
    fractions = [r.fraction for r in results if isinstance(r, Progress)]
    assert fractions and fractions == sorted(fractions) and fractions[-1] == 1.0
    checks = []

    def stop_soon() -> bool:
        checks.append(1)
        return len(checks) > 1

    cancelled = _run(session, Explain("occlusion", options=(("stride", 1.0),)), stop_soon)
    assert not any(isinstance(r, Explanation) for r in cancelled)
    assert ended_of(session.out).reason is EndReason.CANCELLED


def test_the_walk_sends_every_layer_with_something_to_show(session):
    layers = [r.layer for r in _run(session, WalkNetwork()) if isinstance(r, FeatureMaps)]
    assert [layer[-1] for layer in layers] == [
        "conv1", "pool1", "conv2", "pool2", "conv3", "pool3", "dense", "predictions",
    ]  # fmt: skip


def test_a_drawing_opens_like_a_file(session):
    drawing = np.zeros((280, 280), np.uint8)
    drawing[40:240, 130:150] = 255  # a one
    opened = _run(session, OpenImage(pixels=drawing, source="drawing"))
    image = next(r for r in opened if isinstance(r, ImageOpened))
    assert image.source == "drawing" and image.display.shape == (28, 28, 1)
    assert image.predictions[0].name == "1"


def test_explaining_without_an_image_says_so():
    out: list = []
    engine = EngineSession(out.append)
    engine.handle(LoadModel(None), lambda: False)
    with pytest.raises(ImageError, match="open an image first"):
        engine.handle(Explain("gradcam"), lambda: False)


def test_kernels_and_circuits_through_the_session(session):
    from engine.protocol import Circuit, Kernels, ShowKernels, TraceCircuit

    kernels = _run(session, ShowKernels(("conv2",), 4))[-1]
    assert isinstance(kernels, Kernels) and kernels.kernel.shape == (3, 3, 24)
    circuit = _run(session, TraceCircuit(("conv3",), 5))[-1]
    assert isinstance(circuit, Circuit) and len(circuit.links) == 48
    norms = [link.weight_norm for link in circuit.links]
    assert norms == sorted(norms, reverse=True)
    assert {link.source_layer for link in circuit.links} == {("conv2",)}
    with pytest.raises(ValueError, match="pool1"):
        _run(session, ShowKernels(("pool1",), 0))


def test_a_scan_of_the_built_in_images_ranks_real_digits(session):
    from engine.protocol import ScanImages, ScanProgress, ScanSummary, ShowTopImages, TopImages

    results = _run(session, ScanImages())
    final = [r for r in results if isinstance(r, ScanProgress)][-1]
    assert ended_of(session.out).reason is EndReason.FINISHED
    assert final.done == final.total > 1700
    summary = next(r for r in results if isinstance(r, ScanSummary))
    assert summary.fire_fraction[("conv3",)].shape == (64,)
    top = _run(session, ShowTopImages(("conv3",), 5, "max", "gradcam"))[-1]
    assert isinstance(top, TopImages) and len(top.names) == 9
    assert list(top.scores) == sorted(top.scores, reverse=True)
    assert top.projections.shape == (9, 28, 28)
    again = _run(session, ScanImages())
    assert [r for r in again if isinstance(r, ScanProgress)][-1].from_cache


def test_a_scan_of_a_missing_folder_says_so(session, tmp_path):
    from engine.protocol import ScanImages

    with pytest.raises(ValueError, match="nowhere"):
        _run(session, ScanImages(str(tmp_path / "nowhere")))


def test_the_engine_implements_exactly_the_catalogues_methods():
    from engine.attribution import METHODS
    from engine.protocol import EXPLAIN_CATALOGUE, EXPLAIN_METHODS

    assert list(METHODS) == list(EXPLAIN_METHODS) == list(EXPLAIN_CATALOGUE)
