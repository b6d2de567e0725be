"""Numbers and names as a sentence says them: '1 epoch', '40 ms', "class '7'" but "class 0"."""

from __future__ import annotations


def plural(count: int, word: str) -> str:
    """'1 epoch', '0 epochs', '15 epochs': `word` takes an 's' unless `count` is one."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def duration_text(seconds: float) -> str:
    """'0.4 ms', '40 ms', '1.25 s': below a second in milliseconds, so that a fast method does
    not read '0.00 s' (took no time at all)."""
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {seconds!r} s")
    if seconds >= 0.9995:  # not "1000 ms"
        return f"{seconds:.2f} s"
    ms = seconds * 1000
    return f"{ms:.1f} ms" if ms < 10 else f"{ms:.0f} ms"


def class_text(name: str) -> str:
    """ "class '7'" for a class named '7'; a name that already says it is a class ('class 0',
    as models without class names get) stands alone instead of "class 'class 0'"."""
    return name if name.lower().startswith("class ") else f"class {name!r}"
