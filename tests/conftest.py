"""Shared test helpers: an independent brute-force model of a network on integers."""

from __future__ import annotations

from symcnn.layers import FC, AdaptiveAvgPool, Conv, Elementwise, Pool, Repeat


def windows(x: int, k: int, s: int, p: int) -> int:
    """Output size by counting window positions over the padded input (no floor formula)."""
    return len(range(-p, x + p - k + 1, s))


def brute(items, h: int, w: int, c: int, acc: dict | None = None):
    """Walk the layers one by one on ints; return (h, w, c) and totals {params, macs,
    activations} (activations exclude the input). Written independently of symcnn.shapes."""
    acc = acc if acc is not None else {"params": 0, "macs": 0, "activations": 0}
    for item in items:
        if isinstance(item, Repeat):
            for _ in range(item.count):
                h, w, c, acc = brute(item.body, h, w, c, acc)
            continue
        if isinstance(item, Conv):
            (kh, kw), (sh, sw), (ph, pw) = item.kernel, item.stride, item.pad
            h, w = windows(h, kh, sh, ph), windows(w, kw, sw, pw)
            acc["params"] += kh * kw * c * item.filters + item.filters
            acc["macs"] += kh * kw * c * item.filters * h * w
            c = item.filters
        elif isinstance(item, Pool):
            (kh, kw), (sh, sw), (ph, pw) = item.kernel, item.step, item.padding
            h, w = windows(h, kh, sh, ph), windows(w, kw, sw, pw)
        elif isinstance(item, AdaptiveAvgPool):
            h, w = item.output
        elif isinstance(item, FC):
            acc["params"] += h * w * c * item.units + item.units
            acc["macs"] += h * w * c * item.units
            h, w, c = 1, 1, item.units
        else:
            assert isinstance(item, Elementwise)
        assert h >= 1 and w >= 1, "brute force: empty output"
        acc["activations"] += h * w * c
    return h, w, c, acc
