"""How long each attribution method takes, and Grad-CAM against the notebook implementation.

Run from the repo root: `.venv/bin/python benchmarks/explain_speed.py [--quick] [--skip-vgg]`.

For the built-in model (a digit) and VGG16 (`weights=None`, 224 px, a photo) it times every
method once after a warm-up call (compiling counts as set-up, not as the method's time). Then it
compares Grad-CAM, round by round in this one process, against the straightforward notebook
code: a new gradient model `keras.Model(inputs, [conv.output, model.output])` built per call and
an eager GradientTape. It prints seconds and ratios; it never fails on a slow result.
"""

from __future__ import annotations

import statistics
import sys
import time

from bench_common import arguments, use_checkout, vgg16

# Options that keep the slow methods to a sensible time on VGG16 at 224 px on 2 cores.
VGG_OPTIONS = {
    "scorecam": {"max_channels": 64},
    "lime": {"samples": 100},
    "integrated_gradients": {"steps": 32},
    "smoothgrad": {"n": 10},
    "occlusion": {"patch": 32, "stride": 32},
}


def _cases(skip_vgg: bool):
    from engine.images.convert import convert_image
    from engine.images.samples import load_sample
    from engine.models.loading import load_model

    model, meta, _ = load_model(None)
    digit = convert_image(load_sample("digit:3"), (28, 28, 1), meta.input_range).pixels
    yield "default model", model, digit, ("conv3",), {}, meta.input_range
    if skip_vgg:
        return
    vgg = vgg16(include_top=True)
    photo = convert_image(load_sample("photo:chelsea"), (224, 224, 3), (0.0, 255.0)).pixels
    yield "VGG16 224", vgg, photo, ("block5_conv3",), VGG_OPTIONS, (0.0, 255.0)


def notebook_gradcam(model, image, layer_name: str, class_index: int):
    """The tutorial Grad-CAM: a fresh gradient model per call, eager tape."""
    import keras
    import numpy as np
    import tensorflow as tf

    from engine.models.surgery import layer_output

    # `layer.output` would name the node of the layer's first call, which in a reloaded
    # Sequential is not in the graph of `model.outputs`: the tutorial code then gets no gradient.
    conv_output = layer_output(model, model.get_layer(layer_name))
    grad_model = keras.Model(model.inputs, [conv_output, model.outputs[0]])
    with tf.GradientTape() as tape:
        conv, predictions = grad_model(image[None])
        score = predictions[:, class_index]
    grads = tape.gradient(score, conv)
    weights = tf.reduce_mean(grads, axis=(1, 2))
    cam = tf.nn.relu(tf.reduce_sum(conv * weights[:, None, None, :], axis=-1))[0]
    return np.asarray(cam)


def _time(function, *args, **kwargs) -> float:
    started = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - started


def main() -> int:
    args = arguments(__doc__, None, "a few methods, one round").parse_args()
    use_checkout()
    import numpy as np

    from engine.attribution import METHODS, Target, explain

    methods = ["gradcam", "saliency", "occlusion"] if args.quick else list(METHODS)
    rounds = 1 if args.quick else 5
    print(f"{'case':<16}{'method':<22}{'seconds':>9}")
    for name, model, image, layer, options, value_range in _cases(args.skip_vgg):
        low, high = value_range
        class_index = int(np.argmax(model(image[None], training=False).numpy()[0]))
        target = Target(class_index=class_index)
        for method in methods:
            settings = {"low": low, "high": high, **options.get(method, {})}
            kwargs = {"layer": layer, "options": settings}
            if method == "cam":
                kwargs["layer"] = None
            try:
                explain(model, image, method, target, **kwargs)  # compile: set-up, not timed
                seconds = _time(explain, model, image, method, target, **kwargs)
                print(f"{name:<16}{method:<22}{seconds:>9.3f}")
            except ValueError as error:  # e.g. CAM needs a GAP head, deconvnet a supported path
                print(f"{name:<16}{method:<22}{'n/a':>9}  ({str(error)[:60]})")
        engine, notebook = [], []
        for _ in range(rounds):
            engine.append(_time(explain, model, image, "gradcam", target, layer=layer))
            notebook.append(_time(notebook_gradcam, model, image, layer[-1], class_index))
        ratio = statistics.median(notebook) / statistics.median(engine)
        print(
            f"{name}: Grad-CAM {statistics.median(engine) * 1000:.1f} ms vs notebook "
            f"{statistics.median(notebook) * 1000:.1f} ms: engine is {ratio:.1f}x faster"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
