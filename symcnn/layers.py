"""Layer records: what the notation says, one frozen dataclass per kind of layer.

``str()`` of every record is its canonical notation token, so ``parse(str(net)) == net``.
Positions (``line``, ``column``) are kept for error messages and ignored by ``==``.
Conventions: kernels, strides, paddings are (height, width) pairs; a convolution has bias
unless ``nb``; its padding defaults to d·⌊K/2⌋; a pool's stride defaults to its kernel;
sizes follow PyTorch (floor mode unless ``ceil``). A count may be an int or, before
definitions are expanded, a SymPy expression in named widths (``conv3-k``, ``fc{4w}``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import sympy
from sympy.printing.str import StrPrinter

__all__ = ["Conv", "TransposedConv", "Upsample", "Crop", "Pool", "AdaptiveAvgPool", "FC", "BatchNorm", "LayerNorm", "Scale",
           "GroupNorm", "PReLU", "ChannelPad", "Elementwise", "SE",
           "Repeat", "Branches", "Call", "Block", "Definition", "InputSpec", "Network",
           "Layer", "Item", "ACTIVATIONS", "IN_PLACE", "value_text", "decimal_text",
           "dense_block", "dense_body"]

Value = Union[int, sympy.Expr]
Pair = tuple[Value, Value]
# Shape-preserving layers without parameters (canonical names; swish is silu).
ACTIVATIONS = ("relu", "relu6", "silu", "sigmoid", "hardswish", "hardsigmoid", "gelu", "tanh",
               "dropout", "softmax", "lrn", "shuffle")  # shuffle: 2-group channel shuffle
# The ones PyTorch runs in place (relu_: nn.ReLU(inplace=True), F.relu_, …): written with a
# trailing underscore, PyTorch's own sign for an op that writes into its input.
IN_PLACE = ("relu", "relu6", "silu", "sigmoid", "hardswish", "hardsigmoid", "tanh", "dropout")


def _pos() -> int:
    return field(default=0, compare=False, repr=False)


class _NotationPrinter(StrPrinter):
    """Prints what the braces' grammar reads back: numbers (1.2 for 6/5, 1/3 otherwise),
    names, + - * / //, parentheses and the functions round floor ceil max min
    make_divisible. The grammar has three levels (sum, product, atom); each operand is
    printed at the level its place needs, in parentheses otherwise."""

    # -- levels: 0 a sum (a+b, 0-a), 1 a product (a*b, a//b, a/b), 2 an atom
    def _level(self, x) -> int:
        if x.is_Add or (x.is_Mul and x.could_extract_minus_sign()):
            return 0
        if x.is_Mul or x.is_Pow:
            return 1
        if x.is_Rational:
            return 2 if x.is_Integer or x < 0 or decimal_text(x) is not None else 1
        if isinstance(x, sympy.floor):
            return 1 if self._floor_parts(x) is not None else 2
        return 2

    def _atom(self, x) -> str:
        s = self._print(x)
        return s if self._level(x) == 2 else f"({s})"

    def _product(self, x) -> str:
        s = self._print(x)
        return s if self._level(x) >= 1 else f"({s})"

    # -- numbers: no unary minus in the grammar, so -3 is (0-3)
    def _print_Integer(self, expr) -> str:
        return str(expr.p) if expr >= 0 else f"(0-{-expr.p})"

    def _print_Rational(self, expr) -> str:
        if expr.is_Integer:
            return self._print_Integer(expr)
        if expr < 0:
            return f"(0-{self._print_Rational(-expr)})"
        return decimal_text(expr) or f"{expr.p}/{expr.q}"

    _print_Zero = _print_One = _print_NegativeOne = _print_Integer
    _print_Half = _print_Rational

    # -- functions: the floor as a // b where that reads back as the same floor
    def _floor_parts(self, expr):
        num, den = sympy.fraction(sympy.together(expr.args[0]))
        if den == 1:
            return None
        if not den.is_Integer and sympy.floor(num / den) != expr:
            return None
        return num, den

    def _print_floor(self, expr) -> str:
        parts = self._floor_parts(expr)
        if parts is None:
            return f"floor({self._print(expr.args[0])})"
        return f"{self._product(parts[0])}//{self._atom(parts[1])}"

    def _call(self, name: str, expr) -> str:
        return f"{name}({','.join(self._print(a) for a in expr.args)})"

    def _print_ceiling(self, expr) -> str:
        return self._call("ceil", expr)

    def _print_Function(self, expr) -> str:  # round, make_divisible, max, min
        return self._call(type(expr).__name__, expr)

    # -- arithmetic
    def _print_Pow(self, expr, rational=False) -> str:
        base, exp = expr.as_base_exp()
        if not exp.is_Integer:
            raise ValueError(f"{expr} has no notation")  # pragma: no cover - not parsed
        factors = "*".join([self._atom(base)] * abs(int(exp)))  # no ** in the notation
        if exp > 0:
            return factors
        return f"1/{factors}" if exp == -1 else f"1/({factors})"

    def _print_Add(self, expr, order=None) -> str:
        # positive terms first, so no sum starts with a unary minus (not in the grammar),
        # and numbers last (w//2+8)
        terms = sorted(sympy.Add.make_args(expr),
                       key=lambda t: (t.could_extract_minus_sign(), t.is_Number))
        first = terms[0]
        out = self._print(first) if not first.could_extract_minus_sign() \
            else "0-" + self._product(-first)
        for t in terms[1:]:
            out += f"-{self._product(-t)}" if t.could_extract_minus_sign() \
                else f"+{self._print(t)}"
        return out

    def _print_Mul(self, expr) -> str:
        coeff, rest = expr.as_coeff_Mul()
        if coeff < 0:
            return "0-" + self._product(-expr)
        factors = sympy.Mul.make_args(rest) if rest != 1 else ()
        num = [f for f in factors if not (f.is_Pow and f.exp.is_negative)]
        den = [1 / f for f in factors if f.is_Pow and f.exp.is_negative]
        if not den and (coeff.is_Integer or decimal_text(coeff) is not None):
            head = [] if coeff == 1 and num else [self._print(coeff)]
            return "*".join(head + [self._atom(f) for f in num])
        top = [] if coeff.p == 1 and num else [str(coeff.p)]
        below = sympy.Mul(coeff.q, *den)
        return "*".join(top + [self._atom(f) for f in num]) + "/" + self._atom(below)


def decimal_text(n) -> str | None:
    """A non-negative non-integer rational as an exact decimal (6/5: 1.2), if it has one of
    at most 12 places."""
    q, twos, fives = int(n.q), 0, 0
    while q % 2 == 0:
        q, twos = q // 2, twos + 1
    while q % 5 == 0:
        q, fives = q // 5, fives + 1
    places = max(twos, fives)
    if q != 1 or n < 0 or not 0 < places <= 12:
        return None
    digits = str(int(n.p) * 10**places // int(n.q)).rjust(places + 1, "0")
    return digits[:-places] + "." + digits[-places:]


def value_text(v: Value) -> str:
    """A value as notation: 64, w, {4*w}, {w//2}, {round(1.2*w)}; a definition's value may
    be a decimal (1.2) or a fraction in braces ({1/3})."""
    if isinstance(v, int) or (isinstance(v, sympy.Integer)):
        return str(int(v))
    if isinstance(v, sympy.Symbol) and len(v.name) == 1 and v.name not in "xX":
        return v.name  # bare letters are symbols, except x: the repeat sign
    if isinstance(v, sympy.Rational) and decimal_text(v) is not None:
        return decimal_text(v)
    return "{" + _NotationPrinter().doprint(v).replace(" ", "") + "}"


def _pair(p: Pair) -> str:
    return value_text(p[0]) if p[0] == p[1] else f"{value_text(p[0])}x{value_text(p[1])}"


@dataclass(frozen=True)
class Conv:
    """2-D convolution. ``filters`` None with ``depthwise``: one filter per channel."""
    kernel: Pair
    filters: Value | None
    stride: Value = 1
    padding: Value | str | None = None   # None: d·⌊K/2⌋ per axis; "same": PyTorch's 'same'
    dilation: Value = 1
    groups: Value = 1
    bias: bool = True
    depthwise: bool = False
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        s = f"dw{_pair(self.kernel)}" if self.depthwise else \
            f"conv{_pair(self.kernel)}-{value_text(self.filters)}"
        pad = None if self.padding is None else \
            "psame" if self.padding == "same" else f"p{value_text(self.padding)}"
        return s + _conv_options(self, pad)


def _conv_options(layer, padding: str | None, output_padding: str | None = None) -> str:
    """A convolution's options as notation, in the canonical order /s p o d g nb."""
    s = f"/{value_text(layer.stride)}" if layer.stride != 1 else ""
    s += (padding or "") + (output_padding or "")
    if layer.dilation != 1:
        s += f"d{value_text(layer.dilation)}"
    if layer.groups != 1:
        s += f"g{value_text(layer.groups)}"
    return s + ("" if layer.bias else "nb")


@dataclass(frozen=True)
class TransposedConv:
    """2-D transposed convolution (PyTorch's ConvTranspose2d): output size
    (x − 1)·s − 2p + d(k − 1) + output_padding + 1; weights K_h·K_w·C_in·(C_out/groups),
    one bias per filter; MACs = weights × input positions (FlopCounterMode's count).
    Padding defaults to 0 (PyTorch's default), output padding to 0."""
    kernel: Pair
    filters: Value
    stride: Value = 1
    padding: Value = 0
    output_padding: Value = 0
    dilation: Value = 1
    groups: Value = 1
    bias: bool = True
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        return f"tconv{_pair(self.kernel)}-{value_text(self.filters)}" + _conv_options(
            self, f"p{value_text(self.padding)}" if self.padding != 0 else None,
            f"o{value_text(self.output_padding)}" if self.output_padding != 0 else None)


@dataclass(frozen=True)
class Upsample:
    """Nearest or bilinear upsampling (``F.interpolate``, ``nn.Upsample``): by an integer
    ``scale`` per axis, or to a ``size`` — a fixed (H, W), "input" (the network's input
    size, as segmentation heads end) or "branch" (the size of the input of the innermost
    enclosing merge or head: DeepLabV3's image pooling, LR-ASPP). No params, no MACs."""
    mode: str                      # "nearest" or "bilinear"
    scale: Pair | None = None
    size: Pair | str | None = None
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        if self.scale is not None:
            return f"{self.mode}{_pair(self.scale)}"
        target = self.size if isinstance(self.size, str) else _pair(self.size)
        return f"{self.mode}-{target}"


@dataclass(frozen=True)
class Crop:
    """Centre crop to the height and width of the merge it sits in (U-Net's skip
    connections): the branches without a crop fix the merge's size, a branch with one is
    cropped to it. No params, no MACs."""
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        return "crop"


@dataclass(frozen=True)
class Pool:
    """Max or average pooling; stride defaults to the kernel; floor mode unless ceil."""
    op: str  # "max" or "avg"
    kernel: Pair = (2, 2)
    stride: Value | None = None
    padding: Value = 0
    ceil: bool = False
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        s = ("pool" if self.op == "max" else "avgpool") + _pair(self.kernel)
        if self.stride is not None:
            s += f"/{value_text(self.stride)}"
        if self.padding != 0:
            s += f"p{value_text(self.padding)}"
        return s + ("ceil" if self.ceil else "")


@dataclass(frozen=True)
class AdaptiveAvgPool:
    """Average pool to a fixed output size, whatever the input size (``gap``: to 1×1)."""
    output: Pair
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        return "gap" if self.output == (1, 1) else f"adaptiveavgpool{_pair(self.output)}"


@dataclass(frozen=True)
class FC:
    """Flatten, then fully connected: weights = inputs·units, one bias per unit; the output
    is 1×1×units, as CS231n writes it."""
    units: Value
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        return f"fc{value_text(self.units)}"


@dataclass(frozen=True)
class BatchNorm:
    """Batch normalisation: C weights and C biases (learnable), 2·C running statistics
    (buffers, not params)."""
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        return "bn"


@dataclass(frozen=True)
class LayerNorm:
    """Layer normalisation over the channels at each position (ConvNeXt's LayerNorm2d):
    C weights and C biases, no buffers."""
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        return "ln"


@dataclass(frozen=True)
class Scale:
    """A learnable per-channel scale (ConvNeXt's layer scale): C weights."""
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        return "scale"


@dataclass(frozen=True)
class GroupNorm:
    """Group normalisation over ``groups`` groups of channels: C weights and C biases
    (learnable), no buffers; the channels must divide into the groups."""
    groups: Value
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        return f"gn{value_text(self.groups)}"


@dataclass(frozen=True)
class PReLU:
    """A PReLU with one learnable slope per channel: C params."""
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        return "prelu"


@dataclass(frozen=True)
class ChannelPad:
    """Zero channels appended up to ``channels`` (the CIFAR ResNets' option A shortcut):
    no params, no MACs; ``channels`` must be at least the input's."""
    channels: Value
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        return f"pad{value_text(self.channels)}"


@dataclass(frozen=True)
class Elementwise:
    """A shape-preserving layer without parameters (see ACTIVATIONS). ``inplace`` (``relu_``):
    it writes its output into its input's storage (one of IN_PLACE); that changes memory
    only, never a shape, a parameter or a MAC."""
    kind: str
    line: int = _pos()
    column: int = _pos()
    inplace: bool = False

    def __str__(self) -> str:
        return self.kind + ("_" if self.inplace else "")


@dataclass(frozen=True)
class SE:
    """Squeeze-and-excitation: global average pool, 1×1 conv C→squeeze (+bias), 1×1 conv
    squeeze→C (+bias), channel-wise scale of the input. Output shape = input shape."""
    squeeze: Value
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        return f"se({value_text(self.squeeze)})"


Layer = Union[Conv, TransposedConv, Upsample, Crop, Pool, AdaptiveAvgPool, FC, BatchNorm,
              LayerNorm, Scale, GroupNorm, PReLU, ChannelPad, Elementwise, SE]


@dataclass(frozen=True)
class Repeat:
    """``body`` applied ``count`` times in sequence."""
    body: tuple["Item", ...]
    count: Value
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        n = value_text(self.count)
        only = self.body[0] if len(self.body) == 1 else None
        # a token that may end in a size would read "x2" as its second size: dw3x2 is a
        # 3×2 depthwise kernel, pool2x2 a 2×2 pool, adaptiveavgpool7x2 a 7×2 output
        if only is not None and not isinstance(only, (Repeat, Pool, AdaptiveAvgPool, Upsample)) \
                and not (isinstance(only, Conv) and only.depthwise):
            return f"{only}x{n}"
        return f"({' '.join(map(str, self.body))})x{n}"


@dataclass(frozen=True)
class Branches:
    """Parallel branches on the same input, merged by ``op``: "add" (element-wise sum;
    every branch must give the same shape), "cat" (concatenate channels; same H×W) or
    "split" (branch i gets the i-th of n equal channel slices of the input, n the number
    of branches; outputs concatenated, as ShuffleNet's ``chunk(2, dim=1)``) or "mul"
    (element-wise product; every branch gives the same channels and the same H×W or 1×1,
    broadcast as PyTorch does: LR-ASPP's ``cbr(x) * scale(x)``).
    An empty branch is the identity: ``res(body)`` is ``add(body | )``. "aux" is a side
    head (a training-time auxiliary classifier): its params count, it is not run at
    inference (no MACs, no activations) and the main path goes on with its input.
    "head" is a head that runs and whose output is kept beside the main path (FCN's and
    DeepLabV3's aux classifier, a second output): everything counts, and the main path
    goes on with its input.
    ``inplace`` (``add_(…)``, ``res_(…)``; adds only): the sum is written into the first
    branch's output, as ``out += identity`` (ResNet's blocks): no new storage; memory only."""
    op: str
    branches: tuple[tuple["Item", ...], ...]
    line: int = _pos()
    column: int = _pos()
    inplace: bool = False

    def __str__(self) -> str:
        return f"{self.op}{'_' if self.inplace else ''}(" + " | ".join(" ".join(map(str, b)) for b in self.branches) + ")"


@dataclass(frozen=True)
class Call:
    """A use of a definition, before expansion: ``bottleneck(64, 2)``."""
    name: str
    args: tuple[Value, ...]
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        return f"{self.name}({', '.join(map(value_text, self.args))})"


@dataclass(frozen=True)
class Block:
    """An expanded call: its items, labelled for reports (``bottleneck(64, 2)``)."""
    label: str
    items: tuple["Item", ...]
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        return f"({' '.join(map(str, self.items))})"


Item = Union[Layer, Repeat, Branches, Call, Block]


@dataclass(frozen=True)
class Definition:
    """``def name(p1, p2=default) = body``: a parameterised block."""
    name: str
    params: tuple[tuple[str, Value | None], ...]
    body: tuple[Item, ...]
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        ps = ", ".join(p if d is None else f"{p}={value_text(d)}" for p, d in self.params)
        body = " ".join(map(str, self.body))
        return f"def {self.name}({ps}) = ({body})"


@dataclass(frozen=True)
class InputSpec:
    """Input height, width, channels: each a positive int or a one-letter symbol name."""
    height: int | str
    width: int | str
    channels: int | str

    def __str__(self) -> str:
        return f"{self.height}x{self.width}x{self.channels}"

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d for d in (self.height, self.width, self.channels)
                                   if isinstance(d, str)))


