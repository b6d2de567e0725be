"""The units of one microscope layer as a Qt list model, sorted and filtered: the grid's data.

The model holds plain UnitEntry values and an order (indices into them); nothing is loaded for
a unit until the delegate paints it, so a layer of thousands of units opens at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from engine.protocol.microscope_format import UnitEntry

UNIT_ROLE = Qt.ItemDataRole.UserRole + 1  # the UnitEntry of a row

# Sorting by verdict puts what needs a look first.
_VERDICT_ORDER = {"dead": 0, "failed": 1, "weak": 2, "fine": 3}
# What the sort combo offers, by its label: (key, highest first). None sorts last.
SORTS: dict[str, tuple[Callable[[UnitEntry], float | None], bool]] = {
    "Unit": (lambda u: float(u.unit), False),
    "Verdict": (lambda u: float(_VERDICT_ORDER.get(u.verdict, 0)), False),
    "Fires %": (lambda u: u.fires_percent, True),
    "Mean": (lambda u: u.mean, True),
    "Max": (lambda u: u.max, True),
    "Quality": (lambda u: u.quality, True),
}
# The verdict filter's choices, by label: the units.json kinds each keeps (None: all).
VERDICT_FILTERS: dict[str, str | None] = {
    "All verdicts": None,
    "OK": "fine",
    "Weak": "weak",
    "Dead": "dead",
    "Failed": "failed",
}
VERDICT_WORDS = {"fine": "ok", "weak": "weak", "dead": "dead", "failed": "failed"}


def parse_units(text: str) -> set[int] | None:
    """The unit numbers of a filter like '12', '3-10' or '1, 5, 40-47' (None: no filter);
    ValueError names the part that is not a number or a range."""
    wanted: set[int] = set()
    parts = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    if not parts:
        return None
    for part in parts:
        low, dash, high = part.partition("-")
        try:
            first, last = int(low.strip().lstrip("#")), int((high if dash else low).strip())
        except ValueError:
            raise ValueError(f"{part!r} is not a unit number or a range like 3-10") from None
        if last < first or last - first > 100_000:
            raise ValueError(f"{part!r} is not a range of units (from low to high)")
        wanted.update(range(first, last + 1))
    return wanted


def ordered(
    units: Sequence[UnitEntry], sort: str, verdict: str | None, numbers: set[int] | None
) -> list[int]:
    """Indices into `units` of those with `verdict` (None: any) and a number in `numbers`
    (None: any), in the order of sort `sort` (a key of SORTS); ValueError for another sort."""
    if sort not in SORTS:
        raise ValueError(f"no sort {sort!r}; use one of {', '.join(SORTS)}")
    key, descending = SORTS[sort]
    kept = [
        k
        for k, unit in enumerate(units)
        if (verdict is None or unit.verdict == verdict)
        and (numbers is None or unit.unit in numbers)
    ]

    def rank(k: int) -> tuple[bool, float, int]:
        value = key(units[k])
        if value is None:
            return True, 0.0, units[k].unit
        return False, -value if descending else value, units[k].unit

    return sorted(kept, key=rank)


class UnitListModel(QAbstractListModel):
    """The shown units of one layer, one row each, in the chosen order."""

    def __init__(self) -> None:
        super().__init__()
        self._units: tuple[UnitEntry, ...] = ()
        self._order: list[int] = []

    def set_units(self, units: Sequence[UnitEntry]) -> None:
        """Hold `units` (a layer's); all shown, by unit, until `arrange` says otherwise."""
        self.beginResetModel()
        self._units = tuple(units)
        self._order = list(range(len(self._units)))
        self.endResetModel()

    def arrange(self, sort: str, verdict: str | None, numbers: set[int] | None) -> None:
        """Show only the units that pass the filters, sorted (see `ordered`)."""
        self.beginResetModel()
        self._order = ordered(self._units, sort, verdict, numbers)
        self.endResetModel()

    def units(self) -> tuple[UnitEntry, ...]:
        """Every unit of the layer, shown or not."""
        return self._units

    def shown(self) -> list[UnitEntry]:
        """The units in the grid, in its order."""
        return [self._units[k] for k in self._order]

    def unit_at(self, row: int) -> UnitEntry | None:
        return self._units[self._order[row]] if 0 <= row < len(self._order) else None

    def row_of(self, unit: int) -> int | None:
        """The row unit number `unit` is shown in, None when filtered out."""
        for row, k in enumerate(self._order):
            if self._units[k].unit == unit:
                return row
        return None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._order)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> object:
        unit = self.unit_at(index.row()) if index.isValid() else None
        if unit is None:
            return None
        if role == UNIT_ROLE:
            return unit
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"#{unit.unit} · {VERDICT_WORDS.get(unit.verdict, unit.verdict)}: {unit.message}"
        if role == Qt.ItemDataRole.DisplayRole:
            return f"#{unit.unit}"
        return None
