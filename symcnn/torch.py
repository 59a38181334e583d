"""symcnn → PyTorch: build a network as real ``torch.nn`` modules and check symcnn's counts.

    >>> import symcnn.torch
    >>> model = symcnn.torch.to_torch("vgg16", "224x224x3")          # a torch.nn.Module
    >>> result = symcnn.torch.verify("vgg16", "224x224x3")
    >>> result.ok, result.totals["macs"]
    (True, (15470264320, 15470264320, True))
    >>> print(symcnn.torch.format_table(result))                     # doctest: +SKIP

This is the only module of symcnn that imports torch; ``import symcnn`` never does (it is
imported explicitly, as ``symcnn.torch``). torch is an optional dependency
(``pip install torch``).

The modules follow the conventions symcnn counts with (see :mod:`symcnn.shapes`):

- ``conv``: ``Conv2d`` with padding d·⌊K/2⌋ per axis by default, an explicit padding on both
  axes, or torch's ``padding="same"``; ``dw`` is a depthwise conv (groups = out = in);
- ``pool``/``avgpool``: ``MaxPool2d``/``AvgPool2d`` (stride defaults to the kernel,
  ``ceil_mode`` from ``ceil``, ``count_include_pad`` left at its default);
- ``adaptiveavgpool``/``gap``: ``AdaptiveAvgPool2d``;
- ``fc``: flatten, ``Linear`` (with bias), reshape to (N, units, 1, 1) so outputs stay NCHW;
- ``bn``: ``BatchNorm2d``; activations: ReLU, ReLU6, SiLU, Sigmoid, Hardswish, Hardsigmoid,
  GELU, Tanh, Dropout (eval), Softmax over channels, LocalResponseNorm(5);
- ``se(q)``: x · sigmoid(conv1x1(relu(conv1x1(avgpool(x, 1))))), both 1×1 convs with bias;
- ``add(…)``/``cat(…)``/``res(…)``: every branch on the same input (an empty branch is the
  identity), then a :class:`Merge` that sums or concatenates channels;
- ``aux(…)``: an :class:`AuxHead`, built (its params count) but not run at inference;
- a repeat is expanded into its copies; a call's block is an ``nn.Sequential`` with a label.

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
from dataclasses import dataclass, field

try:
    import torch
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(f"symcnn.torch needs PyTorch (pip install torch): {e}") from e

from .errors import SymCNNError
from .expand import expand
from .layers import (FC, SE, AdaptiveAvgPool, BatchNorm, Block, Branches, Conv, Elementwise,
                     InputSpec, LayerNorm, Pool, Repeat, Scale)
from .report import Report, analyze, as_input
from .report import _network as _as_network

__all__ = ["to_torch", "verify", "format_table", "VerifyResult", "VerifyRow", "MAX_MODULES",
           "Net", "Merge", "Parallel", "AuxHead", "FullyConnected", "SqueezeExcitation"]

MAX_MODULES = 100_000  # layer modules a network may expand to in torch (one per copy)

# The totals verify compares, in the order they are shown.
TOTALS = ("params", "weights", "biases", "buffers", "activations", "macs", "flops")


# ---------------------------------------------------------------- modules

class Net(nn.Sequential):
    """A symcnn network as torch modules; ``input_shape`` is the (C, H, W) it was built for
    (a ``Linear`` after the convolutions fixes the spatial size)."""

    def __init__(self, modules, input_shape: tuple[int, int, int]) -> None:
        super().__init__(*modules)
        self.input_shape = tuple(input_shape)

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
    """Sum (``"add"``) or channel concatenation (``"cat"``) of the branches' outputs."""

    def __init__(self, op: str) -> None:
        super().__init__()
        if op not in ("add", "cat"):
            raise ValueError(f"unknown merge {op!r}")
        self.op = op

    def forward(self, xs: list) -> torch.Tensor:
        if self.op == "add":
            return functools.reduce(operator.add, xs)
        return torch.cat(xs, dim=1)

    def extra_repr(self) -> str:
        return self.op


class Parallel(nn.Module):
    """Branches run on the same input (an empty one is the identity), then a merge."""

    def __init__(self, branches, merge: Merge) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.merge = merge

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.merge([branch(x) for branch in self.branches])


class AuxHead(nn.Module):
    """A side head, ``aux(…)`` (a training-time auxiliary classifier): its modules and
    params are part of the model, but it is not run at inference: ``forward`` returns its
    input unchanged (torchvision's auxiliary classifiers in eval mode). ``ran`` says
    whether the head could run on the input it was built for; when it could not, it was
    sized on a larger one (its params do not depend on the size)."""

    def __init__(self, head, ran: bool) -> None:
        super().__init__()
        self.head = nn.Sequential(*head)
        self.ran = ran

    def forward(self, x: torch.Tensor) -> torch.Tensor:
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


