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
                           Conv, Elementwise, GroupNorm, Pool, PReLU, Repeat)


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
    h, w, c = _walk(expand(network), h, w, c, acc)
    return h, w, c, acc


def _walk(items, h, w, c, acc):
    for item in items:
        if isinstance(item, Repeat):
            for _ in range(item.count):
                h, w, c = _walk(item.body, h, w, c, acc)
            continue
        if isinstance(item, Block):
            h, w, c = _walk(item.items, h, w, c, acc)
            continue
        if isinstance(item, Branches):
            cin = c
            if item.op == "split":
                assert c % len(item.branches) == 0, "split: channels do not divide"
                cin = c // len(item.branches)
            outs = [_walk(b, h, w, cin, acc) for b in item.branches]
            assert all(o[:2] == outs[0][:2] for o in outs)
            if item.op == "add":
                assert all(o == outs[0] for o in outs)
                h, w, c = outs[0]
            else:
                h, w, c = outs[0][0], outs[0][1], sum(o[2] for o in outs)
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
