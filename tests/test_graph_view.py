"""The Graph tab: the model's layers as boxes with an arrow per inbound edge, branches and merges
drawn; a click on a box selects the layer as the layer tree does, a double-click opens a nested
sub-model."""

from __future__ import annotations

import time

import keras
import pytest
from fake_engine import FakeEngine, fake_window
from PySide6.QtCore import Qt

from engine.models.introspect import describe_model
from engine.models.meta import ModelMeta
from engine.protocol import LayerInfo, LayerKind, LayerPath, ModelSummary
from gui.layers.graph_layout import layered_layout
from gui.layers.graph_view import GraphView

L = keras.layers


def _residual() -> keras.Model:
    """conv → conv, plus a 1×1 skip conv from the input, joined by Add."""
    inputs = keras.Input((12, 12, 3), name="image")
    x = L.Conv2D(4, 3, padding="same", name="conv1")(inputs)
    x = L.Conv2D(4, 3, padding="same", name="conv2")(x)
    skip = L.Conv2D(4, 1, name="skip")(inputs)
    x = L.Add(name="add")([x, skip])
    x = L.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, L.Dense(3, name="out")(x), name="residual")


def _summary(model: keras.Model) -> ModelSummary:
    return describe_model(model, ModelMeta(), "code")


@pytest.fixture
def engine(qtbot):
    return FakeEngine()


def _click(qtbot, view: GraphView, name: str, double: bool = False) -> None:
    point = view.box_point(name)
    assert point is not None, name
    if double:
        qtbot.mouseDClick(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=point)
    else:
        qtbot.mouseClick(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=point)


def test_the_add_of_a_residual_block_has_both_branches_as_inbound():
    layers = {layer.name: layer for layer in _summary(_residual()).layers}
    assert layers["add"].inbound == ("conv2", "skip")
    assert layers["conv1"].inbound == layers["skip"].inbound == ("image",)
    assert layers["image"].inbound == ()
    assert layers["out"].inbound == ("gap",)


def test_the_graph_draws_an_arrow_per_inbound_and_the_branches_side_by_side(qtbot):
    summary = _summary(_residual())
    view = GraphView()
    qtbot.addWidget(view)
    view.set_summary(summary)
    assert view.box_names() == [layer.name for layer in summary.layers]
    assert view.edge_count() == sum(len(layer.inbound) for layer in summary.layers) == 7
    slots = layered_layout(view.box_names(), {lay.name: lay.inbound for lay in summary.layers})
    rank = {name: slot[0] for name, slot in slots.slots.items()}
    # The skip conv sits beside the first conv; the Add comes after the longer branch.
    assert rank["skip"] == rank["conv1"] == 1
    assert rank["add"] == 3 and rank["out"] == 5
    assert view.note.text() == "7 layers, 7 connections"


def test_clicking_a_box_selects_the_layer_in_the_window(qtbot, engine):
    window = fake_window(qtbot, engine, summary=_summary(_residual()), image=False)
    graph = window.ui.layer_graph
    window.ui.left_tabs.setCurrentWidget(graph)
    _click(qtbot, graph, "skip")
    qtbot.waitUntil(lambda: window.state.layer is not None and window.state.layer.name == "skip")
    assert window.ui.layer_tree.current_layer().name == "skip"
    assert graph.is_outlined("skip") and not graph.is_outlined("conv1")
    # A selection made in the tree outlines the box too.
    tree = window.ui.layer_tree
    tree.setCurrentItem(tree._find_item(("conv2",)))
    qtbot.waitUntil(lambda: graph.is_outlined("conv2"))


def test_a_nested_base_is_one_box_and_a_double_click_opens_it(qtbot, engine):
    model = keras.Sequential(
        [keras.Input((12, 12, 3)), _residual(), L.Dense(2, name="head")], name="outer"
    )
    summary = _summary(model)
    assert summary.find(("head",)).inbound == ("residual",)
    window = fake_window(qtbot, engine, summary=summary, image=False)
    graph = window.ui.layer_graph
    window.ui.left_tabs.setCurrentWidget(graph)
    # The window starts on the base's last conv: the graph opens the base to show it.
    default = window.state.layer
    assert default is not None and default.path[0] == "residual"
    assert graph.level() == LayerPath(("residual",)) and graph.is_outlined(default.name)
    qtbot.mouseClick(graph.up_button, Qt.MouseButton.LeftButton)
    assert graph.level() == LayerPath() and not graph.up_button.isEnabled()
    assert graph.box_names() == ["residual", "head"]
    assert graph.note.text() == "Sequential model: a simple chain"
    # Outside the sub-model its box stands for the layer selected inside it.
    assert graph.is_outlined("residual")
    _click(qtbot, graph, "head")
    qtbot.waitUntil(lambda: window.state.layer.name == "head")
    assert graph.is_outlined("head") and not graph.is_outlined("residual")
    _click(qtbot, graph, "residual", double=True)
    assert graph.level() == LayerPath(("residual",)) and graph.up_button.isEnabled()
    assert "add" in graph.box_names() and graph.edge_count() == 7
    _click(qtbot, graph, "add")
    qtbot.waitUntil(lambda: window.state.layer.name == "add")
    assert window.state.layer.path == LayerPath(("residual", "add"))
    assert window.ui.layer_tree.current_layer().path == LayerPath(("residual", "add"))
    # A layer picked in the tree outside the open sub-model brings its level back.
    tree = window.ui.layer_tree
    tree.setCurrentItem(tree._find_item(("head",)))
    qtbot.waitUntil(lambda: graph.level() == LayerPath())
    assert graph.is_outlined("head")


