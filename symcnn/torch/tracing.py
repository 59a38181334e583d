"""torch → a graph of symcnn operations: trace a module with torch.fx, size every tensor, and
map each node to a layer record, a merge, an alias or nothing.

The result is a small DAG of :class:`Op` (one per tensor the forward pass makes) that
:mod:`.structure` turns into nested notation. Conventions:

- the module is traced in eval mode (its mode is restored), with torch's own leaf modules;
  shapes come from running the traced graph on a meta (or fake) input, so no weights are
  read and nothing is allocated;
- a node symcnn cannot map is collected, never skipped: :class:`~symcnn.UnmappedError`
  lists them all with their module path, class or function and source line;
- layouts are tracked: ``nchw``, ``nhwc`` (after ``permute(0, 2, 3, 1)``, ConvNeXt) and
  ``flat`` (after a flatten or a view to N×F); a ``Linear`` on ``flat`` is ``fc``, on
  ``nhwc`` a 1×1 convolution; a layer norm over the channels of ``nhwc`` is ``ln``.
"""

from __future__ import annotations

import contextlib
import operator
from dataclasses import dataclass, field

import torch
import torch.fx as fx
from torch import nn
from torch.nn import functional as F

from ..errors import SymCNNError, UnmappedError
from ..layers import (FC, IN_PLACE, AdaptiveAvgPool, BatchNorm, ChannelPad, Conv, Crop,
                      Elementwise, GroupNorm, LayerNorm, Pool, PReLU, Scale, TransposedConv,
                      Upsample)
from .building import CenterCrop, InPlace

__all__ = ["Op", "Traced", "trace", "UnmappedError", "TraceFailed"]


class TraceFailed(SymCNNError):
    """torch.fx could not trace the module (data-dependent control flow, …)."""


@dataclass(eq=False)
class Op:
    """One tensor of the forward pass. ``kind``: "input", "layer" (``layer`` applied to
    ``args[0]``), "alias" (the same values as ``args[0]``: flatten, view, permute, eval-mode
    stochastic depth), "add", "cat", "mul" (merges of ``args``), "split" (a chunk of
    ``args[0]`` into ``layer`` channel slices), "slice" (slice ``layer`` of a split),
    "output" (``args``: the main output first, then the other outputs of a dict or tuple:
    heads)."""
    kind: str
    args: list["Op"] = field(default_factory=list)
    layer: object = None
    module: str = ""          # the module path the node belongs to ("" for the root)
    stack: tuple = ()         # (path, class name) of the enclosing modules, outermost first
    layout: str = "nchw"
    shape: tuple = ()
    where: str = ""           # source file and line
    users: list["Op"] = field(default_factory=list)
    name: str = ""
    size_of: "Op | None" = None  # an upsampling to this tensor's H×W, a crop to it
    inplace: bool = False     # an add written into its first operand (out += identity)

@dataclass
class Traced:
    """The traced module: its ops in execution order (input first, output last), the
    modules the forward pass called, and the parameters it read directly."""
    ops: list[Op]
    called: set[str]
    attrs: set[str]
    graph: fx.GraphModule
    size: tuple[int, int, int]  # the H×W×C traced at


class _Tracer(fx.Tracer):
    def __init__(self) -> None:
        super().__init__()
        self.record_stack_traces = True

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, CenterCrop) or super().is_leaf_module(m, qualname)

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return _Proxy(node, self)


class _Proxy(fx.Proxy):
    """torch.fx records ``out += identity`` as ``operator.add`` (its Proxy has no
    ``__iadd__``, so Python falls back to ``+``); this one records ``operator.iadd``, so
    the in-place residual adds of ResNet and EfficientNet read as ``add_(…)``."""

    def __iadd__(self, other):
        return self.tracer.create_proxy("call_function", operator.iadd, (self, other), {})


_ACT_MODULES = [(nn.ReLU6, "relu6"), (nn.ReLU, "relu"), (nn.SiLU, "silu"),
                (nn.Sigmoid, "sigmoid"), (nn.Hardswish, "hardswish"),
                (nn.Hardsigmoid, "hardsigmoid"), (nn.GELU, "gelu"), (nn.Tanh, "tanh"),
                (nn.Dropout, "dropout"), (nn.Dropout2d, "dropout"),
                (nn.AlphaDropout, "dropout")]
_ACT_FUNCTIONS = {F.relu: "relu", torch.relu: "relu", F.relu_: "relu", torch.relu_: "relu",
                  F.relu6: "relu6", F.silu: "silu", torch.sigmoid: "sigmoid",
                  F.sigmoid: "sigmoid", F.hardswish: "hardswish",
                  F.hardsigmoid: "hardsigmoid", F.gelu: "gelu", torch.tanh: "tanh",
                  F.tanh: "tanh", F.dropout: "dropout"}
