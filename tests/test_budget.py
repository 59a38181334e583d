"""Budgets on real memory (issue 12): the largest batch at an input, or the largest input at
a batch, whose inference peak, training peak (an estimate) or other named figure fits;
checked against brute force over batches and sizes with the report's own figures
(``analyze(...).memory``, an independent path), confirmed at the answer and one step up,
and refused cleanly for hostile amounts."""

from __future__ import annotations

import math

import pytest

import symcnn
from symcnn import SymCNNError
from symcnn.budget import BUDGET_FIGURES, DEFINITIONS, LEAVES_OUT, MAX_BATCH, budget
from symcnn.cli import main
from symcnn.notation import MAX_VALUE

TINY = "input 4x4x2 conv1-3"  # params 2·3 + 3 = 9; per image: input 4·4·2, output 4·4·3


def figure(net, input, figure, batch, **settings):
    """The figure as a report gives it (``Report.memory``; the seed's convention from the
    totals), at one input and batch."""
    r = symcnn.analyze(net, input, batch=batch, **settings)
    if figure == "activations":
        return (batch * r.totals["activations"] + r.totals["params"]) * r.bytes_per_element
    if figure == "macs":
        return batch * r.totals["macs"]
    return r.memory[figure]


# ── hand-computed answers ─────────────────────────────────────────────────────────────

@pytest.mark.parametrize("kwargs, batch, cost, next_cost", [
    # inference peak: params 9·4 B + input 4·4·2·4 B·B + output 4·4·3·4 B·B = 36 + 320·B
    (dict(limit=1000), 3, 36 + 320 * 3, 36 + 320 * 4),
    (dict(limit=36 + 320 * 7), 7, 36 + 320 * 7, 36 + 320 * 8),
    # the seed's convention: (activations (4·4·2 + 4·4·3)·B + params 9)·4 B
    (dict(limit=1000, on="activations"), 3, (80 * 3 + 9) * 4, (80 * 4 + 9) * 4),
    # MACs per batch: 4·4·3·2 = 96 per image
    (dict(limit=1000, quantity="macs"), 10, 96 * 10, 96 * 11),
    # model state (params + gradients + Adam's 2 copies) does not depend on the batch
    (dict(limit=1000, on="model_state"), MAX_BATCH, 9 * 4 * 4, None),
])
def test_hand_computed_batches(kwargs, batch, cost, next_cost):
    b = budget(symcnn.analyze(TINY), **kwargs)
    assert (b.solve, b.batch, b.cost, b.next_cost) == ("batch", batch, cost, next_cost)
    assert (b.height, b.width, b.channels) == (4, 4, 2)
    assert b.largest == (next_cost is None)


def test_the_inference_peak_of_the_tiny_net_is_what_the_hand_computation_says():
    assert [figure(TINY, None, "inference_peak", n) for n in (1, 2, 5)] == \
        [36 + 320 * 1, 36 + 320 * 2, 36 + 320 * 5]


# ── the largest batch against brute force ─────────────────────────────────────────────

def brute_batch(net, input, fig, limit, **settings) -> int:
    """The largest batch whose figure fits, by trying 1, 2, 3, … (0: none)."""
    n = 0
    while figure(net, input, fig, n + 1, **settings) <= limit:
        n += 1
    return n


BATCH_CASES = [
    ("resnet18", "64x64x3", "inference_peak", 200 * 10**6, {}),
    ("resnet18", "64x64x3", "inference_peak", 200 * 10**6, dict(device="cpu")),
    ("resnet18", "64x64x3", "training_peak", 400 * 10**6, dict(optimizer="sgd")),
    ("resnet18", "64x64x3", "training_peak", 400 * 10**6, dict(optimizer="adam")),
    ("mobilenet_v2", "96x96x3", "training_peak", 300 * 10**6, dict(optimizer="adamw",
                                                                 device="cpu")),
    ("mobilenet_v2", "96x96x3", "inference_peak", 40 * 10**6, dict(dtype="float16")),
    ("squeezenet1_0", "67x67x3", "saved_for_backward", 100 * 10**6, {}),
    ("vgg11", "32x32x3", "activations", 600 * 10**6, {}),
    ("conv3-16 bn relu pool2 conv3-32 bn relu se(8) gap fc10", "24x24x3", "training_peak",
     2 * 10**6, dict(optimizer="momentum")),
]


