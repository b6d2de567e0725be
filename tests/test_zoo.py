"""The model zoo: keras.applications classifiers wrapped to take RGB pixels in [0, 255]."""

from __future__ import annotations

import socket
import time

import keras
import numpy as np
import pytest

from engine.attribution import Target, explain
from engine.models.introspect import describe_model
from engine.models.loading import load_model
from engine.models.meta import ModelLoadError, ModelMeta
from engine.models.surgery import truncate
from engine.models.zoo import ZOO, build_zoo_model, load_zoo, preprocessing_layers, zoo_entry
from engine.optvis.visualizer import RunResult, Visualizer
from engine.protocol import LayerKind, ObjectiveTerm
from engine.protocol.recipe import Recipe

SMALL = {"InceptionV3": 75, "Xception": 71}  # the others are built at 64 × 64
RANGE = (0.0, 255.0)
# Built once for the module: the save-and-reload test reopens what the tools test built.
SHARED = ("VGG16", "DenseNet121")


def _size(name: str) -> int:
    return SMALL.get(name, 64)


@pytest.fixture(scope="module")
def shared_models() -> dict[str, keras.Model]:
    """The SHARED zoo models, built on first use (a DenseNet121 build is 2-5 s)."""
    return {}


def _zoo_model(shared: dict[str, keras.Model], name: str) -> keras.Model:
    """Zoo model `name`, untrained, at its small test size, with the same weights every run."""
    if name in shared:
        return shared[name]
    keras.utils.set_random_seed(0)  # the same weights, so the same units fire, every run
    model = build_zoo_model(name, weights=None, input_size=_size(name))
    if name in SHARED:
        shared[name] = model
    return model


@pytest.fixture
def small_fallbacks(monkeypatch):
    """The engine's fallbacks run, but small: one earlier layer tried, one start searched for
    one step. Whether a random-weight model's Grad-CAM map is empty (then earlier layers are
    tried for a suggestion, one gradient trace each) or its unit ends without firing (then 16
    starts are searched for 12 steps) is chance, and neither is what these tests check; at full
    size they cost InceptionV3 7 of its 21 s and EfficientNetB0 5 of its 26 s."""
    import engine.attribution.verdict as verdict
    import engine.optvis.visualizer as visualizer

    monkeypatch.setattr(verdict, "_LAYERS_TRIED", 1)
    monkeypatch.setattr(visualizer, "RESCUE_CANDIDATES", 1)
    monkeypatch.setattr(visualizer, "RESCUE_STEPS", 1)


