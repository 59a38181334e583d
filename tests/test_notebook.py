"""What a notebook shows: a real HTML table, a multi-line ``aligned`` block, a short repr,
sizes that print as formulas; and the per-layer shares of params and MACs."""

from __future__ import annotations

import json
from fractions import Fraction
from html.parser import HTMLParser

import pytest

import symcnn
from conftest import check_golden
from symcnn.cli import main
from symcnn.dims import Dim
from symcnn.formatting import _columns, display_rows, group_lines, share
from symcnn.notebook import REPR_LIMIT


class _Tables(HTMLParser):
    """The cells of every <table>: a list of tables, each a list of rows (tag, cells)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        assert self.tags.pop() == tag, f"</{tag}> closes another element"
        if tag in ("td", "th"):
            self.tables[-1][-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def _tables(text: str) -> list:
    p = _Tables()
    p.feed(text)
    p.close()
    assert p.tags == []  # every element closed
    return p.tables


# ── HTML: a real table, one row per line of the text table ─────────────────────────────

@pytest.mark.parametrize("net, input, depth", [
    ("vgg16", "224x224x3", None),
    ("examples/vgg16_paper.cnn", None, None),
    ("resnet50", "224x224x3", None),
    ("resnet50", "224x224x3", 1),
    ("(conv3-8 relu)x100 fc10", None, None),    # a repeat beyond EXPAND_LIMIT: "×100, each"
])
def test_html_is_a_table_with_a_row_per_table_line(net, input, depth):
    r = symcnn.analyze(net, input)
    text = r.to_html(depth) if depth else r._repr_html_()
    assert "<pre><table" not in text and not text.startswith("<pre>")
    (table,) = _tables(text)
    lines = display_rows(r.rows)
    n = len(lines) if depth is None else len(group_lines(lines, depth))
    assert len(table) == 1 + n + 1  # head, a row per line, the total
    head = table[0]
    assert head[:3] == ["#", "Layer", "Output"] and "Params %" in head and "MACs %" in head
    assert all(len(row) == len(head) for row in table)
    assert table[-1][1] == "Total"
    # the HTML cells are the text table's cells (indentation becomes padding)
    head, body = _columns(r, depth, shares=True)
    assert table == [head, *([c.strip() for c in cells] for cells in body)]


def test_html_cell_escaping_is_html_escape(monkeypatch):
    from symcnn import notebook
    r = symcnn.analyze("conv3-8 fc10", "32x32x3")
    head, body = notebook._columns(r, None, shares=True)
    body[1][1] = "<img src=x onerror=alert(1)> & co"
    monkeypatch.setattr(notebook, "_columns", lambda *a, **k: (head, body))
    html = notebook.to_html(r)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt; &amp; co" in html
    assert _tables(html)[0][2][1] == "<img src=x onerror=alert(1)> & co"


# ── LaTeX: one aligned block, one equation per line ────────────────────────────────────

def test_latex_repr_is_a_multi_line_aligned_block():
    r = symcnn.analyze("examples/vgg16_paper.cnn")
    tex = r._repr_latex_()
    assert tex.startswith("$$\\begin{aligned}\n") and tex.endswith("\n\\end{aligned}$$")
    lines = tex.splitlines()[1:-1]
    # five size rows (h_k beside w_k), params, activations and MACs (3 source lines each:
    # a sum broken after every three terms), the condition, the three floor-free forms
    assert len(lines) == 5 + 1 + 3 + 3 + 1 + 3
    assert lines[0] == (r"h_{1} &= \left\lfloor \frac{H}{2} \right\rfloor & "
                        r"w_{1} &= \left\lfloor \frac{W}{2} \right\rfloor \\")
    assert lines[5] == r"\text{params} &= 2{,}097{,}152 \cdot h_{5} \cdot w_{5} + 35{,}597{,}096 \\"
    assert lines[7].startswith(r"&\quad + 1{,}792 \cdot h_{3}")
    assert lines[12] == r"&\text{and where } 32 \mid H,\ 32 \mid W\text{:} \\"
    assert lines[-1] == r"\text{MACs} &= 307{,}904 \cdot H \cdot W + 20{,}873{,}216"
    assert all(len(line) < 140 for line in lines)  # no 300-character line


def test_latex_repr_of_a_concrete_input_gives_the_numbers_too():
    tex = symcnn.analyze("vgg16", "224x224x3")._repr_latex_()
    tail = tex.splitlines()[-5:]
    assert tail[0] == r"&\text{at } 224 \times 224 \times 3\text{:} \\"
    assert tail[3] == r"\text{MACs} &= 15{,}470{,}264{,}320"
    fixed = symcnn.analyze("input 32x32x3 conv3-8 fc10")._repr_latex_()
    assert r"\text{at }" not in fixed and fixed.count(r"\text{params}") == 1


def test_latex_repr_prints_symbols_through_the_checked_printer():
    tex = symcnn.analyze("conv3-8 pool fc10", "AxBx3")._repr_latex_()
    assert r"\left\lfloor \frac{A}{2} \right\rfloor" in tex and "floor(" not in tex


# ── repr: short; sizes read as formulas ────────────────────────────────────────────────

@pytest.mark.parametrize("net, input, expected", [
    ("vgg16", "224x224x3", "<symcnn.Report: input 224x224x3, 39 layers, params 138,357,544 "
     "(138.36 M), MACs 15,470,264,320 (15.47 G), float32, batch 1>"),
    ("conv3-8 fc10", None, "<symcnn.Report: input HxWxC, 2 layers, params 72·C + 80·H·W + "
     "18, MACs 72·C·H·W + 80·H·W, float32, batch 1>"),
])
def test_short_repr(net, input, expected):
    assert repr(symcnn.analyze(net, input)) == expected


@pytest.mark.parametrize("net", ["resnet50", "densenet121", "examples/vgg16_paper.cnn",
                                 "(conv3-8 relu)x100000 fc10"])
def test_repr_stays_short(net):
    r = symcnn.analyze(net)
    text = repr(r)
    assert len(text) <= REPR_LIMIT and text.startswith("<symcnn.Report: input ")
    assert "Network(" not in text and "Dim(" not in text


@pytest.mark.parametrize("dim, text, sympy_text", [
    (Dim("H", 0, 2), "⌊H/2⌋", "floor(H/2)"),
    (Dim("H", 1, 2, 1), "⌊(H + 1)/2⌋ + 1", "floor(H/2 + 1/2) + 1"),
    (Dim("W", 31, 32), "⌊(W + 31)/32⌋", "floor(W/32 + 31/32)"),
    (Dim("H", 0, 1, -1, 2), "2·H - 1", "2*H - 1"),
    (Dim("H"), "H", "H"),
])
def test_dim_prints_its_formula(dim, text, sympy_text):
    assert repr(dim) == text
    assert str(dim) == sympy_text  # str stays SymPy's spelling (as before)


def test_rows_out_reads_as_formulas():
    r = symcnn.analyze("examples/vgg16_paper.cnn")
    assert repr(r.rows[3].out) == "(⌊H/2⌋, ⌊W/2⌋, 64)"
    assert Dim("H", 0, 2) == Dim("H", 0, 2) and hash(Dim("H", 0, 2)) == hash(Dim("H", 0, 2))


# ── shares of params and MACs ──────────────────────────────────────────────────────────

@pytest.mark.parametrize("part, total, text", [
    (1, 4, "25.00%"), (1, 3, "33.33%"), (2, 3, "66.67%"),
    (1, 8, "12.50%"),                 # 12.5 exactly
    (1, 80_000, "<0.01%"),            # 0.00125 %: shown as a share, not as 0
    (1, 20_000, "0.01%"),             # 0.005 % rounds half up
    (79_999, 80_000, ">99.99%"),      # 99.99875 %: not shown as the whole
    (0, 7, "0%"), (7, 7, "100%"),
    (1, 0, None), (symcnn.analyze("fc10").totals["params"], 3, None),  # symbolic part
])
def test_share(part, total, text):
    assert share(part, total) == text


def _percent(text: str) -> Fraction:
    return Fraction(text.rstrip("%"))


@pytest.mark.parametrize("net", ["vgg16", "resnet50", "mobilenet_v2"])
def test_json_shares_add_up_to_the_totals(net):
    d = symcnn.analyze(net, "224x224x3").to_dict()
    copies = lambda layer: layer.get("repeat", 1)  # noqa: E731
    for q in ("params", "macs"):
        total = d["totals"][q]
        assert sum(copies(layer) * layer[q] for layer in d["layers"]) == total
        for layer in d["layers"]:
            s = layer[f"{q}_share"]
            exact = Fraction(100 * layer[q], total)
            if s == "<0.01%":
                assert 0 < exact < Fraction(1, 200)
            else:  # within half a hundredth of the exact percentage
                assert abs(_percent(s) - exact) <= Fraction(1, 200), (layer["name"], s)


def test_json_shares_where_the_total_is_symbolic():
    d = symcnn.analyze("resnet18").to_dict()  # params exact, MACs a formula in H, W
    assert all(layer["macs_share"] is None for layer in d["layers"])
    assert d["layers"][1]["params_share"] == "0.08%"  # 9,408 of 11,689,512


def test_table_shares_vgg16_cs231n():
    text = symcnn.analyze("examples/vgg16_cs231n.cnn").to_table(shares=True)
    # fc6: 7·7·512·4096 weights + 4096 biases of 138,357,544 params = 74.27 %
    (fc6,) = [line for line in text.splitlines() if f"{7 * 7 * 512 * 4096:,}" in line]
    assert "74.27%" in fc6.split()
    assert share(7 * 7 * 512 * 4096 + 4096, 138_357_544) == "74.27%"


def test_cli_shares_golden(capsys):
    assert main(["examples/vgg16_cs231n.cnn", "--shares"]) == 0
    check_golden("vgg16_cs231n.shares.table.txt", capsys.readouterr().out)
    assert main(["examples/vgg16_cs231n.cnn", "--shares", "-f", "markdown"]) == 0
    check_golden("vgg16_cs231n.shares.md", capsys.readouterr().out)


def test_cli_shares_with_csv_is_an_error(capsys):
    assert main(["vgg16", "--shares", "-f", "csv"]) == 2
    err = capsys.readouterr().err
    assert "--shares goes with the table and markdown" in err and "Traceback" not in err


def test_json_has_shares_in_every_layer():
    d = json.loads(symcnn.analyze("vgg16", "224x224x3").to_json())
    assert all({"params_share", "macs_share"} <= set(layer) for layer in d["layers"])
