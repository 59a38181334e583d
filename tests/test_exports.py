"""Exporters: golden files for every format (VGG-16 as CS231n writes it, ResNet-50), a real
pdflatex compile, LaTeX injection attempts, notebook reprs.

Update the golden files after an intended change with:  SYMCNN_UPDATE_GOLDEN=1 pytest
"""

import csv
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import symcnn
from symcnn import SymCNNError
from symcnn.latex import latex_escape

from conftest import check_golden, pdflatex

ROOT = Path(__file__).parent.parent
IN_CI = bool(os.environ.get("CI"))

CASES = {
    "vgg16_cs231n": lambda: symcnn.analyze((ROOT / "examples" / "vgg16_cs231n.cnn").read_text()),
    "vgg16_symbolic": lambda: symcnn.analyze((ROOT / "examples" / "vgg16_paper.cnn").read_text()),
    "resnet50": lambda: symcnn.analyze("resnet50", "224x224x3"),
}
FORMATS = {
    "table.txt": lambda r: r.to_table(depth=1 if len(r.rows) > 60 else None),
    "json": lambda r: r.to_json(),
    "csv": lambda r: r.to_csv(),
    "md": lambda r: r.to_markdown(),
    "tex": lambda r: r.to_latex(depth=1 if len(r.rows) > 60 else None),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_golden(case, fmt):
    check_golden(f"{case}.{fmt}", FORMATS[fmt](CASES[case]()))


def test_json_and_csv_are_exact_and_consistent():
    r = CASES["resnet50"]()
    d = json.loads(r.to_json())
    assert d["totals"]["params"] == 25_557_032 and d["totals"]["buffers"] == 53_120
    rows = list(csv.DictReader(io.StringIO(r.to_csv())))
    assert sum(int(x["params"]) * int(x["repeat"]) for x in rows) == 25_557_032
    assert sum(int(x["macs"]) * int(x["repeat"]) for x in rows) == 4_089_184_256
    assert rows[0]["name"] == "input" and rows[5]["block"].startswith("project(64, 256, 1)")


def test_markdown_escapes_pipes():
    md = symcnn.analyze("cat(conv1-8 | conv1-4)", (4, 4, 3)).to_markdown()
    assert all(line.count(" | ") + line.count("|") >= 8 for line in md.splitlines()
               if line.startswith("| "))
    assert "`cat(conv1-8 \\| conv1-4)`" not in md  # merge rows are named 'cat'


def test_latex_uses_grouped_digits_and_sizes():
    tex = CASES["vgg16_symbolic"]().to_latex(symbol_names={"H": r"H_{\mathrm{in}}"})
    assert "2{,}097{,}152 \\cdot h_{5} \\cdot w_{5} + 35{,}597{,}096" in tex
    assert r"h_{5} &= \left\lfloor \frac{H_{\mathrm{in}}}{32} \right\rfloor" in tex
    assert r"\intertext{and where $32 \mid H_{\mathrm{in}},\ 32 \mid W$:}" in tex
    assert r"2{,}048 \cdot H_{\mathrm{in}} \cdot W + 35{,}597{,}096" in tex


@pytest.mark.parametrize("field, value", [
    ("caption", r"\input{/etc/passwd}"), ("caption", r"\write18{rm -rf /}"),
    ("caption", "100% } { $x$ & # ~ ^ _"),
])
def test_latex_caption_is_escaped(field, value):
    tex = CASES["vgg16_cs231n"]().to_latex(**{field: value})
    caption = next(line for line in tex.splitlines() if line.startswith(r"\caption{"))
    assert r"\input" not in caption and r"\write" not in caption
    assert caption == r"\caption{" + latex_escape(value) + "}"
    assert "%" not in caption.replace(r"\%", "")


@pytest.mark.parametrize("kwargs", [
    {"label": r"tab}\input{x"}, {"label": "a%b"}, {"label": ""},
    {"symbol_names": {"H": r"\input{x}"}}, {"symbol_names": {"H": r"\write18{ls}"}},
    {"symbol_names": {"H": "H}"}}, {"symbol_names": {"H": "H%"}},
    {"symbol_names": {"H": r"H_{\mathrm{in}"}}, {"depth": 0},
])
def test_latex_refuses_unsafe_names(kwargs):
    with pytest.raises(SymCNNError):
        CASES["vgg16_symbolic"]().to_latex(**kwargs)


def test_layer_names_are_escaped_in_latex():
    tex = symcnn.analyze("def f_1(a) = conv1-{a*2}\nf_1(4) cat(relu | relu)", (3, 3, 1)).to_latex()
    assert r"\texttt{conv1-8}" in tex and r"f\_1(4)" not in tex  # blocks appear at depth only
    tex = symcnn.analyze("def f_1(a) = conv1-{a*2}\nf_1(4)", (3, 3, 1)).to_latex(depth=1)
    assert r"\texttt{f\_1(4)}" in tex


def test_notebook_reprs():
    r = CASES["vgg16_symbolic"]()
    assert r._repr_markdown_().startswith("**symcnn**")
    assert r._repr_latex_().startswith("$$\\begin{aligned}")
    assert "<table" in r._repr_html_() and "<pre><table" not in r._repr_html_()  # tests/test_notebook.py


def _tex_tools() -> bool:
    have = shutil.which("pdflatex") and shutil.which("pdftotext")
    if not have and IN_CI:
        pytest.fail("pdflatex and pdftotext are required in CI (apt-get install "
                    "texlive-latex-base texlive-latex-recommended poppler-utils)")
    if not have:
        pytest.skip("pdflatex/pdftotext not installed (texlive-latex-base, poppler-utils)")
    return True


@pytest.mark.parametrize("case, needles", [
    ("vgg16_cs231n", ["138,357,544", "15,237,608", "102,760,448"]),
    ("resnet50", ["25,557,032", "4,089,184,256"]),
    ("vgg16_symbolic", ["2,097,152", "35,597,096"]),
])
def test_pdflatex_compiles(tmp_path, case, needles):
    _, text = pdflatex(tmp_path, CASES[case]().to_latex(standalone=True, depth=1,
                                                        caption="symcnn & LaTeX: 100%"))
    for needle in needles:
        assert needle in text, needle
    assert "symcnn & LaTeX: 100%" in text


def test_fragment_inputs_into_a_document(tmp_path):
    _tex_tools()
    (tmp_path / "table.tex").write_text(CASES["vgg16_cs231n"]().to_latex(label="tab:vgg"))
    (tmp_path / "paper.tex").write_text(
        "\\documentclass{article}\\usepackage{booktabs}\\usepackage{amsmath}"
        "\\begin{document}See Table~\\ref{tab:vgg}.\\input{table}\\end{document}\n")
    for _ in range(2):  # twice, for the reference
        run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                              "paper.tex"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stdout[-2000:]
    text = subprocess.run(["pdftotext", "paper.pdf", "-"], cwd=tmp_path, capture_output=True,
                          text=True).stdout
    assert "See Table 1." in text and "138,357,544" in text


@pytest.mark.parametrize("kwargs, shown", [
    ({"caption": "α = 1, Größe 中 × 2 & 100%"}, ["U+4E2D", "& 100%", "α"]),
    ({"caption_tex": r"VGG-16, $\alpha=1$, after \textbf{Simonyan}"}, ["VGG-16,", "Simonyan"]),
])
def test_captions_compile_above_the_table(tmp_path, kwargs, shown):
    tex = CASES["vgg16_cs231n"]().to_latex(standalone=True, **kwargs)
    lines = tex.splitlines()
    assert lines.index(next(l for l in lines if l.startswith(r"\caption"))) < \
        lines.index(next(l for l in lines if l.startswith(r"\begin{tabular}")))
    _, text = pdflatex(tmp_path, tex)
    for needle in shown:
        assert needle in text, (needle, text[:400])


def test_caption_text_and_tex_are_exclusive_and_the_input_is_math():
    with pytest.raises(symcnn.SymCNNError, match="not both"):
        CASES["vgg16_cs231n"]().to_latex(caption="a", caption_tex="b")
    assert r"on input $224\times 224\times 3$" in CASES["vgg16_cs231n"]().to_latex()
    assert r"\caption{\$alpha\$}" in CASES["vgg16_cs231n"]().to_latex(caption="$alpha$")
    from symcnn.cli import main
    assert main(["vgg16", "-f", "latex", "--caption-tex", r"$\beta$ \cite{x}"]) == 0


# ── Tables that fit the page (issue 14) ──────────────────────────────────────────────

def _overfull(log: str) -> list[float]:
    """Boxes more than 5pt too wide (rounding-size ones are not a layout problem)."""
    return [float(x) for x in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide", log)
            if float(x) > 5]


def _compile_twice(folder, tex: str) -> tuple[str, str]:
    """Compile twice (the second run resolves the table's \\eqref and longtable's
    widths) and check the page: no box over 5pt too wide, no float too large, no
    undefined reference."""
    pdflatex(folder, tex)
    log, text = pdflatex(folder, tex)
    assert _overfull(log) == [], "wider than the page"
    assert "Float too large" not in log
    assert "undefined" not in log.lower().replace("undefined control", ""), "a dangling \\ref"
    return log, text


def _vgg_paper():
    return symcnn.analyze((ROOT / "examples" / "vgg16_paper.cnn").read_text())


# The networks of the issue, and numbers each must show (totals and one row's MACs).
PAGE_CASES = {
    "vgg16_paper": (_vgg_paper, None, ["2,097,152 · h5 · w5 + 35,597,096",
                                       "2,359,296 · h4 · w4", "212 / 32"]),
    "vgg16": (lambda: symcnn.analyze("vgg16"), None, ["138,357,544", "1,179,648 · h3 · w3"]),
    "vgg16_224": (lambda: symcnn.analyze("vgg16", "224x224x3"), None,
                  ["138,357,544", "15,470,264,320", "1,849,688,064"]),
    "resnet50": (lambda: symcnn.analyze("resnet50"), None, ["25,557,032",
                                                            "36,864 · h2 · w2"]),
    "resnet50_d1": (lambda: symcnn.analyze("resnet50"), 1, ["25,557,032", "427 / 32",
                                                            "+ 5,505,024 · h5 · w5"]),
    "resnet50_224": (lambda: symcnn.analyze("resnet50", "224x224x3"), None,
                     ["25,557,032", "4,089,184,256", "115,605,504"]),
    "mobilenet_v2": (lambda: symcnn.analyze("mobilenet_v2"), None, ["3,504,872"]),
    "densenet121": (lambda: symcnn.analyze("densenet121"), None, ["7,978,856"]),
    "densenet121_224": (lambda: symcnn.analyze("densenet121", "224x224x3"), None,
                        ["7,978,856", "2,834,161,664", "25,690,112"]),
}


@pytest.mark.parametrize("case", sorted(PAGE_CASES))
def test_latex_fits_the_page(tmp_path, case):
    make, depth, needles = PAGE_CASES[case]
    report = make()
    tex = report.to_latex(standalone=True, depth=depth)
    _, text = _compile_twice(tmp_path, tex)
    for needle in needles:
        assert needle in text, needle
    t = report.totals
    if not isinstance(t["macs"], int):  # the symbolic totals: in the numbered formulas
        assert "see (" in text and r"\label{symcnn:macs}" in tex


@pytest.mark.parametrize("case", sorted(PAGE_CASES))
def test_compact_layout_fits_a_column(tmp_path, case):
    make, depth, needles = PAGE_CASES[case]
    report = make()
    frag = report.to_latex(layout="compact", depth=depth if depth else None, label="tab:n")
    doc = ("\\documentclass[twocolumn]{article}\\usepackage{booktabs}\\usepackage{amsmath}"
           "\\begin{document}\nSee Table~\\ref{tab:n}.\n" + frag + "\\end{document}\n")
    _, text = _compile_twice(tmp_path, doc)
    assert "See Table 1." in text and "\\begin{longtable}" not in frag
    params = t if isinstance(t := report.totals["params"], int) else None
    if params is not None:
        assert f"{params:,}" in text
    assert "continued" in text or frag.count(r"\begin{table}") == 1


def test_long_tables_are_longtables_and_short_ones_floats():
    short = CASES["vgg16_cs231n"]().to_latex()
    assert r"\begin{table}[htbp]" in short and "longtable" not in short
    assert short.startswith(r"% symcnn: needs \usepackage{booktabs} and \usepackage{amsmath}")
    long = CASES["resnet50"]().to_latex()
    assert r"\begin{longtable}{llllrl}" in long and r"\endhead" in long
    assert long.startswith(r"% symcnn: needs \usepackage{booktabs, longtable} and")
    assert r"\usepackage{longtable}" in CASES["resnet50"]().to_latex(standalone=True)
    compact = CASES["resnet50"]().to_latex(layout="compact")
    assert "longtable" not in compact and compact.count(r"\begin{table}") >= 4
    assert compact.count(r"\caption{") == 1  # later floats: "Table n (continued)"
    with pytest.raises(SymCNNError, match="layout must be one of full, compact"):
        CASES["resnet50"]().to_latex(layout="wide")


def test_no_cell_carries_a_long_total():
    """A total of more than CELL_TERMS terms refers to its numbered line (label from the
    table's label), and that line is the same formula; short totals stay in the cell."""
    from symcnn.latex import CELL_TERMS
    tex = _vgg_paper().to_latex(label="tab:vgg")
    total = next(line for line in tex.splitlines() if line.startswith("Total &"))
    assert total == (r"Total & & see~\eqref{tab:vgg:activations} & $2{,}097{,}152 \cdot h_{5} "
                     r"\cdot w_{5} + 35{,}583{,}680$ & see~\eqref{tab:vgg:macs} & \\")
    assert r"\begin{align}" in tex and r"+ 20{,}873{,}216 \label{tab:vgg:macs} \\" in tex
    assert tex.count(r"\label{tab:vgg:") == 2 and CELL_TERMS == 2
    # numbers only: nothing to refer to, the formulas stay unnumbered
    tex = CASES["resnet50"]().to_latex()
    assert r"\eqref" not in tex and r"\begin{align}" not in tex
    # a table at a different input than the formulas: the sum is stacked in the cell
    tex = symcnn.analyze("input HxWx3\nconv3-8 pool2 conv3-8 pool2 conv3-8", "Ax5x3").to_latex()
    total = next(line for line in tex.splitlines() if line.startswith("Total &"))
    assert r"\eqref" not in total and r"\begin{array}[t]" in total


@pytest.mark.parametrize("tex, terms", [
    (r"3 \cdot H \cdot W", [r"3 \cdot H \cdot W"]),
    (r"a + b - 2", ["a", "+ b", "- 2"]),
    (r"\left\lfloor \frac{H + 1}{2} \right\rfloor + 5", [r"\left\lfloor \frac{H + 1}{2} "
                                                         r"\right\rfloor", "+ 5"]),
    (r"k \cdot \left(k + 8\right) - k", [r"k \cdot \left(k + 8\right)", "- k"]),
    (r"-3 + H", ["-3", "+ H"]),
])
def test_sums_split_at_their_top_level_terms(tex, terms):
    from symcnn.latex import _terms, stack
    assert _terms(tex) == terms
    stacked = stack(tex)
    assert stacked == f"${tex}$" if len(terms) == 1 else stacked.count(r" \\ ") == len(terms) - 1


def test_receptive_field_column_in_latex_and_csv():
    r = CASES["vgg16_cs231n"]()
    rows = list(csv.DictReader(io.StringIO(r.to_csv())))
    pool5 = [x for x in rows if x["name"] == "pool2"][-1]
    assert [pool5[k] for k in ("receptive_field_h", "receptive_field_w", "jump_h",
                               "jump_w")] == ["212", "212", "32", "32"]
    assert rows[-1]["receptive_field_h"] == "all" and rows[0]["jump_w"] == "1"
    tex = r.to_latex()
    assert r"& 212 / 32 \\" in tex and r"& all \\" in tex
    alex = symcnn.analyze("alexnet", "224x224x3")
    last_pool = [x for x in csv.DictReader(io.StringIO(alex.to_csv()))
                 if x["kind"] == "pool"][-1]
    assert (last_pool["receptive_field_h"], last_pool["jump_h"]) == ("195", "32")
    # not one number: four empty cells, and --- in LaTeX
    r = symcnn.analyze("conv3-8 adaptiveavgpool2 fc10", "32x32x3")
    row = [x for x in csv.DictReader(io.StringIO(r.to_csv())) if x["kind"] ==
           "adaptiveavgpool"][0]
    assert [row[k] for k in ("receptive_field_h", "jump_w")] == ["", ""]
    assert r"& --- \\" in r.to_latex()


def test_layout_from_the_command_line(capsys):
    from symcnn.cli import main
    assert main(["resnet50", "-f", "latex", "--layout", "compact", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert r"\begin{tabular*}{\columnwidth}" in out and "RF /" not in out
    with pytest.raises(SystemExit) as e:
        main(["resnet50", "-f", "latex", "--layout", "wide"])
    assert e.value.code == 2
