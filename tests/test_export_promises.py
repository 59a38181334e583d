"""Promises of the exporters (issue 13): cheap per-row printing that matches SymPy's own,
totals linear in depth, LaTeX size names that cannot clash, the floor-free form only for
accepted inputs, and reports that say what their formulas are in.

Speed is measured in benchmarks/bench.py; here only structure is asserted (the printed
text, equality with SymPy's printers, operation counts).
"""

import json
import re

import pytest
import sympy

import symcnn
from symcnn.dims import MAX_INPUT
from symcnn.formatting import _PRINTER, Line, Style, _sum, is_number
from symcnn.latex import _short, _Writer
from symcnn.report import QUANTITIES, _total

ROW_QUANTITIES = ("activations", "weights", "biases", "params", "buffers", "macs")

# Networks whose rows exercise every shape of product SymPy builds: floors with offsets,
# sizes shifted by a constant (a number distributed over H − 4), symbolic widths (sums,
# products, floors of widths), groups, depthwise, merges, aux heads, a square input.
NETWORKS = [
    ("resnet18", None), ("resnet50", "224x224x3"), ("mobilenet_v2", None),
    ("inception_v3", None), ("densenet121", "HxWx3"), ("squeezenet1_0", None),
    ("vgg16", "HxWx3"), ("convnext_tiny", None), ("efficientnet_b0", None),
    ("conv3-k conv3-{k+8} conv3-8 fc{4w}", None),
    ("conv3-k/2 bn dw3 conv1-{w//2+8} fc10", None),
    ("input HxHx3\nconv3-8/2 pool3/2 conv3-8p0 fc10", None),
    ("input Hx1x3\nconv1x3-8 fc10", None),
    ("conv3-8p0 conv3-8p0/2 conv5-16/3p0 pool3/2ceil fc10", None),
    ("conv3-8 conv3-{2k}g2 conv3-{k+1}/2 bn", None),
    ("conv3-{k*m} se(4) ln scale conv1-{k+m} cat(conv1-k | relu)", None),
    ("conv3-8/2x3 conv3-8p0x5 fc10", "HxWxC"),
    ("input HxWx3\n" + "conv3-8p0 " * 30 + "pool2 conv3-8p0/2 " * 3 + "fc10", None),
    ("input HxWx3\nconv3-8p0/2 conv3-8p0 conv3-16p0 fc10 fc20", None),
    ("conv3-8/2 conv3-8p0 conv3-16/2 fc10", "224x224x3"),
]


def _reports():
    for text, given in NETWORKS:
        yield text, symcnn.analyze(text, given)


REPORTS = dict(_reports())


def _ref(value, style: str) -> str:
    if isinstance(value, int):
        return f"{value:,}" if style == "pretty" else str(value)
    return _PRINTER.doprint(value) if style == "pretty" else str(value)


@pytest.mark.parametrize("text", list(REPORTS))
def test_row_strings_equal_sympys_printing(text):
    """Every per-row value, printed from the factors, reads exactly as SymPy prints it
    (str for JSON and CSV, the pretty printer for tables and Markdown, LaTeX)."""
    report = REPORTS[text]
    latex = _Writer(report, {"H": r"H_{\mathrm{in}}"})
    for rows in (report.rows, report.formula_rows):
        for row in rows:
            for q in ROW_QUANTITIES:
                value = getattr(row, q)
                for style in ("str", "pretty"):
                    assert Style(style).value(row, q) == _ref(value, style), (row.name, q)
                assert is_number(row, q) == isinstance(value, int), (row.name, q)
                tex = latex.printer.doprint(sympy.Integer(value) if isinstance(value, int)
                                            else _short(value, latex.sizes))
                assert latex.style.value(row, q) == tex, (row.name, q)


@pytest.mark.parametrize("text", list(REPORTS))
def test_totals_and_group_sums_equal_sympys_sums(text):
    """The per-monomial totals equal ``Add(*terms).expand()``; the depth table's grouped
    sums equal ``Add(*terms)`` (same value, same type: int when every term is one)."""
    report = REPORTS[text]
    for rows in (report.rows, report.formula_rows):
        for q in QUANTITIES:
            terms = [r.count * getattr(r, q) for r in rows]
            want = sum(terms) if all(isinstance(t, int) for t in terms) else \
                sympy.Add(*terms).expand()
            got = _total(rows, q)
            assert got == want and type(got) is type(want), q
        lines = [Line(i, r, 3) for i, r in enumerate(rows)]
        for q in ("activations", "weights", "biases", "macs"):
            terms = [3 * getattr(r, q) for r in rows]
            want = sum(terms) if all(isinstance(t, int) for t in terms) else sympy.Add(*terms)
            got = _sum(lines, q)
            assert got == want and type(got) is type(want), q


