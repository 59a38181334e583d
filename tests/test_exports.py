"""Exporters: golden files for every format (VGG-16 as CS231n writes it, ResNet-50), a real
pdflatex compile, LaTeX injection attempts, notebook reprs.

Update the golden files after an intended change with:  SYMCNN_UPDATE_GOLDEN=1 pytest
"""

import csv
import io
import json
import os
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
