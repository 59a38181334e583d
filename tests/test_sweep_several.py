"""Sweeps of several networks: one column per network, each equal to that network's own
sweep, "—"/empty/null below a network's minimum input; the CLI names a refused network."""

from __future__ import annotations

import csv
import io
import json

import pytest

import symcnn
from conftest import check_golden
from symcnn import SymCNNError
from symcnn.cli import main
from symcnn.sweep import (SWEEP_FORMATS, format_sweep, iter_sweep, parse_sizes, sweep,
                          unique_names)

NETS = ("resnet18", "resnet50", "vgg16")
SIZES = "16:64:16,160x240"


def _reports(names=NETS) -> dict:
    return {n: symcnn.analyze(n) for n in names}


@pytest.mark.parametrize("quantity", ["params", "activations", "macs"])
def test_every_column_is_that_networks_own_sweep(quantity):
    nets = _reports()
    points = sweep(nets, parse_sizes(SIZES))
    assert [(p["h"], p["w"]) for p in points] == list(parse_sizes(SIZES))
    for k, r in enumerate(nets.values()):
        alone = {(p["h"], p["w"]): p[quantity] for p in sweep(r, parse_sizes(SIZES))}
        assert [p[quantity][k] for p in points] == [alone.get((p["h"], p["w"]))
                                                    for p in points]
    # VGG-16 needs 32×32: None at 16, a number from 32 on
    assert points[0]["macs"][2] is None and points[1]["macs"][2] == 436_830_208


def test_a_list_of_reports_is_named_by_position():
    points = iter_sweep([symcnn.analyze("resnet18"), symcnn.analyze("vgg16")],
                        parse_sizes("224"))
    assert points.names == ["network 1", "network 2"]
    (p,) = list(points)
    assert p["params"] == [11_689_512, 138_357_544]


def test_sizes_no_network_takes_are_left_out():
    nets = _reports(("vgg16", "alexnet"))  # 32×32 and 63×63 at least
    points = sweep(nets, parse_sizes("8:64:8"))
    assert [p["h"] for p in points] == [32, 40, 48, 56, 64]
    assert [p["macs"][1] is None for p in points] == [True] * 4 + [False]


def test_one_chunk_boundary_keeps_the_columns_aligned():
    # 70,000 sizes: two chunks of NumPy arrays, alignment checked on both sides
    nets = _reports(("vgg16", "resnet18"))
    points = sweep(nets, parse_sizes("1:70000"), quantities=("params",))
    assert len(points) == 70_000  # ResNet-18 takes every size, VGG-16 32×32 and up
    r = nets["vgg16"].evaluator("params")
    for p in (points[0], points[31], points[32], points[65_535], points[65_536], points[-1]):
        h = p["h"]
        assert p["params"] == [r(H=h, W=h) if h >= 32 else None, 11_689_512]


@pytest.mark.parametrize("fmt", SWEEP_FORMATS)
def test_golden(fmt):
    nets = _reports()
    text = "".join(format_sweep(nets, iter_sweep(nets, parse_sizes(SIZES)), fmt))
    ext = {"table": "txt", "markdown": "md"}.get(fmt, fmt)
    check_golden(f"sweep_resnet18_50_vgg16.{ext}", text)


def test_formats_read_back_equal_the_points():
    nets = _reports()
    points = sweep(nets, parse_sizes(SIZES))
    rows = list(csv.reader(io.StringIO("".join(format_sweep(nets, points, "csv")))))
    assert rows[0] == ["h", "w", *NETS]
    assert rows[1:] == [[str(p["h"]), str(p["w"]), *("" if v is None else str(v)
                                                     for v in p["macs"])] for p in points]
    d = json.loads("".join(format_sweep(nets, points, "json", metric="params")))
    assert d["metric"] == "params" and d["networks"] == list(NETS)
    assert d["points"] == [{"h": p["h"], "w": p["w"], "values": p["params"]} for p in points]