def _stack(n: int, stride_every: int = 100) -> str:
    return " ".join(f"conv3-{64 + i % 37}" + ("/2" if i % stride_every == stride_every - 1
                                              else "") for i in range(n)) + " fc10"


def test_totals_of_many_distinct_sizes_stay_small():
    """20,000 unpadded layers: 20,000 distinct sizes H − 2k, whose totals collapse to a
    polynomial with a handful of terms (its size does not grow with depth)."""
    ops = []
    for n in (200, 2000):
        r = symcnn.analyze("conv3-8p0 " * n + "fc10")
        ops.append(sympy.count_ops(r.formulas["macs"]))
        assert set(map(str, r.formulas["macs"].free_symbols)) == {"C", "H", "W"}
    assert ops[0] == ops[1]


@pytest.mark.parametrize("fmt", ["to_table", "to_json", "to_csv", "to_markdown", "to_latex"])
def test_every_format_is_linear_in_depth(fmt):
    """Output size grows linearly with depth (4× the layers, at most ~4× the text: no
    row's formula, nor the totals, grows with the layers before it)."""
    def stack(n):  # three stride-2 layers early on, then rows alike but for their widths
        return " ".join(f"conv3-{64 + i % 37}" + ("/2" if i in (9, 19, 29) else "")
                        for i in range(n)) + " fc10"
    size = {n: len(getattr(symcnn.analyze(stack(n)), fmt)()) for n in (100, 400)}
    assert size[400] <= 4.4 * size[100]


@pytest.mark.parametrize("options", [{"layout": "compact"}, {"depth": 1}, {"standalone": True}])
def test_latex_layouts_are_linear_in_depth(options):
    """The compact layout (its floats of 40 lines), a longtable, grouped rows: 4× the
    layers, at most ~4× the text."""
    def stack(n):  # blocks of two convs (one row each at depth 1), three strides early on
        return "input HxWx3\ndef blk(c) = conv3-{c} relu\n" + " ".join(
            f"blk({64 + i % 37})" + (" conv3-64/2" if i in (9, 19, 29) else "")
            for i in range(n)) + " fc10"
    size = {n: len(symcnn.analyze(stack(n)).to_latex(**options)) for n in (100, 400)}
    assert size[400] <= 4.4 * size[100]


# ── LaTeX size names ─────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("text, names, expected", [
    ("input HxWx3\nconv3-{h_1} pool2 conv3-8 pool2", None, "H_{1}"),
    ("input HxWx3\nconv3-{h1} pool2 conv3-8 pool2", None, "H_{1}"),
    ("input HxWx3\nconv3-{h1} conv3-{H_1} pool2 conv3-8 pool2", None, "hh_{1}"),
    ("input HxWx3\nconv3-8 pool2 conv3-8 pool2", {"H": "h_1"}, "H_{1}"),
    ("input HxWx3\nconv3-8 pool2 conv3-8 pool2", {"H": "h_{ 1 }"}, "H_{1}"),
    ("input HxWx3\nconv3-8 pool2 conv3-8 pool2", None, "h_{1}"),
])
def test_latex_size_names_never_clash(text, names, expected):
    tex = symcnn.analyze(text).to_latex(symbol_names=names)
    defined = re.findall(r"^(\S+) &= \\left\\lfloor", tex, re.M)
    assert defined[0] == expected
    body = tex.split(r"\begin{align*}")[0]
    assert "^{2}" not in body  # the width and the size never merge into a square


def test_latex_width_named_like_a_size_keeps_its_own_name():
    tex = symcnn.analyze("input HxWx3\nconv3-{h_1} pool2 conv3-8 pool2").to_latex()
    assert r"H_{1} &= \left\lfloor \frac{H}{2} \right\rfloor & W_{1} &= \left\lfloor " \
        r"\frac{W}{2} \right\rfloor" in tex  # one naming scheme for both axes
    assert r"h_{1}" in tex  # the width, as the user wrote it
    assert r"h_{1} &=" not in tex


# ── The floor-free form only for accepted inputs ─────────────────────────────────────

HUGE = "conv1-8/2p1x40 fc10"  # total stride 2^27·10^12 along H and W


def test_no_floor_free_form_beyond_the_largest_input():
    r = symcnn.analyze(HUGE)
    assert r.multiples == {} and all(m > MAX_INPUT for m in r.strides.values())
    line = (f"(No floor-free form: H and W would have to be multiples of "
            f"{r.strides['H']}, more than the largest input, {MAX_INPUT:,}.)")
    assert r.to_table().splitlines()[-1] == line
    md = r.to_markdown()
    assert line in md and "Where H" not in md
    assert "formulas_divisible" not in json.loads(r.to_json())
    assert r"\intertext" not in r.to_latex()


