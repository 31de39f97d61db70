"""Where the CLI writes: plain aligned text, or rich tables and colours on a terminal.

Rich is used only when it is installed (the ``astrum[viz]`` extra) and the stream is a
terminal; piped output is plain text without escape sequences, in the same layout.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

__all__ = ["STYLES", "Cell", "Column", "Output"]

#: Colours of run states and task statuses on a terminal.
STYLES = {
    "completed": "green",
    "failed": "red",
    "timed_out": "red",
    "cancelled": "yellow",
    "skipped": "dim",
    "running": "cyan",
    "interrupted": "magenta",
}


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: its header and whether its cells align right (numbers)."""

    header: str
    right: bool = False


@dataclass(frozen=True, slots=True)
class Cell:
    """A table cell with a style, used on a terminal only (``"red"``, ``"dim"``)."""

    text: str
    style: str = ""


def styled(text: str) -> Cell:
    """``text`` as a cell in the colour of the state or status it names."""
    return Cell(text, STYLES.get(text, ""))


class Output:
    """Lines and tables written to ``stream`` (default: ``sys.stdout``)."""

    def __init__(self, stream: TextIO | None = None, *, color: bool | None = None) -> None:
        self.stream = sys.stdout if stream is None else stream
        self._console: Any = None
        if color is None:
            color = self.stream.isatty()
        if color:
            try:
                from rich.console import Console
            except ImportError:
                pass
            else:
                self._console = Console(file=self.stream, highlight=False, soft_wrap=True)

    def line(self, text: str = "", style: str = "") -> None:
        """Write one line (or several, if ``text`` has newlines)."""
        if self._console is None:
            self.stream.write(text + "\n")
        else:
            from rich.text import Text

            self._console.print(Text(text, style=style))

    def table(self, columns: Sequence[Column], rows: Sequence[Sequence[str | Cell]]) -> None:
        """Write a table: a header, a rule, one line per row, columns aligned."""
        if self._console is not None:
            self._rich_table(columns, rows)
            return
        texts = [[cell.text if isinstance(cell, Cell) else cell for cell in row] for row in rows]
        widths = [len(column.header) for column in columns]
        for row in texts:
            for k, text in enumerate(row):
                widths[k] = max(widths[k], len(text))

        def render(cells: Sequence[str]) -> str:
            parts = [
                text.rjust(width) if column.right else text.ljust(width)
                for text, width, column in zip(cells, widths, columns, strict=True)
            ]
            return "  ".join(parts).rstrip()

        self.stream.write(render([column.header for column in columns]) + "\n")
        self.stream.write("  ".join("-" * width for width in widths) + "\n")
        for row in texts:
            self.stream.write(render(row) + "\n")

    def _rich_table(self, columns: Sequence[Column], rows: Sequence[Sequence[str | Cell]]) -> None:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
        for k, column in enumerate(columns):  # only the last column (notes) wraps
            table.add_column(
                column.header, justify="right" if column.right else "left", no_wrap=k < len(columns) - 1
            )
        for row in rows:
            table.add_row(
                *(Text(cell.text, style=cell.style) if isinstance(cell, Cell) else Text(cell) for cell in row)
            )
        self._console.print(table)
