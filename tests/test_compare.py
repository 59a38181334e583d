"""symcnn compare / symcnn.compare: several networks side by side (issue 14).

Expected values are written as the arithmetic they come from. Update the golden files
after an intended change with:  SYMCNN_UPDATE_GOLDEN=1 pytest tests/test_compare.py
"""

import csv
import io
import json
import re
import time
from pathlib import Path

import pytest
import sympy

import symcnn
from symcnn import SymCNNError
from symcnn.cli import main
from symcnn.compare import CSV_COLUMNS, Comparison, compare

from conftest import check_golden, pdflatex

ROOT = Path(__file__).parent.parent
RESNETS = ["resnet18", "resnet34", "resnet50"]


@pytest.fixture(scope="module")
def resnets() -> Comparison:
    return compare(RESNETS, "224x224x3")


# BN channels: each BatchNorm holds running mean and variance (2 buffers per channel).
# resnet18: stem 64; layer1 4·64; layer2 4·128 + 128 (downsample); layer3 4·256 + 256;
# layer4 4·512 + 512. resnet34: 7 + 9 + 13 + 7 BNs per stage likewise.
# resnet50: stem 64; per bottleneck (w, w, 4w), plus 4w per downsample; blocks 3, 4, 6, 3.
def _bottleneck_bn(widths_blocks):
    return sum(n * (w + w + 4 * w) + 4 * w for w, n in widths_blocks)


CASES = [
    # name, params (= torchvision's), buffers, MACs ÷ 32-divisible closed form at 224
    ("resnet18", 11_689_512, 2 * (64 + 4 * 64 + 4 * 128 + 128 + 4 * 256 + 256 + 4 * 512 + 512),
     36_144 * 224 * 224 + 512_000),
    ("resnet34", 21_797_672,
     2 * (64 + 6 * 64 + (8 * 128 + 128) + (12 * 256 + 256) + (6 * 512 + 512)),
     73_008 * 224 * 224 + 512_000),
    ("resnet50", 25_557_032, 2 * (64 + _bottleneck_bn([(64, 3), (128, 4), (256, 6), (512, 3)])),
     81_456 * 224 * 224 + 2_048_000),
]


@pytest.mark.parametrize("name, params, buffers, macs", CASES)
def test_rows_are_the_analyses(resnets, name, params, buffers, macs):
    row = next(r for r in resnets.rows if r.name == name)
    report = symcnn.analyze(name, "224x224x3")
    t = report.totals
    assert (row.params, row.trainable, row.buffers) == (params, params, buffers)
    assert row.macs == macs == t["macs"]
    assert row.flops == 2 * macs
    assert row.activations == t["activations"]
    assert row.activation_bytes == 4 * t["activations"]          # float32
    assert all(isinstance(v, int) for v in (row.params, row.macs, row.activation_bytes))
    assert row.minimum_input == (1, 1)                           # padded convolutions
    H, W = sympy.symbols("H W", positive=True, integer=True)
    assert row.multiples == {"H": 32, "W": 32}
    assert row.formulas["params"] == params                      # global pooling
    assert row.formulas["macs"].subs({H: 224, W: 224}) == macs
    assert row.formulas["macs"].subs({H: 225, W: 200}) == \
        symbolic_macs(name, "225x200x3")
    assert row.divisible["macs"].subs({H: 224, W: 224}) == macs


def symbolic_macs(name, size):
    return symcnn.analyze(name, size).totals["macs"]


@pytest.mark.parametrize("nets, size, expected", [
    # the smallest H×W on which every layer has a non-empty output
    (["vgg16", "alexnet"], "224x224x3", [(2 ** 5, 2 ** 5), (63, 63)]),
    (["inception_v3", "conv3-64 pool fc10"], "299x299x3", [(75, 75), (2, 2)]),
])
def test_minimum_input(nets, size, expected):
    assert [r.minimum_input for r in compare(nets, size).rows] == expected


@pytest.mark.parametrize("dtype, bytes_, batch", [
    ("float32", 4, 1), ("float16", 2, 8), ("int8", 1, 3), ("float64", 8, 2)])
def test_dtype_and_batch(resnets, dtype, bytes_, batch):
    c = compare(RESNETS[:2], "224x224x3", dtype=dtype, batch=batch)
    for row, one in zip(c.rows, resnets.rows):
        assert row.params == one.params and row.buffers == one.buffers
        assert row.macs == batch * one.macs and row.flops == 2 * batch * one.macs
        assert row.activation_bytes == batch * bytes_ * one.activations
    assert c.bytes_per_element == bytes_


