"""Text → parse tree → layers: the notation's parser.

The grammar is ``grammar/symcnn.lark`` (shipped inside the package as ``symcnn/grammar``);
Lark parses it with LALR and a contextual lexer, and a non-recursive Transformer turns the
tree into frozen layer records. Numbers and symbols are built here from matched digits and
letters: no user text ever reaches ``eval``, ``sympify`` or ``parse_expr``.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
from dataclasses import replace
from fractions import Fraction
import gc
import re
from pathlib import Path

from lark import Lark, Token, Transformer_NonRecursive, v_args
from lark.exceptions import UnexpectedInput, UnexpectedToken, VisitError

import sympy
from sympy.core.logic import fuzzy_and, fuzzy_or

from .dims import MAX_INPUT, size_symbol
from .errors import NotationError
from .layers import (FC, SE, AdaptiveAvgPool, BatchNorm, Branches, Call, ChannelPad, Conv, Crop,
                     Definition, Elementwise, GroupNorm, InputSpec, Item, LayerNorm, Network,
                     Pool, PReLU, Repeat, Scale, TransposedConv, Upsample, decimal_text,
                     IN_PLACE)

__all__ = ["parse", "parse_input", "make_divisible", "FUNCTIONS", "INCOMING", "MAX_VALUE",
           "MAX_NESTING", "MAX_ROWS"]

MAX_VALUE = MAX_INPUT  # largest number accepted anywhere (10¹²: sizes, filters, counts …)
MAX_DIGITS = 13       # longer digit runs are refused before conversion
MAX_NESTING = 100     # deepest nesting of parentheses
MAX_TEXT = 10_000_000  # characters of notation
MAX_ROWS = 100_000    # distinct rows (layers on a shape) a network may expand to
MAX_TOKENS = 1_000_000  # tokens of notation parsed (100,000 layers of up to 10 tokens)

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
    _check_text(text, "notation")
    builder = _Builder()
    with no_gc():
        flat = _flat(text)
        if flat is not None:
            return Network(tuple(flat[1]), flat[0], source=text)
        statements = _transform(text, _run(text, "start"), builder)
    network = _network(text, statements)
    _check_names(text, builder.uses, network.input)
    return replace(network, source=text)  # carets for later errors


# A long text of one-token layers (``conv3-8 relu conv3-8 relu …``, 100,000 of them) spends
# most of its time in Lark's per-token machinery. It holds few distinct tokens, so each is
# parsed once by the grammar and its record reused at every position: the same records,
# positions included, for a fraction of the time. Anything else takes the grammar path.
FLAT_MIN_TEXT = 20_000   # shorter texts always take the grammar path
FLAT_MAX_DISTINCT = 1_000  # more distinct tokens than this: the grammar path
_FLAT_TOKEN = re.compile(r"[^\s\ufeff]+")
_NOT_FLAT = re.compile(r"[(){}#=|,]")
_FLAT_INPUT = re.compile(r"[\s\ufeff]*input[\s\ufeff]+([^\s\ufeff]+)", re.I)


def _flat(text: str) -> tuple[InputSpec | None, list[Item]] | None:
    """The input line and items of ``text`` if it is only an optional first ``input``
    line and whitespace-separated one-token layers (no definitions, blocks, braces or
    comments), each valid on its own; else None (and the grammar path parses it, errors
    included)."""
    if len(text) < FLAT_MIN_TEXT or _NOT_FLAT.search(text):
        return None
    spec, begin = None, 0
    head = _FLAT_INPUT.match(text)
    if head:
        try:
            spec = _transform(head.group(1), _run(head.group(1), "dims_only"))
        except NotationError:
            return None
        begin = head.end()
    records: dict[str, Item] = {}
    items: list[Item] = []
    line, line_start, scanned = 1, 0, 0
    for m in _FLAT_TOKEN.finditer(text, begin):
        pos = m.start()
        newlines = text.count("\n", scanned, pos)
        if newlines:
            line += newlines
            line_start = text.rfind("\n", scanned, pos) + 1
        scanned = pos
        tok = m.group()
        item = records.get(tok)
        if item is None:
            if len(records) >= FLAT_MAX_DISTINCT:
                return None
            item = records[tok] = _one_layer(tok)
        if item is False:
            return None
        items.append(_moved(item, line, pos - line_start + 1))
    return spec, items


def _one_layer(tok: str):
    """The record of one token parsed alone, or False if it is not a layer (or a repeat
    of one) without names."""
    builder = _Builder()
    try:
        statements = _transform(tok, _run(tok, "start"), builder)
    except NotationError:
        return False
    if len(statements) != 1 or builder.uses or isinstance(statements[0], (tuple,
                                                                          Definition)):
        return False
    return statements[0]


def _moved(item, line: int, column: int):
    """``item`` (parsed at line 1, column 1) placed at ``line``, ``column``."""
    if isinstance(item, Repeat):
        return Repeat(tuple(_moved(b, line, column + b.column - 1) for b in item.body),
                      item.count, line, column)
    return replace(item, line=line, column=column)


def parse_input(text: str) -> InputSpec:
    """Parse an input size such as ``224x224x3`` or ``HxWxC`` (H×W×C order)."""
    _check_text(text, "an input size")
    return _transform(text, _run(text, "dims_only"))


_TOKEN = re.compile(r"#[^\n]*|\s+|[A-Za-z_]+|[0-9]+|.", re.S)  # about one per Lark token


def _check_text(text, what: str) -> None:
    """Refuse what is not text, or too long to parse in bounded time and memory."""
    if not isinstance(text, str):
        raise NotationError(f"{what} must be text (str), not {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise NotationError(f"{what} is {len(text):,} characters long; the limit is "
                            f"{MAX_TEXT:,}")
    if len(text) > MAX_TOKENS:  # fewer characters cannot hold more tokens
        n = _TOKEN.subn("", text)[1]
        if n > MAX_TOKENS:
            raise NotationError(f"{what} has {n:,} tokens (names, numbers, signs and "
                                f"spaces); the limit is {MAX_TOKENS:,}, about "
                                f"{MAX_ROWS:,} layers")


@contextlib.contextmanager
def no_gc():
    """Parsing builds millions of small acyclic objects; the cyclic garbage collector
    would rescan them again and again (half the time of a 100,000-layer parse)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _run(text: str, start: str):
    try:
        return _parser().parse(text, start=start)
    except UnexpectedInput as e:
        raise _syntax_error(text, e, start) from None