_ACT_METHODS = {"relu": "relu", "relu_": "relu", "sigmoid": "sigmoid", "sigmoid_": "sigmoid",
                "tanh": "tanh", "tanh_": "tanh"}
# In place (the notation's relu_): these functions always, the others by their ``inplace``
# argument (its position, after the input), Tensor methods ending in _, modules' .inplace.
_IN_PLACE_FUNCTIONS = {F.relu_, torch.relu_}
_INPLACE_ARG = {F.relu: 1, F.relu6: 1, F.silu: 1, F.hardswish: 1, F.hardsigmoid: 1,
                F.dropout: 3, F.hardtanh: 3}
_ALIAS_METHODS = {"contiguous", "clone"}


def _where(node: fx.Node) -> str:
    """'file.py:123' of the user's code that made this node (the innermost frame)."""
    trace = (node.stack_trace or "").strip().splitlines()
    for line in reversed(trace):
        line = line.strip()
        if not line.startswith("File "):
            continue
        try:
            path, lineno = line.split('"')[1], line.split("line ")[1].split(",")[0]
        except IndexError:
            continue
        if "/torch/" in path.replace("\\", "/"):
            continue  # fx's and torch's own frames
        return f"{path}:{lineno}"
    return "unknown source line"


def _stack(node: fx.Node) -> tuple:
    stack = node.meta.get("nn_module_stack") or {}
    out = []
    for path, cls in stack.values():
        name = cls if isinstance(cls, str) else getattr(cls, "__name__", str(cls))
        out.append((path, name.rsplit(".", 1)[-1]))
    return tuple(out)


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


class _Unmapped(Exception):
    def __init__(self, why: str) -> None:
        self.why = why


def _same(pair: tuple[int, int], what: str) -> int:
    if pair[0] != pair[1]:
        raise _Unmapped(f"{what} {pair[0]}×{pair[1]} differs between height and width "
                        "(the notation has one value for both)")
    return pair[0]


