"""What a visualization maximizes: weighted sums of channels, neurons or class logits.

An `Objective` is built once per set of layers; which units, weights and neuron positions it
scores live in `tf.Variable`s, so switching filters (or scoring a different filter for every
image of a batch, as the layer atlas does) never retraces the compiled step.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from engine.fast_assign import put
from engine.models.surgery import linearized
from engine.protocol import LayerPath, ObjectiveTerm

# The terms are plain values the window builds too.
Term = ObjectiveTerm


class Objective:
    """Scores a batch of model inputs: one number per image, higher is better."""

    def __init__(self, model: keras.Model, layers: Sequence[tuple[str, ...]], batch: int) -> None:
        self.layers = tuple(dict.fromkeys(tuple(layer) for layer in layers))
        if not self.layers:
            raise ValueError("an objective needs at least one layer")
        # Softmax outputs are replaced by their logits: maximizing a probability can be won by
        # pushing the other classes down instead of bringing this one out.
        self._extractors = [linearized(model, layer) for layer in self.layers]
        self.batch = batch
        self.ranks = [len(extractor.output.shape) for extractor in self._extractors]
        self.sizes = [int(extractor.output.shape[-1]) for extractor in self._extractors]
        self.term_layers: tuple[int, ...] = ()
        self.units: tf.Variable | None = None
        self.last_activations: tf.Tensor | None = None
        # What the variables hold now (None: unknown): a gallery or an atlas configures the
        # same terms for many runs, and each eager assign costs ~0.1 ms.
        self._configured: tuple | None = None
        self._held: dict[str, np.ndarray] = {}  # the weights and neuron places assigned last

    def configure(
        self, terms: Sequence[Term], units_per_image: Sequence[int] | None = None
    ) -> None:
        """Set what is scored. `units_per_image` overrides the first term's unit per image."""
        terms = list(terms)
        per_image = None if units_per_image is None else tuple(int(u) for u in units_per_image)
        key = (tuple(terms), per_image)
        if key == self._configured:
            return
        self._configured = None  # a failure half-way leaves the variables unknown
        self._assign_terms(terms, units_per_image)
        self._configured = key

    def _assign_terms(self, terms: list[Term], units_per_image: Sequence[int] | None) -> None:
        """Check `terms` and put them into the variables (the graph reads them from there)."""
        if not terms:
            raise ValueError("an objective needs at least one term")
        count = len(terms)
        units = np.zeros((count, self.batch), np.int32)
        for t, term in enumerate(terms):
            index = self._layer_index(term.layer)
            if not 0 <= term.unit < self.sizes[index]:
                raise ValueError(
                    f"unit {term.unit} is out of range: layer {str(LayerPath(term.layer))!r} "
                    f"has {self.sizes[index]}"
                )
            units[t, :] = term.unit
            if term.neuron is not None and self.ranks[index] != 4:
                raise ValueError(
                    f"layer {str(LayerPath(term.layer))!r} has no positions for a neuron"
                )
        if units_per_image is not None:
            units[0, :] = np.asarray(units_per_image, np.int32)
        structure = tuple(self._layer_index(term.layer) for term in terms)
        if self.units is None:
            # Which layer each term reads is part of the compiled graph; units, weights and
            # neuron positions are variables.
            self.term_layers = structure
            self.units = tf.Variable(units, trainable=False, name="units")
            self.weights = tf.Variable(np.zeros(count, np.float32), trainable=False)
            self.neurons = tf.Variable(np.zeros((count, 2), np.int32), trainable=False)
            self.use_neuron = tf.Variable(np.zeros(count, np.float32), trainable=False)
        elif structure != self.term_layers:
            raise ValueError("the terms read other layers than this objective was built for")
        self._assign_units(units)
        values = {
            "weights": np.array([term.weight for term in terms], np.float32),
            "neurons": np.array([term.neuron or (0, 0) for term in terms], np.int32),
            "use_neuron": np.array(
                [0.0 if term.neuron is None else 1.0 for term in terms], np.float32
            ),
        }
        for name, value in values.items():
            held = self._held.get(name)
            if held is None or not np.array_equal(held, value):
                put(getattr(self, name), value)
                self._held[name] = value

    def _assign_units(self, units: np.ndarray) -> None:
        """Put the (terms, batch) unit numbers into the graph's variable."""
        assert self.units is not None
        put(self.units, units)

    def __call__(self, inputs: tf.Tensor) -> tf.Tensor:
        """(B,) scores; also keeps the first layer's activations for the diversity term."""
        activations = [extractor(inputs, training=False) for extractor in self._extractors]
        self.last_activations = activations[self.term_layers[0]]
        total = tf.zeros([tf.shape(inputs)[0]])
        for t, index in enumerate(self.term_layers):
            total += self.weights[t] * self._score(activations[index], t)
        return total

    def _score(self, activation: tf.Tensor, t: int) -> tf.Tensor:
        if self.units is None:
            raise ValueError("the objective has no terms yet: call configure() before scoring")
        units = self.units[t]
        if len(activation.shape) == 2:  # Dense: one number per unit
            return tf.gather(activation, units, axis=1, batch_dims=1)
        picked = tf.gather(activation, units, axis=3, batch_dims=1)  # (B, H, W)
        height, width = tf.shape(picked)[1], tf.shape(picked)[2]
        row = tf.minimum(self.neurons[t, 0], height - 1)
        column = tf.minimum(self.neurons[t, 1], width - 1)
        neuron = picked[:, row, column]
        mean = tf.reduce_mean(tf.reshape(picked, [tf.shape(picked)[0], -1]), axis=1)
        return self.use_neuron[t] * neuron + (1.0 - self.use_neuron[t]) * mean

    def _layer_index(self, layer: tuple[str, ...]) -> int:
        try:
            return self.layers.index(tuple(layer))
        except ValueError:
            raise ValueError(
                f"layer {str(LayerPath(layer))!r} is not part of this objective"
            ) from None


def diversity(activations: tf.Tensor) -> tf.Tensor:
    """How alike the images of a batch are (mean cosine similarity of their Gram matrices).

    Subtracting it pushes the images of one filter towards different ways of exciting it.
    """
    if len(activations.shape) != 4:
        return tf.constant(0.0)
    batch = tf.shape(activations)[0]
    flat = tf.reshape(activations, [batch, -1, tf.shape(activations)[-1]])
    grams = tf.matmul(flat, flat, transpose_a=True)
    grams = tf.math.l2_normalize(tf.reshape(grams, [batch, -1]), axis=1)
    similarity = tf.matmul(grams, grams, transpose_b=True)
    pairs = tf.cast(batch * (batch - 1), tf.float32)
    off_diagonal = tf.reduce_sum(similarity) - tf.linalg.trace(similarity)
    return tf.math.divide_no_nan(off_diagonal, pairs)
