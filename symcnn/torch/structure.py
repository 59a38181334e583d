"""The traced DAG → nested sequences: forks and joins become res/add/cat/se branches.

A tensor with several users is a fork; its immediate post-dominator (the first op every
path from it must reach) is the join, which must be a merge (add, cat, mul) of exactly
the branch ends. Branches that do not nest that way are an error, never a guess.

Rewrites first, so that torchvision's code reads as the notation does:
- aliases (flatten, view, permute, eval-mode stochastic depth) are transparent;
- a one-tensor ``cat`` is its tensor; a ``cat`` of the same tensors as an earlier one is
  that one; a ``cat`` whose tensors start with an earlier ``cat``'s is ``cat(earlier, rest)``
  (DenseNet concatenates every earlier map in each layer);
- ``x * f(x)`` with f = pool to 1×1, 1×1 conv, activation, 1×1 conv back to C, activation
  is squeeze-and-excitation ``se(q)``;
- a ``chunk`` into n channel slices whose branches are concatenated again is ``split(…)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import SymCNNError
from ..layers import SE, AdaptiveAvgPool, Conv, Elementwise
from .tracing import Op

__all__ = ["Entry", "structure", "StructureError"]


class StructureError(SymCNNError):
    """The traced graph does not nest as branches of the notation."""


@dataclass(eq=False)
class Entry:
    """One item of a sequence: a layer (``op`` is its Op) or a merge of ``branches``
    (``op`` is the join)."""
    op: Op
    branches: list[list["Entry"]] = field(default_factory=list)
    kind: str = "layer"  # "layer", "add", "cat", "split", "se", "aux"
    layer: object = None

    def ops(self):
        yield self.op
        for b in self.branches:
            for e in b:
                yield from e.ops()


def _resolve(ops: list[Op]) -> list[Op]:
    """Drop aliases and rewrite cats (see the module docstring); set ``users``."""
    rep: dict[int, Op] = {}

    def r(op: Op) -> Op:
        while id(op) in rep:
            op = rep[id(op)]
        return op

    cats: dict[tuple, Op] = {}
    kept = []
    for op in ops:
        op.args = [r(a) for a in op.args]
        if op.kind == "alias":
            rep[id(op)] = op.args[0]
            continue
        if op.kind == "cat":
            key = tuple(id(a) for a in op.args)
            if len(op.args) == 1:
                rep[id(op)] = op.args[0]
                continue
            if key in cats:
                rep[id(op)] = cats[key]
                continue
            for n in range(len(key) - 1, 1, -1):
                if key[:n] in cats:
                    op.args = [cats[key[:n]], *op.args[n:]]
                    break
            cats[key] = op
        kept.append(op)
    for op in kept:
        op.users = []
    for op in kept:
        for a in dict.fromkeys(op.args):
            a.users.append(op)
    return kept


def _post_dominators(ops: list[Op]) -> dict[int, Op]:
    """Immediate post-dominator of every op (ops in topological order, output last)."""
    rank = {id(op): i for i, op in enumerate(ops)}
    ipdom: dict[int, Op] = {}
    out = ops[-1]

    def meet(a: Op, b: Op) -> Op:
        while a is not b:
            if rank[id(a)] < rank[id(b)]:
                a = ipdom[id(a)]
            else:
                b = ipdom[id(b)]
        return a

    for op in reversed(ops[:-1]):
        if not op.users:
            raise StructureError(f"{_at(op)}: a tensor the forward pass computes but never "
                                 "uses for its output (symcnn would count work that has no "
                                 "effect); remove it or import the part that is used")
        d = op.users[0]
        for u in op.users[1:]:
            d = meet(d, u)
        ipdom[id(op)] = d
    ipdom[id(out)] = out
    return ipdom


def _at(op: Op) -> str:
    return f"{op.module or '(root)'} ({op.where})"


class _Builder:
    def __init__(self, ops: list[Op]) -> None:
        self.ops = ops
        self.ipdom = _post_dominators(ops)

    def seq(self, start: Op, stop: Op) -> list[Entry]:
        """Entries from after ``start`` up to (not including) ``stop``."""
        entries, n = [], start
        while True:
            if not n.users:
                raise StructureError(f"{_at(n)}: this tensor does not reach the output")
            if len(n.users) > 1:  # a fork: its branches meet at its post-dominator
                entry, n = self.merge(n, self.ipdom[id(n)])
            elif n.users[0] is stop:
                return entries
            elif n.users[0].kind == "split":
                entry, n = self.split(n.users[0])
            elif n.users[0].kind == "layer":
                n = n.users[0]
                entry = Entry(n, layer=n.layer)
            else:
                m = n.users[0]
                raise StructureError(
                    f"{_at(m)}: a {m.kind} whose inputs do not come from branches of one "
                    "fork (branches that do not nest cannot be written in the notation)")
            entries.append(entry)
            if n is stop:
                return entries

    def merge(self, fork: Op, join: Op) -> tuple[Entry, Op]:
        if join.kind not in ("add", "cat", "mul"):
            raise StructureError(f"{_at(fork)}: a tensor used by several operations that "
                                 f"meet again at a {join.kind} ({_at(join)}), not at an add, "
                                 "a concatenation or a multiplication")
        branches, ends = [], []
        for u in fork.users:
            if u is join:
                branches.append([])
                ends.append(fork)
                continue
            body = [Entry(u, layer=u.layer)] if u.kind == "layer" else None
            if body is None:
                raise StructureError(f"{_at(u)}: a {u.kind} right after a fork")
            body += self.seq(u, join)
            branches.append(body)
            ends.append(body[-1].op)
        if sorted(map(id, ends)) != sorted(map(id, join.args)) or \
                len(join.args) != len(fork.users):
            raise StructureError(f"{_at(join)}: a {join.kind} of tensors that are not the "
                                 "ends of the branches from one fork (branches that do not "
                                 "nest cannot be written in the notation)")
        order = [join.args.index(e) for e in ends]  # keep the join's operand order
        branches = [b for _, b in sorted(zip(order, branches), key=lambda t: t[0])]
        if join.kind == "mul":
            return self.squeeze_excitation(fork, join, branches), join
        return Entry(join, branches, join.kind), join

    def split(self, op: Op) -> tuple[Entry, Op]:
        """A chunk into equal channel slices whose branches meet at a concatenation."""
        join = self.ipdom[id(op)]
        slices = sorted(op.users, key=lambda u: u.layer)
        if join.kind != "cat" or [u.layer for u in slices] != list(range(op.layer)) or \
                any(u.kind != "slice" for u in slices):
            raise StructureError(f"{_at(op)}: a chunk into channel slices that are not all "
                                 "used and concatenated again (split(…) in the notation)")
        branches, ends = [], []
        for u in slices:
            body = [] if u.users == [join] else self.seq(u, join)
            branches.append(body)
            ends.append(body[-1].op if body else u)
        if sorted(map(id, ends)) != sorted(map(id, join.args)):
            raise StructureError(f"{_at(join)}: a concatenation of tensors that are not the "
                                 "ends of one chunk's slices")
        return Entry(join, branches, "split"), join

    def squeeze_excitation(self, fork: Op, join: Op, branches) -> Entry:
        body = next((b for b in branches if b), [])
        layers = [e.layer for e in body if e.kind == "layer"]
        c = fork.shape[1] if len(fork.shape) == 4 else None
        ok = (sum(1 for b in branches if not b) == 1 and len(body) == len(layers) == 5
              and isinstance(layers[0], AdaptiveAvgPool) and layers[0].output == (1, 1)
              and all(isinstance(layers[i], Conv) and layers[i].kernel == (1, 1)
                      and layers[i].stride == 1 and layers[i].groups == 1
                      and layers[i].bias and not layers[i].depthwise for i in (1, 3))
              and isinstance(layers[2], Elementwise) and isinstance(layers[4], Elementwise)
              and layers[3].filters == c)
        if not ok:
            raise StructureError(f"{_at(join)}: a product of two branches that is not "
                                 "squeeze-and-excitation (x · act(conv1x1(act(conv1x1("
                                 "pool(x)))))); symcnn has no notation for it")
        return Entry(join, [], "se", SE(layers[1].filters))


def structure(ops: list[Op]) -> list[Entry]:
    """The entries from the input to the output, branches nested."""
    ops = _resolve(ops)
    if ops[0].kind != "input" or ops[-1].kind != "output":
        raise StructureError("the traced graph has no single input and output")
    return _Builder(ops).seq(ops[0], ops[-1])
