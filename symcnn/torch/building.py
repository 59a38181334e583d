"""Notation → torch: build a network as real ``torch.nn`` modules.

The modules follow the conventions symcnn counts with (see :mod:`symcnn.shapes`):

- ``conv``: ``Conv2d`` with padding d·⌊K/2⌋ per axis by default, an explicit padding on both
  axes, or torch's ``padding="same"``; ``dw`` is a depthwise conv (groups = out = in);
- ``pool``/``avgpool``: ``MaxPool2d``/``AvgPool2d`` (stride defaults to the kernel,
  ``ceil_mode`` from ``ceil``, ``count_include_pad`` left at its default);
- ``adaptiveavgpool``/``gap``: ``AdaptiveAvgPool2d``;
- ``fc``: flatten, ``Linear`` (with bias), reshape to (N, units, 1, 1) so outputs stay NCHW;
- ``bn``: ``BatchNorm2d``; ``gnG``: ``GroupNorm(G, C)``; ``prelu``: ``PReLU(C)``; ``padN``:
  :class:`ChannelPad` (zeros appended to N channels); activations: ReLU, ReLU6, SiLU, Sigmoid, Hardswish, Hardsigmoid,
  GELU, Tanh, Dropout (eval), Softmax over channels, LocalResponseNorm(5); ``relu_`` and
  the other in-place forms: the module with ``inplace=True`` (``sigmoid_``, ``tanh_``:
  :class:`InPlace`, the Tensor method);
- ``se(q)``: x · sigmoid(conv1x1(relu(conv1x1(avgpool(x, 1))))), both 1×1 convs with bias;
- ``add(…)``/``cat(…)``/``res(…)``: every branch on the same input (an empty branch is the
  identity), then a :class:`Merge` that sums or concatenates channels (``add_``/``res_``:
  ``out += b`` into the first branch's output); ``split(…)``: branch
  i on the i-th of n equal channel slices (``chunk``), then concatenated;
- ``shuffle``: :class:`ChannelShuffle` in 2 groups (view, transpose, contiguous copy);
- ``aux(…)``: an :class:`AuxHead`, built (its params count) but not run at inference;
  ``head(…)``: a :class:`Head` whose output the model returns beside the main one
  (``{"out": …, "head1": …}``, as torchvision's segmentation models return
  ``{"out": …, "aux": …}``) and which runs as theirs does: after the main path, its input
  and the backbone's output (the input of the last top-level block or merge after the
  heads) kept;
- ``tconv``: ``ConvTranspose2d``; ``nearest…``/``bilinear…``: :class:`Interpolate`
  (``F.interpolate``, align_corners=False), to a scale, a size, the network input's size
  or the size of the input of the merge or head it sits in, read from the tensor at run
  time (``x.shape[-2:]``, as torchvision writes it); ``crop``: :class:`CenterCrop` of the
  branch to the size of the merge's first branch without a crop;
- ``mul(…)``: the branches' outputs multiplied element-wise (broadcast);
- ``(cat( | body))xN``, a dense block: a :class:`DenseBlock`, as torchvision's _DenseBlock
  runs it (the maps in a list, concatenated anew by each copy, whose body is cut after each
  conv into ``nn.Sequential`` parts; the block returns the list's concatenation);
- any other repeat is expanded into its copies, which join the sequence the repeat sits in; a
  call's block is an ``nn.Sequential`` with a label (it holds its input until it returns,
  as a Python ``forward`` does).

Every module that stands for one row of ``symcnn.analyze(...).rows`` (a layer or a merge)
carries the layer record in ``module.symcnn_layer`` (``"add"``/``"cat"`` for merges); run
in order, those modules produce the rows' outputs in the order of the report.

The model is built on the ``meta`` device (shapes without storage, so a 138M-parameter VGG
costs nothing), where torch itself sizes every layer's input (a ``Linear`` gets its
in-features from the tensor that reaches it, not from symcnn), and then materialised on the
device asked for with torch's default initialisation.
"""

