"""An objective computed cheaply: in bfloat16 (or float16 on a GPU), and on only the channels
it reads, with a plain float32 twin that scores the images the user is shown.

`build_objective` picks: a plain `Objective` when neither saving applies, else a
`FastObjective`. Its `exact` twin is configured alongside it, so every number a verdict or a
caption reports is the float32 objective of the full model.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from engine.models.channel_slice import SlicedHead, sliced_head
from engine.optvis.objectives import Objective, Term
from engine.optvis.precision import in_precision, policy
from engine.protocol.precision import Precision


class FastObjective(Objective):
    """An `Objective` whose extractors compute in `precision`, the last layer sliced to the
    channels the terms read when `slice_width` is given and the layer allows it."""

    def __init__(
        self,
        model: keras.Model,
        layers: Sequence[tuple[str, ...]],
        batch: int,
        precision: Precision,
        slice_width: int | None = None,
    ) -> None:
        super().__init__(model, layers, batch)
        self.precision = precision
        self.exact = Objective(model, layers, batch)  # float32, every channel: for scores
        self.head: SlicedHead | None = None
        if slice_width is not None and len(self._extractors) == 1:
            self.head = sliced_head(
                self._extractors[0],
                slice_width,
                lambda trunk: _in_precision_or_not(trunk, precision),
                precision.compute,
            )
        if self.head is not None:
            self._extractors = [self.head]
        else:
            self._extractors = [_in_precision_or_not(e, precision) for e in self._extractors]

    def _assign_terms(self, terms: list[Term], units_per_image: Sequence[int] | None) -> None:
        """As `Objective`'s, and its float32 twin's too."""
        super()._assign_terms(terms, units_per_image)
        self.exact.configure(terms, units_per_image)

    def _assign_units(self, units: np.ndarray) -> None:
        """A sliced head computes the units asked for; the units are renumbered to their
        place in it (in numpy: reading the variable back would cost a sync)."""
        if self.head is None:
            super()._assign_units(units)
            return
        distinct, places = np.unique(units, return_inverse=True)
        if len(distinct) > self.head.width:
            raise ValueError(
                f"{len(distinct)} distinct units do not fit a slice of {self.head.width}"
            )
        padded = np.full(self.head.width, distinct[0], np.int32)
        padded[: len(distinct)] = distinct
        self.head.set_channels(padded)
        super()._assign_units(places.reshape(units.shape).astype(np.int32))

    @property
    def sliced(self) -> bool:
        return self.head is not None


def _in_precision_or_not(extractor: keras.Model, precision: Precision) -> keras.Model:
    # A layer that cannot be rebuilt from its config (a Lambda, a custom class without
    # get_config) keeps the model in float32: slower, never broken.
    try:
        return in_precision(extractor, precision)
    except (TypeError, ValueError, KeyError, AttributeError, NotImplementedError):
        return extractor


def build_objective(
    model: keras.Model,
    layers: Sequence[tuple[str, ...]],
    batch: int,
    precision: Precision,
    terms_count: int | None,
) -> Objective:
    """The objective for `layers`: a `FastObjective` when it can compute in a cheaper
    precision or slice (`terms_count` terms of one layer, None for no slice), else a plain one."""
    layers = tuple(dict.fromkeys(tuple(layer) for layer in layers))
    width = None if terms_count is None or len(layers) != 1 else terms_count * batch
    if policy(precision) is None and width is None:
        return Objective(model, layers, batch)
    objective = FastObjective(model, layers, batch, precision, width)
    if policy(precision) is None and not objective.sliced:
        return objective.exact
    return objective


def exact_scores(objective: Objective, inputs: tf.Tensor) -> tf.Tensor:
    """`objective`'s scores in float32 on the full model, whatever it computes in."""
    return getattr(objective, "exact", objective)(inputs)