@pytest.mark.parametrize("net, input, fig, limit, settings", BATCH_CASES)
def test_largest_batch_is_brute_force(net, input, fig, limit, settings):
    r = symcnn.analyze(net, input, **settings)
    b = budget(r, limit, training=fig == "training_peak",
               on=None if fig in ("inference_peak", "training_peak") else fig)
    want = brute_batch(net, input, fig, limit, **settings)
    assert 2 <= want < 400  # the cases are chosen to need a search
    assert b.batch == want and b.figure == fig
    # confirmed at the answer and one step up, with the report's own figure
    assert b.cost == figure(net, input, fig, want, **settings) <= limit
    assert b.next_cost == figure(net, input, fig, want + 1, **settings) > limit
    assert b.evaluations <= 2 * math.ceil(math.log2(want + 1)) + 2


# ── the largest input against brute force ─────────────────────────────────────────────

SIZE_CASES = [
    ("resnet18", 4, "inference_peak", 100 * 10**6, (1, 1), {}),
    ("resnet18", 2, "training_peak", 500 * 10**6, (1, 1), dict(optimizer="sgd")),
    ("mobilenet_v3_small", 1, "training_peak", 150 * 10**6, (3, 4), dict(device="cpu")),
    ("densenet121", 1, "inference_peak", 18 * 10**6, (1, 1), dict(dtype="bfloat16")),
    ("conv3-8 pool3/2 conv3-16/2 bn relu6 cat( | conv1-4 relu) gap fc10", 3, "inference_peak",
     2 * 10**6, (2, 1), {}),
    ("conv3-8 pool3/2 conv3-16/2 bn relu6 cat( | conv1-4 relu) gap fc10", 3, "training_peak",
     2 * 10**6, (1, 1), {}),
    ("vgg11", 2, "saved_for_backward", 300 * 10**6, (1, 1), {}),
]


