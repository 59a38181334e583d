"""Memory that predicts PyTorch: what autograd saves, and (later) peaks — pure functions
over a report's rows, no torch.

The rows are turned into a data-flow graph (:func:`graph`): each layer copy is a node with
its input tensors and its output tensor, a tensor is a view of a storage (a crop, a split
slice and fc's flatten share their input's storage), and every storage has a size per
image (or per batch: batch norm's statistics are C floats whatever the batch).

``saved_for_backward`` is the sum of the distinct storages autograd keeps between a
train-mode forward of the network alone (no loss) and its backward, parameters and
buffers left out, as PyTorch 2.14 saves them (checked on the meta device with
``saved_tensors_hooks`` in ``tests/test_memory_torch.py``):

- conv, transposed conv, fc (Linear on the flattened view), layer scale, PReLU, avg pool,
  adaptive avg pool to h×w ≠ 1×1: their input;
- max pool: its input and int64 indices of the output's size;
- batch norm (train): its input and two C-element statistics (save_mean, save_invstd);
  group norm: its input and two N·G statistics; layer norm: its input and two N·H·W ones
  (for float16/bfloat16 inputs batch and layer norm keep float32 statistics on CUDA,
  statistics in the input's dtype otherwise);
- relu, sigmoid, tanh, softmax: their output; relu6, silu, gelu, hardswish, hardsigmoid:
  their input (in place, ``silu_``: a clone of it — the same bytes; an in-place layer's
  output is its input's storage, an in-place sum ``add_(…)`` is a new storage here, as
  nothing saved depends on it);
- dropout (train): a mask of the input's size, in the input's dtype on the CPU and meta,
  bool (1 B) on CUDA;
- se(q): its input, the pooled C, the squeezed q and the gate's C values;
- global average pool (``mean``), add, cat, split, crop, channel pad, upsampling, shuffle:
  nothing; mul(…): each operand if the other requires grad (products of more than two
  operands also keep the partial products);
- an element-wise layer (or pool, or upsampling) on a tensor that does not require grad —
  the network input, before the first layer with params — records nothing; a layer with
  params always keeps its input;
- lrn: its input, the padded squares' average pool input and output, the divisor (as
  ``F.local_response_norm`` computes it).

Views share one storage and a storage is counted once, however many layers keep it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import sympy

from .dims import to_expr
from .errors import SymCNNError
from .expand import bind_incoming
from .layers import dense_block, dense_body

__all__ = ["layer_kind", "DEVICES", "OPTIMIZERS", "Storage", "Tensor", "Node", "graph",
           "train_graph", "saved_for_backward", "model_state", "figures", "formulas",
           "DEFINITIONS", "MAX_NODES", "BATCH", "STATE_COPIES", "dense_parts",
           "classifier_at"]

DEVICES = ("cuda", "cpu")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
MAX_NODES = 100_000  # layer copies the graph may expand to (beyond: figures are None)
_ITEMSIZE = {"float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int8": 1}


class Storage:
    """One allocation: ``elems`` elements of ``itemsize`` bytes, per image if ``batched``."""
    __slots__ = ("elems", "itemsize", "batched", "what")

    def __init__(self, elems, itemsize: int, batched: bool = True, what: str = "") -> None:
        self.elems, self.itemsize, self.batched, self.what = elems, itemsize, batched, what

    def bytes(self, batch=1):
        return self.elems * self.itemsize * (batch if self.batched else 1)


@dataclass(eq=False)
class Tensor:
    """A view of ``storage`` (the whole of it unless a slice or crop) with ``elems``
    elements per image; ``grad``: whether it requires grad."""
    storage: Storage
    elems: object
    grad: bool


@dataclass(eq=False)
class Node:
    """One copy of one row: its inputs, its output, what autograd keeps of it."""
    row: object
    inputs: list
    out: Tensor
    saved: list = field(default_factory=list)   # storages kept for backward
    extra: list = field(default_factory=list)   # storages allocated beside the output
    head: bool = False                          # the output of a head(…) (kept)


@functools.lru_cache(maxsize=4096)  # shapes repeat down a network; SymPy products cost
def _elems(shape: tuple):
    out = 1
    for f in shape:
        out = out * to_expr(f) if not isinstance(f, int) or not isinstance(out, int) \
            else out * f
    return out


class TooManyCopies(SymCNNError):
    """More than MAX_NODES layer copies: the memory figures are not computed (None)."""

    def __init__(self) -> None:
        super().__init__(f"memory: the network runs more than {MAX_NODES:,} layer copies; "
                         "symcnn simulates every copy for its memory figures")


def _copies(rows, level=0):
    """The rows in run order, every collapsed repeat expanded into its copies."""
    out, i, n = [], 0, len(rows)
    while i < n:
        r = rows[i]
        if len(r.reps) <= level:
            out.append(r)
            i += 1
            continue
        uid, count = r.reps[level][0], r.reps[level][1]
        j = i
        while j < n and len(rows[j].reps) > level and rows[j].reps[level][0] == uid:
            j += 1
        body = _copies(rows[i:j], level + 1)
        if len(out) + count * len(body) > MAX_NODES:
            raise TooManyCopies
        out.extend(body * count)
        i = j
    return out


def _ctx(row) -> tuple:
    if not row.path:
        return ()
    return tuple(s for s in row.path if s.fork is not None)


def layer_kind(row) -> str:
    """A row's kind as the memory rules (and the peers' conventions) name it: "input",
    "conv", "maxpool"/"avgpool", "gap" (an adaptive pool to 1×1), an activation's name, …"""
    layer = row.layer
    if layer is None or isinstance(layer, str):
        return layer or "input"
    name = type(layer).__name__.lower()
    if name == "elementwise":
        return layer.kind
    if name == "pool":
        return "maxpool" if layer.op == "max" else "avgpool"
    if name == "adaptiveavgpool":
        return "gap" if tuple(layer.output) == (1, 1) else "adaptiveavgpool"
    return name


