"""Shared fixtures: headless Qt, quiet TensorFlow, settings that never touch the user's."""

from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one worker per core: each worker's TensorFlow (and the processes its
    # tests start) then computes in one thread. Two threads each on two cores made the tiny
    # test models wait on each other's threads: a fifth of the suite's time (measured).
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import pytest

# The files that take longest (tens of seconds each on 2 cores), longest first. Under
# pytest-xdist (`make test`: -n 2 --dist loadfile --no-loadscope-reorder) files are handed out
# in collection order, so these start at once and no worker is left alone with one of them at
# the end (with the zoo last, the other worker idled for over a minute).
SLOW_FILES = (
    "test_zoo.py",
    "test_microscope_ray.py",
    "test_benchmark_smoke.py",
    "test_keras2_files.py",
    "test_cli.py",
    "test_main_window.py",
    "test_worker.py",
    "test_dataset_scan.py",
    "test_atlas_cli.py",
    "test_optvis.py",
    "test_savedmodel.py",
)


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist, the slow files first; a plain run keeps the files' order."""
    if not hasattr(config, "workerinput"):
        return
    rank = {name: k for k, name in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FILES)))


@pytest.fixture(autouse=True)
def _garbage_collected_in_the_main_thread():
    """No automatic garbage collection during a test; after it, in this thread, what is due.

    Automatic collection runs in whichever thread allocates: in the engine thread it can free a
    previous test's windows there, and Qt then deadlocks against the GUI thread (seen: a suite
    stuck in test_explain_end_to_end). main.py does the same for the app, on a timer.
    """
    gc.disable()
    yield
    # What the automatic collector would have done by now, done here: a full collection after
    # every test would more than double the suite's time (the heap holds TensorFlow's graphs).
    threshold, count = gc.get_threshold(), gc.get_count()
    due = [generation for generation in (2, 1, 0) if count[generation] > threshold[generation]]
    if due:
        gc.collect(due[0])
    gc.enable()


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path, monkeypatch):
    """Each test gets its own settings and atlas cache, so nothing leaks between tests."""
    from PySide6.QtCore import QCoreApplication, QSettings

    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp_path / "settings"))
    QCoreApplication.setOrganizationName("convscope-tests")
    QCoreApplication.setApplicationName("convscope-tests")
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path / "atlas-cache"))
    yield


@pytest.fixture
def engine():
    """A FakeEngine (tests/fake_engine.py): the real engine's signals, nothing computed. Files
    that drive an EngineSession or the real thread name theirs otherwise or override this."""
    from fake_engine import FakeEngine

    return FakeEngine()


@pytest.fixture
def window(qtbot, engine):
    """The window on the fake engine with a model and an image shown (files may override)."""
    from fake_engine import fake_window

    return fake_window(qtbot, engine)


@pytest.fixture(scope="session")
def tiny_conv_model():
    """A two-conv model with a softmax head, small enough for many fast steps."""
    import keras

    keras.utils.set_random_seed(1)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv_a")(inputs)
    x = keras.layers.MaxPooling2D(name="pool_a")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="tiny")


@pytest.fixture(scope="session")
def nested_model():
    """An outer functional model wrapping a Sequential sub-model, saved and reloaded."""
    import keras

    keras.utils.set_random_seed(2)
    inner = keras.Sequential(
        [
            keras.Input((8, 8, 4)),
            keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="inner_conv1"),
            keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="inner_conv2"),
        ],
        name="block",
    )
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="stem")(inputs)
    x = keras.layers.MaxPooling2D(name="stem_pool")(x)
    x = inner(x)
    x = keras.layers.Flatten(name="flat")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name="nested")


@pytest.fixture(scope="session")
def saved_models(tmp_path_factory, tiny_conv_model, nested_model):
    """The code-built models as files, as a user would drop them."""
    folder = tmp_path_factory.mktemp("models")
    paths = {
        "tiny": folder / "tiny.keras",
        "nested": folder / "nested.keras",
        "tiny_h5": folder / "tiny.h5",
    }
    # (Keras's savers trip numpy 2's __array__ copy deprecation: pyproject.toml ignores it.)
    tiny_conv_model.save(paths["tiny"])
    nested_model.save(paths["nested"])
    tiny_conv_model.save(paths["tiny_h5"])
    return paths


@pytest.fixture
def real_engine():
    """The real engine thread, not started yet (real_window starts it)."""
    from engine.worker import EngineThread

    return EngineThread()


@pytest.fixture
def real_window(qtbot, real_engine):
    """The window with the real engine thread and the built-in model loaded; closed and the
    thread joined afterwards."""
    from gui.main_window import MainWindow

    window = MainWindow(real_engine)
    qtbot.addWidget(window)
    window.show()
    real_engine.start()
    with qtbot.waitSignal(window.models.shown, timeout=60_000):
        window.models.open_model(None)
    yield window
    window.close()
    assert real_engine.wait(5_000)


def pytest_collection_finish(session):
    """Move what collection imported (TensorFlow, Keras, Qt: ~300,000 objects) out of the
    collector's reach: they live as long as the process, and every full collection would walk
    them again (~0.2 s each). main.py's freeze_when_ready does the same for the app."""
    gc.collect()
    gc.freeze()