def test_a_sequential_model_is_a_chain(qtbot):
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Conv2D(2, 3, name="c1"),
            L.Flatten(name="flat"),
            L.Dense(2, name="d"),
        ]
    )
    summary = _summary(model)
    assert [lay.inbound for lay in summary.layers] == [(), ("c1",), ("flat",)]
    view = GraphView()
    qtbot.addWidget(view)
    view.set_summary(summary)
    assert view.edge_count() == 2
    assert view.note.text() == "Sequential model: a simple chain"


def test_a_layer_called_twice_gets_the_union_of_its_inputs(qtbot):
    inputs = keras.Input((8, 8, 3), name="image")
    shared = L.Conv2D(3, 1, name="shared")
    x = L.Conv2D(3, 3, padding="same", name="pre")(inputs)
    x = shared(shared(x) * 2.0)  # through a plain op, then its own output
    model = keras.Model(inputs, L.GlobalAveragePooling2D(name="gap")(x))
    summary = _summary(model)
    assert summary.find(("shared",)).inbound == ("pre", "shared")
    view = GraphView()
    qtbot.addWidget(view)
    view.set_summary(summary)
    assert view.edge_count() == 4  # pre, the loop on itself, image → pre, shared → gap


def test_a_model_without_a_graph_lists_its_layers_in_order(qtbot):
    class Net(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.first = L.Conv2D(2, 3, name="first")
            self.pool = L.GlobalAveragePooling2D(name="pool")

        def call(self, x):
            return self.pool(self.first(x))

    net = Net()
    net(keras.ops.zeros((1, 8, 8, 1)))
    assert all(lay.inbound == () for lay in _summary_of_subclassed(net))
    view = GraphView()
    qtbot.addWidget(view)
    infos = tuple(_summary_of_subclassed(net))
    view.set_summary(ModelSummary("net", "code", (8, 8, 1), (0.0, 1.0), (), infos))
    assert view.edge_count() == 0 and "No connections recorded" in view.note.text()
    # One per rank, top to bottom in model order, as a chain would be drawn.
    assert layered_layout(["first", "pool"], {}).slots == {"first": (0, 0), "pool": (1, 0)}


def _summary_of_subclassed(net: keras.Model) -> list[LayerInfo]:
    from engine.models.introspect import inbound_names

    assert inbound_names(net) == {}
    return [
        LayerInfo(LayerPath((lay.name,)), lay.name, type(lay).__name__, None, 0, LayerKind.NONE, 0)
        for lay in net.layers
    ]


def test_a_resnet_size_graph_is_laid_out_quickly(qtbot):
    """~180 layers in 16 residual blocks, each Add fed by a 3-conv branch and the skip."""
    layers: list[LayerInfo] = [_info("input", ())]
    previous = "input"
    for block in range(16):
        branch = previous
        for k in range(3):
            name = f"b{block}_conv{k}"
            layers += [_info(name, (branch,)), _info(f"{name}_bn", (name,))]
            layers.append(_info(f"{name}_relu", (f"{name}_bn",)))
            branch = f"{name}_relu"
        layers.append(_info(f"b{block}_add", (branch, previous)))
        previous = f"b{block}_add"
    summary = ModelSummary("resnetish", "code", (32, 32, 3), (0.0, 1.0), (), tuple(layers))
    view = GraphView()
    qtbot.addWidget(view)
    start = time.perf_counter()
    view.set_summary(summary)
    assert time.perf_counter() - start < 2.0
    assert len(view.box_names()) == len(layers) == 161
    assert view.edge_count() == 160 + 16


def _info(name: str, inbound: tuple[str, ...]) -> LayerInfo:
    kind = "Add" if name.endswith("add") else "Conv2D"
    return LayerInfo(LayerPath((name,)), name, kind, None, 0, LayerKind.NONE, 0, inbound=inbound)