_SAVES_OUTPUT = {"relu", "sigmoid", "tanh", "softmax"}
_SAVES_INPUT = {"relu6", "silu", "gelu", "hardswish", "hardsigmoid", "avgpool",
                "adaptiveavgpool"}
_PARAMS_SAVE_INPUT = {"conv", "transposedconv", "fc", "scale", "prelu"}
_NOTHING = {"gap", "channelpad", "upsample", "shuffle", "crop"}


def _stat_size(kind: str, itemsize: int, dtype: str, device: str) -> int:
    """Bytes per element of a norm's saved statistics: float32 for float16/bfloat16 inputs
    in batch and layer norm on CUDA (as the meta kernels give), the input's dtype
    otherwise (group norm everywhere, every norm on the CPU)."""
    reduced = dtype in ("float16", "bfloat16")
    return 4 if reduced and device == "cuda" and kind != "groupnorm" else itemsize


def graph(rows, dtype: str = "float32", device: str = "cuda",
          training: bool = True) -> list[Node]:
    """The data-flow graph of ``rows`` (a report's rows, input row first), one node per
    layer copy that runs, in run order; the input is node 0. An ``aux(…)`` head runs in
    training only (as torchvision's Inception-v3 runs its auxiliary classifier)."""
    itemsize = _ITEMSIZE[dtype]
    first = rows[0]
    x = Tensor(Storage(_elems(first.out), itemsize, what="input"), _elems(first.out), False)
    nodes = [Node(first, [], x)]
    state = {(): x}      # branch context → the tensor flowing there now
    finished: dict = {}  # parent context → [(scope, tensor)] of closed branches
    for row in _copies(list(rows[1:])):
        if row.aux and not training:
            continue
        ctx = _ctx(row)
        for key in sorted((k for k in state if k != ctx[:len(k)]), key=len, reverse=True):
            t = state.pop(key)
            if key[-1].label in ("head(…)", "aux(…)"):
                nodes[-1].head = True if nodes[-1].out is t else nodes[-1].head
            else:
                finished.setdefault(key[:-1], []).append((key[-1], t))
        for i in range(len(ctx)):
            key = ctx[:i + 1]
            if key not in state:
                parent, scope = state[key[:-1]], key[-1]
                if scope.label.startswith("split(…)"):
                    parent = _slice(parent)
                elif row.dense_input and scope.label == "cat(…) branch 2":
                    parent = _copy(parent, scope, itemsize)
                state[key] = parent
        kind = layer_kind(row)
        if kind in ("add", "cat", "split", "mul"):
            node = _merge(row, kind, state[ctx], finished.pop(ctx, []), itemsize)
        else:
            node = _layer(row, kind, state[ctx], itemsize, dtype, device)
        nodes.append(node)
        state[ctx] = node.out
    return nodes


def _copy(parent: Tensor, scope, itemsize: int) -> Tensor:
    """What a dense block's first copy runs on: torch.cat([x]), a new storage of the
    shape the block's cat forks (``scope.fork``)."""
    elems = _elems(scope.fork)
    return Tensor(Storage(elems, itemsize, True, "dense cat"), elems, parent.grad)


def _slice(parent: Tensor) -> Tensor:
    """Branch i of a split(…): a view of its input's storage (1/n of the channels)."""
    return Tensor(parent.storage, None, parent.grad)


