"""Rows → the MAC count another tool prints: each peer's convention as extra terms per row.

symcnn's MACs (the ``torch`` convention, the default) are PyTorch's ``FlopCounterMode`` / 2:
one multiply-add per weight per output position of convolutions and fully connected layers,
nothing else. Each peer counts more; its number is that count plus, per row, the terms below
(measured with torchinfo 1.8.0, fvcore 0.1.5.post20221221, ptflops 0.7.5 (its default
``pytorch`` backend), thop 0.1.1.post2209072238 on torchvision 0.29.1, batch 1; e = the
row's output elements H·W·C, e_in its input's, C its channels):

- torchinfo (``total_mult_adds``): + conv bias · output positions; + bias per fc; + 2·C per
  batch, layer norm (its parameters once, not per position); + squeeze + C per se (the
  biases of its two 1×1 convs);
- fvcore (``FlopCountAnalysis.total()``, one "flop" per MAC): + 2·e per batch norm, + 5·e per
  layer norm, + e_in per adaptive average pool (global ones and the pool inside se too);
- ptflops (``get_model_complexity_info``): + bias · output positions per conv and fc,
  + 2·e per batch norm, + e per layer norm; the module hook and the patched functional both
  fire for ``nn.ReLU``, ``nn.GELU`` and every pooling module, so + 2·e per relu and gelu,
  + 2·e_in per max, average and adaptive average pool; + e per relu6 (``F.hardtanh``, not
  patched) and silu (the functional only); se: + 2·e_in + squeeze + C + 2·squeeze (its
  nn.ReLU) or + squeeze (nn.SiLU, when the layer before it is silu, as in EfficientNet);
- thop (``profile``): + 4·e per batch and layer norm, + e per average pool, + (k + 1)·e per
  adaptive average pool with k = (H_in·W_in)/(H_out·W_out) (thop computes k in floating
  point: on concrete sizes its float result is reproduced), se: + (H·W + 1)·C.

Every other kind of row adds nothing (activations without a rule above, dropout, max pools
for thop and fvcore, merges, shuffles, layer scales): the tools count `+`, `+=`, `*`, cat
and views as zero. The rules assume what torchvision's code does for most models: activations,
norms and pools are modules (``nn.ReLU``, ``nn.MaxPool2d``, ``nn.AdaptiveAvgPool2d``). Where a
model calls the functional instead (``F.relu`` in GoogLeNet's and Inception-v3's conv blocks,
DenseNet's last ``F.relu`` and ``F.adaptive_avg_pool2d``, ``x.mean([2, 3])`` in ShuffleNetV2
and MNASNet), ptflops and thop print another number (see :data:`CODE_NOTES`). A row kind no
rule was measured for raises :class:`ConventionError` rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from .dims import to_expr
from .errors import SymCNNError
from .expand import bind_incoming
from .memory import layer_kind

__all__ = ["CONVENTIONS", "CODE_NOTES", "ConventionError", "Term", "terms", "row_terms",
           "macs_as", "tool_output"]

CONVENTIONS = ("torch", "torchinfo", "fvcore", "ptflops", "thop")

# What each tool's Python code depends on, beyond the rows (the README repeats it).
CODE_NOTES = {
    "torch": "independent of the Python code (counts aten convolutions and matmuls)",
    "torchinfo": "conv and fc layers must be modules; an nn.Linear on a channels-last map "
                 "(ConvNeXt) counts its parameters once, not per position",
    "fvcore": "traced aten ops: module or functional alike; a global pool written "
              "x.mean([2, 3]) (ShuffleNetV2, MNASNet) counts zero",
    "ptflops": "nn.ReLU, nn.GELU and pooling modules count twice, F.relu and functional pools "
               "once, x.mean zero; nn.LayerNorm subclasses (ConvNeXt's LayerNorm2d) zero",
    "thop": "modules only: functional pools and x.mean count zero; nn.LayerNorm subclasses "
            "zero",
}

# How each tool prints its number: (unit suffix, what the number is called).
_PRINTED = {"torch": ("", "FlopCounterMode total / 2"),
            "torchinfo": ("", "Total mult-adds"),
            "fvcore": ("", "FlopCountAnalysis.total()"),
            "ptflops": ("Mac", "get_model_complexity_info"),
            "thop": ("", "profile() MACs")}


class ConventionError(SymCNNError):
    """A convention asked for that symcnn has no measured rule for, on one of the rows."""


@dataclass(frozen=True)
class Term:
    """One kind of extra count a tool adds, summed over the rows (count-weighted)."""
    label: str
    value: int | sympy.Expr


def _prod(*xs):
    out = 1
    for x in xs:
        out = out * to_expr(x)
    return out


def _kind(row) -> str:
    """memory's layer kind, every adaptive pool one kind (the tools do not tell gap apart)."""
    kind = layer_kind(row)
    return "adaptiveavgpool" if kind == "gap" else kind


_ZERO = {"input", "add", "cat", "mul", "split", "dropout", "shuffle", "crop", "scale",
         "sigmoid", "hardswish", "hardsigmoid"}