@dataclass(frozen=True)
class Network:
    """A parsed network: an optional input line, definitions and the items in order."""
    items: tuple[Item, ...]
    input: InputSpec | None = None
    defs: tuple[Definition, ...] = ()
    source: str = field(default="", compare=False, repr=False)  # the text, for error carets
    # How str() lays the items out: (items on the line, comment) per line, e.g. one line
    # per top-level submodule of an imported torch module; empty: all on one line.
    layout: tuple[tuple[int, str], ...] = field(default=(), compare=False, repr=False)

    def __str__(self) -> str:
        lines = [f"input {self.input}"] if self.input is not None else []
        lines += [str(d) for d in self.defs]
        if self.layout and sum(n for n, _ in self.layout) == len(self.items):
            start = 0
            for n, comment in self.layout:
                text = " ".join(map(str, self.items[start:start + n]))
                lines.append(f"{text}  # {comment}" if comment else text)
                start += n
        else:
            lines.append(" ".join(map(str, self.items)))
        return "\n".join(lines)


def dense_block(item) -> bool:
    """``(cat( | body))xN``, a repeat of one concatenation of the identity and a body
    (without a crop): a dense block, run as torchvision's _DenseBlock keeps its maps, in a
    list concatenated anew by each copy (the numbers are those of the chain of cats)."""
    return _dense_cat(item) is not None


def _dense_cat(item):
    """The cat of a dense block (through the blocks of calls, ``dense()xN``), or None."""
    if not isinstance(item, Repeat) or len(item.body) != 1 or item.count < 1:
        return None
    b = item.body[0]
    while isinstance(b, Block) and len(b.items) == 1:
        b = b.items[0]
    ok = (isinstance(b, Branches) and b.op == "cat" and not b.inplace
            and len(b.branches) == 2 and not b.branches[0] and bool(b.branches[1])
            and not any(isinstance(i, Crop) for i in b.branches[1]))
    return b if ok else None


def dense_body(item) -> tuple:
    """The body of a dense block (the cat's second branch)."""
    return _dense_cat(item).branches[1]
