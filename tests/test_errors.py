"""Errors are part of the interface: message, line, column and caret, per case."""

import pytest

import symcnn
from symcnn import NotationError, ShapeError, SymCNNError
from symcnn.notation import MAX_NESTING


@pytest.mark.parametrize("text, message, line, column", [
    ("conv3-", r"expected a filter count after 'conv3-', found the end of the input", 1, 7),
    ("conv3-x", r"expected a filter count after 'conv3-', found 'x'", 1, 7),
    ("fcx", r"expected a unit count or '-' after 'fc', found 'x'", 1, 3),
    ("pol", r"expected a layer such as .* or an input line such as 'input 224x224x3', found 'pol'", 1, 1),
    ("relu pol", r"expected a layer such as conv3-64, pool, fc4096 or relu, found 'pol'", 1, 6),
    ("(conv3-64", r"expected '\)' or whitespace after 'conv3-64', found the end", 1, 10),
    ("conv3-64)", r"unmatched '\)'", 1, 9),
    ("input 224x224", r"expected 'x' \(input is HxWxC", 1, 14),
    ("input 224x224 relu", r"expected 'x' \(input is HxWxC", 1, 14),
    ("relu\nconv3-x", r"expected a filter count after 'conv3-'", 2, 7),
    ("relu\n\n  pool2fc10", r"expected whitespace between layers after 'pool2', found 'fc10'",
     3, 8),
    ("conv 3 - 64", r"expected a kernel size after 'conv', found a space", 1, 5),
    ("conv3 -64", r"found a space", 1, 6),
    ("pool2x2x2", r"to repeat a pool, write \(pool2x2\)x2", 1, 8),
    ("conv3-64x", r"expected a repeat count after 'conv3-64x'", 1, 10),
    ("conv3-64/", r"expected a stride after 'conv3-64/'", 1, 10),
    ("relu input 2x2x2", r"'input' must be the first statement", 1, 6),
    ("input 2x2x2 input 2x2x2", r"'input' must be given once", 1, 13),
    ("conv3-64 é", r"expected a layer", 1, 10),
])
def test_syntax_errors(text, message, line, column):
    with pytest.raises(NotationError, match=message) as info:
        symcnn.parse(text)
    e = info.value
    assert (e.line, e.column) == (line, column)
    caret_line = str(e).splitlines()[2]
    assert caret_line.index("^") - 2 == column - 1  # caret under the column (2-space indent)
    assert str(e).splitlines()[1].strip() == text.split("\n")[line - 1].strip()


@pytest.mark.parametrize("text, message, column", [
    ("conv0-64", r"a kernel size must be between 1 and 1,000,000,000,000; got 0", 5),
    ("conv3-64/0", r"a stride must be between 1 and", 10),
    ("conv3-0", r"a filter count must be between 1 and", 7),
    ("relux1000000000001", r"a repeat count must be between 0 and 1,000,000,000,000", 6),
    ("conv3-64x9999999999999", r"a repeat count must be between 0", 10),
    ("fc0", r"a unit count must be between 1", 3),
    ("input 0x2x3", r"an input size must be between 1", 7),
    ("conv3-" + "9" * 5000, r"got 99999999999999999999… \(5,000 digits\)", 7),
    ("pool3p2", r"a pool's padding must be at most half its kernel \(at most 1 here\); got 2", 7),
])
def test_invalid_values(text, message, column):
    with pytest.raises(NotationError, match=message) as info:
        symcnn.parse(text)
    assert (info.value.line, info.value.column) == (1, column)


def test_nesting_limit():
    deep = "(" * (MAX_NESTING + 1) + "relu" + ")x2" * (MAX_NESTING + 1)
    with pytest.raises(NotationError, match=f"nest {MAX_NESTING + 1} deep; the limit is"):
        symcnn.parse(deep)
    ok = "(" * MAX_NESTING + "relu" + ")x2" * MAX_NESTING
    assert symcnn.analyze(ok, (8, 8, 1)).totals["activations"] == 64 * (2**MAX_NESTING + 1)


def test_plain_parentheses_nest_freely():
    assert symcnn.parse("(" * 10_000 + "relu" + ")" * 10_000).items


def test_errors_are_value_errors():
    assert issubclass(NotationError, SymCNNError) and issubclass(ShapeError, SymCNNError)
    assert issubclass(SymCNNError, ValueError)


