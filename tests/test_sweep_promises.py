"""Issue 13: sweeps and budgets answer exactly what analyze answers, or refuse cleanly.

Every case states its expected value as arithmetic or as ``analyze`` at the same concrete
input (the differential oracle); nothing here depends on the machine's speed.
"""

import json
import random
import tracemalloc
from itertools import islice

import pytest

import symcnn
from symcnn import SymCNNError
from symcnn.cli import main
from symcnn.notation import MAX_VALUE
from symcnn.shapes import minimum_input
from symcnn.sweep import (MAX_SWEEP, MAX_SWEEP_LIST, MAX_SWEEP_WORK, Sizes, budget, format_sweep, iter_sweep,
                          parse_sizes, sweep)

TOTALS = ("params", "activations", "macs")


def totals(net, h, w, c=3):
    t = symcnn.analyze(net, (h, w, c)).totals
    return {q: t[q] for q in TOTALS}


def accepts(net, h, w, c=3):
    try:
        symcnn.analyze(net, (h, w, c))
    except SymCNNError:
        return False
    return True


# 1. free width symbols: a clean refusal, never a KeyError

@pytest.mark.parametrize("net, names", [("conv3-k fc10", "width k"),
                                        ("conv3-k fc{2k} conv1-j", "widths j, k")])
def test_free_widths_are_refused(net, names):
    report = symcnn.analyze(net)
    for call in (lambda: sweep(report, [(32, 32)]), lambda: budget(report, 10**9),
                 lambda: iter_sweep(report, parse_sizes("32"))):
        with pytest.raises(SymCNNError, match=f"leaves the {names} free.*def net"):
            call()


def test_widths_bound_by_a_definition_sweep_exactly():
    net = "def net(k) = (conv3-k fc10)\nnet(64)"
    assert sweep(symcnn.analyze(net), [(32, 32)])[0] == {"h": 32, "w": 32,
                                                          **totals(net, 32, 32)}


@pytest.mark.parametrize("argv", [["sweep", "conv3-k fc10", "--sizes", "32"],
                                  ["budget", "conv3-k fc10", "--memory", "1GB"]])
def test_cli_free_widths(argv, capsys):
    assert main(argv) == 2
    assert "leaves the width k free" in capsys.readouterr().err


# 2. channels: exact up to 10¹², refused outside 1…10¹² like analyze refuses them

@pytest.mark.parametrize("c", [1, 3, 10**6, 10**12])
def test_channels_up_to_the_limit_are_exact(c):
    net = "conv3-10000000"  # params = 9·10⁷·C + 10⁷, MACs = 9·10⁷·C·H·W
    point = sweep(symcnn.analyze(net), [(32, 32), (33, 40)], channels=c)
    assert point[0]["params"] == 9 * 10**7 * c + 10**7
    assert point[0]["macs"] == 9 * 10**7 * c * 32 * 32
    assert point[1]["macs"] == 9 * 10**7 * c * 33 * 40
    assert [{q: p[q] for q in TOTALS} for p in point] == [totals(net, 32, 32, c),
                                                           totals(net, 33, 40, c)]
    assert all(type(p[q]) is int for p in point for q in TOTALS)


@pytest.mark.parametrize("c", [0, -5, 10**12 + 1, 10**30, True, 3.0, "3"])
def test_channels_outside_the_range_are_refused(c):
    report = symcnn.analyze("conv3-8")
    for call in (lambda: sweep(report, [(32, 32)], channels=c),
                 lambda: budget(report, 10**9, channels=c)):
        with pytest.raises(SymCNNError, match="channels must be .*1,000,000,000,000"):
            call()


def test_channels_that_contradict_the_input_line_are_refused():
    report = symcnn.analyze("input HxWx3 conv3-8")
    assert sweep(report, [(8, 8)], channels=3) == sweep(report, [(8, 8)])
    with pytest.raises(SymCNNError, match="fixes the channels at 3.*channels 5"):
        sweep(report, [(8, 8)], channels=5)


