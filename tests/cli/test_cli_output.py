"""The CLI writes plain text to pipes and files, and rich tables in colour to a terminal."""

from __future__ import annotations

import io

import pytest

from astrum.cli._output import Cell, Column, Output, styled


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def draw(stream: io.StringIO) -> str:
    out = Output(stream)
    out.line("Run 5e1f0c  failed", "bold")
    out.table([Column("task"), Column("status"), Column("attempts", right=True)], [
        ["fetch", styled("completed"), "2"],
        [Cell("clean", "bold"), styled("failed"), "1"],
    ])  # fmt: skip
    return stream.getvalue()


def test_piped_output_is_aligned_plain_text():
    text = draw(io.StringIO())

    assert text.splitlines() == [
        "Run 5e1f0c  failed",
        "task   status     attempts",
        "-----  ---------  --------",
        "fetch  completed         2",
        "clean  failed            1",
    ]


def test_terminal_output_draws_the_same_cells_with_rich_in_colour(monkeypatch):
    pytest.importorskip("rich")
    monkeypatch.setenv("TERM", "xterm-256color")
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)

    text = draw(Terminal())

    assert "\x1b[" in text  # styled
    for cell in ("Run 5e1f0c  failed", "task", "attempts", "fetch", "completed", "clean", "failed"):
        assert cell in text