@pytest.mark.parametrize("text, layer, minimum", [
    ("input 16x16x3 conv3-64x2 pool pool pool pool pool pool", "pool2", (64, 64)),
    ("input 4x4x3 conv5-8p0", "conv5-8p0", (5, 5)),
    ("input 10x3x1 conv1x7-8p0", "conv1x7-8p0", (1, 7)),
    ("input 224x20x3 pool3/2 pool3/2 pool3/2 pool3/2 pool3/2", "pool3/2", (63, 63)),
    ("input 31x31x3 conv3-64x2 pool conv3-128x2 pool conv3-256x3 pool conv3-512x3 pool "
     "conv3-512x3 pool fc10", "pool2", (32, 32)),
])
def test_shape_errors_name_the_layer_and_the_minimum(text, layer, minimum):
    with pytest.raises(ShapeError, match=rf"layer '{layer}' at line 1.*at least "
                                         rf"{minimum[0]}x{minimum[1]}") as info:
        symcnn.analyze(text)
    assert info.value.minimum == minimum and info.value.layer == layer


def test_shape_error_when_no_input_works():
    with pytest.raises(ShapeError, match="empty for every input size up to") as info:
        symcnn.analyze("fc10 pool")
    assert info.value.minimum is None
    with pytest.raises(ShapeError, match="layer 'pool2'.*every input size up to 1,000,"):
        symcnn.analyze("(pool)x1000000")  # 2^40 > 10^12: no accepted input survives


def test_minimum_input_is_exactly_the_threshold():
    net = "pool3/2 conv5-8/2p0 pool"
    lo = symcnn.analyze(net).network
    from symcnn.shapes import minimum_input
    mh, mw = minimum_input(lo)
    symcnn.analyze(net, (mh, mw, 1))
    with pytest.raises(ShapeError):
        symcnn.analyze(net, (mh - 1, mw, 1))


@pytest.mark.parametrize("kwargs, message", [
    ({"input": "224x224"}, "expected 'x'"),
    ({"input": (224, 224)}, "input must be"),
    ({"input": (224, 0, 3)}, "between 1 and"),
    ({"input": (224, True, 3)}, "an int or a letter"),
    ({"input": ("H", "xy", 3)}, "one letter"),
    ({"dtype": "float8"}, "unknown dtype"),
    ({"batch": 0}, "batch must be"),
])
def test_api_argument_errors(kwargs, message):
    with pytest.raises(SymCNNError, match=message):
        symcnn.analyze("conv3-8", **kwargs)


def test_non_text_notation():
    with pytest.raises(SymCNNError, match="expected a Network"):
        symcnn.analyze(42)
    with pytest.raises(NotationError, match="must be text"):
        symcnn.parse(b"conv3-8")


@pytest.mark.parametrize("text, size, message", [
    ("split(relu)", None, r"split\(a \| b …\) takes two or more branches"),
    ("conv3-5 split(relu | relu)", (8, 8, 3),
     r"split\(…\) gives each of its 2 branches an equal slice of the channels, but 5 "
     r"channels do not divide by 2"),
    ("conv3-8 split(relu | relu | )", (8, 8, 3), r"each of its 3 branches .* but 8 channels do not divide by 3"),
    ("conv3-7 shuffle", (8, 8, 3), r"shuffle mixes 2 groups of channels, but 7 channels"),
    ("conv3-8 split(conv1-4 | conv1-4/2)", (8, 8, 3), r"the same height and width"),
])
def test_split_and_shuffle_errors(text, size, message):
    with pytest.raises(SymCNNError, match=message):
        symcnn.analyze(text, size)


@pytest.mark.parametrize("text, size, message", [
    ("conv3-6 gn4", (8, 8, 3), r"layer 'gn4' at line 1, column 9: group norm: 6 channels do "
                               r"not divide into 4 groups"),
    ("conv3-8 pad4", (8, 8, 3), r"pad4 pads the channels up to 4, but the input already has 8"),
    ("gn0", None, r"line 1, column 3: a group count must be between 1 and"),
    ("pad0", None, r"line 1, column 4: a channel count must be between 1 and"),
    ("gn", None, r"expected a group count after 'gn'"),
])
def test_group_norm_and_channel_pad_errors(text, size, message):
    with pytest.raises(SymCNNError, match=message):
        symcnn.analyze(text, size)
