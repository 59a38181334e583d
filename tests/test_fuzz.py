"""Grammar-aware property tests: whatever the text, symcnn answers or raises SymCNNError.

Hypothesis writes notations from every construct of the grammar (layers with all their
options, pools, fc, bn, activations, repeats, res/add/cat/se/aux blocks, definitions and
calls, symbolic widths in braces, input lines, comments, CRLF and tabs) and mutates them
(characters and tokens inserted, deleted and swapped, random unicode, very long digit
runs). Each text goes through ``parse``, ``analyze`` on its own input and on random sizes,
and through every exporter the report has. Only a :class:`symcnn.SymCNNError` may escape;
for valid networks ``parse(str(net)) == net`` and the rows add up to the totals.

The suite is deterministic (``derandomize``); ``SYMCNN_FUZZ_RANDOM=1`` explores with fresh
randomness and ``SYMCNN_FUZZ_SCALE=10`` runs ten times as many examples.
"""

from __future__ import annotations

import os
import string

import pytest
import sympy

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, Phase, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import symcnn  # noqa: E402
from symcnn import SymCNNError  # noqa: E402

SCALE = float(os.environ.get("SYMCNN_FUZZ_SCALE", "1"))
RANDOM = os.environ.get("SYMCNN_FUZZ_RANDOM", "") not in ("", "0")


def fuzz_settings(n: int, **kwargs):
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, database=None,
                    derandomize=not RANDOM, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much], **kwargs)


# ------------------------------------------------------------------ valid notations

small = st.integers(1, 8)
size = st.one_of(st.integers(1, 8), st.sampled_from([11, 16, 32, 64, 10**12]))
letter = st.sampled_from("kmnw")


@st.composite
def width(draw, symbolic=True):
    """A channel count: a number, a letter, or an expression in braces."""
    if not symbolic or draw(st.integers(0, 3)):
        return str(draw(st.one_of(st.integers(1, 64), st.just(10**12))))
    kind = draw(st.integers(0, 5))
    a = draw(letter)
    if kind == 0:
        return a
    if kind == 5:  # names that need braces
        return "{" + draw(st.sampled_from(["x", "X", "width", "w2", "k2", "ab"])) + "}"
    if kind == 1:
        return "{" + f"{draw(small)}{a}" + "}"
    if kind == 2:
        return "{" + f"{a}//{draw(small)}+{draw(small)}" + "}"
    if kind == 3:
        return "{" + f"{a}*{draw(letter)}-{draw(small)}" + "}"
    return "{" + f"({a}+{draw(small)})*{draw(small)}" + "}"


def case(s: str, draw) -> str:
    return draw(st.sampled_from([s, s.upper(), s.capitalize()]))


@st.composite
def kernel(draw):
    k = str(draw(size))
    return k if draw(st.booleans()) else f"{k}x{draw(size)}"


@st.composite
def conv(draw, symbolic=True):
    opts = [f"/{draw(size)}", f"p{draw(st.integers(0, 4))}", "psame", f"d{draw(small)}",
            f"g{draw(small)}", "nb"]
    chosen = draw(st.lists(st.sampled_from(opts), max_size=3, unique=True))
    if draw(st.booleans()):
        return case("dw", draw) + draw(kernel()) + "".join(o for o in chosen if o[0] != "g")
    return case("conv", draw) + draw(kernel()) + "-" + draw(width(symbolic)) + "".join(chosen)


@st.composite
def pool(draw):
    name = case(draw(st.sampled_from(["pool", "maxpool", "avgpool"])), draw)
    k = draw(st.integers(1, 5))
    kern = draw(st.sampled_from(["", str(k), f"{k}x{draw(st.integers(1, 5))}"]))
    opts = [f"/{draw(small)}", f"p{draw(st.integers(0, k // 2))}", "ceil"]
    return name + kern + "".join(draw(st.lists(st.sampled_from(opts), max_size=3,
                                               unique=True)))