def _transform(text: str, tree, builder=None):
    try:
        return (builder or _Builder()).transform(tree)
    except VisitError as e:
        if isinstance(e.orig_exc, NotationError):
            raise _located(text, e.orig_exc) from None
        raise


RESERVED = ("H", "W", "C", "B")  # input height, width, channels; batch


def _check_names(text: str, uses, spec: InputSpec | None) -> None:
    """Refuse a width named like an input symbol (H, W, C, B or a letter of the input
    line): ``fc{H}`` would silently share the symbol of the input height."""
    taken = set(RESERVED) | set(spec.symbols if spec is not None else ())
    for tok in uses:
        name = str(tok)
        if name in taken:
            raise NotationError(reserved_message(name), text, tok.line, tok.column, len(name))


def reserved_message(name: str) -> str:
    what = {"H": "the input height", "W": "the input width", "C": "the input channels",
            "B": "reserved for the batch"}.get(name, "an input size symbol")
    return (f"a width cannot be named {name}: {name} is {what} (H×W×C), and a width of the "
            f"same name would be mixed up with it; use another name, e.g. k or {{w}}")


def _network(text: str, statements: list) -> Network:
    items: list[Item] = []
    defs: dict[str, Definition] = {}
    spec = None
    for st in statements:
        if isinstance(st, Definition):
            if st.name in defs:
                raise _located(text, NotationError(f"'{st.name}' is defined twice",
                                                   line=st.line, column=st.column))
            defs[st.name] = st
            continue
        if isinstance(st, tuple) and st[0] == "input":
            if items or spec is not None:
                what = "the first statement" if items else "given once"
                raise _located(text, NotationError(f"'input' must be {what}",
                                                   line=st[2], column=st[3], width=5))
            spec = st[1]
        else:
            items.append(st)
    return Network(tuple(items), spec, tuple(defs.values()))


# ---------------------------------------------------------------- tree → layer records

_BUILTIN_BLOCKS = {"res", "add", "cat", "aux", "split", "mul", "head"}
_IN_PLACE_BLOCKS = {"res_", "add_"}  # the sum written into the first branch (out += identity)
_BUILTIN_CALLS = {"se"}
MAX_NAME = 64  # characters in a definition or width name
MAX_EXPR_SIZE = 64  # names, numbers and operations of an expression in braces
MAX_EXPR_OPS = 10_000  # distinct operations the braced expressions of a text compute


def _num(tok: Token, what: str, lo: int = 1) -> int:
    digits = tok.lstrip("0") or "0"  # converted only once known to be short
    if len(digits) > MAX_DIGITS or not lo <= int(digits) <= MAX_VALUE:
        raise NotationError(f"{what} must be between {lo} and {MAX_VALUE:,}; got "
                            f"{_clip(str(tok))}", line=tok.line, column=tok.column,
                            width=len(tok))
    return int(digits)


def _clip(s: str, n: int = 20) -> str:
    return s if len(s) <= n else f"{s[:n]}… ({len(s):,} digits)"


def _name(tok: Token) -> sympy.Symbol:
    name = str(tok).rstrip("(")
    if len(name) > MAX_NAME:
        raise NotationError(f"a name may have at most {MAX_NAME} characters",
                            line=tok.line, column=tok.column, width=len(tok))
    return width_symbol(name)


@functools.lru_cache(maxsize=None)
def width_symbol(name: str) -> sympy.Symbol:
    """A name as parsed: a rational ≥ 0, since a definition's parameter may be bound to
    1.2 (so {floor(32*m)} stays a floor). A name still free once definitions are expanded
    is a width, a positive integer (dims.size_symbol); ``in`` is one from the start."""
    if name == "in":
        return INCOMING
    return sympy.Symbol(name, rational=True, nonnegative=True)


