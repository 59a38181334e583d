"""Each peer's convention (symcnn.conventions) on small networks: the extra terms per layer
kind, written as arithmetic; totals, formulas, the CLI flag and ``symcnn reconcile``.
No torch needed (tests/test_conventions_peers.py checks the rules against the tools)."""

from __future__ import annotations

import json

import pytest
import sympy

import symcnn
from symcnn.cli import main
from symcnn.conventions import CONVENTIONS, ConventionError, macs_as, terms, tool_output
from symcnn.dims import size_symbol
from symcnn.errors import SymCNNError

# conv3-4 (bias) 8x8x4, bn, relu, max pool → 4x4x4, gap → 1x1x4, fc10
PLAIN = "input 8x8x3\nconv3-4 bn relu pool2 gap fc10"
PLAIN_MACS = 3 * 3 * 3 * 4 * 8 * 8 + 4 * 10
E = 8 * 8 * 4  # the conv's, bn's and relu's output elements; the pool's input

CASES = [
    # (network, convention, expected count)
    (PLAIN, "torch", PLAIN_MACS),
    (PLAIN, "torchinfo", PLAIN_MACS + 4 * 8 * 8 + 2 * 4 + 10),
    (PLAIN, "fvcore", PLAIN_MACS + 2 * E + 4 * 4 * 4),
    (PLAIN, "ptflops", PLAIN_MACS + 4 * 8 * 8 + 2 * E + 2 * E + 2 * E + 2 * 4 * 4 * 4 + 10),
    (PLAIN, "thop", PLAIN_MACS + 4 * E + (4 * 4 + 1) * 4),
    # se(2) on 4x4x8 after a relu: pool 4·4·8, 1x1 convs 8→2→8 with biases
    ("input 4x4x8\nrelu se(2)", "torch", 8 * 2 + 2 * 8),
    ("input 4x4x8\nrelu se(2)", "torchinfo", 8 * 2 + 2 * 8 + 2 + 8),
    ("input 4x4x8\nrelu se(2)", "fvcore", 8 * 2 + 2 * 8 + 4 * 4 * 8),
    ("input 4x4x8\nrelu se(2)", "ptflops",
     8 * 2 + 2 * 8 + 2 * 4 * 4 * 8 + 2 * 4 * 4 * 8 + 2 + 8 + 2 * 2),  # its nn.ReLU: twice
    ("input 4x4x8\nsilu se(2)", "ptflops",
     8 * 2 + 2 * 8 + 4 * 4 * 8 + 2 * 4 * 4 * 8 + 2 + 8 + 2),  # EfficientNet: nn.SiLU, once
    ("input 4x4x8\nrelu se(2)", "thop", 8 * 2 + 2 * 8 + (4 * 4 + 1) * 8),
    ("input 4x4x8\nsilu se({in//4})", "torchinfo", 8 * 2 + 2 * 8 + 2 + 8),  # in bound to 8
    # average pools: thop by output, ptflops twice by input, fvcore not at all
    ("input 6x6x2\navgpool2", "thop", 3 * 3 * 2),
    ("input 6x6x2\navgpool2", "ptflops", 2 * 6 * 6 * 2),
    ("input 6x6x2\navgpool2", "fvcore", 0),
    # thop's k of a non-divisible adaptive pool is a float: its int() is reproduced
    ("input 10x10x1\nadaptiveavgpool3", "thop", int(((10 / 3) * (10 / 3) + 1.0) * 9)),
    ("input 10x10x1\nadaptiveavgpool3", "fvcore", 10 * 10),
    # layer norm
    ("input 4x4x8\nln", "torchinfo", 2 * 8),
    ("input 4x4x8\nln", "fvcore", 5 * 4 * 4 * 8),
    ("input 4x4x8\nln", "ptflops", 4 * 4 * 8),
    ("input 4x4x8\nln", "thop", 4 * 4 * 4 * 8),
    # activations: ptflops only, by how torch's modules call their functionals
    ("input 2x2x3\nrelu6 silu gelu hardswish sigmoid dropout", "ptflops", 12 + 12 + 2 * 12),
    ("input 2x2x3\nrelu relu6 silu gelu hardswish sigmoid dropout", "thop", 0),
    # a repeat counts each copy; a pool first in a branch reads the branch's input
    ("input 8x8x4\n(conv3-4nb bn)x3", "fvcore", 3 * (3 * 3 * 4 * 4 * 64 + 2 * 64 * 4)),
    ("input 8x8x4\ncat(conv1-4nb | pool3/1p1)", "ptflops", 4 * 4 * 64 + 2 * 8 * 8 * 4),
    # merges, shuffles, layer scales: zero for every tool
    ("input 4x4x4\nres(scale) shuffle", "ptflops", 0),
]


@pytest.mark.parametrize("net, convention, expected", CASES)
def test_convention_counts(net, convention, expected):
    report = symcnn.analyze(net, convention=convention)
    assert report.totals["macs"] == expected
    assert report.totals["flops"] == 2 * expected
    assert symcnn.analyze(net).macs_as(convention) == expected


