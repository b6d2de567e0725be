"""`python main.py microscope-site OUT SITE`: a microscope folder as a static website.

SITE gets index.html (the model and its layers), a page of tiles per layer, sortable and
filterable by verdict and statistics, and a page per unit with every view; it opens from
file:// in any browser, needs no server and loads nothing from elsewhere, so it can be zipped
and shared. Nothing here loads TensorFlow: the site is written in seconds.
"""

from __future__ import annotations

import argparse
import sys

from engine.cli.common import CliError, Parser
from engine.microscope.site import SiteError, write_site

EXIT_BAD_INPUT = 2  # as argparse's usage errors: a missing or damaged folder is bad input


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = Parser(
        prog="convscope microscope-site",
        description="Write a microscope folder as a static website (HTML, PNG, JSON) that opens "
        "from file:// with no server. An existing SITE is updated in place; files this command "
        "did not write there are never touched.",
    )
    parser.add_argument("out", metavar="OUT", help="a microscope folder (`microscope --out`)")
    parser.add_argument("site", metavar="SITE", help="the website's folder (created if missing)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """The `microscope-site` command; 2 with a message on stderr for bad input."""
    try:
        args = _parse(sys.argv[1:] if argv is None else argv)
        report = write_site(args.out, args.site)
    except (CliError, SiteError) as error:
        print(f"convscope microscope-site: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as error:  # the site folder cannot be written (permissions, disk full)
        where = f" {error.filename!r}" if error.filename else ""
        print(
            f"convscope microscope-site: error: cannot write{where}: {error.strerror or error}",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    print(
        f"{report.layers} layers, {report.unit_pages:,} unit pages, {report.images:,} images; "
        f"{report.written:,} files written, {report.unchanged:,} unchanged, "
        f"{report.removed:,} stale removed; open {report.root / 'index.html'}"
    )
    return 0
