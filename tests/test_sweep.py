"""Sweeps, budgets and plots: exact numbers from the compiled formulas, checked against
analyze at the same sizes; budgets confirmed at the answer and one step beyond."""

import json
import os

import pytest

import symcnn
from symcnn import SymCNNError
from symcnn.cli import main
from symcnn.sweep import budget, parse_amount, parse_sizes, sweep


@pytest.mark.parametrize("text, sizes", [
    ("224", [(224, 224)]),
    ("32:40:4", [(32, 32), (36, 36), (40, 40)]),           # STOP included
    ("160x240", [(160, 240)]),
    ("32:64:32x48:96:48", [(32, 48), (64, 96)]),
    ("224, 96x128 ,33:34", [(224, 224), (96, 128), (33, 33), (34, 34)]),
])
def test_parse_sizes(text, sizes):
    assert parse_sizes(text) == sizes


@pytest.mark.parametrize("text", ["", "0", "a", "5:3", "1:10:0", "1:100000000000", "3x",
                                  "1:4x1:5", "9" * 30])
def test_parse_sizes_errors(text):
    with pytest.raises(SymCNNError):
        parse_sizes(text)


@pytest.mark.parametrize("text, value", [
    ("8GB", 8 * 10**9), ("8GiB", 8 * 2**30), ("512MB", 512 * 10**6), ("1.5GB", 1_500_000_000),
    ("5G", 5 * 10**9), ("100", 100), ("2 TiB", 2 * 2**40)])
def test_parse_amount(text, value):
    assert parse_amount(text, "x") == value


@pytest.mark.parametrize("text", ["", "GB", "8XB", "1.5", "-3GB", "0", "1e9"])
def test_parse_amount_errors(text):
    with pytest.raises(SymCNNError):
        parse_amount(text, "x")


@pytest.mark.parametrize("name", ["vgg16", "resnet50", "mobilenet_v2", "densenet121"])
def test_sweep_matches_analyze(name):
    report = symcnn.analyze(name)
    points = sweep(report, parse_sizes("29:301:17,160x240,225x227"))
    from symcnn.shapes import minimum_input
    assert points[0]["h"] >= minimum_input(report.network)[0] and len(points) > 10
    for p in points[::4]:
        t = symcnn.analyze(name, (p["h"], p["w"], 3)).totals
        assert (p["params"], p["activations"], p["macs"]) == \
            (t["params"], t["activations"], t["macs"])
        assert all(type(p[q]) is int for q in ("params", "activations", "macs"))


def test_sweep_of_100000_sizes_is_exact_and_overflow_safe():
    report = symcnn.analyze("resnet50")
    points = sweep(report, parse_sizes("32:100031"))
    assert len(points) == 100_000
    assert points[192]["macs"] == 4_089_184_256  # 224
    last = points[-1]
    assert last["macs"] == symcnn.analyze("resnet50", (100031, 100031, 3)).totals["macs"]
    huge = sweep(report, [(10**9, 10**9)])[0]["macs"]
    assert huge > 2**63 and huge == report.evaluator("macs")(H=10**9, W=10**9)


def test_sweep_needs_a_symbolic_input():
    with pytest.raises(SymCNNError, match="sweeps need a symbolic input"):
        sweep(symcnn.analyze("input 32x32x3 conv3-8"), [(32, 32)])


