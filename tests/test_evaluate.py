"""Evaluating a model on labelled images (engine side): labels from sub-folders or file names,
broken files skipped and counted, the held-out MNIST digits, cancellation, the Filter effect's
input maps for a deeper layer."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from engine.dataset.labelled import FILE_NAME_RULE, SUBFOLDER_RULE, labelled_folder, name_label
from engine.jobs.evaluate import match_classes
from engine.optvis.references import MNIST_DIR
from engine.protocol import (
    EndReason,
    EvaluateDataset,
    Evaluation,
    Kernels,
    LoadModel,
    OpenImage,
    Progress,
    ShowKernels,
)


def _digit(value: int) -> Image.Image:
    rng = np.random.default_rng(value)
    return Image.fromarray(rng.integers(0, 255, (28, 28), dtype=np.uint8))


@pytest.fixture(scope="module")
def session():
    from engine.session import EngineSession

    results: list[object] = []
    session = EngineSession(results.append)
    session.handle(LoadModel(None), lambda: False)
    session.results = results  # type: ignore[attr-defined]
    return session


def _evaluate(session, folder, should_stop=lambda: False):
    session.results.clear()
    ended = session.handle(EvaluateDataset(None if folder is None else str(folder)), should_stop)
    return ended, [r for r in session.results if isinstance(r, Progress)]


def test_file_names_give_labels_as_the_notebooks_name_them():
    assert [name_label(n) for n in ("3_0042.png", "cat.12.jpg", "dog-1.png", "7.png")] == [
        "3",
        "cat",
        "dog",
        None,
    ]


def test_labels_match_digit_names_class_names_or_say_they_cannot():
    digits = tuple(str(d) for d in range(10))
    assert match_classes(("1", "7"), digits, 10)[0] == (1, 7)
    assert match_classes(("Golden_Retriever",), ("cat", "golden retriever"), 2)[0] == (1,)
    expected, note = match_classes(("cat", "dog"), digits, 10)
    assert expected == (-1, -1) and "cannot be matched" in note


def test_a_subfolder_dataset_with_a_broken_file(session, tmp_path):
    for digit in (3, 7):
        (tmp_path / str(digit)).mkdir()
        for k in range(3):
            _digit(10 * digit + k).save(tmp_path / str(digit) / f"img{k}.png")
    (tmp_path / "7" / "broken.png").write_bytes(b"not a png")
    _digit(0).save(tmp_path / "loose.png")  # beside the class folders: ignored, as Keras does
    assert labelled_folder(tmp_path).rule == SUBFOLDER_RULE
    ended, progress = _evaluate(session, tmp_path)
    result = ended.value
    assert ended.reason is EndReason.FINISHED and isinstance(result, Evaluation)
    assert result.class_names == ("3", "7") and result.expected == (3, 7)
    assert len(result.names) == 6 and result.skipped == 1 and "broken.png" in result.note
    assert result.confusion.sum() == 6 and result.confusion.shape[0] == 2
    assert progress and progress[-1].fraction == 1.0 and "1 skipped" in progress[-1].text
    assert result.thumbnails.shape == (6, 28, 28, 1)
    assert result.accuracy == pytest.approx(np.mean(result.correct()))


def test_file_name_labels_with_unmatched_classes(session, tmp_path):
    for k, label in enumerate(("cat", "cat", "dog")):
        _digit(k).save(tmp_path / f"{label}.{k}.png")
    _digit(9).save(tmp_path / "nolabel.png")
    ended, _ = _evaluate(session, tmp_path)
    result = ended.value
    assert result.rule == FILE_NAME_RULE and result.class_names == ("cat", "dog")
    assert result.accuracy is None and "cannot be matched" in result.note
    assert len(result.predicted) == 3 and result.skipped == 1  # no label in its name
    assert "no label" in result.note


def test_a_missing_folder_fails_with_its_name(session, tmp_path):
    with pytest.raises(ValueError, match="nowhere"):
        _evaluate(session, tmp_path / "nowhere")


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="../shared/data/mnist is not here")
def test_the_builtin_model_on_its_held_out_digits(session):
    ended, progress = _evaluate(session, None)
    result = ended.value
    assert result.rule == "held-out MNIST" and len(result.names) == 2000
    assert result.confusion.shape == (10, 10) and result.confusion.sum() == 2000
    assert result.accuracy is not None and result.accuracy > 0.95
    assert np.trace(result.confusion) / 2000 == pytest.approx(result.accuracy)
    assert len(progress) >= 2  # streamed batch by batch


def test_cancelling_keeps_what_was_done(session, tmp_path):
    folder = tmp_path / "5"
    folder.mkdir()
    for k in range(200):
        _digit(k).save(folder / f"{k}.png")
    calls = iter(range(1000))
    ended, progress = _evaluate(session, tmp_path, lambda: next(calls) >= 1)
    result = ended.value
    assert ended.reason is EndReason.CANCELLED and len(progress) == 1
    assert 0 < len(result.names) < 200 and result.total == 200


def test_kernels_carry_a_deeper_layers_input_maps(session):
    session.handle(OpenImage(pixels=np.asarray(_digit(4)), source="d"), lambda: False)
    conv2 = next(i for i in session.summary.walk() if i.name == "conv2")
    session.results.clear()
    session.handle(ShowKernels(conv2.path, 0), lambda: False)
    kernels = next(r for r in session.results if isinstance(r, Kernels))
    assert kernels.input_maps is not None and kernels.input_maps.ndim == 3
    assert kernels.input_maps.shape[-1] == kernels.kernel.shape[2]  # conv1's maps, after pooling
