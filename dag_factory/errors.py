"""The one error type of the spec layer: a message tied to the path of the offending field."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class FieldError:
    """``path`` uses the notation users read in the API and UI, e.g. ``tasks[2].code`` or ``params.lr.default``."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"