def _value(ch, what: str, lo: int = 1, meta=None, skip: int = 0, whole: bool = True,
           incoming: bool = False):
    """A value rule's child: digits (checked against the range), a letter or {expr}; an
    expression without names is a number and checked as one (``meta``, ``skip``: where
    the rule starts and how many characters precede its value). ``whole``: the value
    counts something, so a number must be an integer (a definition's value may be 1.2);
    ``incoming``: it is a channel count, where ``in`` may stand for the input's."""
    (c,) = ch
    where = dict(line=meta.line, column=meta.column + skip,
                 width=meta.end_pos - meta.start_pos - skip) if meta is not None else {}
    if isinstance(c, Token):
        if c.type in ("SYMBOL", "IDENT"):
            c = _name(c)
            if c == INCOMING and not incoming:
                raise NotationError(_incoming_message(what), **where)
            return c
        if c.type == "SAME":
            return "same"
        if c.type != "DECIMAL":
            return _num(c, what, lo)
        c = _decimal(c)
    if c.is_Number:  # e.g. {2*32}, or 1.2 as a definition's value
        if whole and not c.is_Integer:
            raise NotationError(f"{what} must be a whole number; this is {number_text(c)}: "
                                f"{ROUNDING_HINT}", **where)
        if not lo <= c <= MAX_VALUE:
            raise NotationError(f"{what} must be between {lo} and {MAX_VALUE:,}; got "
                                f"{_clip(number_text(c))}", **where)
        if c.q > MAX_VALUE:  # so that str() writes it as notation that parses
            raise NotationError(f"numbers in braces must stay at most {MAX_VALUE:,}; this "
                                f"fraction's denominator is {_clip(str(c.q))}", **where)
        return int(c) if c.is_Integer else c
    if not incoming and INCOMING in c.free_symbols:
        raise NotationError(_incoming_message(what), **where)
    # an expression in width names, built by the expr rules; its numbers (folded, as in
    # {1000000*1000000*w}) stay in range, so that str() writes notation that parses
    big = _magnitude(c)
    if big > MAX_VALUE:
        raise NotationError(f"numbers in braces must stay at most {MAX_VALUE:,}; this "
                            f"expression makes {_clip(str(big))}", **where)
    return c


ROUNDING_HINT = "round it with round(…), floor(…), ceil(…) or make_divisible(…, 8)"


def number_text(n) -> str:
    """A rational number as a person reads it: 76.8, 128/3 (≈ 42.67), -2."""
    if n.is_Integer:
        return str(n)
    exact = decimal_text(abs(n))
    if exact is None:
        return f"{n.p}/{n.q} (≈ {float(n):.4g})"
    return ("-" if n < 0 else "") + exact


def _incoming_message(what: str) -> str:
    return (f"{what} cannot use in: in is the channel count entering a layer, known only "
            f"as the shapes are propagated, so it may stand in channel counts only (filters, "
            f"groups, units, se(…), gn, pad)")


def _decimal(tok: Token) -> sympy.Rational:
    """Digits with a decimal point as the exact fraction they write: 1.2 is 6/5."""
    whole, frac = str(tok).split(".")
    whole, frac = whole.lstrip("0"), frac.rstrip("0")
    if len(whole) > MAX_DIGITS or len(frac) > MAX_DIGITS - 1:
        raise NotationError(f"a decimal may have at most {MAX_DIGITS} digits before the "
                            f"point and {MAX_DIGITS - 1} after it; got {_clip(str(tok))}",
                            line=tok.line, column=tok.column, width=len(tok))
    return sympy.Rational(int(whole + frac or "0"), 10**len(frac))


def _magnitude(e) -> int:
    """The largest numerator or denominator among the numbers of ``e``."""
    if e.is_Rational:
        return max(abs(int(e.p)), int(e.q))
    return max((max(abs(int(n.p)), int(n.q)) for n in e.atoms(sympy.Rational)), default=0)


def _options(children) -> dict:
    out: dict = {}
    for c in children:
        if isinstance(c, tuple) and c[0] in _OPTION_NAMES:
            name, value, meta = c
            if name in out:
                raise NotationError(f"{_OPTION_NAMES[name]} is given twice", line=meta.line,
                                    column=meta.column)
            out[name] = value
    return out


_OPTION_NAMES = {"stride": "the stride", "padding": "the padding", "dilation": "the dilation",
                 "outpad": "the output padding",
                 "groups": "the groups", "nobias": "nb (no bias)", "ceil": "ceil"}


def _kernel(children) -> tuple:
    ks = [c[1] for c in children if isinstance(c, tuple) and c[0] == "kernel"]
    return (ks[0], ks[-1]) if ks else None


