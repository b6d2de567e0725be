"""What an EngineSession's job emitted, as tests read it: the results, each job's final value in
place of its JobEnded (engine/jobs/job.py), status lines left out."""

from __future__ import annotations

from engine.protocol import JobEnded, Status


def results_of(emitted: list[object]) -> list[object]:
    out: list[object] = []
    for message in emitted:
        if isinstance(message, Status):
            continue
        if isinstance(message, JobEnded):
            if message.value is not None:
                out.append(message.value)
            continue
        out.append(message)
    return out


def ended_of(emitted: list[object]) -> JobEnded:
    """The JobEnded among `emitted` (a job ends with exactly one)."""
    (ended,) = [message for message in emitted if isinstance(message, JobEnded)]
    return ended