@st.composite
def simple(draw, symbolic=True):
    kind = draw(st.integers(0, 9))
    if kind <= 2:
        return draw(conv(symbolic))
    if kind == 3:
        return draw(pool())
    if kind == 4:
        return draw(st.sampled_from(["adaptiveavgpool", "AdaptiveAvgPool"])) + \
            draw(st.sampled_from([str(draw(small)), f"{draw(small)}x{draw(small)}"]))
    if kind == 5:
        return draw(st.sampled_from(["fc", "fc-", "FC-"])) + draw(width(symbolic))
    if kind == 6:
        return f"se({draw(width(symbolic))})"
    return draw(st.sampled_from(["bn", "ln", "scale", "gap", "relu", "relu6", "silu",
                                 "swish", "sigmoid", "hardswish", "hardsigmoid", "gelu",
                                 "tanh", "dropout", "softmax", "soft-max", "lrn", "BN",
                                 "ReLU", "shuffle", "prelu", "gn2", "GN4", "pad64"]))


SEPS = [" ", " ", " ", "\n", "\t", "\r\n", "  # a comment\n", " \n\n "]


def sep(draw) -> str:
    return draw(st.sampled_from(SEPS))


def items(draw, depth: int, symbolic: bool, calls: list[tuple[str, int]], n=(1, 5)) -> str:
    parts = [draw(item(depth, symbolic, calls)) for _ in range(draw(st.integers(*n)))]
    out = parts[0]
    for p in parts[1:]:
        out += sep(draw) + p
    return out


@st.composite
def item(draw, depth=2, symbolic=True, calls=()):
    kind = draw(st.integers(0, 12 if depth > 0 else 5))
    if kind <= 4 or depth <= 0:
        layer = draw(simple(symbolic))
        if kind == 0 and not layer.lower().startswith(("pool", "maxpool", "avgpool")):
            layer += f"x{draw(st.sampled_from([1, 2, 3, 10**12]))}"
        return layer
    if kind == 5:
        if not calls:
            return draw(simple(symbolic))
        name, nparams = draw(st.sampled_from(list(calls)))
        args = [draw(st.one_of(st.integers(0, 9).map(str), width(symbolic)))
                for _ in range(draw(st.integers(0, nparams)))]
        return f"{name}({', '.join(args)})" + draw(st.sampled_from(["", "", "x2"]))
    inner = lambda n=(1, 3): items(draw, depth - 1, symbolic, list(calls), n)  # noqa: E731
    if kind in (6, 7):
        return f"({inner()})x{draw(st.sampled_from([1, 2, 3, 64, 65, 10**12]))}"
    if kind == 8:
        return f"({inner()})"
    if kind == 9:
        body = inner()
        return f"res({body})" if draw(st.booleans()) else f"res({body} | {inner()})"
    if kind == 10:
        branches = [inner() if draw(st.integers(0, 3)) else ""
                    for _ in range(draw(st.integers(1, 3)))]
        if not any(branches):
            branches[0] = "relu"
        op = draw(st.sampled_from(["add", "cat", "split"]))
        return f"{op}(" + " | ".join(branches) + ")"
    if kind == 11:
        return f"aux({inner()})"
    return f"se({draw(width(symbolic))})"


@st.composite
def input_line(draw):
    dims = [draw(st.one_of(st.sampled_from(["H", "W", "C", "h"]),
                           st.integers(1, 300).map(str))) for _ in range(3)]
    return case("input", draw) + " " + "x".join(dims)


