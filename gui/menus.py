"""The window's menus and keyboard shortcuts."""

from __future__ import annotations

from functools import partial

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow

from engine.protocol.catalogue import ZOO_NAMES, sample_names


def _action(window: QMainWindow, text: str, slot, shortcut=None, tip: str = "") -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
    action.triggered.connect(lambda _checked=False: slot())
    return action


def _open_zoo(window, name: str, random_weights: bool, _checked: bool = False) -> None:
    window.open_model(f"zoo:{name}", random_weights=random_weights)


def _compare_zoo(window, name: str, random_weights: bool, _checked: bool = False) -> None:
    window.compare_with(f"zoo:{name}", random_weights=random_weights)


def _fill_zoo_menu(window, menu, opener, actions: dict[str, QAction], prefix: str) -> None:
    """Each zoo architecture twice: with ImageNet weights and untrained."""
    for name in ZOO_NAMES:
        trained = QAction(f"{name} (ImageNet weights)", window)
        trained.setStatusTip(f"Download {name}'s ImageNet weights once into the Keras cache")
        trained.triggered.connect(partial(opener, window, name, False))
        untrained = QAction(f"{name} (random weights)", window)
        untrained.setStatusTip(f"{name}'s architecture, untrained: for its structure and speed")
        untrained.triggered.connect(partial(opener, window, name, True))
        menu.addAction(trained)
        menu.addAction(untrained)
        menu.addSeparator()
        actions[f"{prefix}{name}"], actions[f"{prefix}{name}:random"] = trained, untrained


def _open_sample(window, key: str, _checked: bool = False) -> None:
    window.open_image(sample=key)


