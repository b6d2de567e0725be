"""The window's menus and keyboard shortcuts: every action by name, calling the slot it is
given for that name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from engine.protocol.catalogue import ZOO_NAMES, sample_names
from gui.common.names import Tab

Slot = Callable[[], object]
ZooOpener = Callable[[str, bool], object]  # (zoo name, random weights)

# name: (text, shortcut, status tip); build_menus calls slots[name] when one is triggered.
ACTIONS: dict[str, tuple[str, object, str]] = {
    "open_image": ("Open &Image…", QKeySequence.StandardKey.Open,
                   "Open an image file and see what the model makes of it"),
    "open_model": ("Open &Model…", "Ctrl+Shift+O", "Open a .keras or .h5 model file"),
    "open_saved_model": ("Open Sa&vedModel Folder…", None,
                         "Open a TensorFlow SavedModel folder (one holding saved_model.pb)"),
    "default_model": ("&Default Model", "Ctrl+Shift+D", "Go back to the built-in MNIST model"),
    "export": ("&Export Canvas as PNG…", "Ctrl+E", "Save the picture on the canvas"),
    "export_gif": ("Export &Animation (GIF)…", "Ctrl+Shift+E",
                   "Save the frames of the current or last run as an animated GIF"),
    "export_settings": ("Export &Settings (JSON)…", None,
                        "Save the method and what the last run grew, and how it went, as JSON"),
    "load_settings": ("&Load Settings (JSON)…", None,
                      "Fill the method panel from a JSON file saved by Export Settings"),
    "export_explanation": ("Export E&xplanation (PNG + .npy)…", "Ctrl+Shift+X",
                           "Save the explanation shown as drawn (PNG) and its raw map (.npy)"),
    "export_maps": ("Export Feature &Maps (PNG per layer)…", None,
                    "Write one grid of channel maps per layer for the current image into a folder"),
    "scan_folder": ("Scan &Folder for Dataset Examples…", "Ctrl+Shift+F",
                    "Record how every filter fires on a folder of images; find each filter's "
                    "top images"),
    "scan_builtin": ("Scan &Built-in Images", None,
                     "Record how every filter fires on the images that come with convscope"),
    "evaluate_folder": ("E&valuate on Labelled Folder…", None,
                        "Predict every image of a folder (one sub-folder per class, or files "
                        "named <label>_….png) and compare with the labels"),
    "evaluate_mnist": ("Evaluate on Held-out &MNIST Digits", None,
                       "The built-in model on the 2,000 real MNIST digits it was not trained on"),
    "model_input": ("Input &Preprocessing and Size…", "Ctrl+Shift+I",
                    "How this model wants its pixels (range, Caffe mean, mean/std) and, if it "
                    "takes any size, the size to work at"),
    "compare_with": ("&Compare with…", None,
                     "Open a second model (or another checkpoint) as model B of the Compare tab"),
    "compare": ("Compare &A and B", "Ctrl+Shift+C",
                "Compare models A and B on the selected layer and filter, in the Compare tab"),
    "train": ("&Train the MNIST CNN…", None,
              "Train the built-in CNN from scratch on MNIST and watch its loss and accuracy"),
    "quit": ("&Quit", QKeySequence.StandardKey.Quit, ""),
    "explain": ("E&xplain", "F6",
                "Explain the current image with the method chosen in the Explain tab; a running "
                "visualization stops for it"),
    # Esc only from the visualization (RunsController.scope_stop), not from a text field.
    "stop": ("&Stop", "Esc",
             "Stop the running visualization (Esc: with the canvas or the method panel in focus)"),
    "restart": ("&Restart", "F5", "Run the visualization of the selected filter again"),
    "continue": ("&Continue", "Shift+F5",
                 "Go on with the stopped visualization from the step it reached"),
    "continue_from": ("Continue from This &Image", "Ctrl+Shift+F5",
                      "Start a new run of the same objective from the picture the last run "
                      "ended with (the notebooks' second pass)"),
    "atlas": ("Visualize Whole &Layer", "Ctrl+L",
              "Grow an image for every filter of the selected layer"),
    "feature_map": ("Show &Feature Map", "Ctrl+M", "Show the selected filter's feature map large"),
    "input": ("Show &Input Image", "Ctrl+I", ""),
    "fit": ("&Fit Canvas", "Ctrl+0", ""),
    "sketch": ("S&ketch Pad", "Ctrl+K",
               "Draw an image with the mouse; the model reads it as you draw"),
    "help_tour": ("&First Five Minutes", "F1",
                  "A short illustrated walk-through: pick a layer, click a filter, explain"),
    "help_shortcuts": ("&Keyboard Shortcuts", None, "Every keyboard shortcut of the window"),
    "help_readme_sections": ("README &Sections", None, "The README's sections, as links"),
    "help_readme": ("Open &README", None, "Open README.md in the program for it"),
    "about": ("&About convscope", None,
              "The versions of convscope, TensorFlow, Keras, Qt, NumPy and Python"),
}  # fmt: skip


def _call(slot: Slot, _checked: bool = False) -> None:
    slot()


def _fill_zoo_menu(
    window: QMainWindow, menu: QMenu, opener: ZooOpener, actions: dict[str, QAction], prefix: str
) -> None:
    """Each zoo architecture twice: with ImageNet weights and untrained."""
    for name in ZOO_NAMES:
        trained = QAction(f"{name} (ImageNet weights)", window)
        trained.setStatusTip(f"Download {name}'s ImageNet weights once into the Keras cache")
        trained.triggered.connect(partial(_call, partial(opener, f"zoo:{name}", False)))
        untrained = QAction(f"{name} (random weights)", window)
        untrained.setStatusTip(f"{name}'s architecture, untrained: for its structure and speed")
        untrained.triggered.connect(partial(_call, partial(opener, f"zoo:{name}", True)))
        menu.addAction(trained)
        menu.addAction(untrained)
        menu.addSeparator()
        actions[f"{prefix}{name}"], actions[f"{prefix}{name}:random"] = trained, untrained


def build_menus(
    window: QMainWindow,
    slots: Mapping[str, Slot],
    open_zoo: ZooOpener,
    compare_zoo: ZooOpener,
    open_sample: Callable[[str], object],
    show_tab: Callable[[Tab], object],
    recent: tuple[QMenu, QMenu],
) -> dict[str, QAction]:
    """Fill the menu bar of `window` and return its actions by name ("open_image",
    "zoo:VGG16:random", "tab:explain", ...): each action of ACTIONS calls `slots[name]`;
    `recent` are the submenus of recent models and images."""

    def _action(slot: Slot, text: str, shortcut: object = None, tip: str = "") -> QAction:
        action = QAction(text, window)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))  # type: ignore[call-overload]
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(partial(_call, slot))
        return action

    actions = {name: _action(slots[name], *spec) for name, spec in ACTIONS.items()}
    for tab in Tab:
        shortcut = f"Ctrl+{tab.value + 1}"
        actions[f"tab:{tab.name.lower()}"] = _action(
            partial(show_tab, tab), f"{tab.title} Tab", shortcut
        )
    actions["continue"].setEnabled(False)  # until a run stops part way
    actions["continue_from"].setEnabled(False)  # until a run ends
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(actions["open_image"])
    recent_models, recent_images = recent
    file_menu.addMenu(recent_images)
    samples = file_menu.addMenu("&Samples")
    for key, title in sample_names():
        sample = QAction(title, window)
        sample.triggered.connect(partial(_call, partial(open_sample, key)))
        samples.addAction(sample)
        actions[f"sample:{key}"] = sample
    file_menu.addSeparator()
    file_menu.addAction(actions["open_model"])
    file_menu.addAction(actions["open_saved_model"])
    file_menu.addMenu(recent_models)
    file_menu.addAction(actions["default_model"])
    file_menu.addSeparator()
    for name in ("export", "export_gif", "export_settings", "export_explanation", "export_maps"):
        file_menu.addAction(actions[name])
    file_menu.addAction(actions["load_settings"])
    file_menu.addSeparator()
    file_menu.addAction(actions["scan_folder"])
    file_menu.addAction(actions["evaluate_folder"])
    file_menu.addSeparator()
    file_menu.addAction(actions["quit"])
    model_menu = bar.addMenu("&Model")
    model_menu.addAction(actions["open_model"])
    model_menu.addAction(actions["default_model"])
    zoo = model_menu.addMenu("&Zoo (keras.applications)")
    _fill_zoo_menu(window, zoo, open_zoo, actions, "zoo:")
    model_menu.addSeparator()
    model_menu.addAction(actions["model_input"])
    model_menu.addSeparator()
    model_menu.addAction(actions["compare_with"])
    compare_zoo_menu = model_menu.addMenu("Compare with a Zoo Mode&l")
    _fill_zoo_menu(window, compare_zoo_menu, compare_zoo, actions, "compare:zoo:")
    model_menu.addSeparator()
    model_menu.addAction(actions["train"])
    run_menu = bar.addMenu("&Run")
    for name in ("stop", "restart", "continue", "continue_from"):
        run_menu.addAction(actions[name])
    run_menu.addSeparator()
    for name in ("atlas", "explain", "compare", "scan_builtin", "evaluate_mnist"):
        run_menu.addAction(actions[name])
    view_menu = bar.addMenu("&View")
    for name in ("feature_map", "input", "fit", "sketch"):
        view_menu.addAction(actions[name])
    view_menu.addSeparator()
    for tab in Tab:
        view_menu.addAction(actions[f"tab:{tab.name.lower()}"])
    help_menu = bar.addMenu("&Help")
    for name in ("help_tour", "help_shortcuts", "help_readme_sections", "help_readme"):
        help_menu.addAction(actions[name])
    help_menu.addSeparator()
    help_menu.addAction(actions["about"])
    return actions