@v_args(meta=True)
class _Builder(Transformer_NonRecursive):
    """One short method per grammar rule; each returns a layer record (or a tagged tuple)."""

    def __init__(self) -> None:
        super().__init__()
        self._depths: dict[int, int] = {}  # id(Repeat) → nesting depth, for the limit
        self._results: dict = {}  # (operator, a, b) → a braced expression's value
        self._ops = 0             # distinct operations computed
        self.uses: list[Token] = []  # names used as values, outside a definition binding them

    def _note(self, ch) -> None:
        self.uses.extend(c for c in ch if isinstance(c, Token) and c.type in ("SYMBOL", "IDENT"))

    def start(self, meta, children):
        return _splice(children)

    def dims_only(self, meta, children):
        return children[0]

    def dims(self, meta, toks):
        vals = [str(t) if t.type == "SYMBOL" else _num(t, "an input size") for t in toks]
        return InputSpec(*vals)

    def input(self, meta, children):
        return ("input", children[0], meta.line, meta.column)

    # values ------------------------------------------------------------------------
    def kernel(self, meta, ch):
        self._note(ch)
        return ("kernel", _value(ch, "a kernel size", meta=meta))

    def filters(self, meta, ch):
        self._note(ch)
        return _value(ch, "a filter count", meta=meta, incoming=True)

    def units(self, meta, ch):
        self._note(ch)
        return _value(ch, "a unit count", meta=meta, incoming=True)

    def outsize(self, meta, ch):
        self._note(ch)
        return _value(ch, "an output size", meta=meta)

    def count(self, meta, ch):
        self._note(ch)
        return _value(ch, "a repeat count", lo=0, meta=meta)  # x0: nothing

    def value(self, meta, ch):
        self._note(ch)
        return _value(ch, "a number", lo=0, meta=meta, whole=False, incoming=True)

    def stride(self, meta, ch):
        self._note(ch)
        return ("stride", _value(ch, "a stride", meta=meta, skip=1), meta)

    def padding(self, meta, ch):
        self._note(ch)
        return ("padding", _value(ch, "a padding", lo=0, meta=meta, skip=1), meta)

    def dilation(self, meta, ch):
        self._note(ch)
        return ("dilation", _value(ch, "a dilation", meta=meta, skip=1), meta)

    def groups(self, meta, ch):
        self._note(ch)
        return ("groups", _value(ch, "a group count", meta=meta, skip=1, incoming=True),
                meta)

    def nobias(self, meta, ch):
        return ("nobias", True, meta)

    def ceil(self, meta, ch):
        return ("ceil", True, meta)

    # expressions in braces: built from matched digits and names, never from text.
    # SymPy's cost grows with an expression's size and nesting, so every result is kept
    # small (MAX_EXPR_SIZE) and a text may ask for MAX_EXPR_OPS distinct operations.
    def plus(self, meta, ch):
        self._note(ch)
        return self._op(meta, "+", _expr(ch[0]), _expr(ch[1]))

    def minus(self, meta, ch):
        self._note(ch)
        return self._op(meta, "-", _expr(ch[0]), _expr(ch[1]))

    def times(self, meta, ch):
        self._note(ch)
        return self._op(meta, "*", _expr(ch[0]), _expr(ch[1]))

    def juxtapose(self, meta, ch):
        self._note(ch)
        return self._op(meta, "*", _expr(ch[0]), _expr(ch[1]))

    def floordiv(self, meta, ch):
        self._note(ch)
        num, den = _expr(ch[0]), _expr(ch[1])
        if den == 0:
            raise NotationError("division by zero", line=meta.line, column=meta.column)
        return self._op(meta, "//", num, den)

    def truediv(self, meta, ch):
        self._note(ch)
        num, den = _expr(ch[0]), _expr(ch[1])
        if den == 0:
            raise NotationError("division by zero", line=meta.line, column=meta.column)
        return self._op(meta, "/", num, den)

    def function(self, meta, ch):
        self._note(ch)
        name = str(ch[0])[:-1]
        args = [_expr(c) for c in ch[1:]]
        where = dict(line=meta.line, column=meta.column, width=len(name) + 1)
        if name not in FUNCTIONS:
            raise NotationError(unknown_function(name), **where)
        _, low, high, usage = FUNCTIONS[name]
        if not low <= len(args) <= (high or len(args)):
            n = len(args)
            raise NotationError(f"{usage} takes {_arity(low, high)}; got {n} value"
                                f"{'s' if n != 1 else ''}", **where)
        if high is None:  # max, min: the same value twice counts once
            args = list(dict.fromkeys(args))
            if sum(_expr_size(a, MAX_EXPR_SIZE) for a in args) >= MAX_EXPR_SIZE:
                raise NotationError(_too_big(), line=meta.line, column=meta.column,
                                    width=meta.end_pos - meta.start_pos)
        return self._op(meta, name, *args)

    def _op(self, meta, op: str, *args):
        key = (op, *args)
        if key in self._results:  # the same operation again costs nothing
            return self._results[key]
        self._ops += 1
        where = dict(line=meta.line, column=meta.column, width=meta.end_pos - meta.start_pos)
        if self._ops > MAX_EXPR_OPS:
            raise NotationError(f"expressions in braces ask for more than "
                                f"{MAX_EXPR_OPS:,} distinct operations", **where)
        try:
            r = _apply(op, args)
        except NotationError as e:  # e.g. make_divisible(w, 0)
            raise NotationError(e.message, **where) from None
        if _expr_size(r, MAX_EXPR_SIZE) > MAX_EXPR_SIZE:
            raise NotationError(_too_big(), **where)
        if _magnitude(r) >= 2**MAX_BITS:  # each step's cost stays bounded
            raise NotationError(f"numbers in braces must stay below 2^{MAX_BITS} while "
                                f"they are computed; this expression passes it", **where)
        self._results[key] = r
        return r

    # layers ------------------------------------------------------------------------
    def conv(self, meta, ch):
        o = _options(ch)
        filters = next(c for c in ch if not isinstance(c, tuple))
        return Conv(_kernel(ch), filters, o.get("stride", 1), o.get("padding"),
                    o.get("dilation", 1), o.get("groups", 1), "nobias" not in o, False,
                    meta.line, meta.column)

    def tconv(self, meta, ch):
        o = _options(ch)
        if o.get("padding") == "same":
            raise NotationError("a transposed conv takes a number of padding, not same",
                                line=meta.line, column=meta.column)
        filters = next(c for c in ch if not isinstance(c, tuple))
        return TransposedConv(_kernel(ch), filters, o.get("stride", 1), o.get("padding", 0),
                              o.get("outpad", 0), o.get("dilation", 1), o.get("groups", 1),
                              "nobias" not in o, meta.line, meta.column)

    def upsample(self, meta, ch):
        mode = str(ch[0]).lower()
        scale = _kernel(ch)
        if scale is not None:
            return Upsample(mode, scale, None, meta.line, meta.column)
        target = [c for c in ch[1:] if not isinstance(c, Token)]
        size = (target[0], target[-1]) if target else str(ch[-1]).lower()
        return Upsample(mode, None, size, meta.line, meta.column)

    def crop(self, meta, ch):
        return Crop(meta.line, meta.column)

    def outpad(self, meta, ch):
        self._note(ch)
        return ("outpad", _value(ch, "an output padding", lo=0, meta=meta, skip=1), meta)

    def dw(self, meta, ch):
        o = _options(ch)
        if "groups" in o:
            raise NotationError("a depthwise conv has one group per channel; use conv…gG "
                                "for other groupings", line=meta.line, column=meta.column)
        return Conv(_kernel(ch), None, o.get("stride", 1), o.get("padding"),
                    o.get("dilation", 1), 1, "nobias" not in o, True, meta.line, meta.column)

    def pool(self, meta, ch):
        o = _options(ch)
        if "dilation" in o or "groups" in o or "nobias" in o:
            raise NotationError("pools take /stride, p padding and ceil only",
                                line=meta.line, column=meta.column)
        op = "avg" if ch[0].type == "AVGPOOL" else "max"
        kernel = _kernel(ch) or (2, 2)
        pad = o.get("padding", 0)
        if pad == "same":
            raise NotationError("pools take a number of padding, not same", line=meta.line,
                                column=meta.column)
        if all(isinstance(v, int) for v in (pad, *kernel)) and pad > min(kernel) // 2:
            at = next(c[2] for c in ch if isinstance(c, tuple) and c[0] == "padding")
            raise NotationError(f"a pool's padding must be at most half its kernel "
                                f"(at most {min(kernel) // 2} here); got {pad}",
                                line=at.line, column=at.column + 1, width=len(str(pad)))
        return Pool(op, kernel, o.get("stride"), pad, "ceil" in o, meta.line, meta.column)

    def adaptive(self, meta, ch):
        return AdaptiveAvgPool((ch[0], ch[-1]), meta.line, meta.column)

    def gap(self, meta, ch):
        return AdaptiveAvgPool((1, 1), meta.line, meta.column)

    def fc(self, meta, ch):
        return FC(ch[-1], meta.line, meta.column)

    def bn(self, meta, ch):
        return BatchNorm(meta.line, meta.column)

    def ln(self, meta, ch):
        return LayerNorm(meta.line, meta.column)

    def scale(self, meta, ch):
        return Scale(meta.line, meta.column)

    def gn(self, meta, ch):
        self._note(ch)
        return GroupNorm(_value(ch, "a group count", meta=meta, skip=2, incoming=True),
                         meta.line, meta.column)

    def prelu(self, meta, ch):
        return PReLU(meta.line, meta.column)

    def chpad(self, meta, ch):
        self._note(ch)
        return ChannelPad(_value(ch, "a channel count", meta=meta, skip=3, incoming=True),
                          meta.line, meta.column)

    def act(self, meta, toks):
        kind = toks[0].lower().replace("-", "")
        inplace = kind.endswith("_")
        kind = kind.rstrip("_")
        kind = "silu" if kind == "swish" else kind
        if inplace and kind not in IN_PLACE:
            raise NotationError(f"{kind} has no in-place form ({kind}_): PyTorch runs in "
                                f"place only {', '.join(IN_PLACE)}", line=meta.line,
                                column=meta.column, width=len(toks[0]))
        return Elementwise(kind, meta.line, meta.column, inplace)

    # structure ---------------------------------------------------------------------
    def group(self, meta, children):
        group = _Group(_splice(children))
        group.depth = max(map(self._nest, children), default=0)
        return group

    def branch(self, meta, children):
        group = _Group(_splice(children))
        group.depth = max(map(self._nest, children), default=0)
        return ("branch", group)

    def call(self, meta, ch):
        name = str(ch[0])[:-1]
        inplace = name in _IN_PLACE_BLOCKS
        name = name.rstrip("_") if inplace else name
        rest = ch[1:]
        branches = [c[1] for c in rest if isinstance(c, tuple) and c[0] == "branch"]
        args = [c for c in rest if not (isinstance(c, tuple) and c[0] == "branch")]
        where = dict(line=meta.line, column=meta.column, width=len(name) + 1 + inplace)
        if inplace and branches and not branches[0]:
            raise NotationError(f"{name}_(…) writes the sum into its first branch's output, "
                                f"but the first branch is the identity: it would overwrite "
                                f"the merge's input; put the identity last ({name}_(body | ))",
                                **where)
        if name in _BUILTIN_BLOCKS:
            if args:
                raise NotationError(f"{name}(…) takes layers, e.g. {name}(conv3-64 bn)", **where)
            if not branches or all(not b for b in branches):
                raise NotationError(f"{name}(…) needs at least one layer", **where)
            if name in ("aux", "head") and len(branches) > 1:
                what = "the auxiliary head" if name == "aux" else "the head's layers"
                raise NotationError(f"{name}(…) takes one branch: {what}", **where)
            if name == "mul" and len(branches) < 2:
                raise NotationError("mul(a | b …) takes two or more branches: their outputs "
                                    "are multiplied element-wise", **where)
            if name == "split" and len(branches) < 2:
                raise NotationError("split(a | b …) takes two or more branches: each gets an "
                                    "equal slice of the channels", **where)
            if name == "res":
                if len(branches) > 2:
                    raise NotationError("res(body | shortcut) takes at most two branches",
                                        **where)
                branches = branches + [_Group(())] * (2 - len(branches))
            block = Branches(name if name not in ("res",) else "add",
                             tuple(tuple(b) for b in branches), meta.line, meta.column,
                             inplace)
            self._depths[id(block)] = 1 + max(map(self._nest, branches), default=0)
            self._check_depth(block, meta)
            return block
        if branches and any(branches):
            raise NotationError(f"{name}(…) takes values (numbers, letters or {{expressions}})"
                                f", not layers", **where)
        if name == "se":
            if len(args) != 1:
                raise NotationError("se(…) takes one value: the squeeze channels", **where)
            if isinstance(args[0], sympy.Number):  # se(1.5), se({0.3*64})
                raise NotationError(f"se(…)'s squeeze width must be a whole number; this is "
                                    f"{number_text(args[0])}: {ROUNDING_HINT}", **where)
            return SE(args[0], meta.line, meta.column)
        _name(ch[0])
        if any(INCOMING in getattr(a, "free_symbols", ()) for a in args):
            raise NotationError(f"in cannot be passed to '{name}': in is the channel count "
                                f"entering a layer; use it in the definition's layers "
                                f"(conv1-{{in//2}}, se({{in//4}}))", **where)
        return Call(name, tuple(args), meta.line, meta.column)

    def param(self, meta, ch):
        return (str(ch[0]), ch[1] if len(ch) > 1 else None)

    def definition(self, meta, ch):
        name = str(ch[0])[:-1]
        _name(ch[0])
        params = tuple(c for c in ch[1:-1])
        body = ch[-1]
        body = tuple(body) if isinstance(body, _Group) else (body,)
        if name in _BUILTIN_BLOCKS | _BUILTIN_CALLS | _IN_PLACE_BLOCKS:
            raise NotationError(f"'{name}' is built in; choose another name",
                                line=meta.line, column=meta.column)
        names = [p for p, _ in params]
        if "in" in names or any(INCOMING in getattr(d, "free_symbols", ())
                                for _, d in params):
            raise NotationError(f"a parameter of '{name}' cannot be named or default to in: "
                                f"in is the channel count entering a layer", line=meta.line,
                                column=meta.column)
        if len(set(names)) != len(names):
            raise NotationError(f"a parameter of '{name}' is named twice", line=meta.line,
                                column=meta.column)
        bound = set(names)  # the body's uses of its parameters are bound, not widths
        self.uses = [t for t in self.uses if not (str(t) in bound and
                                                   meta.start_pos <= t.start_pos < meta.end_pos)]
        return Definition(name, params, body, meta.line, meta.column)

    def repeat(self, meta, ch):
        body, count = ch[0], ch[1]
        rep = Repeat(tuple(body) if isinstance(body, _Group) else (body,), count,
                     meta.line, meta.column)
        self._depths[id(rep)] = 1 + self._nest(body)
        self._check_depth(rep, meta)
        return rep

    def _check_depth(self, node, meta) -> None:
        depth = self._depths[id(node)]
        if depth > MAX_NESTING:
            raise NotationError(f"blocks nest {depth} deep; the limit is {MAX_NESTING}",
                                line=meta.line, column=meta.column)

    def _nest(self, node) -> int:
        """How deeply repeats and blocks nest inside ``node``."""
        return node.depth if isinstance(node, _Group) else self._depths.get(id(node), 0)

    def __default__(self, data, children, meta):  # pragma: no cover - grammar is closed
        raise NotationError(f"internal: unhandled rule {data}")