@pytest.mark.parametrize("net, batch, fig, limit, aspect, settings", SIZE_CASES)
def test_largest_input_is_brute_force(net, batch, fig, limit, aspect, settings):
    from symcnn.shapes import minimum_input
    r = symcnn.analyze(net, **settings)
    b = budget(r, limit, batch=batch, aspect=aspect, training=fig == "training_peak",
               on=None if fig in ("inference_peak", "training_peak") else fig)
    a, d = aspect
    low = minimum_input(r.network, channels=3)
    k0 = max(-(-low[0] // a), -(-low[1] // d))
    fits = [k for k in range(k0, 2 * b.height // a + 8)  # well beyond the answer
            if figure(net, (a * k, d * k, 3), fig, batch, **settings) <= limit]
    assert fits and (b.height, b.width) == (a * fits[-1], d * fits[-1]) and not b.largest
    k = fits[-1]
    assert b.cost == figure(net, (a * k, d * k, 3), fig, batch, **settings) <= limit
    assert b.next_size == (a * (k + 1), d * (k + 1))
    assert b.next_cost == figure(net, (a * k + a, d * k + d, 3), fig, batch, **settings) > limit
    assert "every value seen agrees" in b.note and b.evaluations <= 2 * 40 + 2


@pytest.mark.parametrize("name", ["resnet50", "inception_v3", "mobilenet_v2", "vgg16"])
def test_zoo_inference_and_training_budgets_are_confirmed(name):
    for training in (False, True):
        b = budget(symcnn.analyze(name), 4 * 2**30, batch=8, training=training)
        fig = "training_peak" if training else "inference_peak"
        h, (nh, nw) = b.height, b.next_size
        assert b.cost == figure(name, (h, h, 3), fig, 8) <= 4 * 2**30 < \
            figure(name, (nh, nw, 3), fig, 8) == b.next_cost
        size = "299x299x3" if name == "inception_v3" else "224x224x3"
        b = budget(symcnn.analyze(name, size), 8 * 2**30, training=training)
        assert b.cost == figure(name, size, fig, b.batch) <= 8 * 2**30 < \
            figure(name, size, fig, b.batch + 1) == b.next_cost


def test_a_training_budget_starts_where_the_aux_head_runs():
    # Inception-v3's aux head runs in training from 299x299 up (75x75 at inference)
    b = budget(symcnn.analyze("inception_v3"), 2 * 10**9, training=True)
    assert b.smallest == (299, 299) and "exists from 299x299 up" in b.note
    assert symcnn.analyze("inception_v3", "298x298x3").memory["training_peak"] is None
    b = budget(symcnn.analyze("inception_v3"), 2 * 10**9)
    assert b.smallest == (75, 75)
    with pytest.raises(SymCNNError, match=r"no training peak for this network at 200x200x3: "
                       r"an aux\(…\) head cannot run on it"):
        budget(symcnn.analyze("inception_v3", "200x200x3"), 2 * 10**9, training=True)


# ── the message: the figure, its definition, what it leaves out ───────────────────────

@pytest.mark.parametrize("kwargs, name, words", [
    (dict(), "inference peak (cuda semantics, float32, 4 B/element)", "the CUDA context"),
    (dict(training=True), "training peak (cuda semantics, float32, 4 B/element, adam; an "
     "estimate)", "and it is an estimate"),
    (dict(on="saved_for_backward"), "saved for backward (cuda semantics", "it is not a peak"),
    (dict(on="model_state"), "model state (cuda semantics, float32, 4 B/element, adam)",
     "every activation"),
    (dict(on="activations"), "activations + params, the seed's convention", "a convention"),
    (dict(quantity="macs"), "MACs per batch (1 MAC = 2 FLOPs)", "not a multiply-accumulate"),
])
def test_the_message_names_the_figure_and_what_it_leaves_out(kwargs, name, words):
    b = budget(symcnn.analyze("resnet18", "64x64x3"), 10**9, **kwargs)
    lines = b.describe().split("\n")
    assert lines[0].startswith("largest batch at 64x64x3: ") and len(lines) == 5
    assert lines[1] == f"figure: {b.assumption}" and b.assumption.startswith(name)
    assert lines[2] == "  " + DEFINITIONS[b.figure]
    assert lines[3] == "leaves out: " + LEAVES_OUT[b.figure] and words in lines[3]
    assert lines[4].startswith("search: ")
    if b.figure == "training_peak":
        assert "ESTIMATE" in lines[2]


def test_every_figure_has_a_definition_and_what_it_leaves_out():
    assert set(DEFINITIONS) == set(LEAVES_OUT) == {*BUDGET_FIGURES, "macs"}
    assert "CUDA context" in LEAVES_OUT["inference_peak"] and "cuDNN" in \
        LEAVES_OUT["training_peak"]


def test_the_answer_line_shows_both_figures():
    b = budget(symcnn.analyze(TINY), 1000)
    assert b.describe().split("\n")[0] == \
        "largest batch at 4x4x2: 3  (996 bytes ≤ 1,000; batch 4 needs 1,316)"
    b = budget(symcnn.analyze("resnet18"), 10**8, batch=4)
    assert b.describe().split("\n")[0] == (
        f"largest input: {b.height}x{b.width}  ({b.cost:,} bytes ≤ 100,000,000; the next "
        f"size up, {b.height + 1}x{b.width + 1}, needs {b.next_cost:,})")


def test_nothing_fits():
    b = budget(symcnn.analyze(TINY), 100)
    assert not b.fits and b.batch is None and b.next_cost == 36 + 320
    assert b.describe().startswith("nothing fits: batch 1 at 4x4x2 needs 356 bytes "
                                   "(budget 100)")
    b = budget(symcnn.analyze("resnet18"), 1000)
    assert not b.fits and b.height is None and b.smallest == (1, 1)
    assert b.next_cost == figure("resnet18", "1x1x3", "inference_peak", 1)


# ── hostile amounts and arguments: clear errors, finite answers, bounded work ─────────

def test_a_huge_budget_gives_the_largest_batch_symcnn_accepts_in_bounded_work():
    b = budget(symcnn.analyze("resnet18", "64x64x3"), 10**40)
    assert (b.batch, b.largest, b.next_cost) == (MAX_BATCH, True, None)
    assert b.cost == figure("resnet18", "64x64x3", "inference_peak", MAX_BATCH)
    assert b.evaluations <= 2 * math.ceil(math.log2(MAX_BATCH)) + 2
    assert f"batches stop at {MAX_BATCH:,}" in b.describe()
    b = budget(symcnn.analyze("resnet18"), 10**60, training=True)
    assert (b.height, b.width, b.largest) == (MAX_VALUE, MAX_VALUE, True)
    assert b.evaluations <= 2 * math.ceil(math.log2(MAX_VALUE)) + 2


def test_a_batch_independent_figure_says_so():
    b = budget(symcnn.analyze("resnet18", "64x64x3"), 10**9, on="model_state")
    assert b.batch == MAX_BATCH and "the cost does not depend on the batch" in b.describe()


@pytest.mark.parametrize("input, kwargs, match", [
    (None, dict(limit=0), "the budget must be a whole number"),
    (None, dict(limit=-5), "the budget must be a whole number"),
    (None, dict(limit=1.5e9), "the budget must be a whole number"),
    (None, dict(limit=True), "the budget must be a whole number"),
    (None, dict(limit=10**9, batch=0), "batch must be a whole number between 1 and"),
    (None, dict(limit=10**9, batch=10**13), "batch must be a whole number between 1 and"),
    ("64x64x3", dict(limit=10**9, batch=4), r"the input is fixed \(64x64x3\) and so is the "
     r"batch \(4\): nothing to solve"),
    ("64x64x3", dict(limit=10**9, aspect=(4, 3)), "an aspect is for searching input sizes"),
    ("64x64x3", dict(limit=10**9, channels=4), "fixes the channels at 3"),
    (None, dict(limit=10**9, training=True, on="inference_peak"),
     "a budget on a memory figure"),
    (None, dict(limit=10**9, on="params"), "a budget on a memory figure"),
    (None, dict(limit=10**9, quantity="macs", training=True), "a budget on a memory figure"),
    (None, dict(limit=10**9, quantity="bytes"), "unknown budget quantity"),
])
def test_hostile_arguments_are_refused(input, kwargs, match):
    with pytest.raises(SymCNNError, match=match):
        budget(symcnn.analyze("resnet18", input), **kwargs)


def test_int8_has_no_training_budget():
    with pytest.raises(SymCNNError, match="PyTorch does not train in int8"):
        budget(symcnn.analyze("resnet18", dtype="int8"), 10**9, training=True)
    assert budget(symcnn.analyze("resnet18", "64x64x3", dtype="int8"), 10**9).fits


@pytest.mark.parametrize("argv, match", [
    (["--memory", "1e30"], "is not an amount such as 8GB"),
    (["--memory", "0"], "must come to a whole number of at least 1"),
    (["--memory=-1GB"], "is not an amount"),
    (["--memory", "0.5B"], "must come to a whole number"),
    (["--memory", "8GB", "--batch", "0"], "--batch must be between 1 and 10^12"),
    (["--memory", "8GB", "--batch", str(10**13)], "--batch must be between 1 and 10^12"),
    (["-i", "224x224x3", "--memory", "8GB", "--batch", "4"], "nothing to solve"),
    (["-i", "224x224x3", "--memory", "8GB", "--aspect", "4:3"], "an aspect is for searching"),
    (["--memory", "8GB", "--training", "--on", "saved_for_backward"],
     "a budget on a memory figure"),
    (["--macs", "5G", "--training"], "a budget on a memory figure"),
    (["--memory", "8GB", "--training", "--dtype", "int8"], "does not train in int8"),
])
def test_cli_errors_exit_2_without_a_traceback(capsys, argv, match):
    assert main(["budget", "resnet50", *argv]) == 2
    out, err = capsys.readouterr()
    assert not out and "Traceback" not in err and err.startswith("symcnn: error: ")
    assert match in err


def test_cli_hostile_budget_answers_finitely(capsys):
    assert main(["budget", "resnet50", "-i", "224x224x3", "--memory",
                 "1000000000000000000TB", "--training"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"largest batch at 224x224x3: {MAX_BATCH:,}, the largest symcnn "
                          "accepts")


# ── the CLI ─────────────────────────────────────────────────────────────────────────

def test_cli_largest_training_batch(capsys):
    assert main(["budget", "resnet50", "--input", "224x224x3", "--memory", "24GiB",
                 "--training"]) == 0
    out = capsys.readouterr().out.split("\n")
    want = brute = budget(symcnn.analyze("resnet50", "224x224x3"), 24 * 2**30,
                          training=True).batch
    assert out[0].startswith(f"largest batch at 224x224x3: {want:,}  (")
    assert out[1] == "figure: training peak (cuda semantics, float32, 4 B/element, adam; an " \
        "estimate)"
    assert figure("resnet50", "224x224x3", "training_peak", brute) <= 24 * 2**30 < \
        figure("resnet50", "224x224x3", "training_peak", brute + 1)


@pytest.mark.parametrize("flags, fig", [
    ([], "inference_peak"), (["--training"], "training_peak"),
    (["--training", "--optimizer", "sgd", "--device", "cpu"], "training_peak"),
    (["--on", "activations"], "activations"), (["--on", "saved_for_backward"],
                                               "saved_for_backward")])
def test_cli_sizes_on_each_figure(capsys, flags, fig):
    assert main(["budget", "resnet18", "--memory", "1GB", "--batch", "4", *flags]) == 0
    out = capsys.readouterr().out
    settings = dict(optimizer="sgd", device="cpu") if "sgd" in flags else {}
    b = budget(symcnn.analyze("resnet18", **settings), 10**9, batch=4,
               training="--training" in flags, on=fig if "--on" in flags else None)
    assert out == b.describe() + "\n" and b.figure == fig
    assert b.cost == figure("resnet18", (b.height, b.height, 3), fig, 4, **settings)


def test_sweep_still_exports_the_budget_names():
    import symcnn.budget as module
    from symcnn import sweep
    assert sweep.budget is module.budget and sweep.parse_amount is module.parse_amount
    assert sweep.Budget is module.Budget and sweep.BUDGET_FIGURES == BUDGET_FIGURES
    with pytest.raises(AttributeError):
        sweep.no_such_name  # noqa: B018


# ── the search itself: brute force on synthetic figures, bounded work ────────────────

@pytest.mark.parametrize("seed", range(40))
def test_the_search_is_brute_force_on_monotone_figures_and_bounded(seed):
    import random

    from symcnn.budget import _falls, _largest
    rng = random.Random(seed)
    lo, hi = rng.randint(1, 50), rng.choice([60, 1000, 10**6, MAX_VALUE])
    steps = [rng.choice([0, 0, 1, 7, 10**6]) for _ in range(64)]
    f = lambda k: sum(steps[:(k - lo) % 64]) + (k - lo) // 64 * sum(steps)  # noqa: E731
    limit = f(lo) + rng.choice([0, 5, 10**5, 10**9, 10**30])
    k, up, seen = _largest(f, lo, hi, limit)
    if up is None:
        assert k == hi and f(hi) <= limit
    else:
        assert up == k + 1 and f(k) <= limit < f(k + 1) == seen[up]
        if hi < 10**4:  # brute force: no larger k fits
            assert max(j for j in range(lo, hi + 1) if f(j) <= limit) == k
    assert len(seen) <= 2 * math.ceil(math.log2(hi - lo + 2)) + 2 and _falls(seen) is None


def test_a_figure_that_falls_is_confirmed_and_said_to_fall():
    from symcnn.budget import _falls, _largest
    f = lambda k: [0, 5, 9, 3, 9, 12, 20, 30][k]  # noqa: E731  falls from k = 2 to k = 3
    k, up, seen = _largest(f, 0, 7, 10)
    assert f(k) <= 10 < f(up) and up == k + 1
    assert _falls({1: 5, 2: 9, 3: 3, 5: 12}) == (2, 3) and _falls({1: 5, 2: 5}) is None


def test_saved_for_backward_also_needs_the_aux_head_to_run():
    # below 299x299 Inception-v3's aux head cannot run, so nothing it would save is a number
    with pytest.raises(SymCNNError, match=r"no saved for backward for this network at "
                       r"200x200x3: an aux\(…\) head cannot run on it"):
        budget(symcnn.analyze("inception_v3", "200x200x3"), 2 * 10**9, on="saved_for_backward")
    b = budget(symcnn.analyze("inception_v3"), 2 * 10**9, on="saved_for_backward")
    assert b.smallest == (299, 299) and b.cost == figure(
        "inception_v3", (b.height, b.height, 3), "saved_for_backward", 1)