def _merge(row, kind, fork: Tensor, done, itemsize) -> Node:
    label = f"{'split' if kind == 'split' else kind}(…) branch "
    mine = [(s, t) for s, t in done if s.label.startswith(label)]
    uid = max((s.uid for s, _ in mine), default=None)
    by_index = {int(s.label[len(label):]): t for s, t in mine if s.uid == uid}
    n = max(row.arity, max(by_index, default=0))
    ins = [by_index.get(i + 1, fork) for i in range(n)]
    grad = any(t.grad for t in ins)
    out = Tensor(Storage(_elems(row.out), itemsize, what=kind), _elems(row.out), grad)
    node = Node(row, ins, out)
    if kind == "mul" and grad:
        acc = ins[0]
        for i, t in enumerate(ins[1:], 1):
            if t.grad:
                node.saved.append(acc.storage)
            if acc.grad:
                node.saved.append(t.storage)
            if i < len(ins) - 1:  # a partial product: broadcast to the output's size
                acc = Tensor(Storage(_elems(row.out), itemsize, what="product"),
                             _elems(row.out), acc.grad or t.grad)
                node.extra.append(acc.storage)
    return node


def _layer(row, kind, x: Tensor, itemsize, dtype, device) -> Node:
    elems = _elems(row.out)
    params = bool(row.weight_factors) or kind in ("scale", "prelu")
    grad = x.grad or params
    inplace = getattr(row.layer, "inplace", False)
    if kind == "crop" or inplace:  # a view; an in-place layer writes into its input
        out = Tensor(x.storage, elems, grad)
    else:
        out = Tensor(Storage(elems, itemsize, what=kind), elems, grad)
    node = Node(row, [x], out)
    stat = _stat_size(kind, itemsize, dtype, device)
    c = to_expr(row.out[2]) if not isinstance(row.out[2], int) else row.out[2]
    s = node.saved
    if kind in _PARAMS_SAVE_INPUT:
        s.append(x.storage)
    elif kind == "batchnorm":
        s += [x.storage, Storage(c, stat, False, "bn mean"), Storage(c, stat, False, "bn invstd")]
    elif kind == "groupnorm":
        g = row.layer.groups
        s += [x.storage, Storage(g, stat, True, "gn mean"), Storage(g, stat, True, "gn rstd")]
    elif kind == "layernorm":
        hw = _elems(row.out[:2])
        s += [x.storage, Storage(hw, stat, True, "ln mean"), Storage(hw, stat, True, "ln rstd")]
    elif kind == "se":
        q = bind_incoming(row.layer, row.out[2]).squeeze  # se({in//4}): in = C
        q = to_expr(q) if not isinstance(q, int) else q
        pooled, squeezed, gate = (Storage(c, itemsize, True, "se pooled"),
                                  Storage(q, itemsize, True, "se squeeze"),
                                  Storage(c, itemsize, True, "se gate"))
        s += [x.storage, pooled, squeezed, gate]
        node.extra += [pooled, Storage(q, itemsize, True, "se fc1"), squeezed, gate]
    elif kind == "maxpool":
        idx = Storage(elems, 8, True, "max pool indices")
        node.extra.append(idx)
        if x.grad:
            s += [x.storage, idx]
    elif not x.grad:
        pass
    elif kind in _SAVES_OUTPUT:
        s.append(out.storage)
    elif kind in _SAVES_INPUT:  # in place: a clone of the input, as it is overwritten
        s.append(Storage(elems, itemsize, True, f"{kind} input") if inplace else x.storage)
    elif kind == "dropout":
        mask = Storage(elems, 1 if device == "cuda" else itemsize, True, "dropout mask")
        s.append(mask)
        node.extra.append(mask)
    elif kind == "lrn":
        # F.local_response_norm: div = x²; pad; avg_pool3d; ·α + k; ^β; x / div
        s.append(x.storage)
        sq = Storage(elems, itemsize, True, "lrn square")
        padded = Storage(_elems(row.out[:2]) * (c + 4), itemsize, True, "lrn pad")
        pooled = Storage(elems, itemsize, True, "lrn pool")
        scaled = Storage(elems, itemsize, True, "lrn scaled")
        div = Storage(elems, itemsize, True, "lrn div")
        s += [padded, scaled, div]
        node.extra += [sq, padded, pooled, scaled, div]
    elif kind not in _NOTHING:
        raise SymCNNError(f"memory: no rule for layer kind {kind!r}")  # pragma: no cover
    return node


def _sum(storages, batch):
    """The bytes of the distinct ``storages`` at ``batch``: an int, or one expanded
    expression (storages of one size are counted first, so a deep network sums a few
    distinct sizes, not one term per layer)."""
    seen, ints, sizes = set(), 0, {}
    symbolic_batch = not isinstance(batch, int)
    for st in storages:
        if id(st) in seen:
            continue
        seen.add(id(st))
        if isinstance(st.elems, int) and not (st.batched and symbolic_batch):
            ints += st.bytes(batch)
        else:  # counted per symbolic part: 64·⌊H/2⌋·⌊W/2⌋ and 65·⌊H/2⌋·⌊W/2⌋ are one key
            coeff, part = (1, st.elems) if isinstance(st.elems, int) else \
                st.elems.as_coeff_Mul()
            key = (part, st.itemsize, st.batched)
            sizes[key] = sizes.get(key, 0) + coeff
    if not sizes:
        return ints
    # each size expanded alone (a product of floors is already a monomial): the Add then
    # collects like terms itself, without expanding a sum of every size at once
    total = sympy.Add(*(_expanded(n * Storage(*key).bytes(batch))
                        for key, n in sizes.items()), ints)
    return int(total) if total.is_Integer else total