_ELEMENTWISE = {
    "relu": nn.ReLU, "relu6": nn.ReLU6, "silu": nn.SiLU, "swish": nn.SiLU,
    "sigmoid": nn.Sigmoid, "hardswish": nn.Hardswish, "hardsigmoid": nn.Hardsigmoid,
    "gelu": nn.GELU, "tanh": nn.Tanh, "dropout": lambda: nn.Dropout(0.5),
    "softmax": lambda: nn.Softmax(dim=1), "lrn": lambda: nn.LocalResponseNorm(5),
}


def _layer_module(layer, c: int, h: int, w: int) -> nn.Module:
    """The module for one layer record on a (c, h, w) input."""
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
    if isinstance(layer, SE):
        return SqueezeExcitation(c, layer.squeeze)
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
                if not isinstance(value, int):
                    from .layers import value_text
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
            n += (item.op != "aux") + sum(_module_count(b, cap) for b in item.branches)
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

    def items(self, items, x):
        modules = []
        for item in items:
            m, x = self.item(item, x)
            modules.append(m)
        return modules, x

    def item(self, item, x):
        if isinstance(item, Repeat):
            copies = []
            for _ in range(item.count):
                body, x = self.items(item.body, x)
                copies.append(body[0] if len(body) == 1 else Sequence(body))
            return Sequence(copies, f"×{item.count}"), x
        if isinstance(item, Block):
            body, x = self.items(item.items, x)
            return Sequence(body, item.label), x
        if isinstance(item, Branches) and item.op == "aux":
            return self.aux(item, x), x
        if isinstance(item, Branches):
            branches, outs = [], []
            for branch in item.branches:
                body, out = self.items(branch, x)
                branches.append(nn.Sequential(*body))
                outs.append(out)
            merge = Merge(item.op)
            return Parallel(branches, merge), self.tag(merge, item.op, outs, x.shape)
        _, c, h, w = x.shape
        try:
            m = _layer_module(item, int(c), int(h), int(w))
        except (RuntimeError, ValueError) as e:
            raise _TorchFailed(item, tuple(x.shape), e) from None
        return m.eval(), self.tag(m, item, x, x.shape)

    def tag(self, module, layer, x, shape):
        """Mark ``module`` as the row of ``layer`` and run it on ``x``."""
        module.symcnn_layer = layer
        try:
            out = module(x)
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


def _build(items, size: tuple[int, int, int], device: str) -> Net:
    h, w, c = size
    with _quiet(), torch.device(device), torch.no_grad():
        modules, _ = _Builder(device).items(items, torch.zeros(1, c, h, w))
    return Net(modules, (c, h, w)).eval()


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


# ---------------------------------------------------------------- verification

@dataclass(frozen=True)
class VerifyRow:
    """One row of symcnn's report next to what torch computed for it.

    ``index`` is the row's position in ``report.rows`` (0 is the input), ``number`` its
    first layer number as the report's table prints it, ``count`` the identical copies it
    stands for; ``runs`` is how many torch modules were matched to it (``count`` when
    everything agrees). torch values are those of the first copy that disagrees (else of
    the first copy), None when torch never got there (or, in an aux head, could not run it
    on this input). Shapes: symcnn (H, W, C), torch (N, C, H, W).
    """
    index: int
    number: int
    name: str
    kind: str
    count: int
    symcnn_shape: tuple
    torch_shape: tuple | None
    symcnn_macs: int
    torch_macs: int | None
    symcnn_params: int
    torch_params: int | None
    runs: int
    ok: bool
    depth: int = 0      # blocks and branches around the row (for indentation)
    aux: bool = False   # in an aux head: built, not run (no MACs, no activations)


@dataclass(frozen=True)
class VerifyResult:
    """symcnn's report against a torch forward pass: ``rows`` (one per report row),
    ``totals`` (quantity → (symcnn, torch, ok); torch None when it could not run),
    ``notes`` (what went wrong, in words) and ``ok`` (everything agrees)."""
    input: InputSpec
    device: str
    torch_version: str
    rows: tuple[VerifyRow, ...]
    totals: dict = field(hash=False)
    notes: tuple[str, ...]
    ok: bool
    report: Report = field(repr=False, compare=False, hash=False)


class _Structure(Exception):
    """symcnn's rows do not follow the network's execution order."""


