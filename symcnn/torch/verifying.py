"""symcnn against a torch forward pass: every row, every total (``symcnn verify``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..expand import expand
from ..layers import Block, Branches, InputSpec, Repeat
from ..report import Report, analyze
from ..report import _network as _as_network
from .building import (AuxHead, Net, _TorchFailed, _build_on, _check_numbers, _check_size,
                    _concrete, _quiet)

__all__ = ["verify", "format_table", "VerifyResult", "VerifyRow", "TOTALS"]

# The totals verify compares, in the order they are shown.
TOTALS = ("params", "weights", "biases", "buffers", "activations", "macs", "flops")


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
            elif isinstance(item, Branches) and item.op in ("aux", "head"):
                for branch in item.branches:  # a head runs; an aux head does not
                    sub, _ = walk(branch, shape, item.op == "aux" or aux)
                    seq += sub
            elif isinstance(item, Branches):
                part = shape
                if item.op == "split":  # each branch on its slice of the channels
                    n = len(item.branches)
                    part = (shape[0], shape[1], _int(shape[2]) // n)
                for branch in item.branches:
                    sub, _ = walk(branch, part, aux)
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
            ran.setdefault(id(module), []).append((
                module, tuple(out.shape),
                counter.get_total_flops() - flops_before.pop(id(module))))

        ran: dict[int, list] = {}
        order = []
        for m, aux in _row_modules(model):
            if aux:
                run.aux_modules.append(m)
            else:
                order.append(m)
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
            # in build order, which is the rows' order (a merge runs its crops last)
            run.events = [e for m in order for e in ran.get(id(m), ())]
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
        from ..formatting import shape_text
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
    from ..formatting import pretty
    return pretty(x)


def format_table(result: VerifyResult) -> str:
    """The per-layer comparison (✓/✗ per row), the totals block and the verdict, as the
    ``symcnn verify`` command prints them. Shapes are H×W×C on both sides (torch's
    N×C×H×W output with N = 1, reordered); "—" where torch has no value."""
    head = ["#", "Layer", "symcnn out", "torch out", "symcnn params", "torch params",
            "symcnn MACs", "torch MACs", ""]
    from ..formatting import display_rows
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
