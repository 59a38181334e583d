"""Plots, read back from their matplotlib Axes: decimal units on the value axis (no 1e10
offset), a log scale, the network's name as title, one curve per network, per-layer bars
by depth without the zero rows; and what ``-o`` says it wrote."""

from __future__ import annotations

import os

import pytest

import symcnn
from symcnn import SymCNNError
from symcnn.cli import main
from symcnn.formatting import display_rows, group_lines
from symcnn.sweep import iter_sweep, parse_sizes, sweep

if not os.environ.get("CI"):
    pytest.importorskip("matplotlib")

from symcnn.plot import layers_figure, sweep_figure, unit_text  # noqa: E402


def _labels(fig, axis: str = "y") -> list[str]:
    fig.canvas.draw()  # tick labels are set when the figure is drawn
    ax = fig.axes[0]
    ticks = ax.get_yticklabels() if axis == "y" else ax.get_xticklabels()
    return [t.get_text() for t in ticks if t.get_text()]


@pytest.mark.parametrize("x, top, text", [
    (2.5e9, None, "2.5 G"), (5e8, 2e9, "0.5 G"), (4.09e9, None, "4.09 G"),
    (138e6, None, "138 M"), (1500, None, "1.5 K"), (3e12, None, "3 T"), (12, None, "12"),
    (0, 1e9, "0"),
])
def test_unit_text(x, top, text):
    assert unit_text(x, top) == text


def test_sweep_axis_in_g_without_offset():
    r = symcnn.analyze("resnet50")
    fig = sweep_figure(sweep(r, parse_sizes("32:512:8")), "macs", "resnet50")
    ax = fig.axes[0]
    labels = _labels(fig)
    assert labels and all(t == "0" or t.endswith(" G") for t in labels), labels
    assert ax.yaxis.get_offset_text().get_text() == ""  # no "1e10"
    assert ax.get_title() == "resnet50" and ax.get_yscale() == "linear"
    (line,) = ax.get_lines()
    # the curve is the sweep: 61 sizes, MACs at 224 exactly torchvision's 4.09 G
    xs, ys = line.get_data()
    assert len(xs) == (512 - 32) // 8 + 1 and ys[list(xs).index(224)] == 4_089_184_256


def test_params_axis_in_m():
    r = symcnn.analyze("resnet18")
    labels = _labels(sweep_figure(sweep(r, parse_sizes("32:64:32")), "params"))
    assert all(t == "0" or t.endswith(" M") for t in labels), labels


def test_log_scale_labels_each_tick_in_its_unit():
    r = symcnn.analyze("resnet50")
    fig = sweep_figure(sweep(r, parse_sizes("32:512:8")), "macs", "resnet50", log=True)
    assert fig.axes[0].get_yscale() == "log"
    labels = _labels(fig)
    assert {"100 M", "1 G", "10 G"} <= set(labels), labels


