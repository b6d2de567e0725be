"""One layer of a microscope as the static website shows it (site.py reads it, site_pages.py
draws it). Standard library only, as the site command is."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class SiteLayer:
    """One layer of the microscope: its manifest entry, and its units once it is finished."""

    name: str
    folder: str
    kind: str
    expected: int  # units the manifest plans for it
    units: tuple[dict, ...] | None  # None: units.json not written yet (an unfinished build)

    @cached_property
    def by_unit(self) -> dict[int, dict]:
        """The units by number (a circuit's input links to its unit's page)."""
        return {unit["unit"]: unit for unit in self.units or ()}