def _conv(m: nn.Conv2d) -> Conv:
    (kh, kw), d = m.kernel_size, _same(_pair(m.dilation), "dilation")
    stride = _same(_pair(m.stride), "stride")
    if isinstance(m.padding, str):
        padding = "same" if m.padding == "same" else 0
    else:
        p = _pair(m.padding)
        padding = None if p == (d * (kh // 2), d * (kw // 2)) else _same(p, "padding")
    bias = m.bias is not None
    if m.groups == m.in_channels == m.out_channels and m.groups > 1:
        return Conv((kh, kw), None, stride, padding, d, 1, bias, True)
    return Conv((kh, kw), m.out_channels, stride, padding, d, m.groups, bias)


def _tconv(m: nn.ConvTranspose2d) -> TransposedConv:
    d = _same(_pair(m.dilation), "dilation")
    if isinstance(m.padding, str):
        raise _Unmapped("a transposed conv with string padding")
    return TransposedConv(tuple(m.kernel_size), m.out_channels,
                          _same(_pair(m.stride), "stride"), _same(_pair(m.padding), "padding"),
                          _same(_pair(m.output_padding), "output padding"), d, m.groups,
                          m.bias is not None)


def _size_source(size) -> fx.Node | None:
    """The tensor whose H×W ``size`` is: ``t.shape[-2:]``, ``t.shape[2:]``,
    ``t.size()[-2:]`` or (``t.shape[2]``, ``t.shape[3]``); None otherwise."""
    def shape_of(n):
        if isinstance(n, fx.Node) and n.op == "call_function" and n.target is getattr and \
                n.args[1] == "shape":
            return n.args[0]
        if isinstance(n, fx.Node) and n.op == "call_method" and n.target == "size" and \
                len(n.args) == 1:
            return n.args[0]
        return None
    def item(n):
        if isinstance(n, fx.Node) and n.op == "call_function" and \
                n.target is operator.getitem:
            return shape_of(n.args[0]), n.args[1]
        return None, None
    base, index = item(size)
    if base is not None and index in (slice(-2, None), slice(2, None)):
        return base
    if isinstance(size, (tuple, list)) and len(size) == 2:
        (a, i), (b, j) = item(size[0]), item(size[1])
        if a is not None and a is b and (i, j) in ((2, 3), (-2, -1)):
            return a
    return None


def _pool(op: str, kernel, stride, padding, dilation, ceil) -> Pool:
    k = _pair(kernel)
    s = k if stride is None or stride == [] or stride == () else _pair(stride)
    if op == "max" and _pair(dilation) != (1, 1):
        raise _Unmapped("a dilated max pool has no notation")
    p = _same(_pair(padding), "padding")
    stride_value = None if s == k and k[0] == k[1] else _same(s, "stride")
    return Pool(op, k, stride_value, p, bool(ceil))


def _adaptive(size, shape) -> AdaptiveAvgPool:
    out = _pair(size) if not isinstance(size, (list, tuple)) or None not in size else \
        tuple(shape[2 + i] if s is None else s for i, s in enumerate(size))
    return AdaptiveAvgPool(tuple(int(v) for v in out))


def _kw(node: fx.Node, i: int, name: str, default):
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(name, default)


class _Mapper:
    """Maps fx nodes to Ops, collecting what it cannot map."""

    def __init__(self, gm: fx.GraphModule, shapes: dict) -> None:
        self.gm, self.shapes = gm, shapes
        self.ops: dict[fx.Node, Op | None] = {}
        self.order: list[Op] = []
        self.unmapped: list[tuple[str, str, str, str]] = []
        self.called: set[str] = set()
        self.attrs: set[str] = set()

    def tensor(self, x) -> Op | None:
        return self.ops.get(x) if isinstance(x, fx.Node) else None

    def run(self) -> list[Op]:
        for node in self.gm.graph.nodes:
            try:
                op = self.node(node)
            except _Unmapped as u:
                # every one is reported; what it feeds is still mapped as usual
                self.unmapped.append((self.path(node), self.what(node), _where(node), u.why))
                op = Op("unmapped", shape=tuple(self.shapes[node])) if self.is_tensor(node) \
                    else None
            self.ops[node] = op
            if op is not None:
                op.name = node.name
                op.module = op.module or self.path(node)
                op.stack = _stack(node)
                op.where = _where(node)
                shape = self.shapes.get(node)
                if isinstance(shape, torch.Size):
                    op.shape = tuple(shape)
                self.order.append(op)
        return self.order

    def path(self, node: fx.Node) -> str:
        if node.op == "call_module":
            return str(node.target)
        stack = _stack(node)
        return stack[-1][0] if stack else ""

    def what(self, node: fx.Node) -> str:
        if node.op == "call_module":
            return type(self.gm.get_submodule(node.target)).__name__
        if node.op == "call_method":
            return f"Tensor.{node.target}"
        t = node.target
        if t is getattr and len(node.args) > 1 and isinstance(node.args[1], str):
            return f"Tensor.{node.args[1]}"
        mod = getattr(t, "__module__", "") or ""
        return f"{mod}.{getattr(t, '__name__', t)}".lstrip(".")

    def is_tensor(self, node) -> bool:
        return isinstance(self.shapes.get(node), torch.Size)

    def node(self, node: fx.Node) -> Op | None:
        if node.op == "placeholder":
            return Op("input", shape=tuple(self.shapes[node]))
        if node.op == "output":
            return self.output(node.args[0])
        if node.op == "get_attr":
            if str(node.target) in self.attrs:
                raise _Unmapped("a parameter read more than once (shared weights)")
            self.attrs.add(str(node.target))
            return None
        shape = self.shapes.get(node)
        if isinstance(shape, tuple) and not isinstance(shape, torch.Size) and \
                (node.op, node.target) in (("call_method", "chunk"),
                                           ("call_function", torch.chunk)):
            return self.chunk(node)
        if node.op == "call_function" and node.target is operator.getitem and \
                isinstance(self.tensor(node.args[0]), Op) and \
                self.tensor(node.args[0]).kind == "split":
            return Op("slice", [self.tensor(node.args[0])], layer=int(node.args[1]))
        if isinstance(shape, tuple) and not isinstance(shape, torch.Size):
            raise _Unmapped("an operation that makes several tensors (a split or chunk "
                            "into branches)")
        if not self.is_tensor(node):
            return None  # sizes, shapes and other metadata
        tensors = [self.tensor(a) for a in node.args if self.tensor(a) is not None]
        if node.op == "call_module":
            m = self.gm.get_submodule(node.target)
            if str(node.target) in self.called and any(True for _ in m.parameters()):
                raise _Unmapped("a module called more than once (shared weights): the "
                                "notation gives every layer its own parameters")
            self.called.add(str(node.target))
            return self.module(node, self.gm.get_submodule(node.target), tensors)
        if node.op == "call_function":
            return self.function(node, tensors)
        if node.op == "call_method":
            return self.method(node, tensors)
        raise _Unmapped(f"fx node kind {node.op}")  # pragma: no cover

    def output(self, out) -> Op:
        """The main output (a dict's "out", else the first) and the other outputs (heads,
        e.g. torchvision's {"out": …, "aux": …})."""
        if isinstance(out, dict):
            keys = sorted(out, key=lambda k: k != "out")  # "out" first, else as given
            values = [out[k] for k in keys]
        else:
            values = list(out) if isinstance(out, (tuple, list)) else [out]
        ops = [self.tensor(v) for v in values]
        if not ops or any(o is None for o in ops):
            raise _Unmapped("the forward pass returns something other than a tensor or a "
                            "dict, tuple or list of tensors")
        return Op("output", ops)

    def layer(self, x: Op, layer, layout: str | None = None) -> Op:
        return Op("layer", [x], layer, layout=layout or x.layout)

    def module(self, node, m: nn.Module, xs: list[Op]) -> Op:
        if isinstance(m, CenterCrop) and len(xs) == 2:  # symcnn's own crop (to_torch)
            op = self.layer(xs[0], Crop())
            op.size_of = xs[1]
            return op
        if len(xs) != 1:
            raise _Unmapped(f"a module called on {len(xs)} tensors")
        x = xs[0]
        for cls, kind in _ACT_MODULES:
            if type(m) is cls or (isinstance(m, cls) and cls is nn.ReLU6):
                inplace = bool(getattr(m, "inplace", False)) and kind in IN_PLACE
                return self.layer(x, Elementwise(kind, inplace=inplace))
        if isinstance(m, InPlace) and m.method in ("sigmoid_", "tanh_"):  # symcnn's own
            return self.layer(x, Elementwise(m.method[:-1], inplace=True))
        if isinstance(m, nn.Identity):
            return Op("alias", [x], layout=x.layout)
        if isinstance(m, nn.Flatten):
            return self.flatten(x, m.start_dim, m.end_dim)
        if type(m) is nn.Linear:
            return self.linear(x, tuple(m.weight.shape), m.bias is not None)
        if type(m) is nn.LayerNorm:
            return self.layer_norm_module(x, m)
        self.nchw(x, type(m).__name__)
        if type(m) is nn.Conv2d:
            return self.layer(x, _conv(m))
        if type(m) is nn.ConvTranspose2d:
            return self.layer(x, _tconv(m))
        if type(m) in (nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d):
            return self.upsample(node, x, m.mode, m.size, m.scale_factor)
        if type(m) is nn.MaxPool2d:
            if m.return_indices:
                raise _Unmapped("a max pool that returns indices")
            return self.layer(x, _pool("max", m.kernel_size, m.stride, m.padding,
                                       m.dilation, m.ceil_mode))
        if type(m) is nn.AvgPool2d:
            return self.layer(x, _pool("avg", m.kernel_size, m.stride, m.padding, 1,
                                       m.ceil_mode))
        if type(m) is nn.AdaptiveAvgPool2d:
            return self.layer(x, _adaptive(m.output_size, x.shape))
        if type(m) is nn.BatchNorm2d:
            if not (m.affine and m.track_running_stats):
                raise _Unmapped("batch norm without affine parameters or running "
                                "statistics has no notation")
            return self.layer(x, BatchNorm())
        if type(m) is nn.GroupNorm:
            if not m.affine:
                raise _Unmapped("group norm without affine parameters has no notation")
            return self.layer(x, GroupNorm(m.num_groups))
        if type(m) is nn.PReLU:
            if m.num_parameters != x.shape[1]:
                raise _Unmapped("a PReLU with one slope for all channels (the notation's "
                                "prelu has one per channel)")
            return self.layer(x, PReLU())
        if type(m) is nn.LocalResponseNorm:
            if m.size != 5:
                raise _Unmapped("the notation's lrn is LocalResponseNorm(5)")
            return self.layer(x, Elementwise("lrn"))
        if type(m) is nn.Softmax and m.dim in (1, -3):
            return self.layer(x, Elementwise("softmax"))
        raise _Unmapped("a module symcnn has no notation for")

    def nchw(self, x: Op, what: str) -> None:
        if x.layout != "nchw" or len(x.shape) != 4:
            raise _Unmapped(f"{what} on a {x.layout} tensor of shape {list(x.shape)} "
                            "(expected N×C×H×W)")

    def linear(self, x: Op, weight_shape, bias: bool) -> Op:
        out, inp = weight_shape
        if x.layout == "flat" or (len(x.shape) == 2):
            if not bias:
                raise _Unmapped("a Linear layer without bias after a flatten (fc has a bias)")
            return Op("layer", [x], FC(int(out)), layout="flat")
        if x.layout == "nhwc" and x.shape[-1] == inp:
            return Op("layer", [x], Conv((1, 1), int(out), bias=bias), layout="nhwc")
        raise _Unmapped(f"a Linear layer on a tensor of shape {list(x.shape)} that is "
                        "neither flattened nor channels-last")

    def flatten(self, x: Op, start=1, end=-1) -> Op:
        if start != 1 or end not in (-1, len(x.shape) - 1):
            raise _Unmapped(f"a flatten of dimensions {start}..{end}")
        return Op("alias", [x], layout="flat")

    def function(self, node, xs: list[Op]) -> Op:
        t = node.target
        name = getattr(t, "__name__", str(t))
        inplace = t in _IN_PLACE_FUNCTIONS or \
            (t in _INPLACE_ARG and bool(_kw(node, _INPLACE_ARG[t], "inplace", False)))
        if t in _ACT_FUNCTIONS and len(xs) == 1:
            return self.layer(xs[0], Elementwise(_ACT_FUNCTIONS[t], inplace=inplace))
        if t is F.hardtanh and (_kw(node, 1, "min_val", -1.0), _kw(node, 2, "max_val", 1.0)) \
                == (0.0, 6.0):
            return self.layer(xs[0], Elementwise("relu6", inplace=inplace))
        if t in (operator.add, operator.iadd, torch.add) and len(xs) == 2:
            return Op("add", xs, inplace=t is operator.iadd)
        if t in (operator.mul, operator.imul, torch.mul):
            return self.mul(node, xs)
        if t is torch.cat:
            parts = [self.tensor(a) for a in node.args[0]]
            dim = _kw(node, 1, "dim", 0)
            if None in parts or dim not in (1, -3) or any(p.layout != "nchw" for p in parts):
                raise _Unmapped("a concatenation that is not along the channels of N×C×H×W "
                                "tensors")
            return Op("cat", parts)
        if t is torch.flatten:
            return self.flatten(xs[0], _kw(node, 1, "start_dim", 0), _kw(node, 2, "end_dim", -1))
        if name == "stochastic_depth" and len(xs) == 1:
            if _kw(node, 3, "training", True):
                raise _Unmapped("stochastic depth in training mode")
            return Op("alias", [xs[0]], layout=xs[0].layout)
        if t in (F.adaptive_avg_pool2d,):
            self.nchw(xs[0], "adaptive_avg_pool2d")
            return self.layer(xs[0], _adaptive(_kw(node, 1, "output_size", None), xs[0].shape))
        if t in (F.max_pool2d, torch.max_pool2d):
            self.nchw(xs[0], "max_pool2d")
            if _kw(node, 6, "return_indices", False):
                raise _Unmapped("a max pool that returns indices")
            return self.layer(xs[0], _pool("max", _kw(node, 1, "kernel_size", None),
                                           _kw(node, 2, "stride", None),
                                           _kw(node, 3, "padding", 0),
                                           _kw(node, 4, "dilation", 1),
                                           _kw(node, 5, "ceil_mode", False)))
        if t in (F.avg_pool2d, torch._C._nn.avg_pool2d):
            self.nchw(xs[0], "avg_pool2d")
            return self.layer(xs[0], _pool("avg", _kw(node, 1, "kernel_size", None),
                                           _kw(node, 2, "stride", None),
                                           _kw(node, 3, "padding", 0), 1,
                                           _kw(node, 4, "ceil_mode", False)))
        if t is F.layer_norm:
            return self.layer_norm(node, xs)
        if t is F.interpolate and len(xs) == 1:
            return self.upsample(node, xs[0], _kw(node, 3, "mode", "nearest"),
                                 _kw(node, 1, "size", None), _kw(node, 2, "scale_factor", None))
        if t is F.linear:
            w = self.param_shape(node.args[1])
            bias = len(node.args) > 2 and node.args[2] is not None
            return self.linear(xs[0], w, bias)
        if t is operator.getitem and len(xs) == 1:
            return self.subsample(xs[0], node.args[1])
        if t is F.pad and len(xs) == 1:
            pad = tuple(_kw(node, 1, "pad", ()))
            mode, value = _kw(node, 2, "mode", "constant"), _kw(node, 3, "value", None)
            x = xs[0]
            out = tuple(self.shapes[node])
            # the last amount may be computed from a size (a node): the output says it
            if x.layout == "nchw" and len(pad) == 6 and pad[:5] == (0, 0, 0, 0, 0) and \
                    out[2:] == x.shape[2:] and out[1] >= x.shape[1] and \
                    mode == "constant" and value in (None, 0, 0.0):
                return self.layer(x, ChannelPad(out[1]))
            raise _Unmapped("a pad that is not zeros appended to the channels")
        if t is torch.transpose and len(xs) == 1:
            return self.transpose(xs[0], _kw(node, 1, "dim0", 0), _kw(node, 2, "dim1", 1))
        if t in (torch.reshape,) and len(xs) == 1:
            return self.view(node, xs[0], self.shapes[node])
        if t is torch.channel_shuffle or t is getattr(F, "channel_shuffle", None):
            if _kw(node, 1, "groups", None) != 2:
                raise _Unmapped("a channel shuffle in other than 2 groups")
            return self.layer(xs[0], Elementwise("shuffle"))
        if t is torch.permute:
            return self.permute(xs[0], _kw(node, 1, "dims", None))
        if t is torch.mean:
            return self.mean(node, xs[0], _kw(node, 1, "dim", None),
                             _kw(node, 2, "keepdim", False))
        raise _Unmapped("a function symcnn has no notation for")

    def method(self, node, xs: list[Op]) -> Op:
        name = node.target
        x = xs[0] if xs else None
        if x is None:
            raise _Unmapped("a method on no tensor")
        if name in _ACT_METHODS and len(xs) == 1:
            return self.layer(x, Elementwise(_ACT_METHODS[name], inplace=name.endswith("_")))
        if name in _ALIAS_METHODS:
            return Op("alias", [x], layout=x.layout)
        if name in ("add", "add_") and len(xs) == 2:
            return Op("add", xs, inplace=name == "add_")
        if name in ("mul", "mul_"):
            return self.mul(node, xs)
        if name == "flatten":
            return self.flatten(x, _kw(node, 1, "start_dim", 0), _kw(node, 2, "end_dim", -1))
        if name in ("view", "reshape"):
            return self.view(node, x, self.shapes[node])
        if name == "transpose":
            return self.transpose(x, _kw(node, 1, "dim0", 0), _kw(node, 2, "dim1", 1))
        if name == "permute":
            dims = node.args[1:] if len(node.args) > 2 else _kw(node, 1, "dims", None)
            return self.permute(x, dims)
        if name == "mean":
            return self.mean(node, x, _kw(node, 1, "dim", None), _kw(node, 2, "keepdim", False))
        raise _Unmapped("a tensor method symcnn has no notation for")

    def upsample(self, node, x: Op, mode, size, scale) -> Op:
        """``F.interpolate``/``nn.Upsample``: by an integer scale, to a fixed size, or to the
        H×W of a tensor (``t.shape[-2:]``): the network input's, or another tensor's (the
        input of the merge it sits in, which :mod:`.structure` checks)."""
        self.nchw(x, "interpolate")
        if mode not in ("nearest", "bilinear"):
            raise _Unmapped(f"an interpolation in mode {mode!r} (the notation has nearest "
                            "and bilinear)")
        if scale is not None:
            pair = _pair(scale) if not isinstance(scale, (int, float)) else (scale, scale)
            if not all(float(v).is_integer() and v >= 1 for v in pair):
                raise _Unmapped(f"an upsampling by {scale} (the notation has whole scales)")
            return self.layer(x, Upsample(mode, tuple(int(v) for v in pair)))
        source = _size_source(size)
        if source is not None:
            src = self.tensor(source)
            if src is None or src.layout != "nchw" or len(src.shape) != 4:
                raise _Unmapped("an interpolation to the size of something that is not an "
                                "N×C×H×W tensor")
            if src.kind == "input":
                return self.layer(x, Upsample(mode, None, "input"))
            op = self.layer(x, Upsample(mode, None, "branch"))
            op.size_of = src
            return op
        if isinstance(size, int) or (isinstance(size, (tuple, list)) and len(size) == 2
                                     and all(isinstance(v, int) for v in size)):
            return self.layer(x, Upsample(mode, None, _pair(size)))
        raise _Unmapped("an interpolation to a size computed in a way symcnn does not "
                        "follow (it follows t.shape[-2:], t.size()[2:] and numbers)")

    def subsample(self, x: Op, index) -> Op:
        """``x[:, :, ::s, ::s]``: every s-th position, as ``pool1/s`` (no MACs)."""
        full = slice(None)
        if x.layout == "nchw" and isinstance(index, tuple) and len(index) == 4 and \
                index[0] == full and index[1] == full and \
                all(isinstance(i, slice) and i.start is None and i.stop is None
                    for i in index[2:]) and index[2].step == index[3].step and \
                isinstance(index[2].step, int) and index[2].step >= 1:
            return self.layer(x, Pool("max", (1, 1), index[2].step))
        raise _Unmapped("an indexing that is not a subsampling x[:, :, ::s, ::s]")

    def chunk(self, node) -> Op:
        x = self.tensor(node.args[0])
        n = _kw(node, 1, "chunks", None)
        dim = _kw(node, 2, "dim", 0)
        sizes = self.shapes[node]
        if x is None or x.layout != "nchw" or dim not in (1, -3) or not isinstance(n, int) \
                or len(sizes) != n or len({s[1] for s in sizes}) != 1:
            raise _Unmapped("a chunk that is not into equal slices of the channels of an "
                            "N×C×H×W tensor")
        return Op("split", [x], layer=n)

    def view(self, node, x: Op, shape) -> Op:
        """A view that flattens (N×F), undoes a flatten (N×F×1×1) or is half of a channel
        shuffle: N×C×H×W → N×g×(C/g)×H×W, transpose(1, 2), back to N×C×H×W."""
        if len(shape) == 2 and shape[0] == x.shape[0]:
            return Op("alias", [x], layout="flat")
        if x.layout == "flat" and len(x.shape) == 2 and tuple(shape) == (*x.shape, 1, 1):
            return Op("alias", [x], layout="nchw")  # N×F back to N×F×1×1
        if x.layout == "nchw" and len(shape) == 5 and len(x.shape) == 4 and \
                shape[1] * shape[2] == x.shape[1] and tuple(shape[3:]) == x.shape[2:]:
            return Op("alias", [x], layout=f"groups{shape[1]}")
        if x.layout.startswith("shuffled") and len(shape) == 4:
            groups = int(x.layout[len("shuffled"):])
            if groups != 2:
                raise _Unmapped(f"a channel shuffle in {groups} groups (the notation's "
                                "shuffle has 2)")
            return Op("layer", [x], Elementwise("shuffle"), layout="nchw")
        raise _Unmapped(f"a view to {list(shape)} (only a flatten to N×F and a channel "
                        "shuffle map)")

    def transpose(self, x: Op, a, b) -> Op:
        if x.layout.startswith("groups") and sorted((int(a) % 5, int(b) % 5)) == [1, 2]:
            return Op("alias", [x], layout="shuffled" + x.layout[len("groups"):])
        raise _Unmapped(f"a transpose of dimensions {a} and {b} (only a channel shuffle's "
                        "maps)")

    def permute(self, x: Op, dims) -> Op:
        dims = [int(d) % 4 for d in dims] if dims is not None else None
        if x.layout == "nchw" and dims == [0, 2, 3, 1]:
            return Op("alias", [x], layout="nhwc")
        if x.layout == "nhwc" and dims == [0, 3, 1, 2]:
            return Op("alias", [x], layout="nchw")
        raise _Unmapped(f"a permute {dims} of a {x.layout} tensor")

    def mean(self, node, x: Op, dim, keepdim) -> Op:
        dims = sorted(int(d) % 4 for d in (dim if isinstance(dim, (list, tuple)) else [dim])) \
            if dim is not None else None
        if x.layout == "nchw" and dims == [2, 3]:
            return Op("layer", [x], AdaptiveAvgPool((1, 1)),
                      layout="nchw" if keepdim else "flat")
        raise _Unmapped(f"a mean over dimensions {dims} (only the global average over H, W "
                        "maps, to gap)")

    def param_shape(self, node) -> tuple:
        if isinstance(node, fx.Node) and node.op == "get_attr":
            self.attrs.add(str(node.target))
            return tuple(self.shapes[node])
        raise _Unmapped("a weight that is not a parameter of the module")

    def layer_norm_module(self, x: Op, m: nn.LayerNorm) -> Op:
        if x.layout == "nhwc" and tuple(m.normalized_shape) == (x.shape[-1],) and \
                m.elementwise_affine and m.bias is not None:
            return Op("layer", [x], LayerNorm(), layout="nhwc")
        raise _Unmapped("a layer norm that is not over the channels of a channels-last "
                        "tensor with weight and bias")

    def layer_norm(self, node, xs: list[Op]) -> Op:
        x = xs[0]
        shape = tuple(_kw(node, 1, "normalized_shape", ()))
        weight, bias = _kw(node, 2, "weight", None), _kw(node, 3, "bias", None)
        for p in (weight, bias):
            if p is not None:
                self.param_shape(p)
        if x.layout == "nhwc" and shape == (x.shape[-1],) and weight is not None \
                and bias is not None:
            return Op("layer", [x], LayerNorm(), layout="nhwc")
        raise _Unmapped("a layer norm that is not over the channels of a channels-last "
                        "tensor with weight and bias")

    def mul(self, node, xs: list[Op]) -> Op:
        if len(xs) == 2:
            return Op("mul", xs)
        params = [a for a in node.args if isinstance(a, fx.Node) and a.op == "get_attr"]
        if len(xs) == 1 and len(params) == 1:
            shape = self.param_shape(params[0])
            x = xs[0]
            c = x.shape[1] if x.layout == "nchw" else x.shape[-1]
            if (x.layout == "nchw" and shape == (c, 1, 1)) or \
                    (x.layout == "nhwc" and shape == (c,)):
                return self.layer(x, Scale())
        raise _Unmapped("a multiplication that is neither a merge of two branches nor a "
                        "per-channel layer scale")


def _shapes(gm: fx.GraphModule, example: torch.Tensor) -> dict:
    """Every node's output size, from running the graph on ``example`` (meta or fake)."""
    sizes: dict = {}

    class Recorder(fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            if isinstance(out, torch.Tensor):
                sizes[n] = out.shape
            elif isinstance(out, (tuple, list)) and out and \
                    all(isinstance(t, torch.Tensor) for t in out):
                sizes[n] = tuple(t.shape for t in out)
            return out

    Recorder(gm).run(example)
    return sizes


@contextlib.contextmanager
def evaluating(module: nn.Module):
    """The module in eval mode inside, its own modes restored after."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, training in modes:
            m.training = training


def example_input(module: nn.Module, size: tuple[int, int, int]):
    """A (1, C, H, W) input on the module's device, and a context to run it in: meta
    tensors as they are, real weights under a FakeTensorMode (shapes only, no compute)."""
    h, w, c = size
    first = next(iter(module.parameters()), None)
    if first is None or first.device.type == "meta":
        return torch.empty(1, c, h, w, device="meta"), contextlib.nullcontext()
    from torch._subclasses.fake_tensor import FakeTensorMode
    mode = FakeTensorMode(allow_non_fake_inputs=True)
    with mode:
        x = torch.empty(1, c, h, w, device=first.device)
    return x, mode


def first_channels(gm: fx.GraphModule) -> int:
    """The input channels of the first Conv2d or Linear the forward pass calls."""
    for node in gm.graph.nodes:
        if node.op == "call_module":
            m = gm.get_submodule(node.target)
            if isinstance(m, nn.Conv2d):
                return m.in_channels
            if isinstance(m, nn.Linear):
                return m.in_features
        if node.op == "call_function" and node.target in (F.conv2d, torch.conv2d):
            w = node.args[1]
            if isinstance(w, fx.Node) and w.op == "get_attr":
                return gm.get_parameter(str(w.target)).shape[1]
    raise SymCNNError("the module calls no Conv2d or Linear layer to take the input "
                      "channels from: give input='HxWxC'")


def trace(module: nn.Module, size: tuple) -> Traced:
    """Trace ``module`` (in eval mode) and size it on an H×W×C input (C None: taken from
    the first layer's weights)."""
    with evaluating(module):
        tracer = _Tracer()
        try:
            graph = tracer.trace(module)
        except Exception as e:  # fx raises TraceError, TypeError, … for dynamic code
            raise TraceFailed(_trace_message(e)) from None
        gm = fx.GraphModule(tracer.root, graph)
        if size[2] is None:
            size = (size[0], size[1], first_channels(gm))
        x, mode = example_input(module, size)
        try:
            with mode, torch.no_grad():
                shapes = _shapes(gm, x)
        except Exception as e:
            first = (str(e).strip().splitlines() or [""])[0]
            raise SymCNNError(f"the traced module does not run on a {size[0]}x{size[1]}x"
                              f"{size[2]} input: {type(e).__name__}: {first}") from None
    mapper = _Mapper(gm, shapes)
    ops = mapper.run()
    if mapper.unmapped:
        raise UnmappedError(_unmapped_message(mapper.unmapped), tuple(mapper.unmapped))
    return Traced(ops, mapper.called, mapper.attrs, gm, size)


def _trace_message(e: Exception) -> str:
    import traceback
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if "/torch/" not in f.filename.replace("\\", "/")]
    where = f" at {frames[-1].filename}:{frames[-1].lineno} ({frames[-1].line})" if frames \
        else ""
    first = (str(e).strip().splitlines() or [""])[0]
    return (f"torch.fx cannot trace this module{where}: {type(e).__name__}: {first}. "
            "Data-dependent control flow (an if or loop on tensor values or sizes) cannot "
            "be traced: import a submodule that has none, or write that part in notation")


def _unmapped_message(items) -> str:
    """One line per distinct operation and source line, with the module paths it is at."""
    groups: dict[tuple, list[str]] = {}
    whys: dict[tuple, str] = {}
    for path, what, where, why in items:
        groups.setdefault((what, where), []).append(path or "(root)")
        whys.setdefault((what, where), why)
    lines = [f"{len(items)} operation{'s' if len(items) > 1 else ''} symcnn cannot map "
             "(nothing is counted as zero; write these parts in notation, or import a "
             "submodule without them):"]
    for (what, where), paths in groups.items():
        why = whys[(what, where)]
        paths = list(dict.fromkeys(paths))
        at = ", ".join(paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        lines.append(f"  {at}: {what} at {where}: {why}")
    return "\n".join(lines)
