"""A spin box whose values have names: an explanation option that is a choice (LIME's fill)."""

from __future__ import annotations

from PySide6.QtWidgets import QSpinBox


class ChoiceBox(QSpinBox):
    """Shows value minimum + k as `choices[k]`. It reads and sets like the panel's other option
    boxes (`value()`, `setValue`), so the panel treats every option alike; the arrows, wheel
    and Up/Down keys step through the names."""

    def __init__(self, choices: tuple[str, ...]) -> None:
        super().__init__()
        self._choices = choices
        self.setRange(0, max(0, len(choices) - 1))

    def textFromValue(self, value: int) -> str:
        offset = value - self.minimum()
        return self._choices[offset] if 0 <= offset < len(self._choices) else str(value)

    def valueFromText(self, text: str) -> int:
        if text in self._choices:
            return self.minimum() + self._choices.index(text)
        return super().valueFromText(text)
