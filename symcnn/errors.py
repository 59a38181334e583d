"""The errors symcnn raises: every problem with what a user typed is one of these.

    SymCNNError (ValueError)
     ├── NotationError   the text is not valid notation: line, column, caret, what was expected
     ├── ShapeError      the network cannot run on the input: the layer, the smallest input
     └── UnmappedError   a torch module has operations the notation cannot express: each
                         with its module path, class or function and source line

Both carry their facts as attributes, not only as text, and ``str()`` gives the message a
person reads (the CLI prints it as it is and exits 2).
"""

from __future__ import annotations

import unicodedata

__all__ = ["SymCNNError", "NotationError", "ShapeError", "UnmappedError"]


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
        self.text = text
        super().__init__(self._render(max(width, 1)))

    def located(self, text: str) -> "NotationError":
        """This error with the source ``text`` it is about (for the caret), if it has none."""
        if self.text or not text:
            return self
        return NotationError(self.message, text, self.line, self.column, self.width)

    def _render(self, width: int) -> str:
        if not self.line or not self.text:
            return f"line {self.line}, column {self.column}: {self.message}" if self.line \
                else self.message
        src = self.source_line
        # Keep very long lines readable: show a window around the column.
        start = max(0, self.column - 60)
        shown = _printable(src[start:start + 120])
        lead = "…" if start else ""
        at = self.column - 1 - start
        marked = max(1, _cells(shown[at:at + min(width, 40)]))
        caret = " " * (len(lead) + _cells(shown[:at])) + "^" * marked
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


class UnmappedError(SymCNNError):
    """Operations of a torch module with no notation equivalent (symcnn.torch.from_torch);
    ``ops`` lists them as (module path, class or function, source file:line, why)."""

    def __init__(self, message: str, ops: tuple = ()) -> None:
        self.ops = ops
        super().__init__(message)


def _printable(s: str) -> str:
    """The line as a terminal should show it under the message: every space-like
    character one space, every control or format character (NUL, a right-to-left
    override …) a visible U+FFFD, so nothing breaks the line or moves the caret."""
    return "".join(" " if c.isspace() else "\ufffd" if unicodedata.category(c)[0] == "C"
                   else c for c in s)


def _cells(s: str) -> int:
    """Terminal columns ``s`` takes: wide (CJK) characters two, combining marks none."""
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _source_line(text: str, line: int) -> str:
    if not text or line < 1:
        return ""
    lines = text.split("\n")
    return lines[line - 1].rstrip("\r").expandtabs(1) if line <= len(lines) else ""
