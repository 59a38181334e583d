"""torch → notation: ``from_torch(module)`` gives a :class:`~symcnn.Network` whose formulas
are the module's, checked against the module itself before it is returned.

    >>> import torchvision, symcnn.torch
    >>> net = symcnn.torch.from_torch(torchvision.models.resnet50())   # doctest: +SKIP
    >>> print(net)                                                      # doctest: +SKIP

Pipeline: :mod:`.tracing` (fx trace, shapes, node → op) → :mod:`.structure` (forks and
joins → branches) → :mod:`.emitting` (defs, repeats, one line per top-level submodule) →
``symcnn.parse`` → the self-check: params and BN buffers equal the module's ``numel`` sums,
MACs equal FlopCounterMode / 2 at one concrete size. A mismatch raises, naming the first
top-level submodule that differs; it never returns a wrong number.

Parameters the forward pass never uses (Inception-v3's auxiliary classifier in eval mode)
are imported as an ``aux(…)`` head when they form a top-level submodule symcnn can trace,
and reported otherwise.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..errors import SymCNNError
from ..layers import InputSpec, Network
from ..notation import parse
from ..report import analyze, as_input
from .emitting import emit
from .structure import Entry, structure
from .tracing import Op, UnmappedError, evaluating, example_input, trace

__all__ = ["from_torch", "ImportCheckError", "self_check", "DEFAULT_SIZE"]

DEFAULT_SIZE = 224  # the size traced at when the input is symbolic


class ImportCheckError(SymCNNError):
    """The imported notation does not count what the module has: an importer bug, shown
    instead of a wrong number."""


def _size(input, at) -> tuple[InputSpec | None, tuple]:
    """The spec asked for (None: HxWxC) and the size to trace at (C None: the module's)."""
    spec = as_input(input) if input is not None else None
    size = [DEFAULT_SIZE, DEFAULT_SIZE, None]
    for i, v in enumerate((spec.height, spec.width, spec.channels) if spec else ()):
        if isinstance(v, int):
            size[i] = v
    if at is not None:
        size[:2] = at
    return spec, tuple(size)


def _unused(module: nn.Module, called: set[str], attrs: set[str]) -> list[str]:
    """Top-most submodules whose parameters the forward pass never touches."""
    used = called
    out = []
    for name, child in module.named_modules():
        if not name or not any(True for _ in child.parameters(recurse=True)):
            continue
        if any(name == u or u.startswith(name + ".") or name.startswith(u + ".")
               for u in used):
            continue
        if any(a == name or a.startswith(name + ".") or name.startswith(a + ".")
               for a in attrs):
            continue
        if any(name.startswith(o + ".") for o in out):
            continue
        out.append(name)
    return out


def _runs_own_params(sub: nn.Module) -> bool:
    """Whether ``sub``'s own forward reaches any of its parameters."""
    try:
        import torch.fx as fx
        graph = fx.Tracer().trace(sub)
    except Exception:
        return True
    return any(n.op in ("call_module", "get_attr") for n in graph.nodes)


def _aux_entries(module: nn.Module, path: str, size) -> Entry:
    """A never-run submodule as an aux head, traced on its own."""
    sub = module.get_submodule(path)
    if not any(sub.named_children()) or not _runs_own_params(sub):
        sub = nn.Sequential(*sub.children())  # a wrapper whose forward skips its head
    for side in (size[0], 17, 35, 64, 128):
        try:
            traced = trace(sub, (side, side, None))
            break
        except UnmappedError:
            raise
        except SymCNNError:
            continue
    else:
        raise SymCNNError(f"{path} ({type(sub).__name__}) holds parameters the forward "
                          "pass never uses, and symcnn cannot trace it on its own to count "
                          "it as an aux head")
    for op in traced.ops:
        op.module = f"{path}.{op.module}" if op.module else path
    body = structure(traced.ops)
    return Entry(Op("aux", module=path), [body], "aux")


def _place_aux(module: nn.Module, entries: list[Entry], unused: list[str], size) -> None:
    """Insert each unused top-level child as an aux head after its preceding sibling."""
    order = [n for n, _ in module.named_children()]
    for path in unused:
        if "." in path:
            raise SymCNNError(f"{path} ({type(module.get_submodule(path)).__name__}) holds "
                              "parameters the forward pass never uses; symcnn imports such "
                              "a part as an aux head only when it is a top-level submodule")
        before = order[:order.index(path)]
        at = 0
        for i, e in enumerate(entries):
            top = (e.op.module or "").split(".")[0]
            if top in before:
                at = i + 1
        entries.insert(at, _aux_entries(module, path, size))


def _module_counts(module: nn.Module) -> dict[str, int]:
    params = sum(p.numel() for p in module.parameters())
    buffers = sum(b.numel() for n, b in module.named_buffers()
                  if n.rsplit(".", 1)[-1] in ("running_mean", "running_var"))
    return {"params": params, "buffers": buffers}


def module_macs(module: nn.Module, size: tuple[int, int, int]) -> tuple[int, dict]:
    """FlopCounterMode / 2 of one eval forward at H×W×C (batch 1), in total and per
    top-level child; on meta or fake tensors, so nothing is computed or allocated."""
    per_child: dict[str, int] = {}
    with evaluating(module):
        x, mode = example_input(module, size)
        counter = FlopCounterMode(display=False)
        handles, before = [], {}
        for name, child in module.named_children():
            def pre(m, args, name=name):
                before[name] = counter.get_total_flops()

            def post(m, args, out, name=name):
                per_child[name] = per_child.get(name, 0) + \
                    (counter.get_total_flops() - before[name]) // 2
            handles += [child.register_forward_pre_hook(pre),
                        child.register_forward_hook(post)]
        try:
            with mode, counter, torch.no_grad():
                module(x)
        finally:
            for h in handles:
                h.remove()
    return counter.get_total_flops() // 2, per_child


def self_check(network: Network, module: nn.Module, size: tuple[int, int, int],
               text: str) -> None:
    """Raise ImportCheckError unless params, buffers and MACs equal the module's."""
    report = analyze(network, size)
    theirs = _module_counts(module)
    total, per_child = module_macs(module, size)
    theirs["macs"] = total
    mine = {"params": report.totals["params"], "buffers": report.totals["buffers"],
            "macs": report.totals["macs"]}
    bad = [q for q in ("params", "buffers", "macs") if mine[q] != theirs[q]]
    if not bad:
        return
    first = _first_difference(text, module, size, per_child, bad[0])
    raise ImportCheckError(
        "the imported notation does not count what the module has ("
        + "; ".join(f"{q}: symcnn {mine[q]:,}, torch {theirs[q]:,}" for q in bad)
        + f"){first}. This is a bug in symcnn's importer: please report it with the "
        "module; nothing was returned")


def _first_difference(text: str, module, size, per_child, quantity) -> str:
    """' — first at <child>' from cumulative counts line by line."""
    lines = text.splitlines()
    head = [l for l in lines if l.startswith(("input", "def "))]
    body = [l for l in lines if l not in head]
    mine_so_far, theirs_so_far = 0, 0
    for k, line in enumerate(body):
        child = line.rsplit("# ", 1)[-1].strip()
        try:
            r = analyze("\n".join(head + body[:k + 1]), size)
        except SymCNNError:
            return f" — first at {child}"
        if quantity == "macs":
            theirs_so_far += per_child.get(child, 0)
        else:
            try:
                sub = module.get_submodule(child)
                c = _module_counts(sub)
                theirs_so_far += c[quantity]
            except AttributeError:
                pass
        mine_so_far = r.totals[quantity]
        if mine_so_far != theirs_so_far:
            return f" — first at {child} (line {len(head) + k + 1} of the notation)"
    return ""


def from_torch(module: nn.Module, input=None, *, at: tuple[int, int] | None = None,
               check: bool = True) -> Network:
    """``module`` as a symcnn Network. ``input``: "HxWxC" (the default, with C from the
    first layer's weights), "HxWx3", "224x224x3" or a tuple; a concrete size is also the
    size the module is traced and checked at, else ``at`` (H, W), else 224×224.

    Raises :class:`~symcnn.UnmappedError` listing every operation symcnn cannot map
    (module path, class or function, source line), a SymCNNError when torch.fx cannot trace
    the module or its branches do not nest, and ImportCheckError when the result would not
    count what the module has (never a wrong number). The module is not changed: its
    train/eval modes are restored, no hook is left, nothing is allocated on a meta model.
    """
    if not isinstance(module, nn.Module):
        raise SymCNNError(f"from_torch wants a torch.nn.Module, not {type(module).__name__}")
    spec, size = _size(input, at)
    traced = trace(module, size)
    size = traced.size
    entries = structure(traced.ops)
    unused = _unused(module, traced.called, traced.attrs)
    if unused:
        _place_aux(module, entries, unused, size)
    text, layout = emit(entries, module, size[2])
    if spec is not None and spec != InputSpec("H", "W", size[2]):
        text = text.replace(f"input HxWx{size[2]}", f"input {spec}", 1)
    network = replace(parse(text), layout=layout)
    if check:
        self_check(network, module, size, text)
    return network
