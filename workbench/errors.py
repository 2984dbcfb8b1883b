"""Errors meant for people: one line naming the file, the column and the offending rows."""

from __future__ import annotations

from collections.abc import Sequence

#: How many offending rows an error message lists before it says "and N more".
MAX_ROWS_SHOWN = 5


class InputError(Exception):
    """Bad user input. The CLI prints ``str(err)`` on one line and exits with code 2.

    ``rows`` are 1-based data row numbers (the header is not counted), so that a user can find
    them in a spreadsheet or with ``sed -n``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        rows: Sequence[int] | None = None,
        n_rows: int | None = None,
    ) -> None:
        self.file = file
        self.column = column
        self.rows = list(rows or [])
        self.n_rows = n_rows if n_rows is not None else len(self.rows)
        self.message = message
        super().__init__(self._line())

    def _line(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.column:
            where.append(f"column '{self.column}'")
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:MAX_ROWS_SHOWN])
            more = self.n_rows - min(len(self.rows), MAX_ROWS_SHOWN)
            where.append(
                f"row{'s' if self.n_rows > 1 else ''} {shown}"
                + (f" and {more} more" if more > 0 else "")
            )
        prefix = ": ".join([", ".join(where)]) if where else ""
        line = f"{prefix}: {self.message}" if prefix else self.message
        # One line, always: a message quoting a library's multi-line error is folded.
        return " ".join(part.strip() for part in line.splitlines() if part.strip())