from __future__ import annotations

import contextlib
import functools
import operator
import warnings

import torch
from torch import nn

from ..errors import SymCNNError
from ..expand import bind_incoming, expand
from ..layers import (FC, SE, AdaptiveAvgPool, BatchNorm, Block, Branches, Conv, Crop,
                     Elementwise, GroupNorm, InputSpec, LayerNorm, Pool, PReLU, Repeat, Scale,
                     TransposedConv, Upsample)
from ..layers import ChannelPad as ChannelPadLayer
from ..layers import dense_block, dense_body
from ..memory import classifier_at, dense_parts
from ..notation import INCOMING
from ..report import as_input
from ..report import _network as _as_network

__all__ = ["to_torch", "MAX_MODULES", "Net", "Merge", "Parallel", "AuxHead", "Head",
           "FullyConnected", "SqueezeExcitation", "ChannelShuffle", "ChannelPad",
           "Interpolate", "CenterCrop", "CroppingBranch", "SizeOf", "InPlace",
           "DenseBlock", "DenseLayer"]

MAX_MODULES = 100_000  # layer modules a network may expand to in torch (one per copy)


# ---------------------------------------------------------------- modules

class SizeOf:
    """The H×W of a tensor a module sees at run time, shared with the modules that upsample
    to it (a plain object, not a module): the network input's, or a merge's or head's
    input. Under torch.fx it holds the traced ``x.shape[-2:]``, so the graph says where a
    size comes from, as in torchvision's code."""

    def __init__(self) -> None:
        self.hw = None


class Outputs:
    """The heads met on the main path with their inputs, in order (shared by a Net and
    its heads): the Net runs them after the main path."""

    def __init__(self) -> None:
        self.items: list = []


class Net(nn.Sequential):
    """A symcnn network as torch modules; ``input_shape`` is the (C, H, W) it was built for
    (a ``Linear`` after the convolutions fixes the spatial size). With ``head(…)``s it
    returns ``{"out": main, "head1": …}`` and runs as torchvision's segmentation models
    (``_SimpleSegmentationModel``): the backbone's maps (the heads' inputs and the input of
    the module at ``classifier_at``) live to the end, the heads run after the main path."""

    def __init__(self, modules, input_shape: tuple[int, int, int], input_size: SizeOf,
                 outputs: Outputs, classifier_at: int | None = None) -> None:
        super().__init__(*modules)
        self.input_shape = tuple(input_shape)
        self.input_size, self.outputs = input_size, outputs
        self.has_heads = any(isinstance(m, Head) for m in self.modules())
        self.classifier_at = classifier_at if self.has_heads else None

    def forward(self, x):
        self.input_size.hw = x.shape[-2:]
        self.outputs.items = []
        features = None
        for k, module in enumerate(self):
            if k == self.classifier_at:
                features = x  # the backbone's output, kept as features["out"] is
            x = module(x)
        if not self.has_heads:
            return x
        result = {"out": x}
        for i, (head, fork) in enumerate(self.outputs.items, 1):
            result[f"head{i}"] = head.run(fork)
        del features
        return result

    def extra_repr(self) -> str:
        c, h, w = self.input_shape
        return f"input {h}x{w}x{c}"


class Sequence(nn.Sequential):
    """The copies of a repeat, or a definition's block (``label`` as in the report)."""

    def __init__(self, modules, label: str = "") -> None:
        super().__init__(*modules)
        self.label = label

    def extra_repr(self) -> str:
        return self.label