def _pixels(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.uniform(0, 255, shape).astype(np.float32)


def _last_conv(summary) -> tuple[str, ...]:
    convs = [
        lay for lay in summary.walk()
        if "Conv" in lay.type_name and lay.kind is LayerKind.CHANNELS
    ]  # fmt: skip
    assert convs, "no convolution found"
    return convs[-1].path


def test_registry_and_names():
    assert {"VGG16", "VGG19", "ResNet50", "MobileNetV2", "InceptionV3", "Xception",
            "DenseNet121", "EfficientNetB0", "ConvNeXtTiny"} <= set(ZOO)  # fmt: skip
    assert ZOO["InceptionV3"].size == ZOO["Xception"].size == 299
    assert ZOO["VGG16"].family == "caffe" and ZOO["ConvNeXtTiny"].family == "none"
    for text in ("zoo:ResNet50", "ResNet50", "zoo:resnet50", "RESNET50"):
        assert zoo_entry(text) is ZOO["ResNet50"]
    assert zoo_entry("zoo:AlexNet") is None
    with pytest.raises(ValueError, match="minimum"):
        build_zoo_model("InceptionV3", None, 64)


@pytest.mark.parametrize("name", list(ZOO))
def test_every_architecture_works_with_the_tools(shared_models, small_fallbacks, name):
    size = _size(name)
    model = _zoo_model(shared_models, name)
    assert model.name == f"zoo_{name.lower()}"
    summary = describe_model(model, ModelMeta(input_range=RANGE), f"zoo:{name}")
    assert summary.input_shape == (size, size, 3)
    base = next(lay for lay in summary.layers if lay.type_name == "Functional")
    assert len(base.children) > 10
    assert summary.layers[-1].kind is LayerKind.UNITS and summary.layers[-1].size == 1000
    for layer in model.layers:
        if layer.name.startswith("preprocess"):
            assert not layer.trainable

    rng = np.random.default_rng(0)
    image = _pixels(rng, size, size, 3)
    conv = _last_conv(summary)
    maps = truncate(model, conv)(image[None]).numpy()
    assert maps.ndim == 4 and np.isfinite(maps).all()
    # The unit that fires most on the image: a dead one's rescue (16 starts, a second compile)
    # cost ConvNeXtTiny 23 of its 56 s, and whether unit 0 of random weights is dead is chance.
    unit = int(np.argmax(maps.mean(axis=(0, 1, 2))))

    result = explain(
        model, image, "gradcam", Target(class_index=0), options={"low": 0, "high": 255}
    )
    assert result.heatmap.shape == (size, size)
    assert np.isfinite(result.heatmap).all()

    visualizer = Visualizer(model, summary.input_shape, RANGE, lambda: None)
    # No jitter (a live knob: the compiled step is the same): the steps then raise the very score
    # the run is judged by; with a 1-pixel jitter EfficientNetB0's unit ended below zero and
    # paid for a rescue, 5 of its 14 s.
    recipe = Recipe(steps=3, frame_every=1, jitter=0)
    run = visualizer.run([ObjectiveTerm(conv, unit)], recipe, lambda: False)
    snapshots = [next(run) for _ in range(3)]
    assert [snapshot.step for snapshot in snapshots] == [1, 2, 3]
    # A random-weight unit that ends at or below zero gets one rescue run: at most 3 more steps.
    with pytest.raises(StopIteration) as ended:
        for _ in range(4):
            next(run)
    assert isinstance(ended.value.value, RunResult)


@pytest.mark.parametrize(
    ("family", "module"),
    [("caffe", "vgg16"), ("tf", "mobilenet_v2"), ("torch", "densenet")],
)
def test_preprocessing_front_matches_keras(family, module):
    front = keras.Sequential([keras.Input((16, 16, 3)), *preprocessing_layers(family)])
    images = _pixels(np.random.default_rng(1), 4, 16, 16, 3)
    expected = getattr(keras.applications, module).preprocess_input(images.copy())
    np.testing.assert_allclose(front(images).numpy(), expected, rtol=1e-5, atol=1e-3)


def test_untrained_zoo_model_loads_by_name():
    model, meta, label = load_model("zoo:vgg16", random_weights=True)
    assert model.name == "zoo_vgg16" and tuple(model.inputs[0].shape[1:]) == (224, 224, 3)
    assert meta.input_range == RANGE and len(meta.class_names) == 1000
    assert "untrained (random weights)" in meta.description
    assert "VGG16" in label
    summary = describe_model(model, meta, "zoo:vgg16")
    assert "untrained (random weights)" in summary.description


def _online() -> bool:
    try:
        socket.create_connection(("storage.googleapis.com", 443), timeout=2).close()
        return True
    except OSError:
        return False


def test_imagenet_weights_offline_fail_fast_and_clearly():
    if _online():
        pytest.skip("the machine is online: the weights would download")
    from engine.models.weights_download import cache_folder

    cache = cache_folder()
    if (cache / "vgg16_weights_tf_dim_ordering_tf_kernels.h5").exists():
        pytest.skip("the VGG16 weights are already cached")
    before = set(cache.iterdir()) if cache.is_dir() else set()
    start = time.monotonic()
    with pytest.raises(ModelLoadError) as caught:
        load_zoo("zoo:VGG16")
    assert time.monotonic() - start < 10
    message = str(caught.value)
    assert "offline" in message and "random weights" in message and "VGG16" in message
    after = set(cache.iterdir()) if cache.is_dir() else set()
    assert after <= before  # no half-downloaded file left behind


@pytest.mark.parametrize("name", SHARED)
def test_zoo_model_saves_and_reloads(tmp_path, shared_models, name):
    size = _size(name)
    model = _zoo_model(shared_models, name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded, _, _ = load_model(path)
    images = _pixels(np.random.default_rng(2), 2, size, size, 3)
    np.testing.assert_allclose(loaded(images).numpy(), model(images).numpy(), rtol=1e-4, atol=1e-6)


def test_explain_cli_with_an_untrained_zoo_model(tmp_path, small_fallbacks):
    from PIL import Image

    from engine.cli.explain import main

    photo = tmp_path / "photo.png"
    Image.fromarray(_pixels(np.random.default_rng(3), 224, 224, 3).astype(np.uint8)).save(photo)
    out = tmp_path / "out"
    status = main(["--model", "zoo:MobileNetV2", "--random-weights", "--image", str(photo),
                   "--method", "gradcam", "--out", str(out)])  # fmt: skip
    assert status == 0
    assert (out / "gradcam_overlay.png").is_file()


def test_the_zoo_menu_lists_the_registry():
    from engine.models.zoo import ZOO
    from engine.protocol.catalogue import ZOO_NAMES

    assert tuple(ZOO) == ZOO_NAMES


def test_an_untrained_zoo_model_opens_from_the_menu_and_says_so(qtbot):
    from engine.worker import EngineThread
    from gui.main_window import MainWindow

    engine = EngineThread()
    window = MainWindow(engine)
    qtbot.addWidget(window)
    engine.start()
    with qtbot.waitSignal(window.models.shown, timeout=120_000) as blocker:
        window.menu_actions["zoo:MobileNetV2:random"].trigger()
    assert blocker.args[0].name == "zoo_mobilenetv2"
    assert "untrained" in window.ui.model_label.text()
    assert window.windowTitle() == "convscope — zoo:MobileNetV2 (untrained)"
    window.close()
    assert engine.wait(5_000)


def test_imagenet_class_names_ship_offline_in_keras_order(monkeypatch):
    import json

    import engine.models.zoo as zoo

    table = json.loads(zoo.CLASS_NAMES_FILE.read_text(encoding="utf-8"))
    names = table["names"]
    assert len(names) == 1000 and len(table["synsets"]) == 1000
    assert table["synsets"] == sorted(table["synsets"])  # Keras's class order
    known = {0: "tench", 207: "golden retriever", 281: "tabby cat", 999: "toilet tissue"}
    assert {k: names[k] for k in known} == known
    # Never the network: a Keras download that is attempted fails the test.
    monkeypatch.setattr(zoo, "_keras_class_names", lambda: pytest.fail("downloaded names"))
    model, meta, label = load_zoo("MobileNetV2", random_weights=True)
    summary = describe_model(model, meta, label)
    assert summary.class_names[281] == "tabby cat" and summary.class_names[0] == "tench"
    assert "unavailable" not in meta.description
