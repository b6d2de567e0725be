"""The microscope on Ray: the same chunks and files as `local`, the work spread over workers.

`--ray local[:N]` starts a Ray of N workers on this machine (N = the CPU count by default);
`--ray auto` or `--ray ADDRESS` joins a running cluster. The scan goes through Ray Data: a
dataset of the scan chunks, `map_batches` over an actor pool whose actors load the model once
each and emit each chunk's partial scan state. The atlas goes to actors that each hold a
compiled visualizer, one chunk of units per task. Ray restarts a lost actor and retries its
chunk; results come back to the driver, which writes every file and the manifest, so a lost
worker costs at most its chunk and a stopped run resumes like a local one.

Ray is imported here and only here: importing the rest of engine/ never loads it.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import ray
import ray.data

from engine.microscope.plan import ScanChunk
from engine.microscope.work import Context, Spec

RETRIES = 3  # restarts of a lost actor, and retries of the chunk it was running
POLL_SECONDS = 0.2  # how often the driver looks at the stop flag while chunks run


@dataclass(frozen=True)
class RayTarget:
    """Where the work runs: a new Ray here (`address` None, `workers` of them) or a cluster."""

    address: str | None
    workers: int | None = None

    @property
    def text(self) -> str:
        return f"local:{self.workers}" if self.address is None else self.address


def parse_target(text: str) -> RayTarget:
    """`local`, `local:N`, `auto` or a cluster's address; ValueError names a bad value."""
    text = text.strip()
    if text == "local" or text.startswith("local:"):
        count = text.partition(":")[2] or str(os.cpu_count() or 1)
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"--ray {text!r}: the worker count must be a whole number >= 1")
        return RayTarget(None, int(count))
    if not text:
        raise ValueError("--ray needs 'local', 'local:N', 'auto' or a cluster address")
    return RayTarget(text)


@dataclass(frozen=True)
class _Shape:
    """How many workers, and what each asks Ray for."""

    workers: int
    cpus: int
    gpus: int


