"""The notation: every spelling the issue lists parses, to the records it should."""

from pathlib import Path

import pytest

import symcnn
from symcnn.layers import (FC, SE, AdaptiveAvgPool, BatchNorm, Branches, Call, ChannelPad, Conv,
                           Elementwise, GroupNorm, InputSpec, LayerNorm, Network, Pool, PReLU,
                           Repeat, Scale)
from symcnn.notation import parse_input

ROOT = Path(__file__).parent.parent
CARD = ("conv3-64x2 pool conv3-128x2 pool conv3-256x3 pool conv3-512x3 pool conv3-512x3 pool "
        "fc4096 fc4096 fc1000")
PAPER = ("conv3-64 conv3-64 maxpool conv3-128 conv3-128 maxpool conv3-256 conv3-256 conv3-256 "
         "maxpool conv3-512 conv3-512 conv3-512 maxpool conv3-512 conv3-512 conv3-512 maxpool "
         "FC-4096 FC-4096 FC-1000 soft-max")
CS231N = ("CONV3-64 CONV3-64 POOL2 CONV3-128 CONV3-128 POOL2 CONV3-256 CONV3-256 CONV3-256 POOL2 "
          "CONV3-512 CONV3-512 CONV3-512 POOL2 CONV3-512 CONV3-512 CONV3-512 POOL2 "
          "FC-4096 FC-4096 FC-1000")


@pytest.mark.parametrize("text, layer", [
    ("conv3-64", Conv((3, 3), 64)),
    ("CONV3-64", Conv((3, 3), 64)),
    ("conv11-64/4", Conv((11, 11), 64, 4)),
    ("conv11-64/4p2", Conv((11, 11), 64, 4, 2)),
    ("conv5-16p0", Conv((5, 5), 16, 1, 0)),
    ("conv1x7-128", Conv((1, 7), 128)),
    ("pool", Pool("max")),
    ("maxpool", Pool("max")),
    ("POOL2", Pool("max", (2, 2))),
    ("pool3", Pool("max", (3, 3))),
    ("pool3/2", Pool("max", (3, 3), 2)),
    ("pool3/2p1", Pool("max", (3, 3), 2, 1)),
    ("pool3/2ceil", Pool("max", (3, 3), 2, 0, True)),
    ("pool2x2", Pool("max", (2, 2))),
    ("avgpool", Pool("avg")),
    ("avgpool3/1p1", Pool("avg", (3, 3), 1, 1)),
    ("adaptiveavgpool7", AdaptiveAvgPool((7, 7))),
    ("adaptiveavgpool6x4", AdaptiveAvgPool((6, 4))),
    ("gap", AdaptiveAvgPool((1, 1))),
    ("conv3-64/2p1d2g4nb", Conv((3, 3), 64, 2, 1, 2, 4, False)),
    ("conv3-64nbg4d2p1/2", Conv((3, 3), 64, 2, 1, 2, 4, False)),
    ("conv3-64psame", Conv((3, 3), 64, 1, "same")),
    ("dw3", Conv((3, 3), None, depthwise=True)),
    ("dw5/2p2nb", Conv((5, 5), None, 2, 2, bias=False, depthwise=True)),
    ("bn", BatchNorm()),
    ("LN", LayerNorm()),
    ("scale", Scale()),
    ("relu6", Elementwise("relu6")),
    ("swish", Elementwise("silu")),
    ("HardSwish", Elementwise("hardswish")),
    ("se(16)", SE(16)),
    ("res(conv3-64 bn)", Branches("add", ((Conv((3, 3), 64), BatchNorm()), ()))),
    ("res(conv3-8/2 | conv1-8/2)", Branches("add", ((Conv((3, 3), 8, 2),), (Conv((1, 1), 8, 2),)))),
    ("cat( | relu)", Branches("cat", ((), (Elementwise("relu"),)))),
    ("split( | conv1-58 relu)", Branches("split", ((), (Conv((1, 1), 58), Elementwise("relu"))))),
    ("split(relu | dw3 | )", Branches("split", ((Elementwise("relu"),),
                                                (Conv((3, 3), None, depthwise=True),), ()))),
    ("shuffle", Elementwise("shuffle")),
    ("gn32", GroupNorm(32)),
    ("GN4", GroupNorm(4)),
    ("prelu", PReLU()),
    ("pad64", ChannelPad(64)),
    ("(conv3-8 relu)x0", Repeat((Conv((3, 3), 8), Elementwise("relu")), 0)),
    ("cat(conv1-8 | pool3/1p1 conv1-4)", Branches("cat", ((Conv((1, 1), 8),), (Pool("max", (3, 3), 1, 1), Conv((1, 1), 4))))),
    ("f(64, 2)", Call("f", (64, 2))),
    ("fc4096", FC(4096)),
    ("FC-4096", FC(4096)),
    ("relu", Elementwise("relu")),
    ("Dropout", Elementwise("dropout")),
    ("softmax", Elementwise("softmax")),
    ("soft-max", Elementwise("softmax")),
    ("LRN", Elementwise("lrn")),
    ("relu_", Elementwise("relu", inplace=True)),
    ("SWISH_", Elementwise("silu", inplace=True)),
    ("relu6_", Elementwise("relu6", inplace=True)),
    ("dropout_", Elementwise("dropout", inplace=True)),
    ("relu_x2", Repeat((Elementwise("relu", inplace=True),), 2)),
    ("res_(relu)", Branches("add", ((Elementwise("relu"),), ()), inplace=True)),
    ("add_(relu | tanh_)", Branches("add", ((Elementwise("relu"),),
                                            (Elementwise("tanh", inplace=True),)), inplace=True)),
    ("conv3-64x2", Repeat((Conv((3, 3), 64),), 2)),
    ("(conv3-64 relu)x2", Repeat((Conv((3, 3), 64), Elementwise("relu")), 2)),
    ("( conv3-64\n relu )x2", Repeat((Conv((3, 3), 64), Elementwise("relu")), 2)),
    ("(pool)x3", Repeat((Pool("max"),), 3)),
    ("((relu)x2)x3", Repeat((Repeat((Elementwise("relu"),), 2),), 3)),
])
def test_layer_tokens(text, layer):
    assert symcnn.parse(text).items == (layer,)


