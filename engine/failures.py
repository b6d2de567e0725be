"""What the window is told when a job raises: a kind it can act on and a sentence for people."""

from __future__ import annotations

import traceback

import tensorflow as tf

from engine.images.convert import ImageError
from engine.models.meta import ModelLoadError, UntrustedFileError, WeightsUnavailableError
from engine.optvis.memory import NotEnoughMemory
from engine.protocol import EngineFailure, FailureKind

OUT_OF_MEMORY = (
    "Out of memory: this job needed more memory than was free, and TensorFlow could not "
    "allocate it. Try a layer nearer the input, fewer images at once, a smaller input side for "
    "a model that takes any size (Model › Input Preprocessing and Size…), or close other programs."
)


def failure(request_id: int, error: BaseException) -> EngineFailure:
    """`error`, raised by the job of request `request_id`, as the window's EngineFailure."""
    side = error.fitting_side if isinstance(error, NotEnoughMemory) else None
    kind = failure_kind(error)
    return EngineFailure(request_id, kind, user_message(error), _traceback(error), side)


def failure_kind(error: BaseException) -> FailureKind:
    """The kind, from the exception's type alone (never from its text)."""
    if isinstance(error, UntrustedFileError):
        return FailureKind.UNTRUSTED
    if isinstance(error, WeightsUnavailableError):
        return FailureKind.DOWNLOAD
    if isinstance(error, (MemoryError, tf.errors.ResourceExhaustedError)):
        return FailureKind.MEMORY
    if isinstance(error, (ImageError, ModelLoadError, ValueError)):
        return FailureKind.INPUT
    return FailureKind.BUG


def user_message(error: BaseException) -> str:
    """A sentence for the window: our own errors speak for themselves, others get their type."""
    text = str(error).strip()
    if isinstance(error, NotEnoughMemory) and text:
        return text  # it says what ran out and what would fit
    if isinstance(error, (MemoryError, tf.errors.ResourceExhaustedError)):
        return OUT_OF_MEMORY
    # Our messages start with the file or layer name, exactly as the user knows it.
    if isinstance(error, (ImageError, ModelLoadError, ValueError)) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _traceback(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))