def test_floor_free_form_where_the_multiple_is_an_input():
    r = symcnn.analyze("conv3-8/2x39 conv3-8/3 fc10")
    m = r.multiples["H"]
    assert m <= MAX_INPUT
    assert f"Where H and W are multiples of {m}:" in r.to_table()
    assert json.loads(r.to_json())["formulas_divisible"]["multiples"] == {"H": m, "W": m}
    assert rf"\intertext{{and where ${m} \mid H,\ {m} \mid W$:}}" in r.to_latex()


# ── What the formulas are in ─────────────────────────────────────────────────────────

VGG_FILE = "examples/vgg16_cs231n.cnn"


def _formula_block(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Formulas"))
    return lines[start:]


def test_a_given_symbolic_input_frees_a_files_fixed_input():
    from pathlib import Path
    text = (Path(__file__).parent.parent / VGG_FILE).read_text()
    r = symcnn.analyze(text, "HxWx3")
    assert r.formula_input == r.input and r.formula_input.symbols == ("H", "W")
    block = _formula_block(r.to_table())
    assert block[0].startswith("Formulas in H, W (positive integers")
    assert block[1] == "  params      = 2,097,152·⌊H/32⌋·⌊W/32⌋ + 35,597,096"
    assert "Where H and W are multiples of 32:" in block
    assert json.loads(r.to_json())["formulas"]["params"] == \
        "2097152*floor(H/32)*floor(W/32) + 35597096"
    assert "fixes the input" not in r.to_markdown()
    assert r"\text{params} &= 2{,}097{,}152 \cdot h_{5} \cdot w_{5}" in r.to_latex()


def test_formulas_keep_the_symbols_of_the_table():
    r = symcnn.analyze("resnet18", "HxWxC")
    table = r.to_table()
    assert "Total params:          3,136·C + 11,680,104" in table
    assert "  params      = 3,136·C + 11,680,104" in table
    assert "params      = 11,689,512" not in table
    assert r.formulas["params"] == r.totals["params"]
    assert json.loads(r.to_json())["formula_input"] == ["H", "W", "C"]


@pytest.mark.parametrize("given, formula_input", [
    (None, ("H", "W", 3)),               # the notation's input line
    ("224x224x3", ("H", "W", 3)),        # numbers in the table, formulas stay general
    ("HxWxC", ("H", "W", "C")),          # the given input frees C
    ("Ax5x3", ("A", "W", 3)),            # the table's name, the notation's free W
])
def test_formula_input_table(given, formula_input):
    r = symcnn.analyze("input HxWx3\nconv3-8 pool2 fc10", given)
    f = r.formula_input
    assert (f.height, f.width, f.channels) == formula_input


def test_a_fixed_input_with_symbolic_widths_says_what_the_totals_are():
    r = symcnn.analyze("input 32x32x3\nconv3-k bn relu conv3-{2k} pool fc10")
    block = _formula_block(r.to_table())
    assert block == ["Formulas: the notation fixes the input (32x32x3); the totals above "
                     "are exact, polynomials in the width k."]
    assert block[0] in r.to_markdown()
    r = symcnn.analyze("input 32x32x3\nconv3-k conv3-{k+m} fc10")
    assert _formula_block(r.to_table())[0].endswith("polynomials in the widths k, m.")
    r = symcnn.analyze("input 32x32x3\nconv3-8 fc10")
    assert _formula_block(r.to_table()) == [
        "Formulas: the notation fixes the input (32x32x3); the numbers above are exact."]


def test_a_given_concrete_input_is_the_formula_input_of_a_fixed_file():
    r = symcnn.analyze("input 224x224x3\nconv3-8 pool2 fc10", "32x32x3")
    assert r.formula_input == r.input
    assert r.formulas["params"] == r.totals["params"] == 3 * 3 * 3 * 8 + 8 + 16 * 16 * 8 * 10 + 10
    assert "fixes the input (32x32x3)" in r.to_table()


def test_latex_refuses_when_every_size_name_is_taken():
    r = symcnn.analyze("input HxWx3\nconv3-{h_1} conv3-{H_1} conv3-{hh_1} pool2 fc10")
    with pytest.raises(symcnn.SymCNNError, match="clash with a symbol of the network"):
        r.to_latex()


def test_latex_with_renamed_sizes_compiles(tmp_path):
    from conftest import pdflatex
    pdflatex(tmp_path, symcnn.analyze("input HxWx3\nconv3-{h_1} pool2 conv3-8 pool2")
             .to_latex(standalone=True))


def test_latex_environments_balance_without_strides():
    """A symbolic network with no stride has no size definitions: the formulas block opens
    and closes once (a stray \\end{align*} stopped pdflatex)."""
    for text in ("relu", "conv3-8 bn relu", "vgg16"):
        t = symcnn.analyze(text).to_latex()
        assert t.count(r"\begin{align*}") == t.count(r"\end{align*}") >= 1, text