def _expr_size(e, limit: int) -> int:
    """The names, numbers and operations of ``e`` as the notation writes it (a power
    k**n as n factors), counted until past ``limit``."""
    if e.is_Atom:
        return 1
    if e.is_Pow and e.exp.is_Integer:
        n = abs(int(e.exp))
        if n > limit:
            return limit + 1
        return min(limit + 1, n * _expr_size(e.base, limit) + n - 1)
    total = 1
    for arg in e.args:
        total += _expr_size(arg, limit - total)
        if total > limit:
            break
    return total


def _expr(x):
    """An operand of a braced expression: digits, a decimal, a name, or a built
    expression."""
    if isinstance(x, Token):
        if x.type == "IDENT":
            return _name(x)
        if x.type == "DECIMAL":
            return _decimal(x)
        return sympy.Integer(_num(x, "a number", lo=0))
    return x


def _too_big() -> str:
    return (f"an expression in braces may grow to at most {MAX_EXPR_SIZE} names, numbers "
            f"and operations (k*k*k counts 5); this one grows past that")


def _apply(op: str, args):
    if op == "+":
        return args[0] + args[1]
    if op == "-":
        return args[0] - args[1]
    if op == "*":
        return args[0] * args[1]
    if op == "/":
        return args[0] / args[1]
    if op == "//":
        return sympy.floor(args[0] / args[1])
    return FUNCTIONS[op][0](*args)