def _expected(items, rows) -> list[tuple[int, bool]]:
    """(report row index, inside an aux head) of every row module torch builds, in order.

    A repeat whose iteration leaves the shape unchanged has its rows once, with a
    ``count`` (symcnn.shapes._repeat): that iteration stands for all remaining ones.
    An aux head's rows follow its position; torch builds those modules but never runs them.
    """
    pos = 1  # rows[0] is the input

    def take(expected_layer, what):
        nonlocal pos
        if pos >= len(rows):
            raise _Structure(f"symcnn has no row for {what} (it has {len(rows)} rows)")
        if rows[pos].layer != expected_layer:
            raise _Structure(f"symcnn's row {pos} is {rows[pos].name}, but the network has "
                             f"{what} there")
        pos += 1
        return pos - 1

    def walk(items, shape, aux):
        seq = []
        for item in items:
            if isinstance(item, Repeat):
                for done in range(1, item.count + 1):
                    sub, after = walk(item.body, shape, aux)
                    if after == shape and done < item.count:
                        seq += sub * (item.count - done + 1)
                        break
                    seq += sub
                    shape = after
            elif isinstance(item, Block):
                sub, shape = walk(item.items, shape, aux)
                seq += sub
            elif isinstance(item, Branches) and item.op == "aux":
                for branch in item.branches:
                    sub, _ = walk(branch, shape, True)
                    seq += sub
            elif isinstance(item, Branches):
                for branch in item.branches:
                    sub, _ = walk(branch, shape, aux)
                    seq += sub
                i = take(item.op, f"the merge of {item.op}(…)")
                seq.append((i, aux))
                shape = rows[i].out
            else:
                i = take(item, f"'{item}'")
                seq.append((i, aux))
                shape = rows[i].out
        return seq, shape

    seq, _ = walk(items, rows[0].out, False)
    if pos != len(rows):
        raise _Structure(f"symcnn has {len(rows) - pos} rows the network does not have")
    return seq


def _row_modules(module: nn.Module, aux: bool = False):
    """(row module, inside an aux head) in build order, which is the rows' order."""
    for child in module.children():
        inside = aux or isinstance(child, AuxHead)
        if hasattr(child, "symcnn_layer"):
            yield child, inside
        else:
            yield from _row_modules(child, inside)


@dataclass
class _Run:
    """What torch did: each run row module's (module, output shape, FLOPs), the modules of
    aux heads (built, not run) and the total FLOPs."""
    device: str
    model: Net | None = None
    events: list = field(default_factory=list)
    aux_modules: list = field(default_factory=list)
    total_flops: int | None = None
    failure: str | None = None


def _forward(model: Net, size, device: str) -> _Run:
    h, w, c = size
    run = _Run(device, model)
    flops_before: dict[int, int] = {}
    handles = []
    with FlopCounterMode(display=False) as counter:
        def pre(module, args):
            flops_before[id(module)] = counter.get_total_flops()

        def post(module, args, out):
            run.events.append((module, tuple(out.shape),
                               counter.get_total_flops() - flops_before.pop(id(module))))

        for m, aux in _row_modules(model):
            if aux:
                run.aux_modules.append(m)
            else:
                handles.append(m.register_forward_pre_hook(pre))
                handles.append(m.register_forward_hook(post))
        try:
            with _quiet(), torch.no_grad():
                model(torch.zeros(1, c, h, w, device=device))
        except NotImplementedError:
            raise
        except (RuntimeError, ValueError, IndexError) as e:
            first = str(e).strip().splitlines()
            where = f" after {len(run.events)} layers" if run.events else ""
            run.failure = (f"the torch forward pass fails{where}: {type(e).__name__}: "
                           f"{first[0] if first else ''}")
        finally:
            for handle in handles:
                handle.remove()
    run.total_flops = counter.get_total_flops() if run.failure is None else None
    return run


def _torch_run(items, size, device) -> _Run:
    """Build and run; on the CPU instead of meta when an op has no meta kernel."""
    want = torch.device(device)
    for dev in ([want] if want.type != "meta" else [want, torch.device("cpu")]):
        try:
            model, used = _build_on(items, size, dev)
            return _forward(model, size, used)
        except NotImplementedError:
            if dev.type != "meta":
                raise
        except _TorchFailed as f:
            return _Run(str(dev), failure=f.message())
    raise AssertionError("unreachable")