def _cluster_shape(target: RayTarget) -> _Shape:
    """Here: the asked-for workers, one CPU each. On a cluster: one worker per GPU (with its
    share of the CPUs) where there are GPUs, else one single-threaded worker per CPU."""
    if target.workers is not None:
        return _Shape(target.workers, 1, 0)
    resources = ray.cluster_resources()
    cpus, gpus = int(resources.get("CPU", 1)), int(resources.get("GPU", 0))
    if gpus:
        return _Shape(gpus, max(1, cpus // gpus), 1)
    return _Shape(max(1, cpus), 1, 0)


def _worker_context(spec: Spec, threads: int) -> Context:
    """A worker's Context, TensorFlow held to the worker's CPUs (the others are its peers')."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Each worker is a new process that loads TensorFlow: the window's quicker import (Keras
    # without the scikit-learn and pandas it never uses here) takes about a second off each start.
    from engine.tf_import import import_tensorflow

    import_tensorflow()
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TensorFlow already ran in this process: keep its threads
        pass
    return Context.build(spec)


class _ScanWorker:
    """A Ray Data actor: one Context, each batch of chunk rows mapped to pickled results."""

    def __init__(self, spec: Spec, work: Callable, threads: int) -> None:
        self.context = _worker_context(spec, threads)
        self.work = work

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = []
        for chunk_id, group, start, stop in zip(
            batch["id"], batch["group"], batch["start"], batch["stop"], strict=True
        ):
            chunk = ScanChunk(str(chunk_id), int(group), int(start), int(stop))
            # Pickled: a ScanState is nested dicts of arrays, which Arrow cannot carry as is.
            results.append(pickle.dumps(self.work(self.context, chunk, lambda: False)))
        return {"id": batch["id"], "result": np.array(results, dtype=object)}


class _AtlasWorker:
    """A Ray actor holding one Context (its compiled programs), one chunk per call."""

    def __init__(self, spec: Spec, threads: int) -> None:
        self.context = _worker_context(spec, threads)

    def run(self, work: Callable, chunk: Any) -> Any:
        return work(self.context, chunk, lambda: False)


class RayExecutor:
    """build.Executor on Ray. Use it as a context manager: it starts Ray if none is running
    and shuts down the Ray it started (also on errors and Ctrl+C), never one it found."""

    def __init__(self, spec: Spec, should_stop: Callable[[], bool], target: RayTarget) -> None:
        self.spec = spec
        self.should_stop = should_stop
        self.target = target
        self.owned = False
        self.shape = _Shape(target.workers or 1, 1, 0)

    def __enter__(self) -> RayExecutor:
        self.owned = not ray.is_initialized()
        try:
            if self.owned:
                self._start()
            self.shape = _cluster_shape(self.target)
        except BaseException:  # Ctrl+C while Ray starts included: __exit__ will not run
            self.__exit__()
            raise
        data = ray.data.DataContext.get_current()
        data.enable_progress_bars = False  # build.py's reporter says how far it got
        data.print_on_execution_start = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.owned:
            ray.shutdown()
            self.owned = False

    def _start(self) -> None:
        quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
        if self.target.address is None:
            # A new Ray on this machine, one CPU per worker; it ends with this run.
            ray.init(num_cpus=self.target.workers, include_dashboard=False, **quiet)
        else:
            ray.init(address=self.target.address, **quiet)

    @property
    def label(self) -> str:
        """What the manifest records as the engine of this run."""
        return f"ray {self.target.text}, {self.shape.workers} workers"

    def map(self, work, chunks: Sequence, store: Callable) -> bool:
        """build.Executor.map: scan chunks through Ray Data, other chunks on an actor pool;
        False when the stop flag was set before every chunk was stored."""
        if not chunks:
            return True
        if self.should_stop():
            return False
        if all(isinstance(chunk, ScanChunk) for chunk in chunks):
            return self._map_dataset(work, chunks, store)
        return self._map_actors(work, chunks, store)

    def _options(self) -> dict[str, Any]:
        return {"num_cpus": self.shape.cpus, "num_gpus": self.shape.gpus}

    def _map_dataset(self, work, chunks: Sequence[ScanChunk], store: Callable) -> bool:
        by_id = {chunk.id: chunk for chunk in chunks}
        rows = [{"id": c.id, "group": c.group, "start": c.start, "stop": c.stop} for c in chunks]
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
        workers = min(self.shape.workers, len(rows))
        mapped = dataset.map_batches(
            _ScanWorker,
            batch_size=1,
            compute=ray.data.ActorPoolStrategy(size=workers),
            fn_constructor_args=(self.spec, work, self.shape.cpus),
            **self._options(),
        )
        stored = 0
        results = iter(mapped.iter_rows())  # a generator: closing it ends the execution
        try:
            for row in results:
                if self.should_stop():
                    return False
                result = pickle.loads(row["result"])
                if result is None:
                    return False
                store(by_id[str(row["id"])], result)
                stored += 1
        finally:
            close = getattr(results, "close", None)
            if close is not None:  # stops the dataset's actors still scanning
                close()
        return stored == len(chunks)

    def _map_actors(self, work, chunks: Sequence, store: Callable) -> bool:
        # Any: Ray's types cannot follow a class made remote here.
        worker: Any = ray.remote(max_restarts=RETRIES, max_task_retries=RETRIES)(_AtlasWorker)
        count = min(self.shape.workers, len(chunks))
        actors = [
            worker.options(**self._options()).remote(self.spec, self.shape.cpus)
            for _ in range(count)
        ]
        todo, idle = list(chunks), list(actors)
        running: dict[Any, tuple[Any, Any]] = {}
        try:
            while todo or running:
                if self.should_stop():
                    return False
                while idle and todo:
                    actor, chunk = idle.pop(), todo.pop(0)
                    running[actor.run.remote(work, chunk)] = (chunk, actor)
                ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
                for ref in ready:
                    chunk, actor = running.pop(ref)
                    idle.append(actor)
                    result = ray.get(ref)
                    if result is None:
                        return False
                    store(chunk, result)
            return True
        finally:
            for actor in actors:
                ray.kill(actor)  # a chunk still running is lost, as a killed local run's is