# Kinds each tool has a measured rule for (beyond _ZERO): anything else raises.
_RULES = {
    "torch": None,  # every kind: no extra terms
    "torchinfo": {"conv", "fc", "batchnorm", "layernorm", "se", "relu", "relu6", "silu",
                  "gelu", "maxpool", "avgpool", "adaptiveavgpool"},
    "fvcore": {"conv", "fc", "batchnorm", "layernorm", "se", "relu", "relu6", "silu", "gelu",
               "maxpool", "avgpool", "adaptiveavgpool"},
    "ptflops": {"conv", "fc", "batchnorm", "layernorm", "se", "relu", "relu6", "silu", "gelu",
                "maxpool", "avgpool", "adaptiveavgpool"},
    "thop": {"conv", "fc", "batchnorm", "layernorm", "se", "relu", "relu6", "silu", "gelu",
             "maxpool", "avgpool", "adaptiveavgpool"},
}


def _bias_positions(row):
    """A conv's or fc's bias adds: one per bias per output position."""
    if not row.biases:
        return 0
    return _prod(row.biases, *row.positions) if row.positions else row.biases


def _thop_adaptive(row, inp):
    """thop's (k + 1)·e for an adaptive average pool, k = (H_in/H_out)·(W_in/W_out)."""
    (ih, iw, _), (oh, ow, c) = inp, row.out
    e = _prod(oh, ow, c)
    if all(isinstance(v, int) for v in (ih, iw, oh, ow, c)):
        return int(((ih / oh) * (iw / ow) + 1.0) * e)  # thop's float64 arithmetic
    return sympy.expand(_prod(ih, iw, c) + e)  # k·e = H_in·W_in·C exactly


def row_terms(row, inp, convention: str, before: str | None = None) -> list[tuple[str, object]]:
    """The (label, value) terms ``convention`` adds to one copy of ``row`` whose input has
    shape ``inp`` (H, W, C); ``before`` is the kind of the row before it (for se)."""
    if convention not in CONVENTIONS:
        raise ConventionError(f"unknown convention {convention!r}; choose one of "
                              f"{', '.join(CONVENTIONS)}")
    kind = _kind(row)
    if convention == "torch" or row.aux or kind in _ZERO:
        return []
    if kind not in _RULES[convention]:
        raise ConventionError(f"{convention}: no measured rule for layer kind {kind!r} "
                              f"({row.name}); symcnn does not guess another tool's count")
    e = _prod(*row.out)
    c = to_expr(row.out[2])
    e_in = _prod(*inp) if inp is not None else None
    q = _squeeze(row) if kind == "se" else None
    if kind in ("maxpool", "avgpool", "adaptiveavgpool", "se") and e_in is None:
        raise ConventionError(f"{convention}: the input of {row.name} is not known")
    t: list[tuple[str, object]] = []
    if convention == "torchinfo":
        if kind in ("conv", "fc"):
            t.append(("bias adds (bias · output positions)", _bias_positions(row)))
        elif kind in ("batchnorm", "layernorm"):
            t.append((f"{_norm(kind)} parameters (2·C per {_norm(kind)})", 2 * c))
        elif kind == "se":
            t.append(("se biases (squeeze + C)", q + c))
    elif convention == "fvcore":
        if kind == "batchnorm":
            t.append(("BN (2 per element)", 2 * e))
        elif kind == "layernorm":
            t.append(("LN (5 per element)", 5 * e))
        elif kind == "adaptiveavgpool":
            t.append(("adaptive pools (1 per input element)", e_in))
        elif kind == "se":
            t.append(("se pools (1 per input element)", e_in))
    elif convention == "ptflops":
        if kind in ("conv", "fc"):
            t.append(("bias adds (bias · output positions)", _bias_positions(row)))
        elif kind == "batchnorm":
            t.append(("BN (2 per element)", 2 * e))
        elif kind == "layernorm":
            t.append(("LN (1 per element)", e))
        elif kind in ("relu", "gelu"):
            t.append((f"{kind} (2 per element: module + functional)", 2 * e))
        elif kind in ("relu6", "silu"):
            t.append((f"{kind} (1 per element)", e))
        elif kind in ("maxpool", "avgpool", "adaptiveavgpool"):
            t.append(("pools (2 per input element: module + functional)", 2 * e_in))
        elif kind == "se":
            act = q if before == "silu" else 2 * q
            t.append(("se (2 per pool input element + biases + activation)",
                      2 * e_in + q + c + act))
    elif convention == "thop":
        if kind in ("batchnorm", "layernorm"):
            t.append((f"{_norm(kind)} (4 per element)", 4 * e))
        elif kind == "avgpool":
            t.append(("avg pools (1 per output element)", e))
        elif kind == "adaptiveavgpool":
            t.append(("adaptive pools ((k + 1) per output element)", _thop_adaptive(row, inp)))
        elif kind == "se":
            t.append(("se pools ((H·W + 1)·C)", _thop_adaptive_se(inp)))
    return [(label, v) for label, v in t if v != 0]


