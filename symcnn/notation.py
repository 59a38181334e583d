"""Text → parse tree → layers: the notation's parser.

The grammar is ``grammar/symcnn.lark`` (shipped inside the package as ``symcnn/grammar``);
Lark parses it with LALR and a contextual lexer, and a non-recursive Transformer turns the
tree into frozen layer records. Numbers and symbols are built here from matched digits and
letters: no user text ever reaches ``eval``, ``sympify`` or ``parse_expr``.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from .errors import NotationError
from .layers import (FC, AdaptiveAvgPool, Conv, Elementwise, InputSpec, Item, Network, Pool,
                     Repeat)

__all__ = ["parse", "parse_input", "MAX_VALUE", "MAX_NESTING"]

MAX_VALUE = 10**12    # largest number accepted anywhere (sizes, filters, repeat counts …)
MAX_DIGITS = 13       # longer digit runs are refused before conversion
MAX_NESTING = 100     # deepest nesting of parentheses
MAX_TEXT = 10_000_000  # characters of notation

_GRAMMAR = "symcnn.lark"


def _grammar_path() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "grammar" / _GRAMMAR, here.parent / "grammar" / _GRAMMAR):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"symcnn's grammar file {_GRAMMAR} is missing from {here}")


@functools.lru_cache(maxsize=None)
def _parser() -> Lark:
    return Lark(_grammar_path().read_text(encoding="utf-8"), parser="lalr",
                lexer="contextual", start=["start", "dims_only"],
                propagate_positions=True, cache=True)


def parse(text: str) -> Network:
    """Parse notation text into a :class:`Network`; raise :class:`NotationError` if invalid."""
    if not isinstance(text, str):
        raise NotationError(f"notation must be text (str), not {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise NotationError(f"notation is {len(text):,} characters long; the limit is "
                            f"{MAX_TEXT:,}")
    tree = _run(text, "start")
    statements = _transform(text, tree)
    return _network(text, statements)


def parse_input(text: str) -> InputSpec:
    """Parse an input size such as ``224x224x3`` or ``HxWxC`` (H×W×C order)."""
    return _transform(text, _run(text, "dims_only"))


def _run(text: str, start: str):
    try:
        return _parser().parse(text, start=start)
    except UnexpectedInput as e:
        raise _syntax_error(text, e, start) from None


def _transform(text: str, tree):
    try:
        return _Builder().transform(tree)
    except VisitError as e:
        if isinstance(e.orig_exc, NotationError):
            raise _located(text, e.orig_exc) from None
        raise


def _network(text: str, statements: list) -> Network:
    items: list[Item] = []
    spec = None
    for st in statements:
        if isinstance(st, tuple) and st[0] == "input":
            if items or spec is not None:
                what = "the first statement" if items else "given once"
                raise _located(text, NotationError(f"'input' must be {what}",
                                                   line=st[2], column=st[3], width=5))
            spec = st[1]
        else:
            items.append(st)
    return Network(tuple(items), spec)


# ---------------------------------------------------------------- tree → layer records

def _num(tok: Token, what: str, lo: int = 1) -> int:
    if len(tok) > MAX_DIGITS or not lo <= int(tok) <= MAX_VALUE:
        raise NotationError(f"{what} must be between {lo} and {MAX_VALUE:,}; got "
                            f"{_clip(str(tok))}", line=tok.line, column=tok.column,
                            width=len(tok))
    return int(tok)


def _clip(s: str, n: int = 20) -> str:
    return s if len(s) <= n else f"{s[:n]}… ({len(s):,} digits)"


def _pair(toks: list[Token], what: str, lo: int = 1) -> tuple[int, int]:
    vals = [_num(t, what, lo) for t in toks]
    return (vals[0], vals[-1])


def _opt(children: list, kind: str):
    for c in children:
        if isinstance(c, tuple) and c[0] == kind:
            return c[1]
    return None


@v_args(meta=True)
class _Builder(Transformer_NonRecursive):
    """One short method per grammar rule; each returns a layer record (or a tagged tuple)."""

    def __init__(self) -> None:
        super().__init__()
        self._depths: dict[int, int] = {}  # id(Repeat) → nesting depth, for the limit

    def start(self, meta, children):
        return _splice(children)

    def dims_only(self, meta, children):
        return children[0]

    def dims(self, meta, toks):
        vals = [str(t) if t.type == "SYMBOL" else _num(t, "an input size") for t in toks]
        return InputSpec(*vals)

    def input(self, meta, children):
        return ("input", children[0], meta.line, meta.column)

    def stride(self, meta, toks):
        return ("stride", _num(toks[0], "a stride"))

    def padding(self, meta, toks):
        return ("padding", _num(toks[0], "a padding", lo=0), toks[0])

    def conv(self, meta, ch):
        kernel = _pair([t for t in ch if isinstance(t, Token) and t.type == "KSIZE"],
                       "a kernel size")
        filters = _num(next(t for t in ch if isinstance(t, Token) and t.type == "FILTERS"),
                       "a filter count")
        stride, pad = _opt(ch, "stride"), _opt(ch, "padding")
        return Conv(kernel, filters, (stride, stride) if stride else (1, 1),
                    None if pad is None else (pad, pad), meta.line, meta.column)

    def pool(self, meta, ch):
        op = "avg" if ch[0].type == "AVGPOOL" else "max"
        ks = [t for t in ch if isinstance(t, Token) and t.type == "KSIZE"]
        kernel = _pair(ks, "a kernel size") if ks else (2, 2)
        stride, pad = _opt(ch, "stride"), _opt(ch, "padding") or 0
        if pad > min(kernel) // 2:
            tok = next(c for c in ch if isinstance(c, tuple) and c[0] == "padding")[2]
            raise NotationError(f"a pool's padding must be at most half its kernel "
                                f"(at most {min(kernel) // 2} here); got {pad}",
                                line=tok.line, column=tok.column, width=len(tok))
        return Pool(op, kernel, (stride, stride) if stride else None, (pad, pad),
                    meta.line, meta.column)

    def adaptive(self, meta, toks):
        return AdaptiveAvgPool(_pair(toks, "an output size"), meta.line, meta.column)

    def fc(self, meta, toks):
        return FC(_num(toks[-1], "a unit count"), meta.line, meta.column)

    def act(self, meta, toks):
        kind = toks[0].lower().replace("-", "")
        return Elementwise(kind, meta.line, meta.column)

    def group(self, meta, children):
        group = _Group(_splice(children))
        group.depth = max(map(self._nest, children), default=0)
        return group

    def repeat(self, meta, ch):
        body, count = ch[0], _num(ch[1], "a repeat count")
        depth = 1 + self._nest(body)
        if depth > MAX_NESTING:
            raise NotationError(f"repeats nest {depth} deep; the limit is {MAX_NESTING}",
                                line=meta.line, column=meta.column)
        rep = Repeat(tuple(body) if isinstance(body, _Group) else (body,), count,
                     meta.line, meta.column)
        self._depths[id(rep)] = depth
        return rep

    def _nest(self, node) -> int:
        """How deeply repeats nest inside ``node`` (a group, a repeat or a layer)."""
        return node.depth if isinstance(node, _Group) else self._depths.get(id(node), 0)

    def __default__(self, data, children, meta):  # pragma: no cover - grammar is closed
        raise NotationError(f"internal: unhandled rule {data}")


class _Group(tuple):
    """Items written in parentheses, with their nesting depth (spliced into the parent)."""
    depth = 0


def _splice(children) -> list:
    out: list = []
    for c in children:
        out.extend(c) if isinstance(c, _Group) else out.append(c)
    return out


# ---------------------------------------------------------------- syntax errors

_LAYER_START = {"CONV", "MAXPOOL", "AVGPOOL", "ADAPTIVEAVGPOOL", "FC", "RELU", "DROPOUT",
                "SOFTMAX", "LRN", "LPAR"}
_WHAT = {  # terminal → what a person would call it, in the order messages list them
    "FILTERS": "a filter count", "KSIZE": "a kernel size", "STRIDE": "a stride",
    "PADDING": "a padding", "UNITS": "a unit count", "OUTSIZE": "an output size",
    "COUNT": "a repeat count", "SIZE": "a size (a number or a letter)", "X": "'x'",
    "MINUS": "'-'", "SLASH": "'/' and a stride", "P": "'p' and a padding",
    "RPAR": "')'", "_SEP": "whitespace", "$END": "the end of the input",
}
_LAYER_HINT = "a layer such as conv3-64, pool, fc4096 or relu"


def _syntax_error(text: str, e: UnexpectedInput, start: str) -> NotationError:
    if isinstance(e, UnexpectedToken):
        expected = set(e.accepts or e.expected)
        at_end = e.token.type == "$END"
        pos = len(text) if at_end else e.token.start_pos
    else:
        expected, at_end, pos = set(e.allowed or ()), False, e.pos_in_stream
    line, column = _line_col(text, pos)
    word = _word_before(text, pos)
    if not at_end and text[pos] == ")" and text[:pos].count("(") <= text[:pos].count(")"):
        return NotationError("unmatched ')': no '(' is open", text, line, column)
    if at_end:
        found = "the end of the input"
    elif text[pos].isspace():
        found = "a space (a layer is one token, written without spaces)"
    else:
        found = repr(_word_at(text, pos))
    msg = _expectation(text, pos, expected, word, start) + f", found {found}"
    width = 1 if at_end else len(_word_at(text, pos))
    return NotationError(msg, text, line, column, width)


def _expectation(text: str, pos: int, expected: set[str], word: str, start: str) -> str:
    if text[:pos].count("(") <= text[:pos].count(")"):
        expected.discard("RPAR")   # LALR merges states: no ')' without an open '('
    if expected & _LAYER_START:
        first = not re.sub(r"#[^\n]*|\s", "", text[:pos])
        return f"expected {_LAYER_HINT}" + (" or an input line such as 'input 224x224x3'"
                                            if first and "INPUT" in expected else "")
    if start == "dims_only" or re.search(r"input\s+\S*\Z", text[:pos], re.I):
        return f"expected {_join(expected)} (input is HxWxC, e.g. 224x224x3 or HxWx3)"
    after = f" after {word!r}" if word else ""
    if "_SEP" in expected and pos < len(text) and not text[pos].isspace():
        hint = ""
        if text[pos] in "xX" and re.match(r"(max|avg)?pool", word, re.I):
            hint = f" (to repeat a pool, write ({word})x{text[pos + 1:pos + 2] or 'N'})"
        return f"expected whitespace between layers{after}{hint}"
    return f"expected {_join(expected)}{after}"


def _join(expected: set[str]) -> str:
    names = [w for t, w in _WHAT.items() if t in expected] or sorted(expected)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _word_before(text: str, pos: int) -> str:
    m = re.search(r"[^\s()#]*\Z", text[:pos])
    return m.group(0) if m else ""


def _word_at(text: str, pos: int) -> str:
    m = re.match(r"[^\s()]+|.", text[pos:pos + 40], re.S)
    return m.group(0) if m else ""


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def _located(text: str, e: NotationError) -> NotationError:
    return NotationError(e.message, text, e.line, e.column, e.width)