def _expanded(expr):
    """``expr`` expanded: as is when already a monomial (a product without sums)."""
    def plain(a) -> bool:
        return not (a.is_Add or a.is_Pow and a.base.is_Add)
    return expr if expr.is_Mul and all(map(plain, expr.args)) else sympy.expand(expr)


def saved_for_backward(rows, dtype: str = "float32", device: str = "cuda", batch=1,
                       nodes=None):
    """Bytes of the distinct storages autograd saves in a train-mode forward of ``rows``'
    network on a batch of ``batch`` (an int, or a symbol for a formula); ``nodes``: its
    :func:`graph`, if already built."""
    nodes = graph(rows, dtype, device) if nodes is None else nodes
    return _sum((st for n in nodes for st in n.saved), batch)


BATCH = sympy.Symbol("B", positive=True, integer=True)  # the batch in memory formulas
# Optimizer state per parameter element, in copies of the params: SGD none, SGD with
# momentum a momentum buffer, Adam and AdamW exp_avg and exp_avg_sq (plus a float32 step
# scalar per parameter tensor, on the host unless on the CPU: torch.optim's defaults).
STATE_COPIES = {"sgd": 0, "momentum": 1, "adam": 2, "adamw": 2}


def _param_tensors(row) -> int:
    """How many parameter tensors the row's layer has in torch (weight, bias, …)."""
    if row.layer is None or isinstance(row.layer, str):
        return 0
    kind = type(row.layer).__name__.lower()
    if kind == "se":
        return 4  # two 1×1 convs with bias
    if kind in ("scale", "prelu"):
        return 1
    if not row.weight_factors:
        return 0
    return 1 + (row.biases != 0)


def _params(rows):
    from .report import _total  # the report's own linear sum (per monomial)
    return _total(rows, "params")


def model_state(rows, dtype: str = "float32", device: str = "cuda",
                optimizer: str = "adam") -> dict:
    """Bytes of the params, their gradients and the optimizer's state (every param in
    ``dtype``: the whole model converted, as ``model.to(dtype)``), and their sum."""
    size = _ITEMSIZE[dtype]
    params = _params(rows) * size
    steps = 0
    if optimizer in ("adam", "adamw") and device == "cpu":
        steps = 4 * sum(r.count * _param_tensors(r) for r in rows)
    state = STATE_COPIES[optimizer] * params + steps
    return {"params": params, "gradients": params, "optimizer_state": state,
            "model_state": sympy.expand(2 * params + state)
            if isinstance(params, sympy.Expr) else 2 * params + state}
# One line each: what the figures mean (table, JSON, Markdown, LaTeX say the same).
DEFINITIONS = {
    "saved_for_backward": "the distinct storages autograd keeps from a train-mode forward "
                          "(no loss) to its backward; params and buffers excluded",
    "model_state": "params + gradients + the optimizer's state, all in the dtype "
                   "(the whole model converted); batch-independent",
    "inference_peak": "everything live at the peak of an eval-mode no_grad forward: params, "
                      "buffers, the input and the activations alive then",
    "training_peak": "an ESTIMATE of everything live at the peak of a steady-state training "
                     "step (forward, cross-entropy, backward, step, zero_grad(set_to_none)); "
                     "breakdown at that peak",
}


def _trainable(dtype: str) -> bool:
    return dtype != "int8"  # PyTorch does not train in int8: no training figures


def train_graph(rows, dtype: str = "float32", device: str = "cuda"):
    """The train-mode :func:`graph` of ``rows``, which both training figures read; None
    where there is none to follow (int8, or too many layer copies)."""
    if not _trainable(dtype):
        return None
    try:
        return graph(rows, dtype, device, training=True)
    except TooManyCopies:
        return None


