"""The reference set of a folder: a capped, even, repeatable sample, decoded only when asked."""

from __future__ import annotations

from dataclasses import replace

import keras
import numpy as np
import pytest
from PIL import Image

from engine.optvis import references
from engine.optvis.visualizer import Visualizer
from engine.protocol import ObjectiveTerm
from engine.protocol.recipe import PRESETS

FOLDER_SIZE = 300


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for k in range(FOLDER_SIZE):
        pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"photo_{k:04d}.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture
def decoded(monkeypatch) -> list[str]:
    """The names of the files decoded, in order."""
    names: list[str] = []
    real = references.read_image

    def counting(path):
        names.append(path.name)
        return real(path)

    monkeypatch.setattr(references, "read_image", counting)
    return names


def test_only_the_cap_is_decoded_spread_over_the_whole_folder(big_folder, decoded):
    found = references.folder_references(big_folder, (8, 8, 3), (0.0, 1.0))
    assert found is not None and found.shape == (references.FOLDER_LIMIT, 8, 8, 3)
    assert len(decoded) == references.FOLDER_LIMIT
    numbers = [int(name[6:10]) for name in decoded]
    assert numbers[0] == 0 and max(numbers) > FOLDER_SIZE - 10  # not just the first names
    first = list(decoded)
    decoded.clear()
    again = references.folder_references(big_folder, (8, 8, 3), (0.0, 1.0))
    assert decoded == first and again is not None and np.array_equal(again, found)


def test_a_broken_file_in_the_sample_is_replaced_by_one_spare(big_folder, decoded, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for path in sorted(big_folder.glob("*.png"))[:100]:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "photo_0000.png").write_bytes(b"\x89PNG broken")
    found = references.folder_references(folder, (8, 8, 3), (0.0, 1.0))
    assert found is not None and len(found) == references.FOLDER_LIMIT
    assert len(decoded) == references.FOLDER_LIMIT + 1


def test_a_large_input_keeps_fewer_images(big_folder, decoded):
    shape = (1024, 1024, 3)
    found = references.folder_references(big_folder, shape, (0.0, 1.0))
    expected = references.REFERENCE_BYTES // (4 * 1024 * 1024 * 3)
    assert found is not None and len(found) == expected == len(decoded)


def test_the_reference_set_is_read_once_when_a_quality_or_verdict_is_asked_for():
    inputs = keras.Input((8, 8, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(2, 3, name="c")(inputs))
    calls: list[int] = []

    def reference_images():
        calls.append(1)
        return np.ones((2, 8, 8, 3), np.float32)

    vis = Visualizer(model, (8, 8, 3), (0.0, 1.0), reference_images)
    recipe = PRESETS["Classic"]
    term = ObjectiveTerm(("c",), 0)
    stopped = vis.run([term], replace(recipe, steps=2), lambda: True)
    for _ in stopped:  # a cancelled run (the window closing) gets no verdict: nothing read
        pass
    assert calls == []
    # The atlas judges each filter against the layer's scale on the reference images.
    for _ in vis.atlas(("c",), [0, 1], replace(recipe, steps=2, batch=1), lambda: False):
        pass
    assert calls == [1]
    vis.quality([term], recipe, 1.0)
    vis.quality([term], recipe, 1.0)
    assert calls == [1]  # read once, kept
