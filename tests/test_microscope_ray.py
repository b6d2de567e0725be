"""`python main.py microscope --ray local:2`: the same folder as a local run, resumable."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from microscope_data import digit_folder, tiny_model
from PIL import Image

from engine.cli import microscope
from engine.cli.scan import Signals
from engine.microscope.work import Spec

ray = pytest.importorskip("ray", reason="the cluster extra (Ray) is not installed")
from engine.microscope.ray_executor import RayExecutor, parse_target  # noqa: E402

SMALL = ("--steps", "8", "--scan-chunk", "32", "--atlas-chunk", "4", "--top-k", "5")
RAY = ("--ray", "local:2")
LAYERS = {"conv1": 4, "conv2": 4, "out": 4}


class Stop(Exception):
    """Stands for a driver killed right after a chunk was kept."""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """A tiny model and 100 real MNIST digits plus one corrupt file."""
    folder = tmp_path_factory.mktemp("microscope_ray")
    images = digit_folder(folder / "images")
    return {"root": folder, "images": images, "model": tiny_model(folder / "mini.keras", 5)}


def _run(data, out: Path, *extra: str, after=lambda _id, _s: None) -> int:
    paths = ["--model", str(data["model"]), "--images", str(data["images"]), "--out", str(out)]
    args = microscope._parse([*paths, *SMALL, *extra])
    signals = Signals()  # not entered: no handlers installed; `signum` is the stop flag
    return microscope.run(args, signals, lambda chunk_id: after(chunk_id, signals))


@pytest.fixture(scope="module")
def local_run(data) -> Path:
    out = data["root"] / "local"
    assert _run(data, out) == 0
    return out


@pytest.fixture(scope="module")
def shared_ray():
    """One local Ray of 2 workers for the module (starting one takes ~15 s): the executor
    uses a Ray it finds running and leaves it running."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _comparable(manifest: dict) -> dict:
    """A manifest without what depends on how it ran: the engine."""
    return {key: value for key, value in manifest.items() if key != "engine"}


def _same_folder(first: Path, second: Path) -> None:
    """The same manifest (the engine aside), units.json files, arrays and pictures."""
    a = json.loads((first / "manifest.json").read_text())
    b = json.loads((second / "manifest.json").read_text())
    assert _comparable(a) == _comparable(b)
    for layer in LAYERS:
        assert (first / layer / "units.json").read_text() == (
            second / layer / "units.json"
        ).read_text()
        for npy in sorted((first / layer).glob("*.npy")):
            np.testing.assert_array_equal(np.load(npy), np.load(second / layer / npy.name))
    pictures = sorted(p.relative_to(first) for p in first.rglob("*.png"))
    assert pictures and pictures == sorted(p.relative_to(second) for p in second.rglob("*.png"))
    for name in pictures:
        with Image.open(first / name) as x, Image.open(second / name) as y:
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _kept(out: Path, stage: str) -> int:
    """How many chunks of `stage` the folder holds."""
    return len(list((out / ".chunks").glob(f"{stage}-*")))


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_a_stopped_then_killed_ray_run_equals_a_local_run_and_shuts_down_only_its_own_ray(
    data, local_run, request
):
    """One Ray build in three runs (every run starts workers that each load TensorFlow, so an
    unbroken Ray run besides would repeat the same path): stopped in the scan on a Ray the run
    started, killed in the atlas and then finished on a Ray it found."""
    out = data["root"] / "ray"

    def ctrl_c_at_third_scan_chunk(chunk_id: str, signals) -> None:
        if chunk_id.startswith("scan-") and _kept(out, "scan") == 3:
            signals.signum = signal.SIGINT  # what the SIGINT handler sets

    assert not ray.is_initialized()
    assert _run(data, out, *RAY, after=ctrl_c_at_third_scan_chunk) == 130
    assert not ray.is_initialized()  # the executor started this Ray, so it stopped it
    manifest = _manifest(out)
    assert len(manifest["stages"]["scan"]["done"]) == 3 and not manifest["complete"]

    def kill_at_second_atlas_chunk(chunk_id: str, _signals) -> None:
        if chunk_id.startswith("atlas-") and _kept(out, "atlas") == 2:
            raise Stop  # as kill -9 of the driver right after a chunk was kept

    request.getfixturevalue("shared_ray")  # from here on the runs find a Ray running
    with pytest.raises(Stop):
        _run(data, out, *RAY, after=kill_at_second_atlas_chunk)
    assert ray.is_initialized()  # a Ray the executor found is left running
    manifest = _manifest(out)
    assert len(manifest["stages"]["scan"]["done"]) == 4
    assert 1 <= len(manifest["stages"]["atlas"]["done"]) < 3
    assert not (out / "out" / "units.json").exists()

    assert _run(data, out, *RAY) == 0
    manifest = _manifest(out)
    assert manifest["complete"] and manifest["engine"].startswith("ray local:2")
    assert _manifest(local_run)["engine"] == "local"
    _same_folder(local_run, out)


def test_a_bad_ray_target_is_refused_before_the_model_loads(data, capsys):
    argv = ["--images", str(data["images"]), "--out", str(data["root"] / "bad"), "--ray"]
    assert microscope.main([*argv, "local:0"]) == 1
    assert "worker count" in capsys.readouterr().err
    assert not (data["root"] / "bad" / "manifest.json").exists()


def _dies_once(_context, chunk: str, _should_stop) -> dict:
    """A chunk whose first try kills its worker's process, as a lost machine would."""
    marker = Path(chunk)
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os._exit(1)
    return {
        "pid": os.getpid(),
        "died": int(marker.read_text()),
        "sklearn": "sklearn" in sys.modules,
    }


def test_a_worker_lost_mid_chunk_is_restarted_and_the_chunk_retried(data, shared_ray, tmp_path):
    spec = Spec(str(data["model"]), False, str(data["images"]), ("digit_000.png",), (), {}, 5)
    chunks = [str(tmp_path / "first"), str(tmp_path / "second")]
    (tmp_path / "second").write_text("0")  # only the first chunk's worker dies
    kept: dict[str, dict] = {}
    # The workers cannot import this test module: they get the function itself.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        # One worker (each start loads TensorFlow): it dies in the first chunk, is restarted,
        # retries that chunk and then runs the second.
        with RayExecutor(spec, lambda: False, parse_target("local:1")) as executor:
            assert executor.map(_dies_once, chunks, kept.__setitem__)
    finally:
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert set(kept) == set(chunks)
    assert kept[chunks[0]]["died"] != kept[chunks[0]]["pid"]  # it ran again, in a new process
    # A worker's start loads Keras without the scikit-learn it never uses (a second saved each).
    assert not any(result["sklearn"] for result in kept.values())
    assert ray.is_initialized()
