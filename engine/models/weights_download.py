"""Fetch a zoo model's ImageNet weights ourselves, with progress and Cancel, into Keras's cache.

`keras.applications` downloads its weights inside `keras.utils.get_file`: silently, with no way
to stop it. So before a zoo model is built we stream the very file Keras will look for (same
name, URL and hash, see `WEIGHTS`) into `<keras cache>/models/`, reporting bytes as they arrive
and checking `should_stop()` between chunks. Once the file is in place and its hash matches,
Keras's own `get_file` finds it and downloads nothing.

No Qt here: the engine thread passes plain callables, and the command-line tools call it too.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import queue
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.models.meta import ModelLoadError

CHUNK_BYTES = 1 << 16  # a chunk at a time: progress moves smoothly on slow links
TIMEOUT_S = 20.0  # per blocking network call (connect, each read), not for the whole file
# How often the waiting side checks for Cancel. The network calls run in a reader thread, so
# Cancel (and closing the window) answers this fast even when a read or DNS lookup hangs.
POLL_S = 0.1
REPORT_EVERY_S = 0.1  # the window repaints no faster than this anyway
_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclass(frozen=True)
class WeightsFile:
    """One file as keras.applications asks `get_file` for it (cache_subdir "models")."""

    name: str
    url: str
    file_hash: str | None  # md5 (32 hex digits) or sha256 (64); None: Keras checks nothing


# The files of the `include_top=True` classifiers at their default size, which is what
# engine.models.zoo builds with ImageNet weights. tests/test_weights_download.py checks this table
# against the installed Keras, so an upgrade that moves a file fails loudly.
WEIGHTS: dict[str, WeightsFile] = {
    "VGG16": WeightsFile(
        "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        _BASE + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        "64373286793e3c8b2b4e3219cbf3544b",
    ),
    "VGG19": WeightsFile(
        "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
        _BASE + "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels.h5",
        "cbe5617147190e668d6c5d5026f83318",
    ),
    "ResNet50": WeightsFile(
        "resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        _BASE + "resnet/resnet50_weights_tf_dim_ordering_tf_kernels.h5",
        "2cb95161c43110f7111970584f804107",
    ),
    "MobileNetV2": WeightsFile(
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        _BASE + "mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5",
        None,
    ),
    "InceptionV3": WeightsFile(
        "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
        _BASE + "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
        "9a0d58056eeedaa3f26cb7ebd46da564",
    ),
    "Xception": WeightsFile(
        "xception_weights_tf_dim_ordering_tf_kernels.h5",
        _BASE + "xception/xception_weights_tf_dim_ordering_tf_kernels.h5",
        "0a58e3b7378bc2990ea3b43d5981f1f6",
    ),
    "DenseNet121": WeightsFile(
        "densenet121_weights_tf_dim_ordering_tf_kernels.h5",
        _BASE + "densenet/densenet121_weights_tf_dim_ordering_tf_kernels.h5",
        "9d60b8095a5708f2dcce2bca79d332c7",
    ),
    "EfficientNetB0": WeightsFile(
        "efficientnetb0.h5",
        "https://storage.googleapis.com/keras-applications/efficientnetb0.h5",
        "902e53a9f72be733fc0bcb005b3ebbac",
    ),
    "ConvNeXtTiny": WeightsFile(
        "convnext_tiny.h5",
        _BASE + "convnext/convnext_tiny.h5",
        "8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff",
    ),
}


# Files whose hash this process has checked, by (size, mtime): a load checks the cache twice
# (the engine thread, then load_zoo) and hashing 500 MB takes a second each time.
_verified: dict[Path, tuple[int, int]] = {}


class DownloadCancelled(Exception):
    """The user cancelled a download; the partial file is gone. Not an error to report."""


def _keras_home() -> Path:
    try:
        from keras.src.backend.config import keras_home

        return Path(keras_home())
    except ImportError:  # a Keras without that private helper: its documented default
        return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def cache_folder() -> Path:
    """Where Keras keeps (and looks for) the weights: `<keras home>/models`.

    Keras itself falls back to /tmp/.keras when its home is not writable; so do we, or the file
    would land where Keras never looks.
    """
    folder = _keras_home() / "models"
    if not os.access(folder.parent, os.W_OK):  # the very test get_file makes
        temp = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()  # as Keras does
        return Path(temp) / ".keras" / "models"
    return folder


def file_hash(path: Path, algorithm: str) -> str:
    """The hex digest of `path` with "md5" or "sha256", read in chunks (files are ~500 MB)."""
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def _algorithm(expected: str) -> str:
    # Keras's rule ("auto"): a 64-digit hash is sha256, anything else md5.
    return "sha256" if len(expected) == 64 else "md5"


def is_cached(weights: WeightsFile, folder: Path | None = None) -> bool:
    """Whether Keras would use the cached file as is (present, and its hash matches)."""
    path = (folder or cache_folder()) / weights.name
    if not path.is_file():
        return False
    if weights.file_hash is None:
        return True
    try:
        stat = path.stat()
        if _verified.get(path) == (stat.st_size, stat.st_mtime_ns):
            return True
        if file_hash(path, _algorithm(weights.file_hash)) != weights.file_hash:
            return False
    except OSError:  # unreadable: download it again (replacing it fails clearly if need be)
        return False
    _verified[path] = (stat.st_size, stat.st_mtime_ns)
    return True


def ensure_weights(
    model_name: str,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """The cached ImageNet weights of zoo model `model_name`, downloaded first if need be.

    `progress(done_bytes, total_bytes)` is called as chunks arrive (total 0 when the server does
    not say); `should_stop()` is checked between chunks. Raises DownloadCancelled when stopped,
    ModelLoadError when the file cannot be had; neither leaves a file behind.
    """
    weights = WEIGHTS.get(model_name)
    if weights is None:
        raise ModelLoadError(f"no ImageNet weights are known for {model_name!r}")
    folder = cache_folder()
    target = folder / weights.name
    if is_cached(weights, folder):
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ModelLoadError(
            f"could not create the Keras cache folder {folder}: {error}. "
            f"Open {model_name} with random weights instead, or pass a model file"
        ) from None
    return download(weights, target, model_name, progress, should_stop)


def download(
    weights: WeightsFile,
    target: Path,
    model_name: str,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Path:
    """Stream `weights.url` into `target` via a `.part` file, checked, then renamed into place.

    The partial file goes whatever happens (Cancel, an error, Ctrl+C in a command); its name is
    unique, so a window and a command downloading the same file at once do not collide.
    """
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f"{target.name}.", suffix=".part")
    os.close(handle)
    partial = Path(name)
    try:
        _stream(weights.url, partial, progress or _ignore, should_stop or _never)
        if weights.file_hash is not None:
            got = file_hash(partial, _algorithm(weights.file_hash))
            if got != weights.file_hash:
                raise ModelLoadError(
                    f"the downloaded ImageNet weights for {model_name} are damaged (their "
                    f"checksum is {got}, expected {weights.file_hash}), so they were not kept. "
                    f"Try again later, or open {model_name} with random weights instead"
                )
        os.replace(partial, target)  # atomic: Keras never sees a half-written file
        stat = target.stat()
        _verified[target] = (stat.st_size, stat.st_mtime_ns)
    except (DownloadCancelled, ModelLoadError):
        raise
    # URLError and timeouts are OSErrors; a dropped connection is an http.client one.
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise ModelLoadError(_offline_message(model_name, weights.url, error)) from None
    finally:
        _remove(partial)  # already gone after the rename
    return target


def _stream(
    url: str, partial: Path, progress: Callable[[int, int], None], should_stop: Callable[[], bool]
) -> None:
    """Write `url` to `partial`. A daemon thread does the blocking network calls and hands
    chunks over a queue, so this side checks `should_stop` every POLL_S whatever the network
    does; a cancelled reader just ends at its next chunk (or timeout)."""
    arrived: queue.Queue = queue.Queue()
    cancelled = threading.Event()

    def read() -> None:
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                arrived.put(("total", int(response.headers.get("Content-Length") or 0)))
                while not cancelled.is_set():
                    chunk = response.read(CHUNK_BYTES)
                    arrived.put(("chunk", chunk))
                    if not chunk:
                        return
        except BaseException as error:  # handed over: the waiting side raises it
            arrived.put(("error", error))

    threading.Thread(target=read, name="convscope-download", daemon=True).start()
    done = total = 0
    try:
        with open(partial, "wb") as out:
            while True:
                if should_stop():
                    raise DownloadCancelled(f"the download of {url} was cancelled")
                try:
                    kind, value = arrived.get(timeout=POLL_S)
                except queue.Empty:
                    continue
                if kind == "error":
                    raise value
                if kind == "total":
                    total = value
                elif not value:
                    break
                else:
                    out.write(value)
                    done += len(value)
                progress(done, total)
    finally:
        cancelled.set()
    if total and done < total:  # the connection dropped without an error
        raise OSError(f"the connection closed after {done} of {total} bytes")


def _offline_message(model_name: str, url: str, error: BaseException) -> str:
    # A URLError's reason is the socket error; an HTTPError says more with its status code.
    is_http = isinstance(error, urllib.error.HTTPError)
    reason = error if is_http else getattr(error, "reason", None) or error
    if isinstance(reason, TimeoutError):
        reason = f"no answer within {TIMEOUT_S:.0f} s"
    host = urllib.parse.urlsplit(url).netloc
    return (
        f"could not download ImageNet weights for {model_name} from {host} (offline?): "
        f"{str(reason).strip()[:200]}. Open it with random weights instead (--random-weights, "
        f"or Model › Zoo › {model_name} (random weights)), or pass a model file instead"
    )


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _ignore(_done: int, _total: int) -> None:
    pass


def _never() -> bool:
    return False