# ---------------------------------------------------------------- functions in braces
#
# Each is a SymPy function that evaluates exactly once its arguments are numbers (at
# parse time, or when a definition's parameters are bound) and otherwise stays as it is,
# printed back by layers.value_text. Evaluation is cheap whatever the arguments (no
# comparisons of symbolic expressions: max(w, w+1) stays as written).

INCOMING = size_symbol("in")  # {in}: the channel count entering a layer (see shapes)
MAX_BITS = 512  # numbers computed in braces stay below 2^MAX_BITS at every step


def make_divisible(v, divisor: int, min_value: int | None = None) -> int:
    """torchvision's ``_make_divisible(v, divisor, min_value)`` (MNASNet's
    ``_round_to_multiple_of(v, divisor, 0.9)`` too) on exact rationals: ``v`` rounded to
    the nearest multiple of ``divisor`` (halves up), at least ``min_value`` (default the
    divisor), and one divisor more where that went down by more than 10 %."""
    v = Fraction(v)
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + Fraction(divisor, 2)) // divisor * divisor)
    if new_v < Fraction(9, 10) * v:
        new_v += divisor
    return new_v


def _shown(x) -> str:
    return number_text(x) if x.is_Rational else str(x)


def _fraction(x) -> Fraction:
    return Fraction(int(x.p), int(x.q))