class Merge(nn.Module):
    """Sum (``"add"``) or channel concatenation (``"cat"``) of the branches' outputs;
    ``inplace`` (``add_(…)``): the sum written into the first one, ``out += b``."""

    def __init__(self, op: str, inplace: bool = False) -> None:
        super().__init__()
        if op not in ("add", "cat", "split", "mul"):
            raise ValueError(f"unknown merge {op!r}")
        if inplace and op != "add":
            raise ValueError(f"a {op} does not run in place")
        self.op, self.inplace = op, inplace

    def forward(self, xs: list) -> torch.Tensor:
        if self.op == "add" and self.inplace:
            out = xs[0]
            for x in xs[1:]:
                out += x
            return out
        if self.op == "add":
            return functools.reduce(operator.add, xs)
        if self.op == "mul":
            return functools.reduce(operator.mul, xs)
        return torch.cat(xs, dim=1)

    def extra_repr(self) -> str:
        return self.op + (", inplace" if self.inplace else "")


class Parallel(nn.Module):
    """Branches run on the same input (an empty one is the identity), then a merge; for
    ``split(…)`` branch i runs on the i-th of n equal channel slices (``chunk``)."""

    def __init__(self, branches, merge: Merge, fork: SizeOf | None = None) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.merge = merge
        self.fork = fork or SizeOf()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.fork.hw = x.shape[-2:]
        if self.merge.op == "split":
            parts = x.chunk(len(self.branches), dim=1)  # indexed: fx cannot iterate a chunk
            return self.merge([b(parts[i]) for i, b in enumerate(self.branches)])
        outs = [None if isinstance(b, CroppingBranch) else b(x) for b in self.branches]
        ref = next((o for o in outs if o is not None), None)
        return self.merge([b(x, ref) if o is None else o for b, o in zip(self.branches, outs)])


class DenseLayer(nn.Module):
    """One copy of a dense block, torchvision's _DenseLayer: the concatenation of the maps
    so far (by the previous copy's merge, the row of its ``cat``; ``torch.cat`` for the
    first), then the parts of the body, each holding its input until it returns."""

    def __init__(self, parts, merge: Merge, fork: SizeOf) -> None:
        super().__init__()
        self.parts = nn.ModuleList(nn.Sequential(*p) for p in parts)
        self.merge, self.fork = merge, fork

    def forward(self, features: list, concat: Merge | None = None) -> torch.Tensor:
        x = torch.cat(features, 1) if concat is None else concat(features)
        self.fork.hw = x.shape[-2:]
        for part in self.parts:
            x = part(x)
        return x


class DenseBlock(nn.Module):
    """``(cat( | body))xN`` as torchvision's _DenseBlock: ``features = [x]``, each layer's
    output appended, the list's concatenation returned (by the last layer's merge)."""

    def __init__(self, layers) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, concat = [x], None
        for layer in self.layers:
            features.append(layer(features, concat))
            concat = layer.merge
        return concat(features)


class CroppingBranch(nn.Module):
    """A merge's branch with a crop: ``after(crop(before(x), ref))``, ``ref`` the output of
    the merge's first branch without a crop."""

    def __init__(self, before, crop: "CenterCrop", after) -> None:
        super().__init__()
        self.before, self.crop, self.after = nn.Sequential(*before), crop, nn.Sequential(*after)

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return self.after(self.crop(self.before(x), ref))


