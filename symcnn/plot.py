"""Report → PNG: cost against input size, or per layer (matplotlib, an optional extra).

``pip install symcnn[plot]`` installs matplotlib; without it these functions raise a
SymCNNError saying so. The numbers plotted are the exact sweep values (floats only in
matplotlib's drawing). Conventions:

- the value axis is labelled in decimal units (K, M, G, T = 10³, 10⁶, 10⁹, 10¹²: "2.5 G"),
  never with an offset such as ``1e10``; ``log=True`` makes it logarithmic;
- the title is what the caller names the network (the CLI: the zoo name or the file's
  stem, not its path); several networks are one curve each, with a legend;
- the per-layer chart has one bar per table line at ``depth`` (a deeper block summed, a
  repeat "×N" with its total), layers whose value is 0 left out; past MAX_LABELLED bars
  the labels are left out (the figure stays within MAX_WIDTH inches).

Figures are built with ``matplotlib.figure.Figure`` (not pyplot): no backend is chosen,
no global state is touched, and a notebook can show the figure :func:`sweep_figure` or
:func:`layers_figure` returns.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import SymCNNError
from .formatting import _sum, display_rows, group_lines

__all__ = ["plot_sweep", "plot_layers", "sweep_figure", "layers_figure", "METRICS",
           "MAX_LABELLED", "MAX_WIDTH"]

METRICS = {"macs": "MACs (1 MAC = 2 FLOPs)", "params": "parameters",
           "activations": "activations (elements)"}
UNITS = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))  # decimal
MAX_LABELLED = 250  # bars with a label each
MAX_WIDTH = 40.0  # inches of a per-layer chart


def _figure(width: float):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise SymCNNError("plotting needs matplotlib: pip install 'symcnn[plot]'") from None
    fig = Figure(figsize=(width, 4.2), dpi=100)
    return fig, fig.subplots()


def unit_text(x: float, top: float | None = None) -> str:
    """``x`` in the decimal unit of ``top`` (default: of ``x`` itself): 2.5e9 → "2.5 G"."""
    scale = abs(x) if top is None else abs(top)
    if x == 0:
        return "0"
    for unit, name in UNITS:
        if scale >= unit:
            return f"{x / unit:g} {name}"
    return f"{x:g}"


def _value_axis(ax, log: bool) -> None:
    """Decimal units on the y axis: one unit for all ticks (that of the largest in view)
    on a linear scale, each tick its own on a log scale."""
    from matplotlib.ticker import Formatter, NullFormatter

    class Units(Formatter):
        def __call__(self, x, pos=None):
            if log:
                return unit_text(x)
            return unit_text(x, max(map(abs, self.axis.get_view_interval())))

    if log:
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(Units())


def _check(metric: str) -> None:
    if metric not in METRICS:
        raise SymCNNError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")


def _curves(points: Iterable[dict], metric: str, names: Sequence[str] | None):
    """(name, xs, ys) per network and whether every size is square. A point's value is
    an int (one network) or a list with one entry per network, None where that network
    does not run (:func:`symcnn.sweep.iter_sweep` with several reports)."""
    series: list[tuple[list, list]] | None = None
    square = True
    for p in points:
        v = p[metric]
        values = v if isinstance(v, (list, tuple)) else [v]
        if series is None:
            series = [([], []) for _ in values]
        for (xs, ys), y in zip(series, values):
            if y is not None:
                xs.append(p["h"])
                ys.append(y)
        square = square and p["h"] == p["w"]
    if not series or not any(xs for xs, _ in series):
        raise SymCNNError("nothing to plot: no size in the sweep is large enough")
    if names is None:
        names = [f"network {i}" for i in range(1, len(series) + 1)] if len(series) > 1 \
            else [""]
    if len(names) != len(series):
        raise SymCNNError(f"{len(names)} names for {len(series)} networks")
    return [(n, xs, ys) for n, (xs, ys) in zip(names, series)], square


def sweep_figure(points: Iterable[dict], metric: str, title: str = "",
                 names: Sequence[str] | None = None, log: bool = False):
    """The matplotlib Figure of :func:`plot_sweep` (not saved)."""
    _check(metric)
    curves, square = _curves(points, metric, names)
    fig, ax = _figure(7.0)
    for name, xs, ys in curves:
        ax.plot(xs, ys, marker="." if len(xs) < 80 else None, label=name or None)
    if len(curves) > 1:
        ax.legend()
    ax.set_xlabel("input size H = W" if square else "input height H (W as given)")
    ax.set_ylabel(METRICS[metric])
    _value_axis(ax, log)
    ax.set_title(title or ", ".join(n for n, _, _ in curves if n) or
                 f"{METRICS[metric]} against input size")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def plot_sweep(points: Iterable[dict], metric: str, path, title: str = "",
               names: Sequence[str] | None = None, log: bool = False) -> Path:
    """A line of ``metric`` against input height (width noted when not square), one per
    network. ``points``: a list of sweep points or :func:`symcnn.sweep.iter_sweep`'s
    stream (only H, W and the metric are kept, so a long sweep costs little memory);
    with several networks, ``names`` labels the curves. ``title``: the network's name."""
    return _save(sweep_figure(points, metric, title, names, log), path)