@st.composite
def notation(draw, symbolic=True):
    """A syntactically valid notation (its shapes may still fail: that is a ShapeError)."""
    lines = []
    if draw(st.booleans()):
        lines.append(draw(input_line()))
    calls: list[tuple[str, int]] = []
    for i in range(draw(st.integers(0, 3))):
        params = draw(st.lists(st.sampled_from(["w", "s", "k2", "width"]), max_size=3,
                               unique=True))
        defaults = [f"{p}={draw(st.integers(1, 4))}" if draw(st.integers(0, 2)) == 0 else p
                    for p in params]
        # a parameter with a default may only be followed by others with one: not
        # required by the grammar, so both orders are fine here
        body = items(draw, 1, symbolic, list(calls), (1, 3))
        lines.append(f"def blk{i}({', '.join(defaults)}) = ({body})")
        calls.append((f"blk{i}", len(params)))
    lines.append(items(draw, 2, symbolic, calls, (1, 6)))
    text = ""
    for line in lines:
        text += line + draw(st.sampled_from(["\n", "\r\n", "\n# comment\n", "\n\n"]))
    return text


# ------------------------------------------------------------------ mutations

ALPHABET = "conv pool fc relu bn dw gap res add cat se aux def input x X - / p d g nb " \
           "ceil same ( ) | { } , = + * // # \n \t \r 0 1 2 3 9 H W C k w".split(" ")
WEIRD = ["\x00", "\x0b", "\x0c", "\u2028", "\u00a0", "\u3000", "\u202e", "\ufeff", "é", "中",
         "\U0001f600", "\udcff", "\x7f", "ﬁ", "Ⅻ", "٣", "𝟘", "\u0301"]


@st.composite
def mutated(draw):
    text = draw(notation())
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 7))
        pos = draw(st.integers(0, len(text)))
        if kind == 0:    # insert a grammar token
            text = text[:pos] + draw(st.sampled_from(ALPHABET)) + text[pos:]
        elif kind == 1:  # delete a span
            end = min(len(text), pos + draw(st.integers(1, 4)))
            text = text[:pos] + text[end:]
        elif kind == 2 and len(text) > 1:  # swap two characters
            a, b = sorted((pos % len(text), draw(st.integers(0, len(text) - 1))))
            text = text[:a] + text[b] + text[a + 1:b] + text[a] + text[b + 1:] if a < b \
                else text
        elif kind == 3:  # random unicode
            text = text[:pos] + draw(st.one_of(st.sampled_from(WEIRD), st.text(max_size=3))) \
                + text[pos:]
        elif kind == 4:  # a very long digit run
            text = text[:pos] + draw(st.sampled_from(["9", "0", "1"])) * draw(
                st.sampled_from([13, 14, 40, 3000])) + text[pos:]
        elif kind == 5:  # duplicate a slice
            end = min(len(text), pos + draw(st.integers(1, 12)))
            text = text[:end] + text[pos:end] + text[end:]
        elif kind == 6:  # change a character's case
            text = text[:pos] + text[pos:pos + 1].swapcase() + text[pos + 1:]
        else:            # unbalance a bracket
            text = text[:pos] + draw(st.sampled_from("(){}|")) + text[pos:]
    return text


# ------------------------------------------------------------------ the checks

EXPORTERS = [("to_table", {}), ("to_table", {"depth": 1}), ("to_json", {}),
             ("to_markdown", {}), ("to_csv", {}), ("to_latex", {}), ("to_dict", {})]


def export_all(report) -> None:
    for name, kwargs in EXPORTERS:
        method = getattr(report, name, None)
        if method is not None:
            out = method(**kwargs)
            assert isinstance(out, (str, dict))


def guarded(fn, *args, **kwargs):
    """fn's result, or None if it raised a SymCNNError (anything else fails the test)."""
    try:
        return fn(*args, **kwargs)
    except SymCNNError as e:
        assert str(e)  # every error has a message
        if isinstance(e, symcnn.NotationError) and e.line:
            assert e.column >= 1
        return None


def check_text(text: str, sizes) -> None:
    net = guarded(symcnn.parse, text)
    report = guarded(symcnn.analyze, text)
    if report is not None:
        guarded(export_all, report)
    for h, w, c in sizes:
        r = guarded(symcnn.analyze, text, (h, w, c))
        if r is not None:
            guarded(export_all, r)
    if net is not None:
        guarded(symcnn.analyze, net, "HxWx3")