def figures(rows, dtype: str = "float32", device: str = "cuda", batch: int = 1,
            optimizer: str = "adam", items=None, nodes=None) -> dict:
    """The memory figures of ``rows`` at ``batch`` (bytes; None where they do not apply:
    training figures at int8, peaks of a symbolic input). ``items``: the expanded network
    (its nesting decides what lives at the inference peak); ``nodes``: its
    :func:`train_graph`, if already built."""
    out = {"device": device, "optimizer": optimizer, "dtype": dtype, "batch": batch}
    out["inference_peak"] = None
    if items is not None:
        try:
            lines = _inference_lines(items, rows, dtype, device)
            out["inference_peak"] = _peak(lines, batch)
            fixed, per_image, first = _line(lines)
            # the peak at every batch B >= from_batch: fixed + per_image·B (exactly)
            out["inference_peak_by_batch"] = {"fixed": fixed, "per_image": per_image,
                                              "from_batch": first}
        except (_NotSimulated, TooManyCopies):
            pass
    state = model_state(rows, dtype, device, optimizer) if _trainable(dtype) else None
    out["model_state"] = state["model_state"] if state else None
    out["training_peak"], out["breakdown"] = None, {}
    if state:
        out["breakdown"] = {k: state[k] for k in ("params", "gradients", "optimizer_state")}
    if state and nodes is None:
        nodes = train_graph(rows, dtype, device)
        if nodes is None:
            out["note"] = str(TooManyCopies())
    if nodes is not None and not _symbolic(rows):  # the peak is a maximum: numbers only
        try:
            peak = training_peak(rows, dtype, device, batch, optimizer, nodes)
        except TypeError:
            peak = None  # (a part that cannot run at this input: sizes stay symbolic)
        if peak is not None and isinstance(peak["training_peak"], int):
            out["training_peak"] = peak["training_peak"]
            out["training_phase"] = peak["phase"]
            out["breakdown"] = peak["breakdown"]
    saved = saved_for_backward(rows, dtype, device, batch, nodes) if nodes else None
    if saved is not None and not isinstance(saved, int) and not _symbolic(rows):
        # a part that cannot run at this input (an aux head below its minimum) stays a
        # formula: there is no train-mode forward to predict
        saved = None
        out["note"] = "a part of the network that trains (an aux head) cannot run at this input"
    out["saved_for_backward"] = saved
    return out


def _symbolic(rows) -> bool:
    return not all(isinstance(f, int) for f in rows[0].out)


def formulas(rows, dtype: str = "float32", device: str = "cuda",
             optimizer: str = "adam", nodes=None) -> dict:
    """The figures with a closed form, in the rows' size symbols and :data:`BATCH`;
    ``nodes``: the rows' :func:`train_graph`, if already built."""
    if not _trainable(dtype):
        return {}
    def expr(v) -> sympy.Expr:  # an int or a SymPy expression built from the rows
        return sympy.Integer(v) if isinstance(v, int) else v
    out = {}
    try:
        out["saved_for_backward"] = expr(saved_for_backward(rows, dtype, device, BATCH, nodes))
    except TooManyCopies:
        pass
    out["model_state"] = expr(model_state(rows, dtype, device, optimizer)["model_state"])
    return out


# ---------------------------------------------------------------- inference peak

class _Live:
    """Storages alive now (reference counts, as CPython frees a tensor when its last
    reference goes), as fixed + per_image·B bytes; ``lines[per_image]``: the largest fixed
    part seen with that per-image part. Bytes only grow when a storage is allocated, so
    the peak at any batch B is the largest fixed + per_image·B of these lines."""

    def __init__(self, base) -> None:
        self.refs: dict[int, list] = {}
        self.fixed, self.per_image, self.lines = base, 0, {0: base}

    def ref(self, st: Storage) -> Storage:
        entry = self.refs.get(id(st))
        if entry is None:
            self.refs[id(st)] = [st, 1]
            self._split(st, 1)
            if self.lines.get(self.per_image, -1) < self.fixed:
                self.lines[self.per_image] = self.fixed
        else:
            entry[1] += 1
        return st

    def unref(self, st: Storage) -> None:
        entry = self.refs[id(st)]
        entry[1] -= 1
        if not entry[1]:
            del self.refs[id(st)]
            self._split(st, -1)

    def _split(self, st: Storage, sign: int) -> None:
        if st.batched:
            self.per_image += sign * st.elems * st.itemsize
        else:
            self.fixed += sign * st.elems * st.itemsize

    def transient(self, *sts: Storage) -> None:
        """Allocated beside what is alive now, then freed (max pool's indices, …)."""
        for st in sts:
            self.ref(st)
        for st in sts:
            self.unref(st)