def build_menus(window) -> dict[str, QAction]:
    """Fill the menu bar of `window` (a MainWindow) and return its actions by name."""
    actions = {
        "open_image": _action(
            window,
            "Open &Image…",
            window.choose_image,
            QKeySequence.Open,
            "Open an image file and see what the model makes of it",
        ),
        "open_model": _action(
            window,
            "Open &Model…",
            window.choose_model,
            "Ctrl+Shift+O",
            "Open a .keras or .h5 model file",
        ),
        "open_saved_model": _action(
            window,
            "Open Sa&vedModel Folder…",
            window.choose_saved_model,
            None,
            "Open a TensorFlow SavedModel folder (one holding saved_model.pb)",
        ),
        "default_model": _action(
            window,
            "&Default Model",
            lambda: window.open_model(None),
            "Ctrl+Shift+D",
            "Go back to the built-in MNIST model",
        ),
        "export": _action(
            window,
            "&Export Canvas as PNG…",
            window.export_canvas,
            "Ctrl+E",
            "Save the picture on the canvas",
        ),
        "export_gif": _action(
            window,
            "Export &Animation (GIF)…",
            window.export_animation,
            "Ctrl+Shift+E",
            "Save the frames of the current or last run as an animated GIF",
        ),
        "export_settings": _action(
            window,
            "Export &Settings (JSON)…",
            window.export_settings,
            None,
            "Save the method and what the last run grew, and how it went, as JSON",
        ),
        "load_settings": _action(
            window,
            "&Load Settings (JSON)…",
            window.load_settings,
            None,
            "Fill the method panel from a JSON file saved by Export Settings",
        ),
        "export_explanation": _action(
            window,
            "Export E&xplanation (PNG + .npy)…",
            window.export_explanation,
            "Ctrl+Shift+X",
            "Save the explanation shown as drawn (PNG) and its raw map (.npy)",
        ),
        "export_maps": _action(
            window,
            "Export Feature &Maps (PNG per layer)…",
            window.export_feature_maps,
            None,
            "Write one grid of channel maps per layer for the current image into a folder",
        ),
        "scan_folder": _action(
            window,
            "Scan &Folder for Dataset Examples…",
            window.choose_scan_folder,
            "Ctrl+Shift+F",
            "Record how every filter fires on a folder of images; find each filter's top images",
        ),
        "scan_builtin": _action(
            window,
            "Scan &Built-in Images",
            window.scan_builtin,
            None,
            "Record how every filter fires on the images that come with convscope",
        ),
        "model_input": _action(
            window,
            "Input &Preprocessing and Size…",
            window.choose_model_input,
            "Ctrl+Shift+I",
            "How this model wants its pixels (range, Caffe mean, mean/std) and, if it takes any "
            "size, the size to work at",
        ),
        "compare_with": _action(
            window,
            "&Compare with…",
            window.choose_comparison,
            None,
            "Open a second model (or another checkpoint) as model B of the Compare tab",
        ),
        "compare": _action(
            window,
            "Compare &A and B",
            window.compare,
            "Ctrl+Shift+C",
            "Compare models A and B on the selected layer and filter, in the Compare tab",
        ),
        "train": _action(
            window,
            "&Train the MNIST CNN…",
            window.show_training,
            None,
            "Train the built-in CNN from scratch on MNIST and watch its loss and accuracy",
        ),
        "quit": _action(window, "&Quit", window.close, QKeySequence.Quit),
        "explain": _action(
            window,
            "E&xplain",
            window.explain,
            "F6",
            "Explain the current image with the method chosen in the Explain tab",
        ),
        "stop": _action(window, "&Stop", window.stop, "Esc", "Stop the running visualization"),
        "restart": _action(
            window,
            "&Restart",
            window.restart,
            "F5",
            "Run the visualization of the selected filter again",
        ),
        "atlas": _action(
            window,
            "Visualize Whole &Layer",
            window.visualize_layer,
            "Ctrl+L",
            "Grow an image for every filter of the selected layer",
        ),
        "feature_map": _action(
            window,
            "Show &Feature Map",
            window.show_selected_feature_map,
            "Ctrl+M",
            "Show the selected filter's feature map large",
        ),
        "input": _action(window, "Show &Input Image", window.show_input, "Ctrl+I"),
        "fit": _action(window, "&Fit Canvas", window.fit_canvas, "Ctrl+0"),
        "sketch": _action(
            window,
            "S&ketch Pad",
            window.show_sketch_pad,
            "Ctrl+K",
            "Draw an image with the mouse; the model reads it as you draw",
        ),
    }
    for index, name in enumerate(("Visualize", "Explain", "Network", "Filters", "Compare")):
        actions[f"tab:{name.lower()}"] = _action(
            window, f"{name} Tab", partial(window.show_tab, index), f"Ctrl+{index + 1}"
        )
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(actions["open_image"])
    window.recent_images_menu = file_menu.addMenu("Open Recent I&mage")  # filled by the window
    samples = file_menu.addMenu("&Samples")
    for key, title in sample_names():
        sample = QAction(title, window)
        sample.triggered.connect(
            partial(lambda k, _checked=False: window.open_image(sample=k), key)
        )
        samples.addAction(sample)
        actions[f"sample:{key}"] = sample
    file_menu.addSeparator()
    file_menu.addAction(actions["open_model"])
    file_menu.addAction(actions["open_saved_model"])
    window.recent_models_menu = file_menu.addMenu("Open &Recent Model")  # filled by the window
    file_menu.addAction(actions["default_model"])
    file_menu.addSeparator()
    for name in ("export", "export_gif", "export_settings", "export_explanation", "export_maps"):
        file_menu.addAction(actions[name])
    file_menu.addAction(actions["load_settings"])
    file_menu.addSeparator()
    file_menu.addAction(actions["scan_folder"])
    file_menu.addSeparator()
    file_menu.addAction(actions["quit"])
    model_menu = bar.addMenu("&Model")
    model_menu.addAction(actions["open_model"])
    model_menu.addAction(actions["default_model"])
    zoo = model_menu.addMenu("&Zoo (keras.applications)")
    _fill_zoo_menu(window, zoo, _open_zoo, actions, "zoo:")
    model_menu.addSeparator()
    model_menu.addAction(actions["model_input"])
    model_menu.addSeparator()
    model_menu.addAction(actions["compare_with"])
    compare_zoo = model_menu.addMenu("Compare with a Zoo Mode&l")
    _fill_zoo_menu(window, compare_zoo, _compare_zoo, actions, "compare:zoo:")
    model_menu.addSeparator()
    model_menu.addAction(actions["train"])
    run_menu = bar.addMenu("&Run")
    run_menu.addAction(actions["stop"])
    run_menu.addAction(actions["restart"])
    run_menu.addSeparator()
    run_menu.addAction(actions["atlas"])
    run_menu.addAction(actions["explain"])
    run_menu.addAction(actions["compare"])
    run_menu.addAction(actions["scan_builtin"])
    view_menu = bar.addMenu("&View")
    for name in ("feature_map", "input", "fit", "sketch"):
        view_menu.addAction(actions[name])
    view_menu.addSeparator()
    for name in ("visualize", "explain", "network", "filters", "compare"):
        view_menu.addAction(actions[f"tab:{name}"])
    return actions
