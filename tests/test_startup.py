"""What the window opens at start-up for the command line's MODEL, IMAGE, --size and --tab."""

from __future__ import annotations

import pytest

from engine.protocol import FailureKind, LoadModel, OpenImage
from gui.common.names import Tab
from gui.models.opening import TRUST_BUTTON
from gui.startup import Startup, tab_named
from main import window_arguments


@pytest.fixture
def bare_window(qtbot, engine):
    """The window on the fake engine before any model: Startup opens one."""
    from fake_engine import fake_window

    return fake_window(qtbot, engine, model=False)


def _start(window, argv: list[str], **options) -> Startup:
    model, image = window_arguments(*[*argv, None, None][:2])
    startup = Startup(window, model, image, **options)
    startup.begin()
    return startup


def test_a_lone_image_opens_with_the_built_in_model(bare_window, engine):
    _start(bare_window, ["photos/cat.PNG"])
    assert engine.last(LoadModel).path is None  # the built-in model, not the photo as a model
    engine.load()
    assert engine.last(OpenImage).path == "photos/cat.PNG"


def test_default_names_the_built_in_model_for_the_window_too(bare_window, engine):
    _start(bare_window, ["default", "cat.jpg"])
    assert engine.last(LoadModel).path is None
    engine.load()
    assert engine.last(OpenImage).path == "cat.jpg"


def test_a_model_file_and_an_image_stay_what_they_are():
    assert window_arguments("net.keras", "cat.png") == ("net.keras", "cat.png")
    assert window_arguments("zoo:ResNet50", None) == ("zoo:ResNet50", None)
    assert window_arguments(None, None) == (None, None)


def test_a_model_that_fails_to_open_leaves_the_built_in_one_open(bare_window, engine):
    _start(bare_window, ["broken.keras"])
    engine.fail(engine.last(LoadModel), FailureKind.INPUT, "broken.keras is not a Keras file")
    assert engine.last(LoadModel).path is None  # the built-in model is on its way
    engine.load()
    engine.open()
    assert bare_window.state.summary is not None
    bar = bare_window.ui.message_bar
    assert bar.isVisibleTo(bare_window) and bar.is_error()
    assert "broken.keras is not a Keras file" in bar.text()
    assert "built-in model is open instead" in bar.text()


def test_a_file_holding_code_keeps_its_open_anyway_button_after_the_fallback(bare_window, engine):
    _start(bare_window, ["lambda.keras"])
    engine.fail(engine.last(LoadModel), FailureKind.UNTRUSTED, "lambda.keras holds Python code")
    engine.load()
    engine.open()
    button = bare_window.ui.message_bar.action_button
    assert button.isVisibleTo(bare_window) and button.text() == TRUST_BUTTON
    button.click()
    trusted = engine.last(LoadModel)
    assert trusted.path == "lambda.keras" and trusted.trusted


def test_size_and_tab_set_the_window_for_a_picture(bare_window, engine):
    _start(bare_window, [], size=(1280, 720), tab="Network")
    assert (bare_window.width(), bare_window.height()) == (1280, 720)
    assert bare_window.ui.centre_tabs.currentIndex() == Tab.NETWORK


def test_a_tab_that_does_not_exist_is_named_in_the_error():
    with pytest.raises(ValueError, match=r"'settings'.*visualize, explain"):
        tab_named("settings")


def test_a_picture_of_the_explain_tab_shows_an_explanation(qtbot, bare_window, engine, tmp_path):
    from engine.protocol import Ascend, EndReason, Explain

    startup = _start(bare_window, [], screenshot=str(tmp_path / "explain.png"), tab="explain")
    taken: list[int] = []
    startup._take_screenshot = lambda: taken.append(bare_window.ui.centre_tabs.currentIndex())
    engine.load()
    engine.open()
    engine.finish(engine.last(Ascend), 8, EndReason.FINISHED)
    qtbot.wait(300)
    assert taken == []  # it waits for the explanation, not "press Explain"
    engine.explain(engine.last(Explain))
    qtbot.waitUntil(lambda: taken == [Tab.EXPLAIN], timeout=2_000)