class _Inference:
    """An eval-mode no_grad forward of the network as symcnn.torch.to_torch builds it:
    nn.Sequential blocks (a block's input lives until it returns; a repeat's copies run in
    the sequence around them), branches whose outputs live until their merge returns, heads
    whose outputs live to the end; in-place layers and sums allocate nothing. A dense block,
    ``(cat( | body))xN``, runs as torchvision's _DenseBlock (see :func:`dense_block`).
    Heads run as in torchvision's segmentation models (see :func:`classifier_at`): each
    head's input lives to the end and the head runs after the main path, in order."""

    def __init__(self, items, rows, dtype: str, device: str, base: int) -> None:
        self.rows, self.at = _copies(list(rows[1:])), 0
        self.size, self.dtype, self.device = _ITEMSIZE[dtype], dtype, device
        self.live = _Live(base)
        self.items = items
        self.heads: list = []  # (head, its input, its first row) run after the main path

    def new(self, elems, itemsize=None, batched=True) -> Storage:
        st = Storage(elems, itemsize or self.size, batched)
        if not isinstance(elems, int):
            raise _NotSimulated("inference_peak needs a concrete input")
        return st

    def run(self, x: Storage) -> dict:
        """Runs the forward on ``x``; the lines of the bytes alive (see :class:`_Live`)."""
        live = self.live
        live.ref(x)  # the caller's input
        at = classifier_at(self.items)
        cur = live.ref(x)
        for k, item in enumerate(_spliced(self.items)):
            if k == at:
                live.ref(cur)  # the backbone's output: kept to the end (features["out"])
            out = self.item(item, cur)
            live.unref(cur)
            cur = out
        for head, fork, first in self.heads:  # the main output is kept too
            self.at = first
            self.sequence(head.branches[0], fork)  # its output is kept to the end
        return live.lines

    def sequence(self, items, x: Storage) -> Storage:
        """nn.Sequential.forward: ``for m in self: x = m(x)``; returns a new reference.
        A repeat's copies run in the sequence it sits in, as if written out."""
        cur = self.live.ref(x)
        for item in _spliced(items):
            out = self.item(item, cur)
            self.live.unref(cur)
            cur = out
        return cur

    def item(self, item, x: Storage) -> Storage:
        from .layers import Block, Branches
        if dense_block(item):
            return self.dense(item, x)
        if isinstance(item, Block):
            return self.sequence(item.items, x)
        if isinstance(item, Branches):
            return self.branches(item, x)
        return self.layer(self.next(), x)

    def next(self):
        self.at += 1
        return self.rows[self.at - 1]

    def skip(self, items) -> None:
        """Consume the rows of items that do not run (an aux head in eval mode)."""
        from .layers import Block, Branches, Repeat
        for item in items:
            if isinstance(item, Repeat):
                for _ in range(item.count):
                    self.skip(item.body)
            elif isinstance(item, Block):
                self.skip(item.items)
            elif isinstance(item, Branches):
                for b in item.branches:
                    self.skip(b)
                if item.op not in ("aux", "head"):
                    self.next()
            else:
                self.next()

    def branches(self, item, x: Storage) -> Storage:
        from .layers import Crop
        live = self.live
        if item.op == "aux":
            self.skip(item.branches[0])
            return live.ref(x)
        if item.op == "head":  # run after the main path, on x kept to then
            self.heads.append((item, live.ref(x), self.at))
            self.at += _row_count(item.branches[0])
            return live.ref(x)
        # rows come in branch order; torch runs the branches with a crop last
        n = len(item.branches)
        crops = [any(isinstance(i, Crop) for i in b) for b in item.branches]
        starts, at = [], self.at
        for b in item.branches:
            starts.append(at)
            at += _row_count(b)
        outs = [None] * n
        for i in sorted(range(n), key=lambda i: crops[i]):
            self.at = starts[i]
            outs[i] = self.sequence(item.branches[i], x)  # split: views of x
        self.at = at
        row = self.next()
        if item.inplace:  # out += b (+= c …): the sum is the first branch's storage
            out = live.ref(outs[0])
            for o in outs:
                live.unref(o)
            return out
        out = self.new(_elems(row.out))
        if item.op in ("add", "mul") and n > 2:
            acc = None
            for _ in range(n - 2):  # functools.reduce: partial results
                part = live.ref(self.new(_elems(row.out)))
                if acc is not None:
                    live.unref(acc)
                acc = part
            live.ref(out)
            live.unref(acc)
        else:
            live.ref(out)
        for o in outs:
            live.unref(o)
        return out

    def dense(self, item, x: Storage) -> Storage:
        """torchvision's _DenseBlock: ``features = [x]``; each copy concatenates the list
        anew and runs its body's parts on it (a part's input lives until the part
        returns), its output joins the list; the block returns the list's concatenation."""
        live, body = self.live, dense_body(item)
        features = [live.ref(x)]
        for _ in range(item.count):
            cur = live.ref(self.new(sum(f.elems for f in features)))  # torch.cat(features)
            for part in dense_parts(body):
                out = self.sequence(part, cur)
                live.unref(cur)
                cur = out
            features.append(cur)
            row = self.next()  # the copy's cat: the concatenation the next copy makes
        out = live.ref(self.new(_elems(row.out)))
        for f in features:
            live.unref(f)
        return out

    def layer(self, row, x: Storage) -> Storage:
        live, kind = self.live, layer_kind(row)
        elems = _elems(row.out)
        c = row.out[2]
        if kind in ("dropout",) or getattr(row.layer, "inplace", False):
            return live.ref(x)  # eval: the identity; in place: written into x
        if kind == "crop":
            return live.ref(x)  # a view
        out = self.new(elems)
        if kind == "maxpool":
            idx = self.new(elems, 8)
            live.ref(out), live.ref(idx)
            live.unref(idx)
            return out
        if kind == "batchnorm":
            live.ref(out)
            if self.device == "cuda":  # as the meta kernels give; none on the CPU
                stat = _stat_size(kind, self.size, self.dtype, "cuda")
                live.transient(self.new(c, stat, False), self.new(c, stat, False))
            return out
        if kind == "layernorm":
            hw = _elems(row.out[:2])
            live.ref(out)
            stat = _stat_size(kind, self.size, self.dtype, "cuda")
            live.transient(self.new(hw, stat), self.new(hw, stat))
            return out
        if kind == "groupnorm":
            live.ref(out)
            live.transient(self.new(row.layer.groups), self.new(row.layer.groups))
            return out
        if kind == "se":
            q = bind_incoming(row.layer, c).squeeze
            prev = None
            for st in [self.new(c), self.new(q), self.new(q), self.new(c), self.new(c)]:
                live.ref(st)  # pool, fc1, relu, fc2, gate: each frees its input
                if prev is not None:
                    live.unref(prev)
                prev = st
            live.ref(out)
            live.unref(prev)
            return out
        if kind == "lrn":  # F.local_response_norm's temporaries: not matched exactly
            raise _NotSimulated("lrn")
        return live.ref(out)