sizes = st.lists(st.tuples(st.one_of(st.integers(1, 300), st.just(10**9)),
                           st.one_of(st.integers(1, 300), st.just(10**9)),
                           st.integers(1, 64)), max_size=2)


@fuzz_settings(250)
@given(notation(), sizes)
def test_valid_notations_answer_or_raise_symcnn_errors(text, sizes):
    check_text(text, sizes)


@fuzz_settings(250)
@given(mutated(), sizes)
def test_mutated_notations_answer_or_raise_symcnn_errors(text, sizes):
    check_text(text, sizes)


@fuzz_settings(100)
@given(st.text(max_size=60), sizes)
def test_arbitrary_text_answers_or_raises_symcnn_errors(text, sizes):
    check_text(text, sizes)


@fuzz_settings(60)
@given(st.text(alphabet=string.printable, max_size=20))
def test_input_sizes_parse_or_raise_symcnn_errors(text):
    report = guarded(symcnn.analyze, "conv3-8 pool", text)
    if report is not None:
        guarded(export_all, report)


def _printer_round_trips() -> bool:
    """Whether layers.value_text prints what the grammar reads back (k*k, not k**2; a
    floor in a product in parentheses; no leading minus) and Repeat parenthesises a dw
    layer ((dw3)x2, not dw3x2, a 3×2 kernel)."""
    from symcnn.layers import value_text
    k = symcnn.dims.size_symbol("k")
    return "**" not in value_text(k**2) and value_text(3 * sympy.floor(k / 2)) != \
        "{3*k//2}" and str(symcnn.parse("dw3x3x2")) != "dw3x2"


PRINTER_OK = _printer_round_trips()


@pytest.mark.xfail(not PRINTER_OK, strict=True,
                   reason="symcnn/layers.py prints k**2, 3*k//2 for 3*(k//2), -k+w and "
                          "dw3x2 for (dw3)x2: not notation the parser reads back")
@fuzz_settings(150, **({} if PRINTER_OK else {"phases": [Phase.generate]}))  # no shrinking
@given(notation())
def test_str_round_trips(text):
    net = guarded(symcnn.parse, text)
    assume(net is not None)
    again = symcnn.parse(str(net))
    assert again == net
    assert str(again) == str(net)


def same(a, b) -> bool:
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    return sympy.expand(sympy.sympify(a) - sympy.sympify(b)) == 0


@fuzz_settings(150)
@given(notation(symbolic=False), st.tuples(st.integers(8, 300), st.integers(8, 300),
                                           st.integers(1, 16)))
def test_rows_add_up_to_the_totals(text, size):
    for report in (guarded(symcnn.analyze, text), guarded(symcnn.analyze, text, size)):
        if report is None:
            continue
        for q in ("params", "weights", "biases", "buffers", "activations", "macs"):
            total = sum((r.count * getattr(r, q) for r in report.rows), 0)
            assert same(total, report.totals[q]), q
        assert same(report.totals["params"],
                    report.totals["weights"] + report.totals["biases"])
        assert same(report.totals["flops"], 2 * report.totals["macs"])
        if report.symbolic:
            continue
        assert all(isinstance(v, int) and v >= 0 for v in report.totals.values())
        # the closed forms, at this input, are these numbers
        given_dims = (report.input.height, report.input.width, report.input.channels)
        formula_dims = (report.formula_input.height, report.formula_input.width,
                        report.formula_input.channels)
        pairs = {(s, v) for s, v in zip(formula_dims, given_dims) if isinstance(s, str)}
        free = {symcnn.dims.size_symbol(s): v for s, v in pairs}
        if len(free) < len(pairs) or any(s != v for s, v in zip(formula_dims, given_dims)
                                         if not isinstance(s, str)):
            continue  # input HxHxH asked for at 8x8x1, or 8x8x3 at 8x8x2: other formulas
        for q in ("params", "activations", "macs"):
            assert report.formulas[q].xreplace(free) == report.totals[q], q