def test_in_place_is_part_of_equality_and_changes_memory_only():
    """relu_ differs from relu as a record (so importer-vs-zoo comparisons see it), prints
    back as written, and has the same shapes, params and MACs."""
    a, b = symcnn.parse("conv3-8 relu res(conv3-8 relu)"), \
        symcnn.parse("conv3-8 relu_ res_(conv3-8 relu_)")
    assert a != b and str(b) == "conv3-8 relu_ add_(conv3-8 relu_ | )"
    ra, rb = symcnn.analyze(a, "16x16x3"), symcnn.analyze(b, "16x16x3")
    assert ra.totals == rb.totals and [r.out for r in ra.rows] == [r.out for r in rb.rows]
    assert ra.memory["inference_peak"] > rb.memory["inference_peak"]


@pytest.mark.parametrize("text, message, column", [
    ("conv3-8 gelu_", "gelu has no in-place form", 9),
    ("conv3-8 softmax_", "softmax has no in-place form", 9),
    ("conv3-8 shuffle_", "shuffle has no in-place form", 9),
    ("conv3-8 res_( | conv3-8)", "the first branch is the identity", 9),
    ("conv3-8 add_( | conv3-8)", "the first branch is the identity", 9),
    ("relu_ conv3-8", "runs in place on the network's input", 1),
    ("dropout relu_", "runs in place on the network's input", 9),
    ("crop relu_", "runs in place on the network's input", 6),
    ("add(conv3-8 | relu_)", "runs in place on the network's input", 15),
    ("split(relu_ | conv1-2)", "runs in place on the network's input", 7),
    ("def f() = (sigmoid_ conv3-8)\nf()", "runs in place on the network's input", 12),
    ("def res_(a) = (relu)", "'res_' is built in", 1),
])
def test_in_place_errors(text, message, column):
    with pytest.raises(symcnn.NotationError, match=message) as e:
        symcnn.analyze(text, "16x16x4")
    assert e.value.column == column


def test_in_place_after_a_layer_with_its_own_output_is_fine():
    for text in ("conv3-8 relu_", "pool2 relu_", "add(conv1-4 | ) relu_", "res_(conv1-4) relu_",
                 "add(relu | conv1-4 relu_)"):
        symcnn.analyze(text, "16x16x4")


def test_default_padding_is_half_the_kernel():
    rows = symcnn.analyze("conv3-8 conv1x7-8 conv4-8 conv3-8d2 dw5", (20, 20, 1)).rows
    assert [r.out[:2] for r in rows[1:]] == [(20, 20), (20, 20), (21, 21), (21, 21), (21, 21)]


def test_three_spellings_of_vgg16_agree():
    card, paper, cs = (symcnn.analyze(t, (224, 224, 3)).totals for t in (CARD, PAPER, CS231N))
    assert card["params"] == paper["params"] == cs["params"] == 138_357_544
    assert card == cs
    assert paper["activations"] == cs["activations"] + 1000  # the soft-max row


@pytest.mark.parametrize("text, spec", [
    ("input 224x224x3", InputSpec(224, 224, 3)),
    ("input HxWx3", InputSpec("H", "W", 3)),
    ("input HxWxC", InputSpec("H", "W", "C")),
    ("INPUT 32X32X1", InputSpec(32, 32, 1)),
    ("input HxHx3", InputSpec("H", "H", 3)),
    ("input\n  160x240x3  # HxWxC", InputSpec(160, 240, 3)),
])
def test_input_line(text, spec):
    assert symcnn.parse(text + " relu").input == spec


def test_no_input_line_is_symbolic():
    report = symcnn.analyze("conv3-8")
    assert report.input == InputSpec("H", "W", "C") and report.symbolic


def test_comments_newlines_and_blank_input():
    net = symcnn.parse("# VGG block\nconv3-64  # first\n\n\tconv3-64 # second\n  pool\n")
    assert net == symcnn.parse("conv3-64 conv3-64 pool")
    assert symcnn.parse("") == Network(())
    assert symcnn.parse("  # only a comment\n") == Network(())


def test_positions_are_kept_but_not_compared():
    net = symcnn.parse("relu\n  conv3-64")
    conv = net.items[1]
    assert (conv.line, conv.column) == (2, 3)
    assert conv == Conv((3, 3), 64)


@pytest.mark.parametrize("text", [
    CARD, PAPER, CS231N, "input HxWx3 conv11-64/4p2 pool3/2p1 conv1x7-8 avgpool3/2 "
    "adaptiveavgpool6x4 (conv3-8 relu)x2 ((pool)x2 relu)x3 fc10 softmax",
    *(p.read_text() for p in sorted((ROOT / "examples").glob("*.cnn"))),
    *(p.read_text() for p in sorted((ROOT / "symcnn" / "zoo").glob("*.cnn"))),
])
def test_round_trip(text):
    net = symcnn.parse(text)
    assert symcnn.parse(str(net)) == net


def test_parse_input_forms():
    assert parse_input("224x224x3") == InputSpec(224, 224, 3)
    assert parse_input(" HxWx3 ") == InputSpec("H", "W", 3)


def test_zoo_is_listed_and_loads():
    assert {"vgg11", "vgg13", "vgg16", "vgg19"} <= set(symcnn.zoo_names())
