"""The compiled evaluator: exact on ints and on NumPy arrays, guarded against overflow."""

import random

import numpy as np
import pytest

import symcnn
from symcnn.evaluate import compile_formula

NETS = ["vgg16", "conv7-16/2p3 pool3/2p1 conv5-8p0 conv3-8/2 avgpool3/2 fc10",
        "(conv3-8 relu pool3/2p1)x3 conv1x3-4/2 fc7"]


@pytest.mark.parametrize("net", NETS)
@pytest.mark.parametrize("quantity", ["params", "macs", "activations"])
def test_matches_analyze(net, quantity):
    report = symcnn.analyze(net)
    f = report.evaluator(quantity)
    rng = random.Random(quantity)
    sizes = [(224, 224), (225, 227), (160, 240)] + [(rng.randint(40, 999), rng.randint(40, 999))
                                                    for _ in range(20)]
    for h, w in sizes:
        kw = {s: v for s, v in (("H", h), ("W", w), ("C", 3)) if s in f.symbols}
        assert f(**kw) == symcnn.analyze(net, (h, w, 3)).totals[quantity]
    hs = np.array([h for h, _ in sizes])
    ws = np.array([w for _, w in sizes])
    kw = {s: v for s, v in (("H", hs), ("W", ws), ("C", 3)) if s in f.symbols}
    got = f(**kw)
    assert [int(x) for x in np.broadcast_to(got, hs.shape)] == [
        f(**{s: int(v[i]) if not isinstance(v, int) else v for s, v in kw.items()})
        for i in range(len(sizes))]


def test_int64_guard_switches_to_python_ints():
    f = symcnn.analyze("vgg16").evaluator("macs")
    big = np.array([10**9])
    exact = f(H=10**9, W=10**9)
    assert exact > 2**63 and int(f(H=big, W=big)[0]) == exact
    assert f(H=np.array([224]), W=np.array([224])).dtype == np.int64


def test_divisible_form_with_rational_coefficients():
    report = symcnn.analyze("input HxWx3 conv3-64x2 pool conv3-128x2 pool conv3-256x3 pool "
                            "conv3-512x3 pool conv3-512x3 pool fc4096 fc4096 fc1000 relu")
    f = report.evaluator("activations", divisible=True)
    for k in range(1, 30):
        h = 32 * k
        assert f(H=h, W=h) == symcnn.analyze(report.network, (h, h, 3)).totals["activations"]


def test_errors():
    f = symcnn.analyze("conv3-8").evaluator("macs")
    with pytest.raises(symcnn.SymCNNError, match="missing value for C"):
        f(H=3, W=3)
    with pytest.raises(symcnn.SymCNNError, match="unknown quantity"):
        symcnn.analyze("conv3-8").evaluator("flopz")
    assert compile_formula(17)() == 17


# The guard bounds every argument, scalars included (issue 13: C = 10¹² as a Python int
# beside int64 arrays wrapped to −7,372,036,854,775,808,000).
CONV = "conv3-1000000"  # MACs = 9·10⁶·C·H·W, params = 9·10⁶·C + 10⁶


@pytest.mark.parametrize("kwargs, expected", [
    (dict(H=np.array([32]), W=np.array([32]), C=10**12), 9 * 10**6 * 10**12 * 32 * 32),
    (dict(H=np.array([32]), W=np.array([32]), C=np.int64(10**12)), 9 * 10**6 * 10**12 * 32 * 32),
    (dict(H=np.array([32]), W=32, C=10**12), 9 * 10**6 * 10**12 * 32 * 32),
    (dict(H=np.array([32], dtype=np.uint64), W=np.uint64(32), C=np.int32(3)), 9 * 10**6 * 3 * 32 * 32),
    (dict(H=np.array([2**64 - 1], dtype=np.uint64), W=32, C=3), 9 * 10**6 * 3 * (2**64 - 1) * 32),
    (dict(H=np.array([10**30], dtype=object), W=np.array([1]), C=1), 9 * 10**6 * 10**30),
    (dict(H=np.int64(32), W=32, C=10**12), 9 * 10**6 * 10**12 * 32 * 32),
])
def test_every_argument_is_guarded(kwargs, expected):
    f = symcnn.analyze(CONV).evaluator("macs")
    got = f(**kwargs)
    assert [int(x) for x in np.ravel(got)] == [expected]
    assert not isinstance(got, np.ndarray) or got.dtype == object or expected < 2**62


def test_small_scalars_keep_int64():
    f = symcnn.analyze(CONV).evaluator("macs")
    got = f(H=np.array([32, 64]), W=np.array([32, 64]), C=3)
    assert got.dtype == np.int64 and got.tolist() == [9 * 10**6 * 3 * 32 * 32,
                                                      9 * 10**6 * 3 * 64 * 64]


def test_huge_denominators_are_exact():
    import sympy
    h = sympy.Symbol("H", integer=True, positive=True)
    f = compile_formula(3 * sympy.floor((h + 5) / 2**70) + h)
    assert f(H=np.array([2**70 - 5, 7]))[0] == 3 + 2**70 - 5
    assert f(H=np.array([2**70 - 5, 7])).tolist() == [3 + 2**70 - 5, 7]


@pytest.mark.parametrize("bad, match", [
    (True, "not booleans"), (np.array([1.5]), "integers"), (np.array([True]), "integers"),
    (np.array(["32"]), "integers"), (np.array([32, "x"], dtype=object), "integers")])
def test_non_integer_arguments_are_refused(bad, match):
    f = symcnn.analyze(CONV).evaluator("macs")
    with pytest.raises(symcnn.SymCNNError, match=match):
        f(H=bad, W=32, C=3)


@pytest.mark.parametrize("net", ["vgg16", "inception_v3", "densenet121",
                                 "conv1-1000000000000p1000000000000 fc1000000000000"])
@pytest.mark.parametrize("quantity", ["params", "macs", "activations"])
def test_arrays_across_the_int64_boundary_are_the_python_ints(net, quantity):
    """Per term, int64 while it cannot pass 2⁶², Python ints from there: the array result
    is the scalar (Python int) result at every size, from small to 10¹²."""
    f = symcnn.analyze(net).evaluator(quantity)
    rng = random.Random(net + quantity)
    for top in (10**3, 10**6, 3 * 10**6, 10**8, 10**12):
        hs = [rng.randint(max(1, top // 10), top) for _ in range(30)] + [top]
        ws = [rng.randint(max(1, top // 10), top) for _ in range(31)]
        for c in (3, 10**12):
            kw = {"H": np.array(hs), "W": np.array(ws), "C": c}
            got = f(**{s: kw[s] for s in f.symbols})
            expected = [f(**{s: {"H": h, "W": w, "C": c}[s] for s in f.symbols})
                        for h, w in zip(hs, ws)]
            assert np.broadcast_to(got, (31,)).tolist() == expected
