"""ImageNet weights: our download into Keras's cache, with progress, Cancel and clear failures.

No internet: files come from a local http.server and the URL table is pointed at it.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from engine.models.meta import ModelLoadError
from engine.models.weights_download import (
    WEIGHTS,
    DownloadCancelled,
    WeightsFile,
    ensure_weights,
)
from engine.models.zoo import ZOO, fetch_weights_for
from engine.protocol import (
    CancelLoad,
    DownloadProgress,
    EndReason,
    LoadModel,
    OpenImage,
    Status,
    StopRun,
)

PAYLOAD = np.random.default_rng(0).bytes(300_000)  # a few chunks of fake weights
MD5 = hashlib.md5(PAYLOAD).hexdigest()
SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
NAME = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"
REQUESTS: list[str] = []  # paths the local server was asked for


class _Handler(BaseHTTPRequestHandler):
    """/good: PAYLOAD; /slow: an endless trickle; /short: less than it announces; else 404."""

    def do_GET(self) -> None:
        REQUESTS.append(self.path)
        if self.path == "/good":
            self._send(PAYLOAD, len(PAYLOAD))
        elif self.path == "/short":
            self._send(PAYLOAD[:1000], 5000)
        elif self.path == "/slow":
            self._trickle()
        else:
            self.send_error(404)

    def _send(self, body: bytes, length: int) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(1 << 30))
        self.end_headers()
        try:
            for _ in range(2000):  # ~60 s at most: long enough to be cancelled, never finishes
                self.wfile.write(b"\0" * 16384)
                time.sleep(0.03)
        except OSError:  # the client went away (cancelled)
            pass

    def log_message(self, *_args) -> None:  # keep the test log quiet
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """KERAS_HOME in tmp_path, also for the Keras already imported (it reads it at import)."""
    from keras.src.backend import config

    home = tmp_path / "keras-home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(config, "_KERAS_DIR", str(home))
    REQUESTS.clear()
    return home


def _serve_vgg16(monkeypatch, url: str, file_hash: str | None = MD5) -> WeightsFile:
    weights = WeightsFile(NAME, url, file_hash)
    monkeypatch.setitem(WEIGHTS, "VGG16", weights)
    return weights


def _files(home) -> list[str]:
    folder = home / "models"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


# ----------------------------------------------------------------------------- the table


def test_the_table_is_what_the_installed_keras_asks_for(monkeypatch):
    """A Keras upgrade that renames, moves or rehashes a weights file fails here."""
    import keras
    from keras.src.backend.common import global_state
    from keras.src.utils import file_utils

    asked, current = {}, []

    class Asked(Exception):
        pass

    def record(fname=None, origin=None, **kwargs):
        asked[current[-1]] = WeightsFile(fname, origin, kwargs.get("file_hash"))
        assert kwargs.get("cache_subdir") == "models"
        raise Asked

    monkeypatch.setattr(file_utils, "get_file", record)
    try:
        for name, entry in ZOO.items():
            current.append(name)
            constructor = getattr(keras.applications, entry.constructor)
            # The real constructor at its real size, but its variables are never filled: drawing
            # the random start of 140M weights took most of 25 s, and nothing here reads them.
            with keras.StatelessScope(initialize_variables=False), pytest.raises(Asked):
                constructor(
                    include_top=True, weights="imagenet", input_shape=(entry.size,) * 2 + (3,)
                )
    finally:
        # Keras would fill the deferred variables on the next scope's exit (any later test).
        global_state.set_global_attribute("uninitialized_variables", [])
    assert asked == WEIGHTS


# ----------------------------------------------------------------------------- downloading


@pytest.mark.parametrize("file_hash", [MD5, SHA256, None], ids=["md5", "sha256", "no-hash"])
def test_download_reports_progress_and_keras_then_finds_the_file(
    server, keras_home, monkeypatch, file_hash
):
    import keras

    weights = _serve_vgg16(monkeypatch, f"{server}/good", file_hash)
    seen: list[tuple[int, int]] = []
    path = ensure_weights("VGG16", lambda done, total: seen.append((done, total)))
    assert path == keras_home / "models" / NAME and path.read_bytes() == PAYLOAD
    assert _files(keras_home) == [NAME]  # no .part left over
    done = [d for d, _ in seen]
    assert done == sorted(done) and len(done) > 2
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    # Keras's own get_file (what keras.applications calls) reuses it: no second request.
    found = keras.utils.get_file(NAME, weights.url, cache_subdir="models", file_hash=file_hash)
    assert found == str(path) and REQUESTS == ["/good"]


def test_a_cached_file_is_not_downloaded_again(server, keras_home, monkeypatch):
    _serve_vgg16(monkeypatch, f"{server}/good")
    ensure_weights("VGG16")
    seen = []
    ensure_weights("VGG16", lambda *args: seen.append(args))
    assert seen == [] and REQUESTS == ["/good"]


def test_cancel_leaves_no_file_and_raises_the_cancellation(server, keras_home, monkeypatch):
    _serve_vgg16(monkeypatch, f"{server}/good")
    checks = iter([False, False, True])
    with pytest.raises(DownloadCancelled):
        ensure_weights("VGG16", should_stop=lambda: next(checks))
    assert _files(keras_home) == []


def test_a_bad_hash_is_refused_and_nothing_is_kept(server, keras_home, monkeypatch):
    _serve_vgg16(monkeypatch, f"{server}/good", "0" * 32)
    with pytest.raises(ModelLoadError, match="damaged") as caught:
        ensure_weights("VGG16")
    assert "random weights" in str(caught.value)
    assert _files(keras_home) == []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("where", ["unreachable", "/missing", "/short"])
def test_network_failures_say_offline_and_offer_random_weights(
    server, keras_home, monkeypatch, where
):
    url = f"http://127.0.0.1:{_free_port()}/x" if where == "unreachable" else server + where
    _serve_vgg16(monkeypatch, url)
    start = time.monotonic()
    with pytest.raises(ModelLoadError) as caught:
        ensure_weights("VGG16")
    message = str(caught.value)
    assert "could not download ImageNet weights for VGG16" in message
    assert "(offline?)" in message and "random weights" in message
    reason = {"unreachable": "refused", "/missing": "HTTP Error 404", "/short": "1000"}[where]
    assert reason in message
    assert time.monotonic() - start < 5
    assert _files(keras_home) == []


# ----------------------------------------------------------------------------- for the engine


def test_fetch_for_a_load_emits_progress_then_finished(server, keras_home, monkeypatch):
    _serve_vgg16(monkeypatch, f"{server}/good")
    emitted = []
    request = LoadModel("zoo:VGG16")
    assert fetch_weights_for(request, emitted.append, lambda: False)
    progress = [e for e in emitted if isinstance(e, DownloadProgress)]
    assert {p.request_id for p in progress} == {request.request_id}
    assert progress[-1].done_bytes == progress[-1].total_bytes == len(PAYLOAD)
    assert progress[0].what == "ImageNet weights for VGG16"
    emitted.clear()  # cached now, and random weights or files never download
    for again in (LoadModel("zoo:VGG16"), LoadModel("zoo:VGG19", random_weights=True)):
        assert fetch_weights_for(again, emitted.append, lambda: False)
    assert emitted == [] and REQUESTS == ["/good"]


def test_fetch_cancelled_says_so_and_returns_false(server, keras_home, monkeypatch):
    _serve_vgg16(monkeypatch, f"{server}/good")
    emitted = []
    assert not fetch_weights_for(LoadModel("zoo:VGG16"), emitted.append, lambda: True)
    status = [e for e in emitted if isinstance(e, Status)][-1]
    assert "cancelled" in status.text and not status.busy
    assert _files(keras_home) == []


@pytest.fixture
def thread(qtbot, saved_models):
    """A real engine thread with the tiny model loaded."""
    from engine.worker import EngineThread

    engine = EngineThread()
    engine.start()
    load = LoadModel(str(saved_models["tiny"]))
    # Its JobEnded, which comes after ModelLoaded: a test's own waits must not catch it.
    with qtbot.waitSignal(
        engine.ended, timeout=60_000, check_params_cb=lambda e: e.request_id == load.request_id
    ):
        engine.submit(load)
    yield engine
    engine.stop()
    assert engine.wait(5_000)


def _grey(level: float) -> OpenImage:
    return OpenImage(pixels=np.full((16, 16, 3), level, np.float32), source="grey")


def test_the_engine_thread_cancels_a_download_and_keeps_the_old_model(
    qtbot, server, keras_home, monkeypatch, thread
):
    _serve_vgg16(monkeypatch, f"{server}/slow")
    progress, loaded, ended = [], [], []
    thread.download.connect(progress.append)
    thread.model_loaded.connect(loaded.append)
    thread.ended.connect(ended.append)
    load = LoadModel("zoo:VGG16")
    thread.submit(load)
    qtbot.waitUntil(lambda: any(p.done_bytes > 0 for p in progress), timeout=10_000)
    # Meanwhile the old model serves quick requests between chunks, and Esc on a run (StopRun)
    # does not abandon the download.
    with qtbot.waitSignal(thread.image_opened, timeout=10_000):
        thread.submit(_grey(0.5))
    thread.submit(StopRun())
    qtbot.wait(300)
    assert not [e for e in ended if e.request_id == load.request_id]  # still downloading
    thread.submit(CancelLoad(load.request_id))
    qtbot.waitUntil(lambda: any(e.request_id == load.request_id for e in ended), timeout=5_000)
    (end,) = [e for e in ended if e.request_id == load.request_id]
    assert end.reason is EndReason.CANCELLED and progress[-1].request_id == load.request_id
    assert loaded == [] and _files(keras_home) == []
    # The old model still answers: four classes, like the tiny model.
    with qtbot.waitSignal(thread.image_opened, timeout=10_000) as opened:
        thread.submit(_grey(0.2))
    assert len(opened.args[0].predictions) == 4


def test_the_engine_thread_downloads_then_builds_the_zoo_model(
    qtbot, server, keras_home, monkeypatch, thread
):
    import engine.models.zoo

    _serve_vgg16(monkeypatch, f"{server}/good")
    build = engine.models.zoo.build_zoo_model
    # The real VGG16 with 500 MB of weights is too big for a test: a small untrained one.
    monkeypatch.setattr(
        engine.models.zoo, "build_zoo_model", lambda name, weights: build(name, None, 32)
    )
    monkeypatch.setattr(engine.models.zoo, "imagenet_class_names", lambda: None)
    progress = []
    thread.download.connect(progress.append)
    load = LoadModel("zoo:VGG16")
    with qtbot.waitSignal(thread.model_loaded, timeout=60_000) as loaded:
        thread.submit(load)
    assert loaded.args[0].request_id == load.request_id
    assert progress[-1].done_bytes == len(PAYLOAD) and _files(keras_home) == [NAME]


def test_the_headless_commands_show_the_download_on_stderr(server, keras_home, monkeypatch, capsys):
    from engine.cli.common import _download_with_progress

    _serve_vgg16(monkeypatch, f"{server}/good")
    _download_with_progress("VGG16")
    lines = capsys.readouterr().err.splitlines()
    prefix = "downloading ImageNet weights for VGG16: "
    assert lines and all(line.startswith(prefix) for line in lines)
    assert lines[-1].endswith(f"{len(PAYLOAD) / 1e6:.1f} of {len(PAYLOAD) / 1e6:.1f} MB")
    assert _files(keras_home) == [NAME]
    _download_with_progress("VGG16")  # cached: nothing to show, nothing fetched
    assert capsys.readouterr().err == "" and REQUESTS == ["/good"]


def test_the_engine_thread_cancels_model_bs_download_too(
    qtbot, server, keras_home, monkeypatch, thread
):
    from engine.protocol import LoadComparison

    _serve_vgg16(monkeypatch, f"{server}/slow")
    progress, ended = [], []
    thread.download.connect(progress.append)
    thread.ended.connect(ended.append)
    load_b = LoadComparison("zoo:VGG16")
    thread.submit(load_b)
    qtbot.waitUntil(lambda: any(p.done_bytes > 0 for p in progress), timeout=10_000)
    assert progress[-1].request_id == load_b.request_id
    thread.submit(CancelLoad(load_b.request_id))
    qtbot.waitUntil(lambda: any(e.request_id == load_b.request_id for e in ended), timeout=5_000)
    (end,) = [e for e in ended if e.request_id == load_b.request_id]
    assert end.reason is EndReason.CANCELLED and end.failure is None
    assert _files(keras_home) == []


def test_a_failed_download_ends_the_load_as_a_download_failure(
    qtbot, server, keras_home, monkeypatch, thread
):
    from engine.protocol import FailureKind

    _serve_vgg16(monkeypatch, f"{server}/missing")
    load, ended = LoadModel("zoo:VGG16"), []
    thread.ended.connect(ended.append)  # the fixture's own load may still end first
    thread.submit(load)
    qtbot.waitUntil(lambda: any(e.request_id == load.request_id for e in ended), timeout=10_000)
    (end,) = [e for e in ended if e.request_id == load.request_id]
    assert end.reason is EndReason.FAILED
    # The window offers random weights on this kind, whatever the message says.
    assert end.failure.kind is FailureKind.DOWNLOAD
    assert "VGG16" in end.failure.message