class _NotSimulated(SymCNNError):
    pass


def classifier_at(items) -> int | None:
    """With a head, the network runs as torchvision's segmentation models: a backbone whose
    outputs (the heads' inputs and its last map) live to the end, then the classifier,
    then the heads. The classifier starts at the main path's last block or merge at the
    top level after the last head (an index into the items, repeats spliced; None without
    a head or such a block)."""
    from .layers import Block, Branches
    items = list(_spliced(items))
    heads = [k for k, i in enumerate(items) if _has_head([i])]
    if not heads:
        return None
    at = [k for k, i in enumerate(items) if k > heads[-1] and (
        dense_block(i) or isinstance(i, Block)
        or isinstance(i, Branches) and i.op not in ("aux", "head"))]
    return at[-1] if at else None


def _has_head(items) -> bool:
    """Whether a head sits in ``items``, at any depth."""
    from .layers import Block, Branches, Repeat
    for item in items:
        if isinstance(item, Branches) and item.op == "head":
            return True
        inner = [item.body] if isinstance(item, Repeat) else [item.items] \
            if isinstance(item, Block) else item.branches if isinstance(item, Branches) else []
        if any(_has_head(b) for b in inner):
            return True
    return False


def dense_parts(body) -> list:
    """A dense block's body cut after each convolution: torchvision's _DenseLayer holds
    the input of norm → relu → conv until the conv returns (``bn_function``'s
    concatenation, then the bottleneck output)."""
    from .layers import Conv
    parts, part = [], []
    for item in body:
        part.append(item)
        if isinstance(item, Conv):
            parts.append(tuple(part))
            part = []
    return parts + [tuple(part)] if part else parts


def _spliced(items):
    """``items`` with every repeat replaced by its copies' items, in order (a repeat is a
    run of layers in the sequence it sits in, not a sequence of its own; a dense block is
    one item)."""
    from .layers import Repeat
    for item in items:
        if isinstance(item, Repeat) and not dense_block(item):
            for _ in range(item.count):
                yield from _spliced(item.body)
        else:
            yield item


def _row_count(items) -> int:
    """The rows ``items`` make when they run once, every repeat copy counted."""
    from .layers import Block, Branches, Repeat
    n = 0
    for item in items:
        if isinstance(item, Repeat):
            n += item.count * _row_count(item.body)
        elif isinstance(item, Block):
            n += _row_count(item.items)
        elif isinstance(item, Branches):
            n += sum(_row_count(b) for b in item.branches) + (item.op not in ("aux", "head"))
        else:
            n += 1
    return n


def buffers_bytes(rows, dtype: str = "float32") -> int:
    """Batch norm's running mean and variance (C each, in the dtype) and its int64
    num_batches_tracked, per copy."""
    total = 0
    for r in rows:
        if r.buffers != 0:
            total = total + r.count * (r.buffers * _ITEMSIZE[dtype] + 8)
    return total


def _inference_lines(items, rows, dtype: str, device: str) -> dict:
    """One simulated forward: {per-image bytes: the most fixed bytes alive with them}."""
    base = _params(rows) * _ITEMSIZE[dtype] + buffers_bytes(rows, dtype)
    sim = _Inference(items, rows, dtype, device, base)
    return sim.run(sim.new(_elems(rows[0].out)))


def _peak(lines: dict, batch: int) -> int:
    return max(fixed + per_image * batch for per_image, fixed in lines.items())