class Round(sympy.Function):
    """round(x): the nearest integer, a tie to the even one, as Python's round and
    torch.round (round(2.5) = 2, round(3.5) = 4)."""

    @classmethod
    def eval(cls, x):
        if x.is_Rational:
            return sympy.Integer(round(_fraction(x)))
        if x.is_integer:
            return x
        return None

    def _eval_is_integer(self):
        return True


class MakeDivisible(sympy.Function):
    """make_divisible(v, d) and make_divisible(v, d, min_value): see make_divisible."""
    nargs = (2, 3)

    @classmethod
    def eval(cls, v, divisor, min_value=None):
        if divisor.is_Number and not (divisor.is_Integer and divisor >= 1):
            raise NotationError(f"make_divisible(v, d) needs a whole divisor d ≥ 1; got "
                                f"{_shown(divisor)}")
        if min_value is not None and min_value.is_Number and not min_value.is_Integer:
            raise NotationError(f"make_divisible(v, d, m) needs a whole minimum m; got "
                                f"{_shown(min_value)}")
        if v.is_Rational and divisor.is_Integer and (min_value is None or
                                                    min_value.is_Integer):
            low = None if min_value is None else int(min_value)
            return sympy.Integer(make_divisible(_fraction(v), int(divisor), low))
        return None

    def _eval_is_integer(self):
        return True

    def _eval_is_positive(self):
        low = self.args[2] if len(self.args) > 2 else self.args[1]
        return True if low.is_positive else None


class _Extremum(sympy.Function):
    """max(…) or min(…) of two or more values; nested ones are merged, numbers folded into
    one, the same value counts once, and the others are kept in a canonical order."""
    pick = max

    @classmethod
    def eval(cls, *args):
        if any(isinstance(a, cls) for a in args):  # max(max(a, b), c) is max(a, b, c)
            return cls(*(b for a in args for b in (a.args if isinstance(a, cls) else (a,))))
        numbers = [a for a in args if a.is_Rational]
        if len(numbers) == len(args):
            return cls.pick(numbers)
        rest = sorted({a for a in args if not a.is_Rational}, key=sympy.default_sort_key)
        canonical = ([cls.pick(numbers)] if numbers else []) + rest
        if len(canonical) == 1:
            return canonical[0]
        return None if tuple(canonical) == args else cls(*canonical)

    def _eval_is_integer(self):
        return fuzzy_and(a.is_integer for a in self.args)

    def _eval_is_real(self):
        return fuzzy_and(a.is_real for a in self.args)


class Maximum(_Extremum):
    pick = max

    def _eval_is_positive(self):
        return fuzzy_or(a.is_positive for a in self.args)

    def _eval_is_nonnegative(self):
        return fuzzy_or(a.is_nonnegative for a in self.args)


class Minimum(_Extremum):
    pick = min

    def _eval_is_positive(self):
        return fuzzy_and(a.is_positive for a in self.args)

    def _eval_is_nonnegative(self):
        return fuzzy_and(a.is_nonnegative for a in self.args)


# Their names in the notation (and in printed formulas: round, not Round).
Round.__name__, MakeDivisible.__name__ = "round", "make_divisible"
Maximum.__name__, Minimum.__name__ = "max", "min"

# name → (SymPy function, fewest and most arguments (None: any), how it is called)
FUNCTIONS = {
    "round": (Round, 1, 1, "round(x)"),
    "floor": (sympy.floor, 1, 1, "floor(x)"),
    "ceil": (sympy.ceiling, 1, 1, "ceil(x)"),
    "max": (Maximum, 2, None, "max(a, b, …)"),
    "min": (Minimum, 2, None, "min(a, b, …)"),
    "make_divisible": (MakeDivisible, 2, 3, "make_divisible(v, divisor[, min_value])"),
}


def _arity(low: int, high: int | None) -> str:
    if high is None:
        return f"{low} or more values"
    if low == high:
        return f"{low} value{'s' if low != 1 else ''}"
    return f"{low} or {high} values"


def unknown_function(name: str) -> str:
    known = sorted(FUNCTIONS)
    close = difflib.get_close_matches(name.lower().lstrip("_"), known + ["ceiling"], n=1,
                                      cutoff=0.5)
    guess = f"; did you mean {'ceil' if close == ['ceiling'] else close[0]}(…)?" \
        if close else ""
    return (f"unknown function '{_clip(name, 30)}' in braces{guess} (the functions are "
            f"{', '.join(known)})")


