"""The PyTorch memory figures (symcnn.memory), torch-free: each case's expected bytes are
written as the arithmetic of the rule it checks (tests/test_memory_torch.py measures the
same against real PyTorch)."""

from __future__ import annotations

import json

import pytest
import sympy

import symcnn
from symcnn.memory import BATCH, MAX_NODES, graph, saved_for_backward

N, S = 2, 16 * 16  # batch, positions of a 16×16 map
X = N * S * 3 * 4  # the float32 input
C8 = N * S * 8 * 4  # a float32 16×16×8 map

SAVED = [  # (net, input, device, dtype, expected bytes at batch N)
    ("conv3-8", "16x16x3", "cuda", "float32", X),                   # conv: its input
    ("conv3-8 relu", "16x16x3", "cuda", "float32", X + C8),         # relu: its output
    ("relu conv3-8", "16x16x3", "cuda", "float32", X),              # no grad yet: nothing
    ("pool2 conv3-8", "16x16x3", "cuda", "float32", N * 64 * 3 * 4),
    ("conv3-8 relu6", "16x16x3", "cuda", "float32", X + C8),        # relu6: its input
    ("conv3-8 silu sigmoid", "16x16x3", "cuda", "float32", X + 2 * C8),
    ("conv3-8 bn", "16x16x3", "cuda", "float32", X + C8 + 2 * 8 * 4),  # + 2 C stats
    ("conv3-8 bn", "16x16x3", "cuda", "float16", X // 2 + C8 // 2 + 2 * 8 * 4),
    ("conv3-8 bn", "16x16x3", "cpu", "float16", X // 2 + C8 // 2 + 2 * 8 * 2),
    ("conv3-8 gn2", "16x16x3", "cuda", "float32", X + C8 + 2 * N * 2 * 4),
    ("conv3-8 ln", "16x16x3", "cuda", "float32", X + C8 + 2 * N * S * 4),
    ("conv3-8 pool2", "16x16x3", "cuda", "float32", X + C8 + N * 64 * 8 * 8),  # + int64
    ("conv3-8 dropout", "16x16x3", "cpu", "float32", X + C8),       # float mask
    ("conv3-8 dropout", "16x16x3", "cuda", "float32", X + N * S * 8),  # bool mask
    ("conv3-8 gap fc10", "16x16x3", "cuda", "float32", X + N * 8 * 4),  # mean: nothing
    ("conv3-8 avgpool2", "16x16x3", "cuda", "float32", X + C8),
    ("conv3-8 se(2)", "16x16x3", "cuda", "float32", X + C8 + N * (8 + 2 + 8) * 4),
    ("conv3-8 mul(| gap conv1-8 sigmoid)", "16x16x3", "cuda", "float32",
     X + C8 + N * (8 + 8) * 4),
    ("conv3-8 res(conv3-8)", "16x16x3", "cuda", "float32", X + C8),  # add: nothing
    ("conv3-8 cat(conv1-4 | ) relu", "16x16x3", "cuda", "float32",
     X + C8 + N * S * 12 * 4),
    ("conv3-8 split(conv1-4 | )", "16x16x3", "cuda", "float32", X + C8),  # a view
    ("conv3-8 nearest2 bilinear2 shuffle pad16", "16x16x3", "cuda", "float32", X),
    ("conv3-8 scale prelu", "16x16x3", "cuda", "float32", X + 2 * C8),
    ("conv3-8 (conv3-8 relu)x3", "16x16x3", "cuda", "float32", X + 4 * C8),  # one map per copy
    # a dense block's first copy runs on torch.cat([x]), a copy: x itself is saved apart
    ("conv3-8 (cat( | conv1-4))x2", "16x16x3", "cuda", "float32", X + C8 + N * S * 12 * 4),
    ("conv3-8 head(conv1-2) (cat( | conv1-4))x2", "16x16x3", "cuda", "float32",
     X + 2 * C8 + N * S * 12 * 4),
    ("conv3-8 cat( | conv1-4) cat( | conv1-4)", "16x16x3", "cuda", "float32",  # no copy
     X + C8 + N * S * 12 * 4),
    ("conv3-8 head(conv1-2) cat( | conv1-4)", "16x16x3", "cuda", "float32", X + C8),
    # on a split's slice: the copy is of the slice (4 channels); the other branch's conv
    # saves the view, i.e. the whole 8-channel storage
    ("conv3-8 split((cat( | conv1-4))x2 | conv1-8)", "16x16x3", "cuda", "float32",
     X + C8 // 2 + C8 + C8),
]


@pytest.mark.parametrize("net, size, device, dtype, expected", SAVED)
def test_saved_for_backward_rules(net, size, device, dtype, expected):
    r = symcnn.analyze(net, size, dtype=dtype, batch=N, device=device)
    assert r.memory["saved_for_backward"] == expected


def test_the_seed_vgg16_saves_every_map_but_the_logits_and_the_pool_indices():
    r = symcnn.analyze("examples/vgg16_cs231n.cnn")
    pools = 802_816 + 401_408 + 200_704 + 100_352 + 25_088  # the pools' outputs
    assert r.totals["activations"] == 15_237_608  # the seed's convention stays
    assert r.memory["saved_for_backward"] == (15_237_608 - 1000) * 4 + pools * 8


def test_resnet50_at_batch_8():
    r = symcnn.analyze("resnet50", "224x224x3", batch=8)
    assert r.memory["saved_for_backward"] == 687_488_512


@pytest.mark.parametrize("net", ["resnet50", "mobilenet_v3_small", "densenet121",
                                 "efficientnet_b0", "examples/vgg16_paper.cnn"])
def test_the_formula_is_exact_at_odd_sizes_and_batches(net):
    f = symcnn.analyze(net).memory_formulas["saved_for_backward"]
    assert {s.name for s in f.free_symbols} == {"H", "W", "B"}
    for h, w, b in ((224, 224, 1), (225, 227, 3), (97, 301, 2), (160, 240, 8)):
        value = symcnn.analyze(net, f"{h}x{w}x3", batch=b).memory["saved_for_backward"]
        at = f.subs({s: {"H": h, "W": w, "B": b}[s.name] for s in f.free_symbols})
        assert at == value, (h, w, b)


def test_int8_has_no_training_figures():
    r = symcnn.analyze("conv3-8", "16x16x3", dtype="int8")
    assert r.memory["saved_for_backward"] is None and r.memory_formulas == {}
    assert "does not train in int8" in r.to_table()


def test_repeats_beyond_the_copy_budget_give_no_figure():
    r = symcnn.analyze(f"(conv1-3 bn)x{MAX_NODES}", "8x8x3")
    assert r.memory["saved_for_backward"] is None and "note" in r.memory
    assert r.totals["params"] == MAX_NODES * 18  # everything else still there


def test_named_figures_replace_times_two_in_every_export():
    r = symcnn.analyze("resnet50", "224x224x3", batch=8, device="cpu")
    for text in (r.to_table(), r.to_markdown()):
        assert "×2 for backward" not in text and "saved for backward:  687,488,512 B" in text
        assert "the distinct storages autograd keeps" in text
    d = json.loads(r.to_json())
    assert d["memory"]["saved_for_backward"] == 687_488_512
    assert d["memory"]["device"] == "cpu" and d["memory"]["batch"] == 8
    assert "saved_for_backward" in d["memory"]["definitions"]
    s = symcnn.analyze("resnet50")
    assert "saved for backward" in s.to_latex()
    assert "B" in json.loads(s.to_json())["memory_formulas"]["saved_for_backward"]
    assert sympy.Symbol("B", positive=True, integer=True) == BATCH


def test_saved_for_backward_is_a_function_of_rows():
    r = symcnn.analyze("resnet18", "64x64x3")
    assert saved_for_backward(r.rows, batch=3) == 3 * saved_for_backward(r.rows) - 2 * \
        saved_for_backward(r.rows, batch=0)  # affine in the batch (BN stats do not scale)


STATE = [  # (optimizer, device, state copies, step scalars counted)
    ("sgd", "cuda", 0, False), ("momentum", "cuda", 1, False), ("adam", "cuda", 2, False),
    ("adamw", "cuda", 2, False), ("adam", "cpu", 2, True), ("sgd", "cpu", 0, False),
]


@pytest.mark.parametrize("optimizer, device, copies, steps", STATE)
def test_model_state_is_params_gradients_and_optimizer_state(optimizer, device, copies,
                                                             steps):
    r = symcnn.analyze("resnet50", "224x224x3", optimizer=optimizer, device=device)
    p = 25_557_032 * 4
    tensors = 161  # ResNet-50's parameter tensors (torch's len(list(model.parameters())))
    state = copies * p + (4 * tensors if steps else 0)  # Adam's float32 step per tensor
    parts = r.memory["breakdown"]  # the training peak's; model state = its params ×2 + state
    assert (parts["params"], parts["optimizer_state"]) == (p, state)
    assert r.memory["model_state"] == 2 * p + state
    assert r.memory_formulas["model_state"] == 2 * p + state  # no H, W, B in ResNet-50


def test_model_state_formula_follows_the_params():
    """VGG-16 without its adaptive pool: fc1's weights grow with the input."""
    r = symcnn.analyze("examples/vgg16_paper.cnn", optimizer="momentum")
    assert sympy.expand(r.memory_formulas["model_state"] - 3 * 4 * r.formulas["params"]) == 0
    assert r.memory["optimizer"] == "momentum"


def test_model_state_in_float16_and_the_optimizer_is_named():
    r = symcnn.analyze("conv3-8", "16x16x3", dtype="float16", optimizer="sgd")
    assert r.memory["model_state"] == 2 * (3 * 3 * 3 * 8 + 8) * 2
    assert "sgd" in r.to_table() and "model state:" in r.to_table()
    with pytest.raises(symcnn.SymCNNError, match="unknown optimizer"):
        symcnn.analyze("conv3-8", optimizer="lion")


def _peak(net, size="16x16x3", batch=N, device="cuda"):
    return symcnn.analyze(net, size, batch=batch, device=device).memory["inference_peak"]


P8 = (3 * 3 * 3 * 8 + 8) * 4  # conv3-8's params on 3 channels


INFERENCE = [  # (net, device, expected: params + buffers + input + what is alive at the peak)
    ("conv3-8", "cuda", P8 + X + C8),                       # input + output
    ("conv3-8 relu", "cuda", P8 + X + 2 * C8),              # an output beside its input
    ("conv3-8 relu conv1-8", "cuda", P8 + 72 * 4 + X + 2 * C8),  # the conv's map is freed
    ("conv3-8x2", "cuda", P8 + (9 * 8 * 8 + 8) * 4 + X + 2 * C8),
    ("(conv3-8 relu)x2", "cuda", P8 + (9 * 8 * 8 + 8) * 4 + X + 2 * C8),  # copies: a run
    ("conv3-8 (conv1-8 conv1-8)x1", "cuda", P8 + 2 * 72 * 4 + X + 2 * C8),  # as written out
    ("def b() = (conv1-8 conv1-8)\nconv3-8 b()", "cuda",
     P8 + 2 * 72 * 4 + X + 3 * C8),                       # a block holds its input
    ("conv3-8 relu_", "cuda", P8 + X + C8),                # in place: no new map
    ("conv3-8 bn relu_ sigmoid_ dropout_ silu_", "cpu", P8 + 16 * 4 + 2 * 8 * 4 + 8 + X + 2 * C8),
    ("conv3-8 res_(conv1-8)", "cuda", P8 + 72 * 4 + X + 2 * C8),  # the sum into the branch
    ("conv3-8 res_(conv1-8 relu_ | conv1-8) relu_", "cuda", P8 + 2 * 72 * 4 + X + 3 * C8),
    ("conv3-8 add_(conv1-8 | conv1-8 | conv1-8)", "cuda", P8 + 3 * 72 * 4 + X + 4 * C8),
    ("conv3-8 add(conv1-8 | conv1-8 | conv1-8)", "cuda",
     P8 + 3 * 72 * 4 + X + 6 * C8),                       # + a partial sum and the sum
    ("conv3-8 pool2", "cuda", P8 + X + C8 + C8 // 4 + N * 64 * 8 * 8),  # + int64 indices
    ("conv3-8 bn", "cpu", P8 + 16 * 4 + 2 * 8 * 4 + 8 + X + 2 * C8),  # + running stats
    ("conv3-8 bn", "cuda", P8 + 16 * 4 + 2 * 8 * 4 + 8 + X + 2 * C8 + 2 * 8 * 4),
    ("conv3-8 res(conv1-8)", "cuda", P8 + 72 * 4 + X + 3 * C8),  # fork + branch + sum
    ("conv3-8 dropout", "cuda", P8 + X + C8),                # eval: the identity
]


@pytest.mark.parametrize("net, device, expected", INFERENCE)
def test_inference_peak_rules(net, device, expected):
    assert _peak(net, device=device) == expected


M = N * S * 4  # one float32 16×16 channel at batch N
DENSE = "conv3-8 (cat( | bn relu_ conv1-8nb bn relu_ conv3-4nb))x2"
DENSE_STATE = P8 + 4 * (2 * 8 + 8 * 8 + 2 * 8 + 9 * 8 * 4      # copy 1: bn, conv1, bn, conv3
                        + 2 * 12 + 12 * 8 + 2 * 8 + 9 * 8 * 4)  # copy 2 on 12 channels
DENSE_STATE += 3 * (2 * 8 * 4 + 8) + (2 * 12 * 4 + 8)            # running stats, counters


def test_a_dense_block_keeps_its_maps_in_a_list_as_torchvision_does():
    """torchvision's _DenseBlock: at copy 2's conv1, the list (the block's input, 8
    channels, and copy 1's output, 4), its concatenation (12, held by bn_function until the
    conv returns), the bn's output (12) and the conv's (8); a chain of cats would hold 12
    + 12 + 8 there."""
    assert _peak(DENSE, device="cpu") == DENSE_STATE + X + M * (8 + 4 + 12 + 12 + 8)


HEADED = "def cls() = (conv1-4)\nconv3-8 head(conv1-2) conv3-8 cls()"


def test_a_head_runs_after_the_classifier_as_in_torchvisions_segmentation_models():
    """The head's input (8) and the backbone's output (the input of the last top-level
    block, 8) live to the end, beside the main output (4) when the head runs (2)."""
    state = P8 + (8 * 2 + 2) * 4 + (9 * 8 * 8 + 8) * 4 + (8 * 4 + 4) * 4
    assert _peak(HEADED) == state + X + M * (8 + 8 + 4 + 2)
    # no block after the head: its input and the main output (8 each) when it runs
    assert _peak(HEADED[:-len(" cls()")]) == state - (8 * 4 + 4) * 4 + X + M * (8 + 8 + 2)
    # a block before the head is not the classifier: its input is freed as usual
    before = "def cls() = (conv1-4)\nconv3-8 cls() head(conv1-2) conv3-8"
    state = P8 + (8 * 4 + 4) * 4 + (4 * 2 + 2) * 4 + (9 * 4 * 8 + 8) * 4
    assert _peak(before) == state + X + M * max(8 + 4,  # cls(): its input and output
                                                4 + 8 + 2)  # the head: input, main out, own


def test_inference_peak_is_none_for_a_symbolic_input_and_lrn():
    assert symcnn.analyze("resnet50").memory["inference_peak"] is None
    assert _peak("conv3-8 lrn") is None


def test_training_peak_is_an_estimate_with_its_breakdown():
    r = symcnn.analyze("resnet50", "224x224x3", batch=8, device="cpu")
    m = r.memory
    parts = m["breakdown"]
    assert set(parts) == {"params", "buffers", "gradients", "optimizer_state", "activations",
                          "temporaries", "input"}
    assert m["training_peak"] == sum(parts.values())
    assert parts["input"] == 8 * 224 * 224 * 3 * 4 + 8 * 8  # images + int64 targets
    assert parts["activations"] <= m["saved_for_backward"] + 2 * 8 * 1000 * 4 + 4
    assert m["training_phase"] in ("forward", "backward", "step")
    assert "ESTIMATE" in m.get("training_peak_definition", "ESTIMATE")
    assert "training peak:" in r.to_table() and "(estimate, in " in r.to_table()
    assert symcnn.analyze("resnet50").memory["training_peak"] is None  # symbolic input


def test_a_bigger_optimizer_never_lowers_the_training_peak():
    peaks = [symcnn.analyze("resnet18", "64x64x3", batch=4, optimizer=o).memory["training_peak"]
             for o in ("sgd", "momentum", "adam")]
    assert peaks == sorted(peaks)


@pytest.mark.parametrize("on", ["saved_for_backward", "inference_peak", "training_peak"])
def test_budget_on_a_memory_figure_is_confirmed_exactly(on):
    from symcnn.sweep import budget
    r = symcnn.analyze("resnet18", optimizer="sgd", device="cpu")
    b = budget(r, 300_000_000, "memory", batch=4, on=on)
    at = lambda s: symcnn.analyze("resnet18", f"{s}x{s}x3", batch=4, optimizer="sgd",  # noqa
                                  device="cpu").memory[on]
    assert b.height == b.width and b.cost == at(b.height) <= 300_000_000 < at(b.height + 1)
    assert on.replace("_", " ") in b.assumption and "cpu semantics" in b.assumption
    assert ("an estimate" in b.assumption) == (on == "training_peak")


def test_budget_on_model_state_does_not_depend_on_the_size_and_refuses_mixes():
    from symcnn.sweep import budget
    r = symcnn.analyze("resnet18")
    b = budget(r, 10**9, "memory", on="model_state")
    assert b.largest and b.cost == r.memory_formulas["model_state"]
    with pytest.raises(symcnn.SymCNNError, match="a budget on a memory figure"):
        budget(r, 10**9, "macs", on="inference_peak")
    with pytest.raises(symcnn.SymCNNError, match="a budget on a memory figure"):
        budget(r, 10**9, "memory", training=True, on="inference_peak")


def test_budget_cli_on(capsys):
    from symcnn.cli import main
    assert main(["budget", "resnet50", "--memory", "4GB", "--batch", "8",
                 "--on", "saved_for_backward"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("largest input: 536x536  (3,961,902,592 bytes ≤ 4,000,000,000")


def test_a_network_that_saves_nothing_has_zero_formulas():
    r = symcnn.analyze("relu")  # symbolic input, nothing requires grad
    assert r.memory_formulas["saved_for_backward"] == 0
    assert "saved for backward = 0" in r.to_table()


@pytest.mark.parametrize("net, size", [
    ("conv3-64 relu conv3-65/2 relu conv3-66 bn relu pool2 conv3-{w+8} relu", "HxWx3"),
    ("nearest2 conv3-8 relu conv3-8/2 relu", "HxHx3"),        # squares of one size
    ("(conv3-8 relu)x5 res(conv3-8 bn relu) cat( | conv1-4) pool2", "HxWxC"),
])
def test_the_saved_formula_is_one_expanded_sum_of_every_storage(net, size):
    """Summed per symbolic part of each size (see memory._sum), the formula is the
    expanded sum of every saved storage's bytes, one storage once."""
    r = symcnn.analyze(net, size)
    f = r.memory_formulas["saved_for_backward"]
    assert f == sympy.expand(f)
    nodes = graph(r.formula_rows)
    seen, storages = set(), []
    for st in (st for n in nodes for st in n.saved):
        if id(st) not in seen:
            seen.add(id(st))
            storages.append(st.bytes(BATCH))
    assert sympy.expand(sympy.Add(*storages) - f) == 0
