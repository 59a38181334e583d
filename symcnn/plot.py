"""Report → PNG: cost against input size, or per layer (matplotlib, an optional extra).

``pip install symcnn[plot]`` installs matplotlib; without it these functions raise a
SymCNNError saying so. The numbers plotted are the exact sweep values.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .errors import SymCNNError
from .formatting import display_rows

__all__ = ["plot_sweep", "plot_layers", "METRICS"]

METRICS = {"macs": "MACs (1 MAC = 2 FLOPs)", "params": "parameters",
           "activations": "activations (elements)"}


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise SymCNNError("plotting needs matplotlib: pip install 'symcnn[plot]'") from None
    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt
    return plt


def _check(metric: str) -> None:
    if metric not in METRICS:
        raise SymCNNError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")


def plot_sweep(points: Iterable[dict], metric: str, path, title: str = "") -> Path:
    """A line of ``metric`` against input height (width noted when not square).
    ``points``: a list of sweep points or :func:`symcnn.sweep.iter_sweep`'s stream (only
    H, W and the metric are kept, so a long sweep costs little memory)."""
    _check(metric)
    xs, ys, square = [], [], True
    for p in points:
        xs.append(p["h"])
        ys.append(p[metric])
        square = square and p["h"] == p["w"]
    if not xs:
        raise SymCNNError("nothing to plot: no size in the sweep is large enough")
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
    ax.plot(xs, ys, marker="." if len(xs) < 80 else None)
    ax.set_xlabel("input size H = W" if square else "input height H (W as given)")
    ax.set_ylabel(METRICS[metric])
    ax.set_title(title or f"{METRICS[metric]} against input size")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return _save(fig, plt, path)


def plot_layers(report, metric: str, path, title: str = "") -> Path:
    """A bar per layer (repeats shown once with their total) of ``metric`` at the
    report's input."""
    _check(metric)
    if report.symbolic:
        raise SymCNNError("a per-layer plot needs a concrete input (--input HxWxC)")
    plt = _pyplot()
    lines = display_rows(report.rows)[1:]
    values = [line.copies * getattr(line.row, metric) for line in lines]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.18 * len(lines)), 4.2), dpi=100)
    ax.bar(range(len(lines)), values)
    ax.set_xticks(range(len(lines)))
    ax.set_xticklabels([line.row.name for line in lines], rotation=90, fontsize=6)
    ax.set_ylabel(METRICS[metric])
    ax.set_title(title or f"{METRICS[metric]} per layer at {report.input}")
    fig.tight_layout()
    return _save(fig, plt, path)


def _save(fig, plt, path) -> Path:
    """Render ``fig`` to PNG bytes, then write them as ``symcnn plot -o`` does
    (:func:`symcnn.cli.write_output`): a regular file whole or not at all, a symbolic
    link written through (the link stays), a device or FIFO written to directly; a
    failure is a SymCNNError."""
    import io
    from .cli import write_output
    path = Path(path)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    write_output(os.fspath(path), buf.getvalue())
    return path
