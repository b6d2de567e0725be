"""The names of the zoo's models, without Keras, so the window can list them in its menu."""

from __future__ import annotations

ZOO_NAMES = (
    "VGG16", "VGG19", "ResNet50", "MobileNetV2", "InceptionV3", "Xception", "DenseNet121",
    "EfficientNetB0", "ConvNeXtTiny",
)  # fmt: skip