def _squeeze(row):
    """An se row's squeeze width, ``in`` bound to its channels (se({in//4}))."""
    q = bind_incoming(row.layer, row.out[2]).squeeze
    return q if isinstance(q, int) else (int(q) if q.is_Integer else q)


def _thop_adaptive_se(inp):
    h, w, c = inp
    return _prod(h, w, c) + to_expr(c)


def _norm(kind: str) -> str:
    return "BN" if kind == "batchnorm" else "LN"


def _inputs(rows):
    """Each row's input shape (H, W, C), or None where it is not known (a split's slice)."""
    state: dict = {}
    out = []
    for r in rows:
        ctx = tuple(s for s in r.path if s.fork is not None)
        if r.layer is None:
            out.append(None)
        elif ctx in state:
            out.append(state[ctx])
        elif ctx and not ctx[-1].label.startswith("split("):
            out.append(tuple(ctx[-1].fork))
        else:
            out.append(None)
        state[ctx] = r.out
    return out


def terms(rows, convention: str) -> list[Term]:
    """The extra terms ``convention`` adds to symcnn's MACs over ``rows``, one per label, in
    order of first appearance (empty for torch)."""
    if convention not in CONVENTIONS:
        raise ConventionError(f"unknown convention {convention!r}; choose one of "
                              f"{', '.join(CONVENTIONS)}")
    acc: dict[str, list] = {}
    before = None
    for r, inp in zip(rows, _inputs(rows)):
        for label, v in row_terms(r, inp, convention, before):
            acc.setdefault(label, []).append(r.count * v if r.count != 1 else v)
        if r.layer is not None:
            before = _kind(r)
    return [Term(label, _sum(vs)) for label, vs in acc.items()]


def _sum(values):
    if all(isinstance(v, int) for v in values):
        return sum(values)
    total = sympy.Add(*values).expand()
    return int(total) if total.is_Integer else total


def macs_as(rows, convention: str, macs=None):
    """The MAC count ``convention``'s tool prints for ``rows`` (``macs``: symcnn's own total,
    computed from the rows when not given)."""
    if macs is None:
        macs = _sum([r.count * r.macs for r in rows])
    if convention == "torch":
        return macs
    return _sum([macs, *(t.value for t in terms(rows, convention))])


def tool_output(convention: str, value) -> str:
    """``value`` (an int) as the tool prints it by default: torchinfo's summary line,
    ptflops' ``as_strings=True`` string, thop's float, fvcore's and FlopCounterMode's int."""
    if convention == "torchinfo":  # ModelStatistics.format_output_num
        unit, x = ("T", value / 1e12) if value >= 1e12 else ("G", value / 1e9) \
            if value >= 1e9 else ("M", value / 1e6)
        return f"Total mult-adds ({unit}): " + (f"{int(x):,d}" if x.is_integer() else
                                                f"{x:,.2f}")
    if convention == "ptflops":  # flops_to_string, units None, precision 2
        for p, unit in ((9, "GMac"), (6, "MMac"), (3, "KMac")):
            if value // 10**p > 0:
                return f"{round(value / 10.**p, 2)} {unit}"
        return f"{value} Mac"
    if convention == "thop":
        return repr(float(value))  # profile() returns a float
    if convention == "torch":
        return f"{2 * value} FLOPs"  # FlopCounterMode.get_total_flops()
    return str(value)


def reconcile(rows, macs=None) -> list[dict]:
    """One entry per tool: ``tool``, ``macs`` (its count), ``terms`` (the :class:`Term`
    list that makes it differ from symcnn's MACs) and ``code`` (what the count depends on in
    the model's Python code); ``error`` instead of ``macs``/``terms`` where symcnn has no
    measured rule for a row of the network."""
    if macs is None:
        macs = _sum([r.count * r.macs for r in rows])
    out = []
    for c in CONVENTIONS:
        try:
            ts = terms(rows, c)
        except ConventionError as e:
            out.append({"tool": c, "error": str(e), "code": CODE_NOTES[c]})
            continue
        out.append({"tool": c, "macs": _sum([macs, *(t.value for t in ts)]), "terms": ts,
                    "code": CODE_NOTES[c]})
    return out


def _n(v) -> str:
    from .formatting import pretty
    return f"{v:,}" if isinstance(v, int) else pretty(v)


def reconcile_lines(entries, macs) -> list[str]:
    """The text of :func:`reconcile`: one line per tool, its count, what it prints and
    ``= MACs + term + term``."""
    width = max(len(_n(e["macs"])) for e in entries if "macs" in e)
    lines = []
    for e in entries:
        tool = e["tool"]
        if "error" in e:
            lines.append(f"{tool:<10} not reproduced: {e['error']}")
            continue
        printed = f"  prints {tool_output(tool, e['macs'])}" \
            if isinstance(e["macs"], int) else ""
        why = " + ".join(f"{_n(t.value)} {t.label}" for t in e["terms"])
        lines.append(f"{tool:<10} {_n(e['macs']):>{width}}{printed}  = MACs"
                     + (f" + {why}" if why else ""))
    return lines
