"""Ground-truth labels as they arrive (`calhousing feedback FILE`), checked before they are
stored. Only a finite value in the target's possible range, for a (request id, row) that was
served and not labelled yet, is kept: every other row is refused and counted by reason, so a
bad file loses nothing silently and none of it can reach training.
"""

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from core.features import TARGET

COLUMNS = ("request_id", "row", "value")
Key = tuple[str, int]


@dataclass(frozen=True)
class Label:
    request_id: str
    row: int
    value: float

    @property
    def key(self) -> Key:
        return self.request_id, self.row


@dataclass(frozen=True)
class Checked:
    accepted: list[Label] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    """Refused rows per reason."""

    def summary(self, stored: int) -> str:
        text = f"feedback: {stored} label(s) stored"
        if self.refused:
            reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(self.refused.items()))
            text += f"; {self.refused.total()} refused: {reasons}"
        return text


def parse(records: Iterable[Mapping[str, str | None]]) -> Checked:
    """The rows that are well-formed labels; the others counted by what is wrong with them."""
    checked, seen = Checked(), set[Key]()
    for record in records:
        label, reason = _label(record)
        if label is not None and label.key in seen:
            label, reason = None, "duplicate in the file"
        if label is None:
            checked.refused[reason] += 1
            continue
        seen.add(label.key)
        checked.accepted.append(label)
    return checked


def _label(record: Mapping[str, str | None]) -> tuple[Label | None, str]:
    request_id, row, value = ((record.get(c) or "").strip() for c in COLUMNS)
    if not request_id or not row.isdigit():
        return None, "without a request id and row number"
    try:
        number = float(value)
    except ValueError:
        return None, "not a number"
    if not math.isfinite(number):
        return None, "not a number"
    if not TARGET.minimum <= number <= TARGET.maximum:
        return None, f"outside [{TARGET.minimum:g}, {TARGET.maximum:g}]"
    return Label(request_id, int(row), number), ""


def against_store(checked: Checked, served: set[Key], labelled: set[Key]) -> Checked:
    """Of the well-formed labels, those for a served row not labelled before."""
    result = Checked(refused=Counter(checked.refused))
    for label in checked.accepted:
        if label.key not in served:
            result.refused["for no served request"] += 1
        elif label.key in labelled:
            result.refused["labelled before"] += 1
        else:
            result.accepted.append(label)
    return result