def test_notation_text_without_input_line_gets_formulas_in_h_w():
    c = compare(["conv3-64 pool fc10", "conv3-8 conv3-8"], "32x32x1")
    a, b = c.rows
    # conv3-64 on 1 channel: 3·3·1·64 + 64; fc10 on 16·16·64: 16·16·64·10 + 10
    assert a.params == 3 * 3 * 1 * 64 + 64 + 16 * 16 * 64 * 10 + 10
    assert a.macs == 32 * 32 * 3 * 3 * 1 * 64 + 16 * 16 * 64 * 10
    assert b.params == (3 * 3 * 1 * 8 + 8) + (3 * 3 * 8 * 8 + 8)
    H, W = sympy.symbols("H W", positive=True, integer=True)
    assert a.formula_input == symcnn.layers.InputSpec("H", "W", 1)  # C: the given channels
    assert b.formulas["macs"] == (3 * 3 * 1 * 8 + 3 * 3 * 8 * 8) * H * W
    assert not b.multiples and b.divisible == {}
    assert a.multiples == {"H": 2, "W": 2}
    assert a.divisible["params"] == (3 * 3 * 1 * 64 + 64) + 64 * 10 * (H / 2) * (W / 2) + 10


def test_inputs_default_to_each_notation_and_may_be_symbolic():
    c = compare([ROOT / "examples" / "vgg16_cs231n.cnn", "vgg16", "conv3-64 fc10"])
    assert [str(r.input) for r in c.rows] == ["224x224x3", "HxWx3", "HxWxC"]
    assert c.rows[0].macs == 15_470_264_320 and isinstance(c.rows[1].macs, sympy.Expr)
    assert c.rows[1].formulas["macs"].subs(dict.fromkeys(
        sympy.symbols("H W", positive=True, integer=True), 224)) == 15_470_264_320
    table = c.to_table()
    assert "each network at its own input" in table and "224x224x3" in table
    assert "$\\ast$: depends on the input size" in c.to_latex()


def test_networks_as_mapping_files_and_network_objects(tmp_path):
    f = tmp_path / "mine.cnn"
    f.write_text("input 32x32x3\nconv3-16 pool fc10\n")
    c = compare({"a": symcnn.parse("conv3-16 pool fc10"), "b": f}, "32x32x3")
    assert [r.name for r in c.rows] == ["a", "b"]
    assert c.rows[0].params == c.rows[1].params == (3 * 3 * 3 * 16 + 16) + (16 * 16 * 16 * 10 + 10)
    assert compare([f, "vgg11"], "32x32x3").rows[0].name.endswith("/mine.cnn")


@pytest.mark.parametrize("call, message", [
    (lambda: compare(["resnet18"]), "at least 2 networks; got 1"),
    (lambda: compare([]), "at least 2 networks; got 0"),
    (lambda: compare("resnet18"), "at least 2 networks; got 1"),
    (lambda: compare(["resnet18", "resnet5O"]),
     "network 2 ('resnet5O'): unknown network 'resnet5O'; did you mean resnet50?"),
    (lambda: compare(["conv3-64 bogus", "resnet18"]), "network 1 ('conv3-64 bogus'): "),
    (lambda: compare(["resnet18", "resnet34", "pool pool pool pool"], "8x8x3"),
     "network 3 ('pool pool pool pool'): "),
    (lambda: compare(["resnet18", "vgg16"], "8x8x3"), "network 2 ('vgg16'): "),
    (lambda: compare(RESNETS, dtype="float8"), "unknown dtype 'float8'"),
    (lambda: compare(RESNETS, batch=0), "batch must be an int between 1"),
    (lambda: compare(RESNETS, "224x224"), "input"),
    (lambda: compare(RESNETS, names=["a"]), "1 names for 3 networks"),
])
def test_errors(call, message):
    with pytest.raises(SymCNNError) as e:
        call()
    assert message in str(e.value)


