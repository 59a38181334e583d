"""The errors symcnn raises: every problem with what a user typed is one of these.

    SymCNNError (ValueError)
     ├── NotationError   the text is not valid notation: line, column, caret, what was expected
     └── ShapeError      the network cannot run on the input: the layer, the smallest input

Both carry their facts as attributes, not only as text, and ``str()`` gives the message a
person reads (the CLI prints it as it is and exits 2).
"""

from __future__ import annotations

__all__ = ["SymCNNError", "NotationError", "ShapeError"]


class SymCNNError(ValueError):
    """Base of every error symcnn raises about its input."""


class NotationError(SymCNNError):
    """Invalid notation, located at ``line`` and ``column`` (both 1-based)."""

    def __init__(self, message: str, text: str = "", line: int = 0, column: int = 0,
                 width: int = 1) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.width = width
        self.source_line = _source_line(text, line)
        super().__init__(self._render(max(width, 1)))

    def _render(self, width: int) -> str:
        if not self.line:
            return self.message
        src = self.source_line
        # Keep very long lines readable: show a window around the column.
        start = max(0, self.column - 60)
        shown = src[start:start + 120]
        lead = "…" if start else ""
        caret = " " * (len(lead) + self.column - 1 - start) + "^" * min(width, 40)
        return (f"line {self.line}, column {self.column}: {self.message}\n"
                f"  {lead}{shown}\n  {caret}")


class ShapeError(SymCNNError):
    """A layer's output would be empty; ``minimum`` is the smallest (H, W) that works, or
    None when no input size works."""

    def __init__(self, message: str, layer: str = "", line: int = 0, column: int = 0,
                 minimum: tuple[int, int] | None = None) -> None:
        self.layer = layer
        self.line = line
        self.column = column
        self.minimum = minimum
        super().__init__(message)


def _source_line(text: str, line: int) -> str:
    if not text or line < 1:
        return ""
    lines = text.split("\n")
    return lines[line - 1].rstrip("\r").expandtabs(1) if line <= len(lines) else ""