@pytest.mark.parametrize("kwargs", [
    dict(limit=8 * 10**9, quantity="memory", batch=32, on="activations"),
    dict(limit=8 * 2**30, quantity="memory", batch=3, on="activations", aspect=(4, 3)),
    dict(limit=5 * 10**9, quantity="macs"),
    dict(limit=5 * 10**9, quantity="macs", aspect=(3, 4)),
])
@pytest.mark.parametrize("name, dtype", [("vgg16", "float32"), ("resnet50", "float16")])
def test_budget_is_confirmed_at_the_answer_and_beyond(name, dtype, kwargs):
    report = symcnn.analyze(name, dtype=dtype)
    b = budget(report, **kwargs)
    a, c = kwargs.get("aspect", (1, 1))
    assert b.height % a == 0 and b.width * a == b.height * c
    batch, size = kwargs.get("batch", 1), report.bytes_per_element

    def cost(h, w):
        t = symcnn.analyze(name, (h, w, 3), dtype=dtype).totals
        if kwargs["quantity"] == "macs":
            return batch * t["macs"]
        return (batch * t["activations"] + t["params"]) * size
    k = b.height // a
    assert cost(b.height, b.width) == b.cost <= kwargs["limit"]
    assert cost(a * (k + 1), c * (k + 1)) == b.next_cost > kwargs["limit"]


def test_budget_when_nothing_fits_and_when_unbounded():
    b = budget(symcnn.analyze("vgg16"), 1000, "memory", on="activations")
    assert b.height is None and b.next_cost > 1000 and b.smallest == (32, 32)
    assert b.describe().startswith("nothing fits: the smallest input (32x32) needs ")
    # MACs do not grow with H, W: the largest accepted input fits, and the answer says why
    b = budget(symcnn.analyze("gap fc10"), 10**9, "macs")
    assert (b.height, b.width, b.cost, b.next_cost, b.largest) == \
        (10**12, 10**12, 3 * 10 + 0, None, True)
    assert "the cost does not depend on the input size" in b.describe()


def test_cli_sweep_formats(capsys):
    assert main(["sweep", "vgg16", "--sizes", "224,160x240", "-f", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["points"][0]["macs"] == 15_470_264_320
    assert main(["sweep", "vgg16", "--sizes", "30:34:2", "-f", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "h,w,params,activations,macs,activation_bytes" and len(out) == 3
    assert main(["sweep", "vgg16", "--sizes", "224", "--aspect", "4:3"]) == 0
    assert "224    168" in capsys.readouterr().out


def test_cli_budget(capsys):
    assert main(["budget", "vgg16", "--memory", "8GB", "--batch", "32", "--on",
                 "activations"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("largest input: 319x319") and "activations + params" in out
    assert main(["budget", "vgg16", "--macs", "1K"]) == 1
    assert "nothing fits" in capsys.readouterr().out
    assert main(["budget", "vgg16"]) == 2
    assert "give either --memory or --macs" in capsys.readouterr().err


def test_cli_plot_png(tmp_path, capsys):
    pytest.importorskip("matplotlib") if not os.environ.get("CI") else None
    png = tmp_path / "macs.png"
    assert main(["plot", "resnet18", "--sizes", "32:256:16", "-o", str(png)]) == 0
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    bars = tmp_path / "layers.png"
    assert main(["plot", "vgg11", "--per-layer", "224x224x3", "--metric", "params",
                 "-o", str(bars)]) == 0
    assert bars.read_bytes()[:4] == b"\x89PNG"
    assert not list(tmp_path.glob("*.part"))


def test_plot_without_matplotlib_says_so(monkeypatch, tmp_path):
    import builtins
    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(SymCNNError, match=r"pip install 'symcnn\[plot\]'"):
        from symcnn.plot import plot_sweep
        plot_sweep([{"h": 1, "w": 1, "macs": 1}], "macs", tmp_path / "x.png")


def test_cli_output_file_is_written_atomically(tmp_path, capsys):
    out = tmp_path / "vgg.tex"
    assert main(["vgg16", "-i", "224x224x3", "-f", "latex", "-o", str(out),
                 "--label", "tab:vgg", "--symbol", "H=H_{\\mathrm{in}}"]) == 0
    assert out.read_text().startswith("% symcnn") and not capsys.readouterr().out
    # a failing export leaves no file behind
    bad = tmp_path / "bad.tex"
    assert main(["vgg16", "-f", "latex", "-o", str(bad), "--label", "bad label"]) == 2
    assert not bad.exists() and not list(tmp_path.glob(".bad.tex*"))