def test_cli_channels(capsys):
    assert main(["sweep", "conv3-10000000", "--sizes", "32", "-c", str(10**12),
                 "-f", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    macs = 9 * 10**7 * 10**12 * 32 * 32
    assert out[1] == f"32,32,{9 * 10**7 * 10**12 + 10**7},{32 * 32 * 10**12 + 32 * 32 * 10**7}," \
                     f"{macs},{(32 * 32 * 10**12 + 32 * 32 * 10**7) * 4}"
    for argv in (["sweep", "conv3-10000000", "--sizes", "32", "-c", str(10**30)],
                 ["sweep", "conv3-10000000", "--sizes", "32", "-c", "-5"],
                 ["budget", "conv3-8", "--memory", "1GB", "-c", "0"]):
        assert main(argv) == 2
        assert "channels must be between 1 and 1,000,000,000,000" in capsys.readouterr().err


# 3. only inputs analyze accepts: groups, residuals on the input, the smallest input

@pytest.mark.parametrize("net, c", [("conv3-64g2", 3), ("dw3 conv1-8g4", 6),
                                    ("cat( | conv1-4g2) conv3-9g3", 4)])
def test_channels_analyze_refuses_are_refused(net, c):
    with pytest.raises(SymCNNError) as expected:
        symcnn.analyze(net, (64, 64, c))
    report = symcnn.analyze(net)
    for call in (lambda: sweep(report, [(64, 64)], channels=c),
                 lambda: budget(report, 10**9, channels=c)):
        with pytest.raises(SymCNNError) as got:
            call()
        assert str(got.value) == str(expected.value)


def test_cli_groups_that_do_not_divide(capsys):
    assert main(["sweep", "conv3-64g2", "--sizes", "32"]) == 2
    assert "not divisible by its 2 groups" in capsys.readouterr().err
    assert main(["sweep", "conv3-64g2", "--sizes", "32", "-c", "4"]) == 0
    assert f"{288 * 4 + 64:,}" in capsys.readouterr().out  # params 288·C + 64


def test_residual_on_the_input_sweeps_at_its_channels():
    net = "res(conv3-8)"
    report = symcnn.analyze(net, "HxWx8")
    assert report.formula_input.channels == 8
    assert [{q: p[q] for q in TOTALS} for p in sweep(report, [(5, 7), (32, 32)])] == \
        [totals(net, 5, 7, 8), totals(net, 32, 32, 8)]


# 4. streaming: the largest sweep in constant memory; the list API states its limit

def test_sizes_are_lazy_and_behave_like_the_list():
    sizes = parse_sizes(f"1:{MAX_SWEEP - 3},160x240,32:64:32x48:96:48")
    assert isinstance(sizes, Sizes) and len(sizes) == MAX_SWEEP
    assert sizes[0] == (1, 1) and sizes[MAX_SWEEP - 4] == (MAX_SWEEP - 3, MAX_SWEEP - 3)
    assert sizes[-3:] == [(160, 240), (32, 48), (64, 96)]
    assert parse_sizes("32:40:4") == [(32, 32), (36, 36), (40, 40)]
    assert parse_sizes("32:40:4") != [(32, 32), (36, 36)]
    assert parse_sizes("32:40:4") != parse_sizes("32:36:4")
    assert parse_sizes("32:40:4") == parse_sizes("32,36,40")


def test_no_sizes_is_no_points():
    for net in ("vgg16", "input Hx224x3 conv3-8"):
        assert sweep(symcnn.analyze(net), []) == []


def test_iter_sweep_streams_the_largest_sweep_in_little_memory():
    report = symcnn.analyze("vgg16")
    tracemalloc.start()
    try:
        points = iter_sweep(report, parse_sizes(f"1:{MAX_SWEEP}"))
        first = list(islice(points, 3))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20  # one chunk of 65,536 sizes, not every point
    assert [p["h"] for p in first] == [32, 33, 34]  # below 32 is left out
    assert first[0] == {"h": 32, "w": 32, **totals("vgg16", 32, 32)}


def test_the_last_chunk_of_a_long_sweep_is_exact_beyond_int64():
    report = symcnn.analyze("vgg16")
    start = 10**12 - 70_000
    points = list(iter_sweep(report, parse_sizes(f"{start}:{10**12}")))
    assert len(points) == 70_001 and points[-1]["h"] == 10**12
    for p in (points[0], points[65_535], points[65_536], points[-1]):
        assert {q: p[q] for q in TOTALS} == totals("vgg16", p["h"], p["w"])


def test_sweep_list_has_a_stated_limit():
    report = symcnn.analyze("vgg16")
    with pytest.raises(SymCNNError, match=f"at most {MAX_SWEEP_LIST:,} points.*iter_sweep"):
        sweep(report, parse_sizes(f"1:{MAX_SWEEP_LIST + 1}"))
    with pytest.raises(SymCNNError, match=f"more than {MAX_SWEEP:,} sizes"):
        parse_sizes(f"1:{MAX_SWEEP + 1}")
    with pytest.raises(SymCNNError, match=f"more than {MAX_SWEEP:,} sizes"):
        parse_sizes("1:10000000")  # issue 13: was 5.5 GB or a MemoryError


def test_sweep_work_has_a_stated_limit():
    net = " ".join(f"conv3-8/2p{p} pool2/1" for p in range(1, 40))  # many distinct floors
    report = symcnn.analyze(net)
    terms = sum(report.evaluator(q).terms for q in TOTALS)
    most = MAX_SWEEP_WORK // terms
    assert len(list(islice(iter_sweep(report, parse_sizes(f"1:{most}")), 2))) == 2
    with pytest.raises(SymCNNError, match=f"{terms:,} terms.*at most {most:,} sizes"):
        iter_sweep(report, parse_sizes(f"1:{most + 1}"))


def test_cli_sweep_beyond_the_limits(capsys):
    assert main(["sweep", "vgg16", "--sizes", "1:10000000"]) == 2
    assert f"more than {MAX_SWEEP:,} sizes" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_format_sweep_is_the_cli_text(fmt, capsys):
    report = symcnn.analyze("resnet50")
    assert main(["sweep", "resnet50", "--sizes", "224:256:16,160x240", "-f", fmt]) == 0
    text = "".join(format_sweep(report, iter_sweep(report, parse_sizes("224:256:16,160x240")),
                                fmt))
    assert text == capsys.readouterr().out
    if fmt == "json":
        points = sweep(report, parse_sizes("224:256:16,160x240"))
        assert text == json.dumps({"dtype": "float32", "bytes_per_element": 4,
                                   "points": points}) + "\n"


def test_format_sweep_of_nothing():
    report = symcnn.analyze("vgg16")
    assert "".join(format_sweep(report, iter_sweep(report, [(8, 8)]), "json")) == \
        '{"dtype": "float32", "bytes_per_element": 4, "points": []}\n'
    assert "".join(format_sweep(report, [], "table")).endswith(
        "0 sizes; per image; 1 MAC = 2 FLOPs; sizes below the network's minimum input are "
        "left out.\n")


def test_format_sweep_needs_the_three_quantities():
    report = symcnn.analyze("vgg16")
    with pytest.raises(SymCNNError, match="format_sweep needs"):
        list(format_sweep(report, iter_sweep(report, [(32, 32)], quantities=("macs",))))
    with pytest.raises(SymCNNError, match="format_sweep needs"):
        list(format_sweep(report, [{"h": 32, "w": 32}], "csv"))


def test_aspect_in_the_sweep_is_the_cli_aspect(capsys):
    report = symcnn.analyze("vgg16")
    points = sweep(report, parse_sizes("224,225,160x240"), aspect=(4, 3))
    assert [(p["h"], p["w"]) for p in points] == [(224, 168)]  # 225·3/4 is not whole
    assert {q: points[0][q] for q in TOTALS} == totals("vgg16", 224, 168)
    with pytest.raises(SymCNNError, match="aspect 1:1000000 makes W"):
        sweep(report, parse_sizes("10000000"), aspect=(1, 10**6))


@pytest.mark.parametrize("sizes, match", [
    ([(0, 5)], "between 1 and"), ([(5, 10**12 + 1)], "between 1 and"),
    ([(5.0, 5)], "pairs of ints"), ([(True, 5)], "pairs of ints"), ([(5,)], "pairs of ints")])
def test_sizes_given_as_a_list_are_checked(sizes, match):
    with pytest.raises(SymCNNError, match=match):
        sweep(symcnn.analyze("conv3-8"), sizes)


# 5. input lines the formulas read partly: fixed, square or tied sizes

@pytest.mark.parametrize("net, sizes, match", [
    ("input HxHx3 conv3-8", [(160, 240)], "makes the input square"),
    ("input Hx224x3 conv3-8", [(160, 240)], "fixes W = 224"),
    ("input HxWxH conv3-8", [(160, 240)], "ties the channels to the height"),
])
def test_partial_input_lines_refuse_sizes_they_cannot_read(net, sizes, match):
    with pytest.raises(SymCNNError, match=match):
        sweep(symcnn.analyze(net), sizes)


@pytest.mark.parametrize("net, sizes", [("input HxHx3 conv3-8", [(160, 160), (7, 7)]),
                                        ("input Hx224x3 conv3-8", [(160, 224), (7, 224)])])
def test_partial_input_lines_answer_what_they_can(net, sizes):
    got = sweep(symcnn.analyze(net), sizes)
    assert [{q: p[q] for q in TOTALS} for p in got] == [totals(net, h, w) for h, w in sizes]


def test_square_input_line_budget_needs_a_square_aspect():
    with pytest.raises(SymCNNError, match="makes the input square"):
        budget(symcnn.analyze("input HxHx3 conv3-8"), 10**9, aspect=(3, 4))


# 6. budgets: the largest accepted input, and the smallest input named

def test_budget_beyond_the_largest_input_says_the_largest_fits():
    limit = 10**18 * 10**12  # 10¹⁸ TB
    b = budget(symcnn.analyze("vgg16"), limit, on="activations")
    t = totals("vgg16", MAX_VALUE, MAX_VALUE)
    assert (b.height, b.width, b.largest, b.next_cost) == (MAX_VALUE, MAX_VALUE, True, None)
    assert b.cost == (t["activations"] + t["params"]) * 4 <= limit
    assert b.describe().startswith(f"largest input: {MAX_VALUE}x{MAX_VALUE}, the largest "
                                   "symcnn accepts") and "inputs stop at" in b.describe()
    b = budget(symcnn.analyze("vgg16"), 10**40, "macs", aspect=(1, 4))
    assert (b.height, b.width) == (MAX_VALUE // 4, MAX_VALUE) and b.largest


def test_cli_budget_beyond_the_largest_input(capsys):
    assert main(["budget", "vgg16", "--memory", "1000000000000000000TB"]) == 0
    out = capsys.readouterr().out
    assert "the largest symcnn accepts" in out and "independent" not in out


def test_budget_and_sweep_of_inception_ignore_the_aux_head(capsys):
    assert minimum_input(symcnn.analyze("inception_v3").network, channels=3) == (75, 75)
    b = budget(symcnn.analyze("inception_v3"), 3 * 10**9, "macs")
    assert (b.height, b.smallest) == (234, (75, 75))
    assert b.cost == totals("inception_v3", 234, 234)["macs"] <= 3 * 10**9 < \
        totals("inception_v3", 235, 235)["macs"] == b.next_cost
    b = budget(symcnn.analyze("inception_v3"), 3000, "macs")
    assert b.height is None and b.next_cost == totals("inception_v3", 75, 75)["macs"]
    assert b.describe().startswith("nothing fits: the smallest input (75x75) needs")
    points = sweep(symcnn.analyze("inception_v3"), parse_sizes("224,299"))
    assert [p["h"] for p in points] == [224, 299]


@pytest.mark.parametrize("kwargs, match", [
    (dict(limit=0), "the budget"), (dict(limit=1.5), "the budget"),
    (dict(limit=10, batch=0), "batch"), (dict(limit=10, quantity="params"), "quantity"),
    (dict(limit=10, aspect=(0, 1)), "aspect"), (dict(limit=10, aspect=(1, 10**7)), "aspect")])
def test_budget_arguments_are_checked(kwargs, match):
    with pytest.raises(SymCNNError, match=match):
        budget(symcnn.analyze("vgg16"), **kwargs)


# Differential: sweeps and budgets against analyze on the zoo and on random notation

def _random_net(rng: random.Random) -> str:
    layers = []
    for _ in range(rng.randint(1, 6)):
        kind = rng.randint(0, 9)
        if kind <= 3:
            k = rng.randint(1, 5)
            opt = rng.choice(["", f"/{rng.randint(1, 3)}", f"p{rng.randint(0, 2)}",
                              f"g{rng.randint(1, 3)}", f"d{rng.randint(1, 2)}"])
            layers.append(f"conv{k}-{rng.choice([6, 12, 24])}{opt}")
        elif kind == 4:
            layers.append(rng.choice(["pool", "pool3/2", "avgpool3/2p1", "pool2/1ceil"]))
        elif kind == 5:
            w = rng.choice([6, 8])
            layers.append(f"conv1-{w} res(conv3-{w} bn)")
        elif kind == 6:
            layers.append("cat( | conv1-4 relu)")
        elif kind == 7:
            layers.append(f"(conv3-8/2p{rng.randint(0, 1)} relu)x{rng.randint(1, 3)}")
        elif kind == 8:
            layers.append(rng.choice(["gap", "adaptiveavgpool2", "bn", "dw3"]))
        else:
            layers.append(f"fc{rng.randint(1, 20)}")
    return " ".join(layers)


def _cases():
    rng = random.Random(13)
    nets = [_random_net(rng) for _ in range(40)]
    nets += ["vgg11", "resnet18", "mobilenet_v3_small", "squeezenet1_0", "googlenet",
             "inception_v3", "densenet121"]
    fixed = [("conv3-12g3 pool fc10", 4), ("dw3 conv1-6g2", 3), ("gap fc10", 3),
             ("pool2 conv3-8/2x60", 2), ("conv3-12g3 pool fc10", 6)]
    return [(net, rng.choice([1, 2, 3, 4, 6, 8])) for net in nets] + fixed


def _report(net):
    try:
        return symcnn.analyze(net)
    except SymCNNError:
        return None


def _analysable_cases():
    """The cases whose symbolic input analyze accepts (the others have nothing to sweep;
    test_refused_networks_cannot_be_swept covers them), so that no case skips."""
    return [(net, c) for net, c in _cases() if _report(net) is not None]


def test_refused_networks_cannot_be_swept():
    refused = [net for net, _ in _cases() if _report(net) is None]
    assert refused  # the random networks include some that no input size runs
    for net in refused:
        assert main(["sweep", net, "--sizes", "32"]) == 2
        assert main(["budget", net, "--macs", "5G"]) == 2


@pytest.mark.parametrize("net, c", _analysable_cases())
def test_sweep_is_analyze_at_every_size(net, c):
    report = _report(net)
    rng = random.Random(net)
    sizes = [(1, 1), (2, 3), (rng.randint(3, 40), rng.randint(3, 40)), (75, 75), (299, 224),
             (rng.randint(100, 400), rng.randint(100, 400))]
    channels = c if report.formula_input.channels == "C" else None
    cc = c if channels else report.formula_input.channels
    try:
        points = sweep(report, sizes, channels)
    except SymCNNError:
        assert not any(accepts(net, h, w, cc) for h, w in sizes), net
        return
    answered = {(p["h"], p["w"]): p for p in points}
    for h, w in sizes:
        if not accepts(net, h, w, cc):
            assert (h, w) not in answered, f"sweep answered {h}x{w}x{cc}, analyze refuses"
            continue
        assert (h, w) in answered, f"sweep left out {h}x{w}x{cc}, analyze accepts: {net}"
        assert {q: answered[(h, w)][q] for q in TOTALS} == totals(net, h, w, cc)


@pytest.mark.parametrize("net, c", _analysable_cases())
def test_budget_fits_and_the_next_size_does_not(net, c):
    report = _report(net)
    rng = random.Random(net + "budget")
    channels = c if report.formula_input.channels == "C" else None
    cc = c if channels else report.formula_input.channels
    quantity = rng.choice(["memory", "macs"])
    aspect = rng.choice([(1, 1), (3, 4), (2, 1)])
    limit = rng.choice([10**5, 10**7, 10**9, 10**11])
    try:
        b = budget(report, limit, quantity, batch=rng.choice([1, 8]), aspect=aspect,
                   channels=channels, on="activations" if quantity == "memory" else None)
    except SymCNNError:
        low = minimum_input(report.network, channels=cc)
        assert low is None or not accepts(net, *low, cc), net
        return
    batch = b.batch

    def cost(h, w):
        t = symcnn.analyze(net, (h, w, cc)).totals
        if quantity == "macs":
            return batch * t["macs"]
        return (batch * t["activations"] + t["params"]) * 4

    a, d = aspect
    sh, sw = b.smallest
    assert sh % a == 0 and sw * a == sh * d and accepts(net, sh, sw, cc)
    assert not accepts(net, sh - a, sw - d, cc) if sh > a and sw > d else True
    if b.height is None:
        assert b.next_cost == cost(sh, sw) > limit
        return
    k = b.height // a
    assert (b.height, b.width) == (a * k, d * k) and accepts(net, b.height, b.width, cc)
    assert b.cost == cost(b.height, b.width) <= limit
    if b.largest:
        assert b.next_cost is None and max(a, d) * (k + 1) > MAX_VALUE
    else:
        assert b.next_cost == cost(a * (k + 1), d * (k + 1)) > limit


def test_plot_reads_a_streamed_sweep(tmp_path):
    pytest.importorskip("matplotlib")
    from symcnn.plot import plot_sweep
    report = symcnn.analyze("resnet18")
    png = plot_sweep(iter_sweep(report, parse_sizes("32:4096:4")), "macs", tmp_path / "m.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SymCNNError, match="nothing to plot"):
        plot_sweep(iter_sweep(symcnn.analyze("vgg16"), [(8, 8)]), "macs", tmp_path / "n.png")
