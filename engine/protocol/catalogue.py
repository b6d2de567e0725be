"""The names of the zoo's models, without Keras, so the window can list them in its menu."""

from __future__ import annotations

ZOO_NAMES = (
    "VGG16", "VGG19", "ResNet50", "MobileNetV2", "InceptionV3", "Xception", "DenseNet121",
    "EfficientNetB0", "ConvNeXtTiny",
)  # fmt: skip


# The attribution methods the engine knows (engine/attribution), in the order menus list them.
EXPLAIN_METHODS = (
    "gradcam", "gradcam++", "scorecam", "cam", "saliency", "smoothgrad", "gradient_x_input",
    "integrated_gradients", "guided_backprop", "guided_gradcam", "deconvnet", "occlusion", "lime",
)  # fmt: skip

# What the window calls each method, and which are slow enough for progress and Cancel. Here,
# beside the names, because both halves need them and the window may not import engine code
# that loads Keras.
EXPLAIN_TITLES = {
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
    "scorecam": "Score-CAM",
    "cam": "CAM",
    "saliency": "Saliency (gradient)",
    "smoothgrad": "SmoothGrad",
    "gradient_x_input": "Gradient × input",
    "integrated_gradients": "Integrated gradients",
    "guided_backprop": "Guided backpropagation",
    "guided_gradcam": "Guided Grad-CAM",
    "deconvnet": "Deconvnet",
    "occlusion": "Occlusion sensitivity",
    "lime": "LIME superpixels",
}
EXPLAIN_LONG_METHODS = frozenset(
    {"scorecam", "integrated_gradients", "smoothgrad", "occlusion", "lime"}
)


# scikit-image's photographs offered as samples (engine/images/samples.py loads them).
SAMPLE_PHOTOS = {
    "chelsea": "Chelsea the cat",
    "astronaut": "Astronaut (Eileen Collins)",
    "coffee": "Cup of coffee",
    "rocket": "Rocket on the launch pad",
    "camera": "Cameraman",
}


def sample_names() -> list[tuple[str, str]]:
    """(key, title) of every sample, photos first, then scikit-learn's ten digits."""
    photos = [(f"photo:{key}", title) for key, title in SAMPLE_PHOTOS.items()]
    return [*photos, *((f"digit:{k}", f"Handwritten digit {k} (scikit-learn)") for k in range(10))]
