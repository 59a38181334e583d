"""Shared test helpers: an independent brute-force model of a network on integers, and the
golden-file check of the exporters."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from symcnn.expand import expand
from symcnn.layers import (FC, SE, AdaptiveAvgPool, BatchNorm, Block, Branches, ChannelPad,
                           Conv, Crop, Elementwise, GroupNorm, Pool, PReLU, Repeat,
                           TransposedConv, Upsample)



def windows(x: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int:
    """Output size by counting window start positions (no floor formula): in floor mode a
    window must fit in the padded input; in ceil mode it may hang over the end but must
    start before the right padding."""
    span = d * (k - 1) + 1
    if not ceil:
        return sum(1 for i in range(x + 2 * p + 1) if i * s + span <= x + 2 * p)
    return sum(1 for i in range(x + 2 * p + 1)
               if i * s < x + p and i * s <= x + 2 * p - span + s - 1)


def brute(network, h: int, w: int, c: int):
    """Walk the expanded network on ints; return (h, w, c, totals) with totals
    {params, macs, activations, buffers} (activations exclude the input). Written
    independently of symcnn.shapes."""
    acc = {"params": 0, "macs": 0, "activations": 0, "buffers": 0}
    h, w, c = _walk(expand(network), h, w, c, acc, {"input": (h, w)})
    return h, w, c, acc


def _has_crop(items) -> bool:
    return any(isinstance(i, Crop) or (isinstance(i, Block) and _has_crop(i.items)) or
               (isinstance(i, Repeat) and _has_crop(i.body)) for i in items)


def _walk(items, h, w, c, acc, ctx):
    """ctx: "input" (the network input's H, W), "fork" (the enclosing merge's or head's
    input H, W), "target" (the H, W its crops crop to)."""
    for item in items:
        if isinstance(item, Repeat):
            for _ in range(item.count):
                h, w, c = _walk(item.body, h, w, c, acc, ctx)
            continue
        if isinstance(item, Block):
            h, w, c = _walk(item.items, h, w, c, acc, ctx)
            continue
        if isinstance(item, Branches) and item.op == "head":  # runs; the path goes on
            _walk(item.branches[0], h, w, c, acc, {**ctx, "fork": (h, w)})
            continue
        if isinstance(item, Branches):
            cin = c
            if item.op == "split":
                assert c % len(item.branches) == 0, "split: channels do not divide"
                cin = c // len(item.branches)
            inner = {**ctx, "fork": (h, w)}
            fixed = {i: _walk(b, h, w, cin, acc, inner) for i, b in enumerate(item.branches)
                     if not _has_crop(b)}
            target = {**inner, "target": next(iter(fixed.values()))[:2]} if fixed else inner
            outs = [fixed[i] if i in fixed else _walk(b, h, w, cin, acc, target)
                    for i, b in enumerate(item.branches)]
            if item.op == "mul":  # broadcast: the same channels, the same H×W or 1×1
                big = [o for o in outs if o[:2] != (1, 1)] or outs
                assert all(o == big[0] for o in big) and all(o[2] == big[0][2] for o in outs)
                h, w, c = big[0]
            elif item.op == "add":
                assert all(o[:2] == outs[0][:2] for o in outs)
                assert all(o == outs[0] for o in outs)
                h, w, c = outs[0]
            else:
                assert all(o[:2] == outs[0][:2] for o in outs)
                h, w, c = outs[0][0], outs[0][1], sum(o[2] for o in outs)
        elif isinstance(item, TransposedConv):
            (kh, kw), s, d, p = item.kernel, item.stride, item.dilation, item.padding
            oh = (h - 1) * s - 2 * p + d * (kh - 1) + item.output_padding + 1
            ow = (w - 1) * s - 2 * p + d * (kw - 1) + item.output_padding + 1
            per_position = kh * kw * (c // item.groups) * item.filters
            acc["params"] += per_position + (item.filters if item.bias else 0)
            acc["macs"] += per_position * h * w  # per input position (FlopCounterMode)
            h, w, c = oh, ow, item.filters
        elif isinstance(item, Upsample):
            if item.scale is not None:
                h, w = h * item.scale[0], w * item.scale[1]
            else:
                h, w = item.size if isinstance(item.size, tuple) else \
                    ctx["input" if item.size == "input" else "fork"]
        elif isinstance(item, Crop):
            th, tw = ctx["target"]
            assert th <= h and tw <= w, "crop: larger than its input"
            h, w = th, tw
        elif isinstance(item, Conv):
            (kh, kw), s, d = item.kernel, item.stride, item.dilation
            g, cout = (c, c) if item.depthwise else (item.groups, item.filters)
            if item.padding == "same":
                oh, ow = h, w
            else:
                ph, pw = (d * (kh // 2), d * (kw // 2)) if item.padding is None else \
                    (item.padding,) * 2
                oh, ow = windows(h, kh, s, ph, d), windows(w, kw, s, pw, d)
            per_position = kh * kw * (c // g) * cout
            acc["params"] += per_position + (cout if item.bias else 0)
            acc["macs"] += per_position * oh * ow
            h, w, c = oh, ow, cout
        elif isinstance(item, Pool):
            (kh, kw), p = item.kernel, item.padding
            sh, sw = (item.stride, item.stride) if item.stride else (kh, kw)
            h, w = windows(h, kh, sh, p, 1, item.ceil), windows(w, kw, sw, p, 1, item.ceil)
        elif isinstance(item, AdaptiveAvgPool):
            h, w = item.output
        elif isinstance(item, FC):
            acc["params"] += h * w * c * item.units + item.units
            acc["macs"] += h * w * c * item.units
            h, w, c = 1, 1, item.units
        elif isinstance(item, BatchNorm):
            acc["params"] += 2 * c
            acc["buffers"] += 2 * c
        elif isinstance(item, GroupNorm):
            assert c % item.groups == 0, "group norm: channels do not divide"
            acc["params"] += 2 * c
        elif isinstance(item, PReLU):
            acc["params"] += c
        elif isinstance(item, ChannelPad):
            assert item.channels >= c, "pad: fewer channels than the input"
            c = item.channels
        elif isinstance(item, SE):
            acc["params"] += 2 * c * item.squeeze + item.squeeze + c
            acc["macs"] += 2 * c * item.squeeze
        else:
            assert isinstance(item, Elementwise)
        assert h >= 1 and w >= 1, "brute force: empty output"
        acc["activations"] += h * w * c
    return h, w, c


GOLDEN = Path(__file__).parent / "golden"
UPDATE_GOLDEN = bool(os.environ.get("SYMCNN_UPDATE_GOLDEN"))


def check_golden(name: str, text: str) -> None:
    """``text`` equals tests/golden/``name``; SYMCNN_UPDATE_GOLDEN=1 rewrites it (a missing
    file is written, except under CI, where it fails)."""
    path = GOLDEN / name
    if UPDATE_GOLDEN or not path.exists():
        assert UPDATE_GOLDEN or not os.environ.get("CI"), f"golden file {path.name} is missing"
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), \
        f"{path.name} changed; if intended, rerun with SYMCNN_UPDATE_GOLDEN=1"


def pdflatex(folder: Path, tex: str) -> tuple[str, str]:
    """Compile ``tex`` as folder/doc.tex with stock pdflatex (no shell escape) and return
    (the log, the PDF's text by ``pdftotext -layout``). Without the tools the test skips,
    except under CI, where it fails."""
    if not (shutil.which("pdflatex") and shutil.which("pdftotext")):
        if os.environ.get("CI"):
            pytest.fail("pdflatex and pdftotext are required in CI (apt-get install "
                        "texlive-latex-base texlive-latex-recommended poppler-utils)")
        pytest.skip("pdflatex/pdftotext not installed (texlive-latex-base, poppler-utils)")
    (folder / "doc.tex").write_text(tex, encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error",
                          "-no-shell-escape", "doc.tex"], cwd=folder, capture_output=True,
                         text=True, timeout=180)
    assert run.returncode == 0, run.stdout[-3000:]
    log = (folder / "doc.log").read_text(errors="replace")
    text = subprocess.run(["pdftotext", "-layout", "doc.pdf", "-"], cwd=folder,
                          capture_output=True, text=True, timeout=60).stdout
    return log, text
