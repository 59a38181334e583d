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
- a ``chunk`` into n channel slices whose branches are concatenated again is ``split(…)``;
- any other product of branches is ``mul(…)``;
- every output besides the main one (a dict's ``"out"``, else the first) is a head: the ops
  only it needs, which must leave the main path at one tensor, become ``head(…)`` right
  after that tensor (FCN's and DeepLabV3's aux classifiers);
- an upsampling to another tensor's size must be to the input of the innermost merge or
  head it sits in (``bilinear-branch``).
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
        if op.size_of is not None:
            op.size_of = r(op.size_of)
    return kept


def _link(ops: list[Op]) -> None:
    """Set every op's ``users`` to the ops of ``ops`` that read it."""
    inside = {id(op) for op in ops}
    for op in ops:
        op.users = []
    for op in ops:
        for a in dict.fromkeys(op.args):
            if id(a) in inside:
                a.users.append(op)


def _reaching(ends, stop: set[int] = frozenset()) -> tuple[set[int], list[Op]]:
    """The ids of the ops ``ends`` depend on, not looking past the ops in ``stop`` (which
    are returned, as the entries)."""
    seen, entries, stack = set(), [], list(ends)
    while stack:
        op = stack.pop()
        if id(op) in stop:
            if op not in entries:
                entries.append(op)
            continue
        if id(op) in seen:
            continue
        seen.add(id(op))
        stack.extend(op.args)
    return seen, entries


def _split_heads(ops: list[Op]) -> tuple[list[Op], dict[int, list[list[Op]]]]:
    """The main path's ops, and per op where a head leaves it, the heads' op lists (the
    leaving op first, then the head's ops, then an output)."""
    out = ops[-1]
    main, extras = out.args[0], out.args[1:]
    out.args = [main]
    if not extras:
        return ops, {}
    reach, _ = _reaching([main])
    heads: dict[int, list[list[Op]]] = {}
    taken: set[int] = set()
    for x in extras:
        if id(x) in reach:
            raise StructureError(f"{_at(x)}: an output that is also on the way to the main "
                                 "output (a head must branch off the main path)")
        part, entries = _reaching([x], reach)
        if len(entries) != 1 or part & taken:
            raise StructureError(f"{_at(x)}: an output that is neither the main one nor a "
                                 "head leaving the main path at one tensor (symcnn imports "
                                 "one main output and heads beside it)")
        taken |= part
        body = [op for op in ops if id(op) in part]
        heads.setdefault(id(entries[0]), []).append([entries[0], *body, Op("output", [x])])
    return [op for op in ops if id(op) in reach or op is out], heads


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


def _last(body: list[Entry]) -> Op:
    """The op a branch ends with (its last entry that is not a head)."""
    return next(e.op for e in reversed(body) if e.kind != "head")


def _at(op: Op) -> str:
    return f"{op.module or '(root)'} ({op.where})"


class _Builder:
    def __init__(self, ops: list[Op], heads: dict, forks: list[Op]) -> None:
        self.ops, self.heads = ops, heads
        self.ipdom = _post_dominators(ops)
        self.rank = {id(op): i for i, op in enumerate(ops)}
        self.forks = forks  # the inputs of the enclosing merges and heads, innermost last

    def entries(self, entry: Entry, op: Op) -> list[Entry]:
        """``entry`` (the entry of ``op``), then the heads leaving the main path at ``op``."""
        out = [entry]
        for head in self.heads.pop(id(op), ()):
            users = op.users  # on the main path; the head's own while it is built
            _link(head)
            body = _Builder(head, self.heads, [*self.forks, op]).seq(op, head[-1])
            op.users = users
            out.append(Entry(head[-1], [body], "head"))
        return out

    def layer(self, op: Op) -> Entry:
        if op.size_of is not None and op.layer is not None and \
                getattr(op.layer, "size", None) == "branch" and \
                (not self.forks or op.size_of is not self.forks[-1]):
            raise StructureError(f"{_at(op)}: an upsampling to the size of a tensor that is "
                                 "not the input of the merge or head it sits in (the "
                                 "notation's bilinear-branch); symcnn cannot write it")
        return Entry(op, layer=op.layer)

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
                entry = self.layer(n)
            else:
                m = n.users[0]
                raise StructureError(
                    f"{_at(m)}: a {m.kind} whose inputs do not come from branches of one "
                    "fork (branches that do not nest cannot be written in the notation)")
            entries += self.entries(entry, n)
            if n is stop:
                return entries

    def merge(self, fork: Op, join: Op) -> tuple[Entry, Op]:
        if join.kind not in ("add", "cat", "mul"):
            raise StructureError(f"{_at(fork)}: a tensor used by several operations that "
                                 f"meet again at a {join.kind} ({_at(join)}), not at an add, "
                                 "a concatenation or a multiplication")
        branches, ends = [], []
        self.forks.append(fork)
        for group in self.groups(fork, join):
            u = group[0]
            if u is join:
                branches.append([])
                ends.append(fork)
                continue
            if len(group) > 1:  # these meet before the join: a merge that starts the branch
                users, fork.users = fork.users, group
                entry, inner = self.merge(fork, self.meet(group))
                fork.users = users
                body = self.entries(entry, inner) + self.seq(inner, join)
            elif u.kind != "layer":
                raise StructureError(f"{_at(u)}: a {u.kind} right after a fork")
            else:
                body = self.entries(self.layer(u), u)
                if u.users != [join]:
                    body += self.seq(u, join)
            branches.append(body)
            ends.append(_last(body))
        self.forks.pop()
        if sorted(map(id, ends)) != sorted(map(id, join.args)) or \
                len(join.args) != len(ends):
            raise StructureError(f"{_at(join)}: a {join.kind} of tensors that are not the "
                                 "ends of the branches from one fork (branches that do not "
                                 "nest cannot be written in the notation)")
        order = [join.args.index(e) for e in ends]  # keep the join's operand order
        branches = [b for _, b in sorted(zip(order, branches), key=lambda t: t[0])]
        if join.inplace and not branches[0]:
            raise StructureError(f"{_at(join)}: an in-place add into the tensor its branches "
                                 "fork from (x += f(x)); the notation's add_(…) writes into "
                                 "its first branch's output, never into its input")
        if join.kind == "mul":
            return self.squeeze_excitation(fork, join, branches), join
        return Entry(join, branches, join.kind), join

    def groups(self, fork: Op, join: Op) -> list[list[Op]]:
        """``fork``'s users grouped by the operand of ``join`` they lead to (a user that is
        the join itself: an identity branch). A group of several users is a merge of its
        own inside one branch (LR-ASPP's ``low`` feeds a residual block and the low
        classifier)."""
        if len(fork.users) == len(join.args):
            return [[u] for u in fork.users]
        low = self.rank[id(fork)]
        ancestors = {}
        for a in join.args:
            seen, stack = set(), [a]
            while stack:
                op = stack.pop()
                if id(op) in seen or self.rank[id(op)] <= low:
                    continue
                seen.add(id(op))
                stack.extend(op.args)
            ancestors[id(a)] = seen
        groups: dict[int, list[Op]] = {}
        for u in fork.users:
            to = [a for a in join.args if id(u) in ancestors[id(a)]] if u is not join else [u]
            if len(to) != 1:
                raise StructureError(f"{_at(fork)}: a tensor whose uses meet again in ways "
                                     "that do not nest (branches that do not nest cannot be "
                                     "written in the notation)")
            groups.setdefault(id(to[0]), []).append(u)
        return list(groups.values())

    def meet(self, ops: list[Op]) -> Op:
        """The first op every path from all of ``ops`` reaches (their common post-dominator)."""
        d = ops[0]
        for o in ops[1:]:
            a, b = d, o
            while a is not b:
                if self.rank[id(a)] < self.rank[id(b)]:
                    a = self.ipdom[id(a)]
                else:
                    b = self.ipdom[id(b)]
            d = a
        return d

    def split(self, op: Op) -> tuple[Entry, Op]:
        """A chunk into equal channel slices whose branches meet at a concatenation."""
        join = self.ipdom[id(op)]
        slices = sorted(op.users, key=lambda u: u.layer)
        if join.kind != "cat" or [u.layer for u in slices] != list(range(op.layer)) or \
                any(u.kind != "slice" for u in slices):
            raise StructureError(f"{_at(op)}: a chunk into channel slices that are not all "
                                 "used and concatenated again (split(…) in the notation)")
        branches, ends = [], []
        self.forks.append(op.args[0])
        for u in slices:
            body = [] if u.users == [join] else self.seq(u, join)
            branches.append(body)
            ends.append(_last(body) if body else u)
        self.forks.pop()
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
            return Entry(join, branches, "mul")
        return Entry(join, [], "se", SE(layers[1].filters))


def structure(ops: list[Op]) -> list[Entry]:
    """The entries from the input to the output, branches nested."""
    ops = _resolve(ops)
    if ops[0].kind != "input" or ops[-1].kind != "output":
        raise StructureError("the traced graph has no single input and output")
    ops, heads = _split_heads(ops)
    _link(ops)
    builder = _Builder(ops, heads, [])
    first = builder.entries(Entry(ops[0]), ops[0])[1:]  # heads on the input itself
    return first + builder.seq(ops[0], ops[-1])