class _Group(tuple):
    """Items written in parentheses, with their nesting depth (spliced into the parent)."""
    depth = 0


def _splice(children) -> list:
    out: list = []
    for c in children:
        out.extend(c) if isinstance(c, _Group) else out.append(c)
    return out


# ---------------------------------------------------------------- syntax errors

_LAYER_START = {"CONV", "DW", "MAXPOOL", "AVGPOOL", "ADAPTIVEAVGPOOL", "GAP", "FC", "ACT",
                "BN", "LN", "SCALE", "GN", "PRELU", "PAD", "LPAR", "CALL"}
_WHAT = {  # terminal → what a person would call it, in the order messages list them
    "FILTERS": "a filter count", "KSIZE": "a kernel size", "STRIDE": "a stride",
    "PADDING": "a padding", "UNITS": "a unit count", "OUTSIZE": "an output size",
    "DILATION": "a dilation", "GROUPS": "a group count", "NUMBER": "a number",
    "COUNT": "a repeat count", "SIZE": "a size (a number or a letter)", "IDENT": "a name",
    "X": "'x'", "MINUS": "'-'", "SLASH": "'/' and a stride", "P": "'p' and a padding",
    "D": "'d' and a dilation", "G": "'g' and a group count", "NB": "'nb'",
    "CEIL": "'ceil'", "EQUAL": "'='", "VBAR": "'|'", "RBRACE": "'}'",
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
    if not at_end and text[pos] == ")" and not _open_parens(text, pos):
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
    braces = _in_braces(text, pos)
    if braces is not None:
        return _brace_expectation(text, pos, expected, braces)
    if not _open_parens(text, pos):
        expected.discard("RPAR")   # LALR merges states: no ')' without an open '('
    if expected & (_LAYER_START - {"LPAR"}):
        first = not re.sub(r"#[^\n]*|\s", "", text[:pos])
        return f"expected {_LAYER_HINT}" + (" or an input line such as 'input 224x224x3'"
                                            if first and "INPUT" in expected else "") + \
            (" or ')'" if "RPAR" in expected else "")
    if start == "dims_only" or re.search(r"input\s+\S*\Z", text[:pos], re.I):
        return f"expected {_join(expected)} (input is HxWxC, e.g. 224x224x3 or HxWx3)"
    after = f" after {word!r}" if word else ""
    if "_SEP" in expected and pos < len(text) and not text[pos].isspace():
        hint = ""
        if text[pos] in "xX" and re.match(r"(max|avg)?pool", word, re.I):
            hint = f" (to repeat a pool, write ({word})x{text[pos + 1:pos + 2] or 'N'})"
        elif text[pos] == "-" and re.match(r"dw", word, re.I):
            hint = (f" (dw takes no filter count: a depthwise conv keeps the channels; "
                    f"write {word}, and conv1-N after it to change them)")
        return f"expected whitespace between layers{after}{hint}"
    return f"expected {_join(expected)}{after}{_kernel_hint(word, expected)}"


_OPERANDS = {"NUMBER", "DECIMAL", "IDENT", "LPAR", "CALL"}


def _in_braces(text: str, pos: int) -> str | None:
    """The text of the braces open at ``pos`` (from the '{'), or None."""
    line = re.sub(r"#[^\n]*", "", text[:pos]).rsplit("\n", 1)[-1]
    start = line.rfind("{")
    return None if start < 0 or "}" in line[start:] else line[start:]


def _brace_expectation(text: str, pos: int, expected: set[str], braces: str) -> str:
    """What may come next inside {…}: an operand, or an operator or the end."""
    here = text[pos:pos + 1]
    if expected & _OPERANDS and not expected & {"PLUS", "MINUS", "STAR", "SLASH", "RBRACE"}:
        hint = ""
        if here == "-":
            hint = " (no unary minus: write 0-w)"
        elif here == "*" and text[pos - 1:pos] == "*":
            hint = " (no powers: write w*w)"
        elif here == ".":
            hint = " (a decimal has digits on both sides of its point: 0.5)"
        return (f"expected a number, a name, '(' or a function such as round(…) "
                f"({', '.join(sorted(FUNCTIONS))}) in braces{hint}")
    nested = braces.count("(") > braces.count(")")
    more = ", ',' or ')'" if nested else " or '}'"
    hint = " (a decimal has digits on both sides of its point: 0.5)" if here == "." else ""
    return f"expected an operator (+ - * / //){more} in braces{hint}"


def _kernel_hint(word: str, expected: set[str]) -> str:
    """conv3x64 is a 3×64 kernel waiting for its filter count."""
    m = re.fullmatch(r"(conv)([0-9]+)[xX]([0-9]+)", word, re.I)
    if not m or "MINUS" not in expected:
        return ""
    conv, k, n = m.groups()
    return (f" ({word} reads as a {k}×{n} kernel; for {n} filters write {conv}{k}-{n}, "
            f"for a {k}×{n} kernel {word}-N)")


def _join(expected: set[str]) -> str:
    names = [w for t, w in _WHAT.items() if t in expected] or sorted(expected)
    if not names:
        return "something else"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _open_parens(text: str, pos: int) -> bool:
    """Whether a '(' is open at ``pos`` (parentheses in comments do not count)."""
    code = re.sub(r"#[^\n]*", "", text[:pos])
    return code.count("(") > code.count(")")


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