@pytest.mark.parametrize("argv, message", [
    (["compare", "resnet18"], "symcnn: error: compare needs at least 2 networks; got 1"),
    (["compare", "resnet18", "resnet34", "resnet5O"],
     "symcnn: error: network 3 ('resnet5O'): unknown network"),
    (["compare", "resnet18", "missing.cnn"],
     "symcnn: error: network 2 ('missing.cnn'): notation file not found: missing.cnn"),
    (["compare", "resnet18", "vgg16", "--input", "axb"], "symcnn: error: --input 'axb'"),
    (["compare", "resnet18", "vgg16", "--input", "8x8x3"],
     "symcnn: error: network 2 ('vgg16'): layer 'pool2'"),
])
def test_cli_errors(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and "Traceback" not in err


@pytest.mark.parametrize("fmt, method", [
    ("table", "to_table"), ("markdown", "to_markdown"), ("latex", "to_latex"),
    ("csv", "to_csv"), ("json", "to_json")])
def test_cli_formats_are_the_api(capsys, resnets, fmt, method):
    assert main(["compare", *RESNETS, "--input", "224x224x3", "--format", fmt]) == 0
    assert capsys.readouterr().out == getattr(resnets, method)()


def test_cli_output_file_dtype_batch_and_latex_options(tmp_path, capsys):
    out = tmp_path / "t.tex"
    assert main(["compare", "resnet18", "resnet34", "-i", "224x224x3", "-f", "latex",
                 "--standalone", "--caption", "50% & more", "--label", "tab:cmp",
                 "--dtype", "float16", "--batch", "2", "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""
    text = out.read_text()
    assert text == compare(["resnet18", "resnet34"], "224x224x3", dtype="float16",
                           batch=2).to_latex(caption="50% & more", label="tab:cmp",
                                             standalone=True)
    assert r"\caption{50\% \& more}" in text and r"\label{tab:cmp}" in text
    assert text.startswith(r"\documentclass{article}")


FORMATS = {
    "table.txt": lambda c: c.to_table(),
    "md": lambda c: c.to_markdown(),
    "tex": lambda c: c.to_latex(),
    "csv": lambda c: c.to_csv(),
    "json": lambda c: c.to_json(),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_golden(resnets, fmt):
    check_golden(f"compare_resnet18_34_50.{fmt}", FORMATS[fmt](resnets))


def test_table_numbers_and_definitions(resnets):
    text = resnets.to_table()
    # thousands separators with the decimal K/M/G next to them
    for needle in ["11,689,512 (11.69 M)", "25,557,032 (25.56 M)", "53,120 (53.12 K)",
                   "4,089,184,256 (4.09 G)", f"{2 * 4_089_184_256:,} (8.18 G)"]:
        assert needle in text
    lines = text.splitlines()
    rule = max(i for i, line in enumerate(lines) if line.startswith("─"))
    below = lines[rule + 1:rule + 6]  # a one-line definition of each figure
    assert below[0].startswith("params: weights + biases, all trainable; buffers: batch-norm")
    assert below[2].startswith("activation memory: the input + every layer's output")
    assert "MB = 10⁶ bytes" in below[4]
    assert "where H and W are multiples of 32:" in text
    assert "MACs   = 36,144·H·W + 512,000" in text
    md = resnets.to_markdown()
    assert "| `resnet50` | 25,557,032 (25.56 M) |" in md and "- activation memory:" in md


def test_json_and_csv_are_exact(resnets):
    d = json.loads(resnets.to_json())
    assert d == resnets.to_dict() and d["schema_version"] == 1
    r18 = d["networks"][0]
    assert (r18["name"], r18["params"], r18["trainable"], r18["buffers"]) == \
        ("resnet18", 11_689_512, 11_689_512, 9_600)
    assert r18["macs"] == 36_144 * 224 * 224 + 512_000 and r18["flops"] == 2 * r18["macs"]
    assert r18["activation_bytes"] == 4 * r18["activations"]
    assert r18["minimum_input"] == [1, 1] and r18["formula_input"] == ["H", "W", 3]
    assert r18["formulas"]["params"] == 11_689_512
    assert r18["formulas_divisible"] == {"multiples": {"H": 32, "W": 32},
                                         "params": 11_689_512, "macs": "36144*H*W + 512000"}
    rows = list(csv.DictReader(io.StringIO(resnets.to_csv())))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 3
    for row, j in zip(rows, d["networks"]):
        for q in ("params", "trainable", "buffers", "macs", "flops", "activations",
                  "activation_bytes"):
            assert int(row[q]) == j[q]
    assert rows[2]["macs_divisible"] == "81456*H*W + 2048000"
    assert rows[2]["multiples"] == "H=32 W=32"


def test_no_per_row_simplify_and_linear_cost(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("compare must not simplify")
    monkeypatch.setattr(sympy, "simplify", refuse)
    monkeypatch.setattr(sympy.Expr, "simplify", refuse)
    deep = lambda n: f"(conv3-16 bn relu)x{n} pool fc10"  # noqa: E731
    start = time.perf_counter()
    c = compare([deep(50), deep(3000)], "64x64x3", names=["50", "3000"])
    elapsed = time.perf_counter() - start
    per = (3 * 3 * 16 * 16 + 16) + 2 * 16  # conv3-16 on 16 channels, BN's weight and bias
    assert c.rows[1].params - c.rows[0].params == (3000 - 50) * per
    assert c.rows[1].buffers == 2 * 16 * 3000
    c.to_table(), c.to_latex(), c.to_json()
    assert elapsed < 60, elapsed


# ---------------------------------------------------------------- pdflatex

def _overfull(log: str) -> list[float]:
    return [float(x) for x in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide", log)
            if float(x) > 5]


@pytest.mark.parametrize("nets, size, batch", [
    (RESNETS, "224x224x3", 1),
    (["resnet18", "wide_resnet50_2", "resnext50_32x4d", "inception_v3", "vgg19_bn"],
     "299x299x3", 256),
    (["conv3-64 pool fc10", "conv7-3/2 conv7-3/2"], None, 1),  # symbolic cells
])
def test_latex_compiles_and_fits(tmp_path, nets, size, batch):
    c = compare(nets, size, batch=batch)
    log, text = pdflatex(tmp_path, c.to_latex(standalone=True))
    assert _overfull(log) == [], "table or formulas wider than the page"
    for r in c.rows:
        for v in (r.params, r.macs, r.flops):
            if isinstance(v, int):
                assert f"{v:,}" in text, v
    assert "Closed forms of" in text
    # the fragment \input into article's default 345pt text block fits too
    doc = ("\\documentclass{article}\\usepackage{booktabs}\\usepackage{amsmath}"
           "\\begin{document}\n" + c.to_latex(label="tab:cmp") + "\\end{document}\n")
    log, _ = pdflatex(tmp_path, doc)
    assert _overfull(log) == [], "the fragment is wider than article's text block"


def test_latex_numbers_read_back(tmp_path, resnets):
    _, text = pdflatex(tmp_path, resnets.to_latex(standalone=True))
    for needle in ["11,689,512", "21,797,672", "25,557,032", "9,600", "53,120",
                   "1,814,073,344", "3,663,761,408", "4,089,184,256", "8,178,368,512",
                   f"{4 * symcnn.analyze('resnet50', '224x224x3').totals['activations'] / 1e6:.2f}",
                   "36,144 · H · W + 512,000", "81,456 · H · W + 2,048,000"]:
        assert needle in text, needle


def test_latex_escapes_names(tmp_path):
    c = compare(["resnet18", "conv3-8 pool fc10"], "32x32x3",
                names=["resnet18", r"my_{net} % & $ \input{x} ~^#"])
    tex = c.to_latex(standalone=True)
    assert r"\input{x}" not in tex
    assert r"\texttt{my\_\{net\} \% \& \$ \textbackslash{}input\{x\} \~{}\^{}\#}" in tex
    _, text = pdflatex(tmp_path, tex)
    assert "11,689,512" in text


# He et al. 2016, Table 6: the CIFAR-10 ResNets (6n + 2 layers; stages of 16, 32, 64
# channels at 32×32, 16×16, 8×8; option A shortcuts without params; convs without bias,
# each followed by BN's weight and bias).
def _cifar_params(n):
    def conv(cin, cout):
        return 3 * 3 * cin * cout + 2 * cout
    return (conv(3, 16) + 2 * n * conv(16, 16) + conv(16, 32) + conv(32, 32)
            + 2 * (n - 1) * conv(32, 32) + conv(32, 64) + conv(64, 64)
            + 2 * (n - 1) * conv(64, 64) + 64 * 10 + 10)


def _cifar_macs(n, h=32, w=32):
    def conv(cin, cout):
        return 3 * 3 * cin * cout
    return (h * w * (conv(3, 16) + 2 * n * conv(16, 16))
            + h // 2 * (w // 2) * (conv(16, 32) + conv(32, 32) + 2 * (n - 1) * conv(32, 32))
            + h // 4 * (w // 4) * (conv(32, 64) + conv(64, 64) + 2 * (n - 1) * conv(64, 64))
            + 64 * 10)


def test_he_et_al_table_6_style():
    names = [f"cifar_resnet{6 * n + 2}" for n in (3, 5, 7, 9, 18)]
    c = compare(names, "32x32x3")
    H, W = sympy.symbols("H W", positive=True, integer=True)
    for n, row in zip((3, 5, 7, 9, 18), c.rows):
        assert row.params == _cifar_params(n)
        assert row.buffers == 2 * (16 + 2 * n * 16 + 2 * n * 32 + 2 * n * 64)
        assert row.macs == _cifar_macs(n)
        assert row.multiples == {"H": 4, "W": 4}
        assert row.divisible["macs"] == sympy.expand(_cifar_macs(n, H, W)
                                                     .subs({H // 2: H / 2, W // 2: W / 2,
                                                            H // 4: H / 4, W // 4: W / 4}))
    assert [r.params for r in c.rows][0] == 269_722  # the paper's 0.27M


# ---------------------------------------------------------------- the compact layout

TWOCOLUMN = ("\\documentclass[twocolumn]{article}\\usepackage{booktabs}\\usepackage{amsmath}"
             "\\begin{document}\nSee Table~\\ref{tab:cmp}.\n")


@pytest.mark.parametrize("nets, size", [
    (RESNETS + ["resnet101", "resnet152"], "224x224x3"),
    ([f"cifar_resnet{6 * n + 2}" for n in (3, 5, 7, 9, 18)], "32x32x3"),
    (["resnet18", "wide_resnet50_2", "resnext50_32x4d", "inception_v3", "vgg19_bn"], None),
    (["conv3-64 pool fc10", "conv7-3/2 conv7-3/2"], None),  # symbolic cells
])
def test_compact_layout_fits_a_column_of_a_two_column_paper(tmp_path, nets, size):
    c = compare(nets, size)
    frag = c.to_latex(layout="compact", label="tab:cmp")
    assert r"\begin{tabular*}{\columnwidth}" in frag
    log, text = pdflatex(tmp_path, TWOCOLUMN + frag + "\\end{document}\n")
    assert _overfull(log) == [], "the table or its formulas are wider than the column"
    assert "Float too large" not in log
    assert "Table 1: Costs" in text  # (one pdflatex run: the \\ref is ?? until a second)
    def unit(q):  # the largest of G, M, K in which the column's least value is ≥ 0.10
        low = min((getattr(r, q) for r in c.rows if isinstance(getattr(r, q), int)), default=0)
        return next((u for u in (10**9, 10**6) if 10 * low >= u), 10**3)
    params, macs = unit("params"), unit("macs")
    for r in c.rows:  # two decimals in the column's unit, memory in MB; else $\ast$
        for value, u in ((r.params, params), (r.macs, macs), (r.activation_bytes, 10**6)):
            if isinstance(value, int):
                hundredths = (value * 100 + u // 2) // u
                assert f"{hundredths // 100:,}.{hundredths % 100:02d}" in text, value
    if any(not isinstance(r.macs, int) for r in c.rows):
        assert "∗: depends on the input size" in text and "Closed forms of" in text


def test_compact_layout_columns_caption_and_units():
    c = compare(["resnet18", "resnet50"], "224x224x3")
    frag = c.to_latex(layout="compact")
    head = next(line for line in frag.splitlines() if line.startswith("Network"))
    assert head == r"Network & Params & MACs & Mem. & Min. \\"
    assert r"\texttt{resnet50} & 25.56 & 4.09 & " in frag  # 25,557,032 and 4,089,184,256
    assert " & (M) & (G) & (MB) & input" in frag
    cifar = compare(["cifar_resnet20", "cifar_resnet110"], "32x32x3").to_latex(layout="compact")
    assert " & (M) & (M) & (MB) & input" in cifar and "MACs in millions" in cifar
    assert r"\texttt{cifar\_resnet20} & 0.27 & 40.55 & " in cifar  # 269,722; 40,551,040
    caption = next(line for line in frag.splitlines() if line.startswith(r"\caption{"))
    assert caption.startswith(r"\caption{Costs on input $224\times 224\times 3$, float32. "
                              "Params in millions, MACs in billions")
    # the caption sits above the table in both layouts (booktabs style)
    for tex in (frag, c.to_latex()):
        assert tex.index(r"\caption{") < tex.index(r"\toprule")
    with pytest.raises(SymCNNError, match="layout must be one of full, compact"):
        c.to_latex(layout="narrow")


def test_caption_tex_is_the_authors_latex():
    c = compare(["resnet18", "resnet50"], "224x224x3")
    tex = c.to_latex(caption_tex=r"ResNets at $\alpha=1$ \cite{he2016}")
    assert r"\caption{ResNets at $\alpha=1$ \cite{he2016}}" in tex
    assert r"\caption{50\% \& more}" in c.to_latex(caption="50% & more")
    with pytest.raises(SymCNNError, match="not both"):
        c.to_latex(caption="a", caption_tex="b")


def test_cli_layout_and_caption_tex(capsys):
    assert main(["compare", "resnet18", "resnet34", "-i", "224x224x3", "-f", "latex",
                 "--layout", "compact", "--caption-tex", r"$\beta$ nets"]) == 0
    out = capsys.readouterr().out
    assert out == compare(["resnet18", "resnet34"], "224x224x3").to_latex(
        layout="compact", caption_tex=r"$\beta$ nets")
    assert r"\caption{$\beta$ nets}" in out