class CenterCrop(nn.Module):
    """The centre H×W window of ``x`` the size of ``ref`` (U-Net's skip connections: the
    top-left corner at ⌊(H − h)/2⌋, ⌊(W − w)/2⌋)."""

    def forward(self, x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        h, w = ref.shape[-2], ref.shape[-1]
        top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
        return x[:, :, top:top + h, left:left + w]


class Interpolate(nn.Module):
    """``F.interpolate`` by an integer scale, to a fixed size, or to the size ``source``
    holds at run time (the network input's or a merge's input)."""

    def __init__(self, mode: str, scale=None, size=None, source: SizeOf | None = None) -> None:
        super().__init__()
        self.mode, self.scale, self.size, self.source = mode, scale, size, source

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        corners = False if self.mode == "bilinear" else None
        if self.scale is not None:
            return nn.functional.interpolate(x, scale_factor=self.scale, mode=self.mode,
                                             align_corners=corners)
        size = self.size if self.source is None else self.source.hw
        return nn.functional.interpolate(x, size=size, mode=self.mode, align_corners=corners)

    def extra_repr(self) -> str:
        return f"{self.mode}, scale={self.scale}" if self.scale is not None else \
            f"{self.mode}, size={self.size or 'at run time'}"


class Head(nn.Module):
    """``head(…)``: keeps its input in the network's outputs (the network runs ``body`` on
    it after the main path) and returns it (the main path goes on with it)."""

    def __init__(self, body, outputs: Outputs, fork: SizeOf) -> None:
        super().__init__()
        self.body = nn.Sequential(*body)
        self.outputs, self.fork = outputs, fork

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.outputs.items.append((self, x))
        return x

    def run(self, x: torch.Tensor) -> torch.Tensor:
        self.fork.hw = x.shape[-2:]
        return self.body(x)


class ChannelPad(nn.Module):
    """Zero channels appended up to ``channels`` (the CIFAR ResNets' option A shortcut)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.pad(x, (0, 0, 0, 0, 0, self.channels - x.shape[1]))


class ChannelShuffle(nn.Module):
    """ShuffleNet's channel shuffle in ``groups`` groups (a view, a transpose, a copy)."""

    def __init__(self, groups: int = 2) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x = x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).contiguous()
        return x.view(n, c, h, w)


class AuxHead(nn.Module):
    """A side head, ``aux(…)`` (a training-time auxiliary classifier): its modules and
    params are part of the model, but it is not run at inference: ``forward`` returns its
    input unchanged (torchvision's auxiliary classifiers in eval mode); in train mode it
    runs the head too (its output is dropped: memory checks see what it saves). ``ran`` says
    whether the head could run on the input it was built for; when it could not, it was
    sized on a larger one (its params do not depend on the size)."""

    def __init__(self, head, ran: bool) -> None:
        super().__init__()
        self.head = nn.Sequential(*head)
        self.ran = ran

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.ran:  # a training-time head: it runs in train mode
            self.head(x)                # (torchvision's Inception3 does), output unused
        return x

    def extra_repr(self) -> str:
        return "not run at inference" + ("" if self.ran else "; too small an input to run")


class FullyConnected(nn.Module):
    """Flatten, ``Linear``, and back to (N, units, 1, 1) so every output stays NCHW."""

    def __init__(self, in_features: int, units: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, units, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(torch.flatten(x, 1)).reshape(x.shape[0], -1, 1, 1)


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels at each position (NCHW in, NCHW out), as ConvNeXt's."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class LayerScale(nn.Module):
    """x · γ with a learnable γ of shape (C, 1, 1), as ConvNeXt's layer scale."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels, 1, 1))  # torchvision: layer_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight


class SqueezeExcitation(nn.Module):
    """x · sigmoid(fc2(relu(fc1(avgpool(x, 1))))), fc1/fc2 1×1 convolutions with bias."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.relu = nn.ReLU()
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))


class InPlace(nn.Module):
    """``sigmoid_``/``tanh_``: the Tensor method that writes into its input (torch.nn's
    Sigmoid and Tanh have no ``inplace``)."""

    def __init__(self, method: str) -> None:
        super().__init__()
        self.method = method

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(x, self.method)()

    def extra_repr(self) -> str:
        return self.method


_ELEMENTWISE = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "silu": nn.SiLU, "swish": nn.SiLU,
    "sigmoid": nn.Sigmoid, "hardswish": nn.Hardswish, "hardsigmoid": nn.Hardsigmoid,
    "gelu": nn.GELU, "tanh": nn.Tanh, "dropout": lambda: nn.Dropout(0.5),
    "softmax": lambda: nn.Softmax(dim=1), "lrn": lambda: nn.LocalResponseNorm(5),
    "shuffle": ChannelShuffle,
}


