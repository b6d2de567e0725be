"""Keras 3 stand-ins for the few layers Keras 2's keras.applications saved under names Keras 3
does not know, so that Keras 2 files of those families open with all their layers."""

from __future__ import annotations

import keras


class LayerScale(keras.layers.Layer):
    """ConvNeXt's per-channel scale of a residual branch (tf_keras's
    keras.applications.convnext.LayerScale): x × gamma, gamma learned, one per channel."""

    def __init__(self, init_values: float, projection_dim: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.init_values = init_values
        self.projection_dim = projection_dim

    def build(self, _input_shape: object) -> None:
        self.gamma = self.add_weight(
            name="gamma",
            shape=(self.projection_dim,),
            initializer=keras.initializers.Constant(self.init_values),
        )

    def call(self, x: object) -> object:
        return x * self.gamma

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "init_values": self.init_values,
            "projection_dim": self.projection_dim,
        }


# What a Keras 2 .h5 file of keras.applications may name that Keras 3 lacks.
KERAS2_LAYERS = {"LayerScale": LayerScale}