def test_terms_are_labelled_and_sum_to_the_difference():
    rows = symcnn.analyze(PLAIN).rows
    got = {t.label: t.value for t in terms(rows, "torchinfo")}
    assert got == {"bias adds (bias · output positions)": 4 * 8 * 8 + 10,
                   "BN parameters (2·C per BN)": 2 * 4}
    for c in CONVENTIONS:
        assert macs_as(rows, c) == PLAIN_MACS + sum(t.value for t in terms(rows, c))
    assert terms(rows, "torch") == []


def test_symbolic_formulas_follow_the_convention():
    H, W = size_symbol("H"), size_symbol("W")
    report = symcnn.analyze("input HxWx3\nconv3-4 bn", convention="fvcore")
    assert sympy.expand(report.formulas["macs"] - (3 * 3 * 3 * 4 + 2 * 4) * H * W) == 0
    thop = symcnn.analyze("input HxWx3\nconv3-4nb gap", convention="thop").formulas["macs"]
    assert sympy.expand(thop - (3 * 3 * 3 * 4 * H * W + H * W * 4 + 4)) == 0


def test_formulas_evaluate_to_the_totals():
    for c in CONVENTIONS:
        at = symcnn.analyze("resnet18", "160x240x3", convention=c)
        free = symcnn.analyze("resnet18", "HxWx3", convention=c)
        assert free.evaluator("macs")(H=160, W=240) == at.totals["macs"]


def test_the_default_is_unchanged():
    a, b = symcnn.analyze("resnet50", "224x224x3"), symcnn.analyze(
        "resnet50", "224x224x3", convention="torch")
    assert a.totals == b.totals and a.totals["macs"] == 4_089_184_256
    assert "convention" not in a.to_dict()


@pytest.mark.parametrize("bad", ["fvcorez", "", "FVCORE"])
def test_unknown_convention(bad):
    with pytest.raises(SymCNNError, match="unknown convention"):
        symcnn.analyze("input 8x8x3\nconv3-4", convention=bad)


def test_a_kind_without_a_measured_rule_raises():
    for c in CONVENTIONS[1:]:
        with pytest.raises(ConventionError, match=rf"{c}: no measured rule for layer kind "
                                                  r"'transposedconv'"):
            symcnn.analyze("input 4x4x2\ntconv2-2/2", convention=c).totals
    assert symcnn.analyze("input 4x4x2\ntconv2-2/2").totals["macs"] == 2 * 2 * 2 * 2 * 16


@pytest.mark.parametrize("tool, value, printed", [
    ("ptflops", 4_132_436_968, "4.13 GMac"),
    ("ptflops", 320_300_008, "320.3 MMac"),
    ("torchinfo", 4_089_238_376, "Total mult-adds (G): 4.09"),
    ("torchinfo", 300_809_384, "Total mult-adds (M): 300.81"),
    ("thop", 4_133_742_592, "4133742592.0"),
    ("fvcore", 4_111_512_576, "4111512576"),
    ("torch", 4_089_184_256, "8178368512 FLOPs"),
])
def test_tool_output(tool, value, printed):
    assert tool_output(tool, value) == printed


def test_cli_convention_flag(capsys):
    assert main(["resnet50", "--input", "224x224x3", "--convention", "fvcore", "-f",
                 "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["convention"] == "fvcore"
    assert doc["totals"]["macs"] == 4_089_184_256 + 22_227_968 + 100_352
    assert doc["totals"]["flops"] == 2 * doc["totals"]["macs"]
    assert main(["resnet50", "--input", "224x224x3", "--convention", "thop"]) == 0
    assert "(thop's count; the MACs column above is torch's)" in capsys.readouterr().out


def test_cli_convention_rejects_unknown(capsys):
    with pytest.raises(SystemExit) as e:
        main(["resnet50", "--convention", "flops"])
    assert e.value.code == 2
    assert "invalid choice: 'flops'" in capsys.readouterr().err


def test_reconcile_lines(capsys):
    assert main(["reconcile", "resnet50", "--input", "224x224x3"]) == 0
    out = capsys.readouterr().out
    lines = {ln.split()[0]: ln for ln in out.splitlines()[3:8]}
    assert list(lines) == list(CONVENTIONS)
    assert "4,089,238,376  prints Total mult-adds (G): 4.09  = MACs + 53,120 BN parameters" \
        in lines["torchinfo"]
    assert "4,132,436,968  prints 4.13 GMac" in lines["ptflops"]
    assert "+ 44,455,936 BN (4 per element) + 102,400 adaptive pools" in lines["thop"]


def test_reconcile_json_and_errors(capsys):
    assert main(["reconcile", "unet", "--input", "572x572x1", "-f", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    tools = {t["tool"]: t for t in doc["tools"]}
    assert tools["torch"]["macs"] == doc["macs"] and tools["torch"]["terms"] == []
    assert "no measured rule for layer kind 'transposedconv'" in tools["thop"]["error"]
    assert main(["reconcile", "resnet18", "--input", "224x224x3", "-f", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    fv = next(t for t in doc["tools"] if t["tool"] == "fvcore")
    assert fv["macs"] == doc["macs"] + sum(t["value"] for t in fv["terms"])
    assert main(["reconcile", "nosuchnet"]) == 2