def _layer_module(layer, c: int, h: int, w: int, sizes=None) -> nn.Module:
    """The module for one layer record on a (c, h, w) input; ``sizes`` maps "input" and
    "branch" to the :class:`SizeOf` an upsampling to them reads."""
    if isinstance(layer, TransposedConv):
        return nn.ConvTranspose2d(c, layer.filters, tuple(layer.kernel), stride=layer.stride,
                                  padding=layer.padding, output_padding=layer.output_padding,
                                  groups=layer.groups, bias=layer.bias,
                                  dilation=layer.dilation)
    if isinstance(layer, Upsample):
        if layer.scale is not None:
            return Interpolate(layer.mode, scale=tuple(float(v) for v in layer.scale))
        if isinstance(layer.size, tuple):
            return Interpolate(layer.mode, size=tuple(layer.size))
        return Interpolate(layer.mode, source=(sizes or {})[layer.size])
    if isinstance(layer, Conv):
        kh, kw = layer.kernel
        d = layer.dilation
        if layer.padding == "same":
            padding = "same"
        elif layer.padding is None:
            padding = (d * (kh // 2), d * (kw // 2))
        else:
            padding = (layer.padding, layer.padding)
        groups, out = (c, c) if layer.depthwise else (layer.groups, layer.filters)
        return nn.Conv2d(c, out, (kh, kw), stride=layer.stride, padding=padding,
                         dilation=d, groups=groups, bias=layer.bias)
    if isinstance(layer, Pool):
        cls = nn.MaxPool2d if layer.op == "max" else nn.AvgPool2d
        stride = layer.kernel if layer.stride is None else layer.stride
        return cls(layer.kernel, stride=stride, padding=layer.padding, ceil_mode=layer.ceil)
    if isinstance(layer, AdaptiveAvgPool):
        return nn.AdaptiveAvgPool2d(tuple(layer.output))
    if isinstance(layer, FC):
        return FullyConnected(c * h * w, layer.units)
    if isinstance(layer, BatchNorm):
        return nn.BatchNorm2d(c)
    if isinstance(layer, LayerNorm):
        return LayerNorm2d(c)
    if isinstance(layer, Scale):
        return LayerScale(c)
    if isinstance(layer, GroupNorm):
        return nn.GroupNorm(layer.groups, c)
    if isinstance(layer, PReLU):
        return nn.PReLU(c)
    if isinstance(layer, ChannelPadLayer):
        return ChannelPad(layer.channels)
    if isinstance(layer, SE):
        return SqueezeExcitation(c, layer.squeeze)
    if isinstance(layer, Elementwise) and layer.inplace:
        if layer.kind in ("sigmoid", "tanh"):
            return InPlace(f"{layer.kind}_")
        if layer.kind == "dropout":
            return nn.Dropout(0.5, inplace=True)
        return _ELEMENTWISE[layer.kind](inplace=True)
    if isinstance(layer, Elementwise):
        return _ELEMENTWISE[layer.kind]()
    raise TypeError(f"not a layer record: {layer!r}")


# ---------------------------------------------------------------- checks before building

def _where(layer) -> str:
    name = f"{layer.op}(…)" if isinstance(layer, Branches) else f"'{layer}'"
    return f"layer {name} at line {layer.line}, column {layer.column}"


def _widths(layer) -> dict:
    if isinstance(layer, Conv):
        return {} if layer.depthwise else {"filter count": layer.filters,
                                           "group count": layer.groups}
    if isinstance(layer, TransposedConv):
        return {"filter count": layer.filters, "group count": layer.groups}
    if isinstance(layer, FC):
        return {"unit count": layer.units}
    if isinstance(layer, SE):
        return {"squeeze width": layer.squeeze}
    return {}


def _check_numbers(items) -> None:
    """Refuse symbolic widths (``conv3-k``): a torch module needs numbers."""
    for item in items:
        if isinstance(item, Repeat):
            _check_numbers(item.body)
        elif isinstance(item, Block):
            _check_numbers(item.items)
        elif isinstance(item, Branches):
            for branch in item.branches:
                _check_numbers(branch)
        else:
            for what, value in _widths(item).items():
                if not isinstance(value, int) and value.free_symbols - {INCOMING}:
                    from ..layers import value_text
                    names = ", ".join(sorted(s.name for s in value.free_symbols))
                    raise SymCNNError(
                        f"{_where(item)} has a symbolic width: its {what} is "
                        f"{value_text(value)} ({names} without a value); torch needs "
                        f"numbers: give every width a value (e.g. call the definition "
                        f"with numbers) to build or verify this network in torch")


def _module_count(items, cap: int) -> int:
    """Layer modules (and merges) the items expand to in torch; stops counting past cap."""
    n = 0
    for item in items:
        if isinstance(item, Repeat):
            n += item.count * _module_count(item.body, cap)
        elif isinstance(item, Block):
            n += _module_count(item.items, cap)
        elif isinstance(item, Branches):
            n += (item.op not in ("aux", "head")) + sum(_module_count(b, cap)
                                                        for b in item.branches)
        else:
            n += 1
        if n > cap:
            return n
    return n


def _check_size(items) -> int:
    n = _module_count(items, MAX_MODULES)
    if n > MAX_MODULES:
        raise SymCNNError(
            f"in torch this network needs more than {MAX_MODULES:,} layer modules (one per "
            f"repeated copy; symcnn counts identical repeats in closed form, torch cannot); "
            f"use smaller repeat counts to build or verify it in torch")
    return n


def _concrete(spec: InputSpec | None) -> tuple[int, int, int]:
    if spec is None or spec.symbols:
        shown = "HxWxC" if spec is None else str(spec)
        raise SymCNNError(f"torch needs a concrete input size such as 224x224x3; got "
                          f"{shown} (pass input=...)")
    return spec.height, spec.width, spec.channels


# ---------------------------------------------------------------- building

class _TorchFailed(Exception):
    """torch refused to build or run a layer (a disagreement when symcnn accepts it)."""

    def __init__(self, layer, shape, error: BaseException) -> None:
        super().__init__(str(error))
        self.layer, self.shape, self.error = layer, shape, error

    def message(self) -> str:
        what = _where(self.layer) if hasattr(self.layer, "line") else f"'{self.layer}'"
        shape = "×".join(map(str, self.shape)) if self.shape else "?"
        first = str(self.error).strip().splitlines()
        return (f"torch fails at {what} on a {shape} (N×C×H×W) input: "
                f"{type(self.error).__name__}: {first[0] if first else ''}")


class _Builder:
    """Builds modules on the current default device and runs each on a probe tensor, so
    torch itself says what shape reaches the next layer. Every row module keeps its probe
    output shape in ``symcnn_shape``; ``symcnn_actual`` is False inside an aux head that had
    to be sized on a larger input than the one it gets."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.actual = True  # probing the network's own input (not an aux head's stand-in)
        self.input_size, self.outputs = SizeOf(), Outputs()
        self.forks: list[SizeOf] = []  # the enclosing merges' and heads' input sizes

    def items(self, items, x):
        """The modules of ``items``; a repeat's copies join the sequence it sits in, as if
        written out (so what stays alive is as in ``nn.Sequential(*blocks)``)."""
        modules = []
        for item in items:
            if isinstance(item, Repeat) and not dense_block(item):
                for _ in range(item.count):
                    body, x = self.items(item.body, x)
                    modules += body
                continue
            m, x = self.item(item, x)
            modules.append(m)
        return modules, x

    def item(self, item, x):
        if dense_block(item):
            return self.dense(item, x)
        if isinstance(item, Block):
            body, x = self.items(item.items, x)
            return Sequence(body, item.label), x
        if isinstance(item, Branches) and item.op == "aux":
            return self.aux(item, x), x
        if isinstance(item, Branches) and item.op == "head":
            fork = self.fork(x)
            try:
                body, _ = self.items(item.branches[0], x)
            finally:
                self.forks.pop()
            return Head(body, self.outputs, fork), x
        if isinstance(item, Branches):
            return self.parallel(item, x)
        _, c, h, w = x.shape
        sizes = {"input": self.input_size, **({"branch": self.forks[-1]} if self.forks else {})}
        layer = bind_incoming(item, int(c))  # in: the channels entering the layer
        try:
            m = _layer_module(layer, int(c), int(h), int(w), sizes)
        except (RuntimeError, ValueError) as e:
            raise _TorchFailed(item, tuple(x.shape), e) from None
        return m.eval(), self.tag(m, item, x, x.shape)

    def fork(self, x) -> SizeOf:
        size = SizeOf()
        size.hw = x.shape[-2:]
        self.forks.append(size)
        return size

    def dense(self, item: Repeat, x):
        """A dense block: each copy's parts probed on the concatenation of the maps so far,
        its merge (the copy's ``cat`` row) on the maps with its output."""
        features, layers = [x], []
        for _ in range(item.count):
            y = torch.cat(features, 1)
            fork = self.fork(y)
            try:
                parts = []
                for part in dense_parts(dense_body(item)):
                    body, y = self.items(part, y)
                    parts.append(body)
            finally:
                self.forks.pop()
            features.append(y)
            merge = Merge("cat")
            out = self.tag(merge, "cat", features, x.shape)
            layers.append(DenseLayer(parts, merge, fork))
        return DenseBlock(layers), out

    def parallel(self, item: Branches, x):
        """A merge: the branches on ``x`` (or its slices), crops last (they need the size of
        a branch without one), each kept in its place."""
        n = len(item.branches)
        parts = x.chunk(n, dim=1) if item.op == "split" else [x] * n
        cropping = [_crop_at(b) for b in item.branches]
        modules, outs = [None] * n, [None] * n
        fork = self.fork(x)
        try:
            for i in sorted(range(n), key=lambda i: cropping[i] is not None):
                at = cropping[i]
                if at is None:
                    body, outs[i] = self.items(item.branches[i], parts[i])
                    modules[i] = nn.Sequential(*body)
                    continue
                ref = next(o for o, c in zip(outs, cropping) if c is None)
                before, y = self.items(item.branches[i][:at], parts[i])
                crop = CenterCrop()
                crop.symcnn_layer = item.branches[i][at]
                y = self.run(crop, item.branches[i][at], (y, ref), y.shape)
                after, outs[i] = self.items(item.branches[i][at + 1:], y)
                modules[i] = CroppingBranch(before, crop, after)
        finally:
            self.forks.pop()
        merge = Merge(item.op, item.inplace)
        return Parallel(modules, merge, fork), self.tag(merge, item.op, outs, x.shape)

    def tag(self, module, layer, x, shape):
        """Mark ``module`` as the row of ``layer`` and run it on ``x``."""
        module.symcnn_layer = layer
        return self.run(module, layer, (x,), shape)

    def run(self, module, layer, args, shape):
        try:
            out = module(*args)
        except NotImplementedError:
            raise  # no meta kernel: the caller builds on the CPU instead
        except (RuntimeError, ValueError, IndexError) as e:
            raise _TorchFailed(layer, tuple(shape), e) from None
        module.symcnn_shape = tuple(out.shape)
        module.symcnn_actual = self.actual
        return out

    def aux(self, item: Branches, x) -> AuxHead:
        """The head on ``x``; if torch cannot run it there (it is never run at inference),
        sized on larger inputs instead, as symcnn does with symbolic sizes."""
        try:
            body, _ = self.items(item.branches[0], x)
            return AuxHead(body, True)
        except _TorchFailed as failure:
            first = failure
        _, c, h, w = map(int, x.shape)
        saved, self.actual = self.actual, False
        try:
            for factor in (2, 4, 8, 16, 32, 64):
                if self.device != "meta" and c * h * w * factor * factor > 50_000_000:
                    break
                try:
                    body, _ = self.items(item.branches[0],
                                         torch.zeros(1, c, h * factor, w * factor))
                    return AuxHead(body, False)
                except _TorchFailed:
                    continue
        finally:
            self.actual = saved
        raise first


@contextlib.contextmanager
def _quiet():
    """Silence torch's note that an even kernel with padding='same' pads a copy of the
    input: psame on an even kernel is what the notation asked for."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")
        yield


def _crop_at(branch) -> int | None:
    """The index of the crop among a branch's items (None: no crop); a crop nested in a
    block of the branch has no torch module here."""
    at = [i for i, item in enumerate(branch) if isinstance(item, Crop)]
    if not at and _nested_crop(branch):
        raise SymCNNError("to_torch builds a crop that sits directly in a branch of its "
                          "merge (cat(crop | …)), not one inside a block or repeat there")
    return at[0] if at else None


def _nested_crop(items) -> bool:
    for item in items:
        inner = item.body if isinstance(item, Repeat) else \
            item.items if isinstance(item, Block) else ()
        if any(isinstance(i, Crop) for i in inner) or _nested_crop(inner):
            return True
    return False


def _build(items, size: tuple[int, int, int], device: str) -> Net:
    h, w, c = size
    with _quiet(), torch.device(device), torch.no_grad():
        builder = _Builder(device)
        x = torch.zeros(1, c, h, w)
        builder.input_size.hw = x.shape[-2:]
        modules, _ = builder.items(items, x)
    return Net(modules, (c, h, w), builder.input_size, builder.outputs,
               classifier_at(items)).eval()


def _materialise(model: Net, device) -> Net:
    """A meta-built model on a real device, initialised as torch initialises new modules."""
    model = model.to_empty(device=device)
    with torch.no_grad():
        for m in model.modules():
            if hasattr(m, "reset_parameters"):
                m.reset_parameters()
            elif hasattr(m, "reset_running_stats"):
                m.reset_running_stats()
    return model.eval()


def _build_on(items, size, device) -> tuple[Net, str]:
    """Build on ``device``; meta-built first where possible (also for real devices, then
    materialised), on the CPU when an operation has no meta kernel."""
    device = torch.device(device)
    try:
        model = _build(items, size, "meta")
    except NotImplementedError:
        target = torch.device("cpu") if device.type == "meta" else device
        return _build(items, size, "cpu").to(target), str(target)
    if device.type == "meta":
        return model, "meta"
    return _materialise(model, device), str(device)


def to_torch(network, input=None, *, device="cpu") -> Net:
    """``network`` (a :class:`~symcnn.Network`, notation text or a zoo name) as a
    ``torch.nn.Module`` for ``input`` ("224x224x3", (224, 224, 3) or an InputSpec; by
    default the notation's own input line, which must be concrete).

    The model takes (N, C, H, W) tensors; its ``fc`` layers fix H and W. It is in eval
    mode, with torch's default initialisation, on ``device`` ("meta" for shapes only; the
    CPU instead if one of its operations has no meta kernel).
    Raises :class:`~symcnn.SymCNNError` for symbolic widths or input sizes, for more than
    MAX_MODULES expanded layers, and when torch cannot run a layer on this input.
    """
    net = _as_network(network)
    spec = as_input(input) if input is not None else net.input
    size = _concrete(spec)
    items = expand(net)
    _check_numbers(items)
    _check_size(items)
    try:
        model, _ = _build_on(items, size, device)
    except _TorchFailed as f:
        raise SymCNNError(f.message()) from None
    return model