def test_one_curve_per_network_with_a_legend():
    nets = {"resnet18": symcnn.analyze("resnet18"), "vgg16": symcnn.analyze("vgg16")}
    points = iter_sweep(nets, parse_sizes("16:64:16"))
    fig = sweep_figure(points, "macs", names=points.names)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["resnet18", "vgg16"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["resnet18", "vgg16"]
    assert ax.get_title() == "resnet18, vgg16"
    # VGG-16 needs 32×32: its curve starts there; each curve is its own sweep
    assert list(lines[1].get_xdata()) == [32, 48, 64]
    for line, r in zip(lines, nets.values()):
        alone = sweep(r, parse_sizes("16:64:16"))
        assert list(line.get_ydata()) == [p["macs"] for p in alone]


@pytest.mark.parametrize("net, depth", [("resnet50", None), ("resnet50", 1),
                                        ("resnet50", 2), ("vgg16", None)])
@pytest.mark.parametrize("metric", ["macs", "params"])
def test_per_layer_bars_by_depth_without_zero_rows(net, depth, metric):
    r = symcnn.analyze(net, "224x224x3")
    fig = layers_figure(r, metric, net, depth=depth)
    ax = fig.axes[0]
    lines = display_rows(r.rows)[1:]
    groups = [[line] for line in lines] if depth is None else group_lines(lines, depth)
    nonzero = [g for g in groups if sum(line.copies * getattr(line.row, metric)
                                        for line in g)]
    bars = ax.patches
    assert len(bars) == len(nonzero) < len(groups)  # relu, bn, add … have no MAC bar
    assert sum(b.get_height() for b in bars) == pytest.approx(r.totals[metric], rel=1e-12)
    assert ax.get_title() == net
    assert all(t == "0" or t[-1] in "KMG" for t in _labels(fig))


def test_per_layer_depth_1_of_resnet50():
    # the stem conv, 16 bottleneck blocks (4 with a projection), the fc: 18 MAC bars
    fig = layers_figure(symcnn.analyze("resnet50", "224x224x3"), "macs", depth=1)
    labels = _labels(fig, "x")
    assert len(labels) == 1 + 16 + 1 and labels[0] == "1 conv7-64/2p3nb"
    assert labels[-1] == "174 fc1000"


def test_per_layer_log_scale():
    fig = layers_figure(symcnn.analyze("vgg16", "224x224x3"), "params", log=True)
    assert fig.axes[0].get_yscale() == "log"


@pytest.mark.parametrize("args, message", [
    (("resnet18", "macs"), "concrete input"),                   # symbolic
    (("relu", "macs", "224x224x3"), "every layer has 0 macs"),
])
def test_per_layer_errors(args, message):
    net, metric, *spec = args
    with pytest.raises(SymCNNError, match=message):
        layers_figure(symcnn.analyze(net, *spec), metric)


# ── the command line ───────────────────────────────────────────────────────────────────

def test_cli_plot_says_what_it_wrote(tmp_path, capsys):
    png = tmp_path / "m.png"
    assert main(["plot", "resnet18", "resnet50", "--sizes", "32:256:32", "--log",
                 "-o", str(png)]) == 0
    assert capsys.readouterr().out == (
        f"wrote {png} (PNG: MACs (1 MAC = 2 FLOPs) against input size, resnet18, resnet50, "
        "log scale)\n")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["plot", "examples/vgg16_paper.cnn", "--per-layer", "224x224x3",
                 "--depth", "1", "--metric", "params", "-o", str(png)]) == 0
    assert capsys.readouterr().out == (
        f"wrote {png} (PNG: parameters per layer of vgg16_paper at 224x224x3, depth 1)\n")


def test_cli_plot_title_is_the_name_not_the_path(tmp_path, monkeypatch):
    seen = []
    import symcnn.plot as plot
    real = plot.layers_figure

    def spy(*args, **kwargs):
        fig = real(*args, **kwargs)
        seen.append(fig.axes[0].get_title())
        return fig
    monkeypatch.setattr(plot, "layers_figure", spy)
    assert main(["plot", "examples/vgg16_paper.cnn", "--per-layer", "224x224x3",
                 "-o", str(tmp_path / "v.png")]) == 0
    assert seen == ["vgg16_paper"]


@pytest.mark.parametrize("argv, message", [
    (["plot", "resnet18", "resnet5O", "--sizes", "32:64:32"], "network 2 ('resnet5O'): "
     "unknown network 'resnet5O'; did you mean resnet50?"),
    (["plot", "resnet18", "vgg16", "--per-layer", "224x224x3"], "--per-layer plots one "
     "network; got 2"),
    (["plot", "resnet18", "--sizes", "32:64:32", "--depth", "1"], "--depth goes with "
     "--per-layer"),
    (["plot", "resnet18", "--per-layer", "224x224x3", "--depth", "0"], "--depth must be 1"),
])
def test_cli_plot_errors(argv, message, tmp_path, capsys):
    assert main([*argv, "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()