def _line(lines: dict) -> tuple:
    slope = max(lines)
    fixed, first = lines[slope], 1
    for b, a in lines.items():  # a gentler line above the steepest: from where it is not
        if b < slope and a + b * first > fixed + slope * first:
            first = max(first, -(-(a - fixed) // (slope - b)))
    return fixed, slope, first


def inference_peak(items, rows, dtype: str = "float32", device: str = "cuda",
                   batch: int = 1) -> int:
    """Bytes live at the peak of an eval-mode no_grad forward: params, buffers, the input
    and the activations alive then (concrete inputs only)."""
    return _peak(_inference_lines(items, rows, dtype, device), batch)


def inference_line(items, rows, dtype: str = "float32", device: str = "cuda") -> tuple:
    """The inference peak as a function of the batch at the rows' (concrete) input size:
    ``(fixed, per_image, first)`` such that the peak is ``fixed + per_image·B`` for every
    batch ``B ≥ first``, exactly: every moment of the run holds fixed + per-image·B bytes,
    the peak is the largest of these lines, and from ``first`` on it is the steepest one
    (the one with the most fixed bytes among the steepest)."""
    return _line(_inference_lines(items, rows, dtype, device))


# ---------------------------------------------------------------- training peak (estimate)

def training_peak(rows, dtype: str = "float32", device: str = "cuda", batch: int = 1,
                  optimizer: str = "adam", nodes=None) -> dict:
    """An estimate of the bytes live at the peak of a steady-state training step (forward,
    cross-entropy against int64 targets, backward, ``optimizer.step()``,
    ``zero_grad(set_to_none=True)``), with its breakdown at the peak.

    Always live: params, buffers, the optimizer's state (kept from the step before), the
    input and the targets. Then the largest of three phases:
    - the end of the forward: everything saved for backward, plus the largest map alive
      then that is not saved (an output being computed);
    - backward, layer by layer from the last: the saved storages still needed by earlier
      layers, the gradients of the params reached so far, and the gradients of this
      layer's output and input (merges pass theirs on; a fork's accumulation is not
      counted);
    - the step: all gradients plus the optimizer's temporaries (Adam/AdamW: one copy of
      all params on CUDA, foreach; 2× the largest param tensor on the CPU, single-tensor).
    """
    size = _ITEMSIZE[dtype]
    nodes = graph(rows, dtype, device, training=True) if nodes is None else nodes
    x = nodes[0].out.storage
    first: dict = {}
    for k, n in enumerate(nodes):
        for st in n.saved:
            if st is not x and id(st) not in first:
                first[id(st)] = (k, st)
    saved_by = [0] * len(nodes)
    for k, st in first.values():
        saved_by[k] += st.bytes(batch)
    state = model_state(rows, dtype, device, optimizer)
    params, opt_state = state["params"], state["optimizer_state"]
    logits = nodes[-1].out.storage.bytes(batch)
    # the caller holds the output (logits) through backward; cross-entropy keeps its
    # log_softmax (freed once the loss's backward has run) and the loss
    saved_total = sum(saved_by) + 2 * logits + size
    # forward's end: saved + the largest output that is not kept
    kept = {id(st) for _, st in first.values()} | {id(x)}
    loose = max((n.out.storage.bytes(batch) for n in nodes[1:]
                 if id(n.out.storage) not in kept), default=0)
    phases = {"forward": (saved_total, 0, loose)}
    # backward from the last layer
    remaining, grads, best = saved_total - logits, 0, None
    for k in range(len(nodes) - 1, 0, -1):
        n = nodes[k]
        grads += n.row.params * size if not isinstance(n.row.layer, str) else 0
        ins = sum(t.storage.bytes(batch) for t in n.inputs if t.grad)
        temp = n.out.storage.bytes(batch) + ins
        if best is None or remaining + grads + temp > sum(best):
            best = (remaining, grads, temp)
        remaining -= saved_by[k]
    phases["backward"] = best or (0, 0, 0)
    if optimizer in ("adam", "adamw"):
        temp = params if device == "cuda" else 2 * size * max(
            [_largest_tensor(r) for r in rows] or [0])
    else:
        temp = 0
    phases["step"] = (0, params, temp)
    phase = max(phases, key=lambda p: sum(phases[p]))
    acts, grad_bytes, temps = phases[phase]
    breakdown = {"params": params, "buffers": buffers_bytes(rows, dtype),
                 "gradients": grad_bytes, "optimizer_state": opt_state,
                 "activations": acts, "temporaries": temps,
                 "input": x.bytes(batch) + 8 * batch}
    return {"training_peak": sum(breakdown.values()), "phase": phase,
            "breakdown": breakdown}


def _largest_tensor(row) -> int:
    if not row.weight_factors:
        return 0
    if type(row.layer).__name__ == "SE":
        return row.weights // 2
    return max(row.weights, row.biases)
