"""Names both halves list: the zoo's models, the explanation methods and the samples.

Here, without Keras, so the window builds its menus before TensorFlow has loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

ZOO_NAMES = (
    "VGG16", "VGG19", "ResNet50", "MobileNetV2", "InceptionV3", "Xception", "DenseNet121",
    "EfficientNetB0", "ConvNeXtTiny",
)  # fmt: skip


@dataclass(frozen=True)
class MethodOption:
    """A setting of an explanation method, shown as a spin box of the Explain panel."""

    key: str  # its name in Explain.options, as the method reads it
    label: str
    minimum: int
    maximum: int
    default: int  # the method's own default; 0 for occlusion's patch: a seventh of the image
    tip: str
    choices: tuple[str, ...] = ()  # names of the values minimum, minimum + 1, …: a choice


@dataclass(frozen=True)
class ExplainMethod:
    """One attribution method (engine/attribution implements it under `name`)."""

    name: str
    title: str
    slow: bool = False  # slow enough for progress and Cancel; the engine reports its progress
    cam: bool = False  # weighs a convolution layer's maps: the CAM layer choice applies
    options: tuple[MethodOption, ...] = ()


_SAMPLES_TIP = (
    "How many perturbed copies of the image are scored (LIME) or averaged (SmoothGrad). "
    "More is smoother and slower."
)

# Every method, in the order menus list them.
EXPLAIN_CATALOGUE: dict[str, ExplainMethod] = {
    method.name: method
    for method in (
        ExplainMethod("gradcam", "Grad-CAM", cam=True),
        ExplainMethod("gradcam++", "Grad-CAM++", cam=True),
        ExplainMethod("scorecam", "Score-CAM", slow=True, cam=True),
        ExplainMethod("cam", "CAM", cam=True),
        ExplainMethod("saliency", "Saliency (gradient)"),
        ExplainMethod(
            "smoothgrad", "SmoothGrad", slow=True,
            options=(MethodOption("n", "Samples", 2, 5000, 25, _SAMPLES_TIP),),
        ),
        ExplainMethod("gradient_x_input", "Gradient × input"),
        ExplainMethod(
            "integrated_gradients", "Integrated gradients", slow=True,
            options=(
                MethodOption(
                    "steps", "Steps", 2, 1000, 64,
                    "Integrated gradients: points on the path from the baseline (black) to "
                    "the image.",
                ),
            ),
        ),
        ExplainMethod("guided_backprop", "Guided backpropagation"),
        ExplainMethod("guided_gradcam", "Guided Grad-CAM", cam=True),
        ExplainMethod("deconvnet", "Deconvnet"),
        ExplainMethod(
            "occlusion", "Occlusion sensitivity", slow=True,
            options=(
                MethodOption(
                    "patch", "Patch", 1, 512, 0,
                    "Occlusion: side in pixels of the grey square slid over the image.",
                ),
                MethodOption(
                    "stride", "Stride", 0, 512, 0,
                    "Occlusion: pixels between patch positions; 0: half the patch.",
                ),
            ),
        ),
        ExplainMethod(
            "lime", "LIME superpixels", slow=True,
            options=(
                MethodOption("samples", "Samples", 2, 5000, 300, _SAMPLES_TIP),
                MethodOption(
                    "n_segments", "Superpixels", 0, 1000, 0,
                    "LIME: how many superpixels SLIC aims for; 0: 25 below 64 px, else 50.",
                ),
                MethodOption(
                    "fill_mode", "Hidden fill", 0, 3, 0,
                    "LIME: what a hidden superpixel shows: the image's mean colour, grey, "
                    "black, or the image blurred.",
                    choices=("mean colour", "grey", "black", "blurred"),
                ),
                MethodOption(
                    "labels", "Labels", 1, 10, 1,
                    "LIME: classes fitted on the same samples (the explained one, then the next "
                    "most likely); each one's fit and top superpixels go into the export.",
                ),
            ),
        ),
    )
}  # fmt: skip
EXPLAIN_METHODS = tuple(EXPLAIN_CATALOGUE)


def method_title(name: str) -> str:
    """'Grad-CAM' for 'gradcam'; an unknown name as it is."""
    method = EXPLAIN_CATALOGUE.get(name)
    return method.title if method else name


def is_slow_method(name: str) -> bool:
    """Whether `name` reports progress and can be cancelled (unknown names are not)."""
    method = EXPLAIN_CATALOGUE.get(name)
    return bool(method and method.slow)


def option_default(option: MethodOption, image_side: int) -> int:
    """The value a spin box starts at: the method's default, or for occlusion's patch (default
    0) a seventh of the image side; other 0 defaults mean "the method decides"."""
    if option.default or option.key != "patch":
        return option.default
    return max(3, round(image_side / 7))


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