def test_repeated_names_are_numbered():
    assert unique_names(["a", "b", "a", "a"]) == ["a", "b", "a (2)", "a (3)"]


def test_markdown_escapes_names():
    nets = {"a|b": symcnn.analyze("resnet18")}
    text = "".join(format_sweep(nets, iter_sweep(nets, parse_sizes("224")), "markdown"))
    assert text.startswith("| H | W | a\\|b |")


@pytest.mark.parametrize("call, message", [
    (lambda: iter_sweep([], [(32, 32)]), "one or more Reports"),
    (lambda: iter_sweep(["resnet18"], [(32, 32)]), "one or more Reports"),
    (lambda: iter_sweep({"a": symcnn.analyze("resnet18"),
                         "b": symcnn.analyze("input 224x224x3 fc10")}, [(32, 32)]),
     r"network 2 \('b'\): the notation fixes the input"),
    (lambda: format_sweep(_reports(("resnet18",)), [], "table", metric="flops"),
     "unknown sweep metric 'flops'"),
    (lambda: list(format_sweep(_reports(("resnet18",)), [{"h": 1, "w": 1, "macs": 3}],
                               "table")), "has 1 values per quantity"),
])
def test_api_errors(call, message):
    with pytest.raises(SymCNNError, match=message):
        call()


# ── the command line ───────────────────────────────────────────────────────────────────

def test_cli_one_column_per_network(capsys):
    assert main(["sweep", "resnet18", "resnet50", "--sizes", "160:320:32"]) == 0
    out = capsys.readouterr().out
    check_golden("sweep_resnet18_50.cli.txt", out)
    lines = out.splitlines()
    assert lines[0].split() == ["H", "W", "resnet18", "resnet50"]
    assert lines[3].split()[:4] == ["224", "224", "1,814,073,344", "(1.81"]


@pytest.mark.parametrize("fmt", SWEEP_FORMATS)
def test_cli_equals_the_api(fmt, capsys):
    assert main(["sweep", *NETS, "--sizes", SIZES, "-f", fmt, "--metric", "activations"]) == 0
    nets = _reports()
    assert capsys.readouterr().out == "".join(format_sweep(
        nets, iter_sweep(nets, parse_sizes(SIZES)), fmt, metric="activations"))


def test_cli_metric_with_one_network_is_one_column(capsys):
    assert main(["sweep", "examples/vgg16_paper.cnn", "--sizes", "224", "-m", "params",
                 "-f", "csv"]) == 0
    assert capsys.readouterr().out == "h,w,vgg16_paper\n224,224,138357544\n"


def test_cli_output_says_what_it_wrote(tmp_path, capsys):
    out = tmp_path / "s.csv"
    assert main(["sweep", "resnet18", "resnet50", "--sizes", "224", "-f", "csv",
                 "-o", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out} (csv: macs of resnet18, resnet50)\n"
    assert out.read_text() == "h,w,resnet18,resnet50\n224,224,1814073344,4089184256\n"
    assert main(["sweep", "resnet50", "--sizes", "224", "-o", str(out)]) == 0
    assert capsys.readouterr().out == (f"wrote {out} (table: params, activations and MACs "
                                       "of resnet50)\n")


@pytest.mark.parametrize("argv, message", [
    (["resnet18", "resnet5O"], "network 2 ('resnet5O'): unknown network 'resnet5O'; did "
     "you mean resnet50?"),
    (["resnet18", "input 224x224x3 fc10"], "network 2 ('input 224x224x3 fc10'): the "
     "notation fixes the input size"),
    (["resnet18", "conv3-k"], "network 2 ('conv3-k'): the network leaves the width k free"),
    (["resnet18", "missing.cnn"], "network 2 ('missing.cnn'): notation file not found"),
])
def test_cli_a_refused_network_among_several(argv, message, capsys):
    assert main(["sweep", *argv, "--sizes", "224"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert captured.out == ""