def _bars(report, metric: str, depth: int | None) -> list[tuple[str, int]]:
    """(label, value) per table line at ``depth`` (the input row left out), zeros left
    out; a line "×N" counts its N copies, a block its sum."""
    lines = display_rows(report.rows)[1:]
    groups = [[line] for line in lines] if depth is None else group_lines(lines, depth)
    out = []
    for g in groups:
        first = g[0]
        if depth is None or len(first.row.path) < depth:
            label = first.row.name + (f" ×{first.copies:,}" if first.copies > 1 else "")
            value = first.copies * getattr(first.row, metric)
        else:
            label, value = str(first.row.path[depth - 1]), _sum(g, metric)
        value = int(value)  # a concrete input: every value is an exact integer
        if value:
            out.append((f"{first.index} {label}", value))
    return out


def layers_figure(report, metric: str, title: str = "", depth: int | None = None,
                  log: bool = False):
    """The matplotlib Figure of :func:`plot_layers` (not saved)."""
    _check(metric)
    if report.symbolic:
        raise SymCNNError("a per-layer plot needs a concrete input (--input HxWxC)")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int)
                              or depth < 1):
        raise SymCNNError("depth must be 1 or more")
    bars = _bars(report, metric, depth)
    if not bars:
        raise SymCNNError(f"nothing to plot: every layer has 0 {metric}")
    fig, ax = _figure(min(MAX_WIDTH, max(6.0, 0.18 * len(bars))))
    ax.bar(range(len(bars)), [v for _, v in bars])
    where = f"layers at {report.input}" + (f", depth {depth}" if depth else "")
    if len(bars) <= MAX_LABELLED:
        ax.set_xticks(range(len(bars)))
        ax.set_xticklabels([label for label, _ in bars], rotation=90, fontsize=6)
    else:
        where += f" ({len(bars):,} bars, unlabelled: use a depth)"
    ax.set_xlabel(where + "; layers with 0 left out")
    ax.set_ylabel(METRICS[metric])
    _value_axis(ax, log)
    ax.set_title(title or f"{METRICS[metric]} per layer at {report.input}")
    fig.tight_layout()
    return fig


def plot_layers(report, metric: str, path, title: str = "", depth: int | None = None,
                log: bool = False) -> Path:
    """A bar per table line (``depth``: blocks nested deeper summed into one bar; repeats
    shown once with their total) of ``metric`` at the report's input; lines whose value
    is 0 have no bar. ``title``: the network's name."""
    return _save(layers_figure(report, metric, title, depth, log), path)


def _save(fig, path) -> Path:
    """Render ``fig`` to PNG bytes, then write them as ``symcnn plot -o`` does
    (:func:`symcnn.cli.write_output`): a regular file whole or not at all, a symbolic
    link written through (the link stays), a device or FIFO written to directly; a
    failure is a SymCNNError."""
    import io
    from .cli import write_output
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    write_output(os.fspath(path), buf.getvalue())
    return path
