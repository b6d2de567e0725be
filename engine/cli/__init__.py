"""The headless commands of `python main.py COMMAND ...`: which module runs each, and what it
is for (the window's `--help` lists them from here). Nothing here imports TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    """A subcommand: its module's `main(argv)` runs it; `with_name` passes the name as argv[0]."""

    module: str
    summary: str
    with_name: bool = False


COMMANDS: dict[str, Command] = {
    "atlas": Command("engine.cli.atlas", "visualize many filters of one layer as PNGs"),
    "explain": Command("engine.cli.explain", "an attribution map of one image as PNGs and .npy"),
    "scan": Command(
        "engine.cli.scan", "each filter's top images over a folder (scan.npz)", with_name=True
    ),
    # Gone with `scan --shard`: it only points to `microscope --ray` (exit status 2).
    "merge": Command(
        "engine.cli.scan", "removed: spread work over workers with `microscope --ray`", True
    ),
    "microscope": Command(
        "engine.cli.microscope", "every unit of a model: visualization, top images, verdicts"
    ),
    "microscope-site": Command("engine.cli.microscope_site", "a microscope as a static website"),
    "train-default": Command(
        "engine.models.training", "train the built-in MNIST model again from MNIST files"
    ),
}


def commands_help() -> str:
    """The subcommands as `--help` lists them, one a line."""
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {command.summary}" for name, command in COMMANDS.items()]
    return "commands (each has its own --help):\n" + "\n".join(lines)