def _split_params(model: Net | None) -> dict[str, int | None]:
    if model is None:
        return dict.fromkeys(("params", "weights", "biases", "buffers"))
    named = list(model.named_parameters())
    return {
        "params": sum(p.numel() for _, p in named),
        "weights": sum(p.numel() for n, p in named if n.rsplit(".", 1)[-1] == "weight"),
        "biases": sum(p.numel() for n, p in named if n.rsplit(".", 1)[-1] == "bias"),
        "buffers": sum(b.numel() for n, b in model.named_buffers()
                       if n.rsplit(".", 1)[-1] in ("running_mean", "running_var")),
    }


def _int(x):
    """symcnn's number as an int when it is one (a SymPy Integer becomes an int)."""
    if isinstance(x, int):
        return x
    try:
        return int(x) if x.is_Integer else x
    except AttributeError:
        return x


def _nchw(out) -> tuple | None:
    """A symcnn (H, W, C) as torch's (1, C, H, W); None when a size is symbolic (an aux
    head too small to run on this input)."""
    h, w, c = (_int(v) for v in out)
    return (1, c, h, w) if all(isinstance(v, int) for v in (h, w, c)) else None


def verify(network, input=None, *, device="meta") -> VerifyResult:
    """Build ``network`` in torch, run one forward pass of a batch of one under
    ``FlopCounterMode`` and compare every count with ``symcnn.analyze(network, input)``:
    params (weights, biases), BN running-stat buffers, each layer's output shape, params
    and MACs (FLOPs // 2), total MACs and FLOPs, activations (input + every output).
    An aux head's layers are compared on params (and on shape where both can run it);
    they are not run, so they have no MACs and no activations on either side.

    Disagreements are reported in the result (``ok`` False), never raised. Raises
    :class:`~symcnn.SymCNNError` when symcnn refuses the network or input (as
    ``analyze`` does), for symbolic widths or input sizes, and past MAX_MODULES layers.
    Runs on the meta device (shapes only) unless ``device`` says otherwise, falling back
    to the CPU where a meta kernel is missing.
    """
    net = _as_network(network)
    report = analyze(net, input)
    size = _concrete(report.input)
    items = expand(net)
    _check_numbers(items)
    _check_size(items)
    rows = report.rows
    notes: list[str] = []
    try:
        expected = _expected(items, rows)
    except _Structure as e:
        expected = None
        notes.append(f"symcnn's rows do not follow the network's order: {e}")

    run = _torch_run(items, size, device)
    if run.failure:
        notes.append(run.failure)

    # torch's side of every row: (shape, FLOPs, params, same layer record) per module
    h, w, c = size
    seen: dict[int, list] = {i: [] for i in range(len(rows))}
    seen[0].append(((1, c, h, w), 0, 0, True))
    if expected is not None:
        ran = [i for i, aux in expected if not aux]
        built = [i for i, aux in expected if aux]
        if run.failure is None and len(run.events) != len(ran):
            notes.append(f"torch ran {len(run.events):,} layer modules; symcnn's rows stand "
                         f"for {len(ran):,}")
        if run.model is not None and len(run.aux_modules) != len(built):
            notes.append(f"torch built {len(run.aux_modules):,} aux-head modules; symcnn's "
                         f"rows stand for {len(built):,}")
        for i, (module, shape, flops) in zip(ran, run.events):
            seen[i].append((shape, flops, _params(module), module.symcnn_layer == rows[i].layer))
        for i, module in zip(built, run.aux_modules):
            # A head too small to run here: symcnn has symbolic sizes where torch, sized on
            # a larger input, has other numbers; sizes that do not depend on the input
            # (after a gap or an fc) are compared all the same.
            shape = module.symcnn_shape
            if not module.symcnn_actual and _nchw(rows[i].out) is None:
                shape = None
            seen[i].append((shape, 0, _params(module), module.symcnn_layer == rows[i].layer))

    out_rows, number = [], 0
    for i, row in enumerate(rows):
        want = (_nchw(row.out), _int(row.macs), _int(row.params))
        good = [(shape, flops // 2, params) == want and flops % 2 == 0 and same
                for shape, flops, params, same in seen[i]]
        shown = seen[i][good.index(False)] if False in good else \
            (seen[i][0] if seen[i] else None)
        out_rows.append(VerifyRow(
            index=i, number=number, name=row.name, kind=row.kind, count=row.count,
            symcnn_shape=tuple(_int(v) for v in row.out),
            torch_shape=shown[0] if shown else None, symcnn_macs=want[1],
            torch_macs=shown[1] // 2 if shown else None, symcnn_params=want[2],
            torch_params=shown[2] if shown else None, runs=len(seen[i]),
            ok=len(seen[i]) == row.count and all(good), depth=len(row.path),
            aux=bool(getattr(row, "aux", False))))
        number += row.count

    # totals
    t = report.totals
    mine = {"params": t["params"], "weights": t["weights"], "biases": t["biases"],
            "buffers": sum(r.count * r.buffers for r in rows),
            "activations": t["activations"], "macs": t["macs"], "flops": t["flops"]}
    theirs = _split_params(run.model)
    if run.failure is None:
        theirs["activations"] = h * w * c + sum(_numel(s) for _, s, _ in run.events)
        theirs["macs"] = run.total_flops // 2
        theirs["flops"] = run.total_flops
    else:
        theirs.update(activations=None, macs=None, flops=None)
    totals = {q: (_int(mine[q]), theirs[q], _int(mine[q]) == theirs[q]) for q in TOTALS}

    ok = not notes and all(r.ok for r in out_rows) and all(v[2] for v in totals.values())
    return VerifyResult(report.input, run.device, torch.__version__, tuple(out_rows), totals,
                        tuple(notes), ok, report)


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


# ---------------------------------------------------------------- the table

def _shape(shape) -> str:
    if any(not isinstance(v, int) for v in shape):
        from .formatting import shape_text
        return shape_text(shape)
    return "×".join(f"{v:,}" for v in shape)


def _torch_shape(shape) -> str:
    if shape is None:
        return "—"
    if len(shape) == 4 and shape[0] == 1:
        _, c, h, w = shape
        return _shape((h, w, c))
    return "(" + ", ".join(map(str, shape)) + ")"


def _num(x) -> str:
    if x is None:
        return "—"
    if isinstance(x, int):
        return f"{x:,}"
    from .formatting import pretty
    return pretty(x)


def format_table(result: VerifyResult) -> str:
    """The per-layer comparison (✓/✗ per row), the totals block and the verdict, as the
    ``symcnn verify`` command prints them. Shapes are H×W×C on both sides (torch's
    N×C×H×W output with N = 1, reordered); "—" where torch has no value."""
    head = ["#", "Layer", "symcnn out", "torch out", "symcnn params", "torch params",
            "symcnn MACs", "torch MACs", ""]
    from .formatting import display_rows
    by_row = {id(row): vr for row, vr in zip(result.report.rows, result.rows)}
    body = []
    for line in display_rows(result.report.rows):  # execution order, blocks repeated whole
        r = by_row[id(line.row)]
        name = r.name if line.copies == 1 else f"{r.name} (×{line.copies:,}, each)"
        name = "  " * r.depth + name + (" (aux, not run)" if r.aux else "")
        if r.count != r.runs and r.index:
            name += f" [torch: {r.runs:,} of {r.count:,}]"
        body.append([str(line.index), name, _shape(r.symcnn_shape), _torch_shape(r.torch_shape),
                     _num(r.symcnn_params), _num(r.torch_params), _num(r.symcnn_macs),
                     _num(r.torch_macs), "✓" if r.ok else "✗"])
    right = {0, 4, 5, 6, 7}
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]

    def line(cells):
        return "  ".join(cell.rjust(wd) if i in right else cell.ljust(wd)
                         for i, (cell, wd) in enumerate(zip(cells, widths))).rstrip()

    rule = "─" * len(line(head))
    out = [f"symcnn verify: input {result.input} (H×W×C), batch 1, torch "
           f"{result.torch_version} on {result.device}", "",
           line(head), rule, *map(line, body), rule, ""]

    tot = [["Totals", "symcnn", "torch", ""]]
    for q, (mine, theirs, ok) in result.totals.items():
        tot.append([q, _num(mine), _num(theirs), "✓" if ok else "✗"])
    tw = [max(len(row[i]) for row in tot) for i in range(4)]
    for row in tot:
        out.append("  ".join(cell.rjust(wd) if i in (1, 2) else cell.ljust(wd)
                             for i, (cell, wd) in enumerate(zip(row, tw))).rstrip())
    out.append("")
    for note in result.notes:
        out.append(f"note: {note}")
    layers = sum(r.count for r in result.rows[1:])
    if result.ok:
        out.append(f"✓ symcnn and torch agree: all {layers:,} layers ({len(result.rows) - 1:,} "
                   f"rows) and all {len(result.totals)} totals")
    else:
        bad_rows = sum(not r.ok for r in result.rows)
        bad_totals = sum(not v[2] for v in result.totals.values())
        out.append(f"✗ symcnn and torch disagree: {bad_rows:,} of {len(result.rows):,} rows "
                   f"and {bad_totals} of {len(result.totals)} totals differ")
    return "\n".join(out)
