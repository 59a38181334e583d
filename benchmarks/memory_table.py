"""symcnn's memory figures beside what PyTorch really holds, for real torchvision models.

    python benchmarks/memory_table.py            # Markdown table on stdout, about a minute

For each (model, batch) at 224×224×3, float32, on the meta device (no GPU needed):
saved for backward (``saved_tensors_hooks``, deduplicated by storage), inference peak
(MemTracker's peak of an eval ``no_grad`` forward) and training peak (MemTracker's peak of
the second Adam training step: forward, cross-entropy, backward, step, zero_grad), against
symcnn's figures for the zoo file of the same name. The meta device follows the CUDA
kernels (batch norm's statistics) but runs torch.optim single-tensor, as on the CPU: the
inference figure is symcnn's ``--device cuda``, the training figures ``--device cpu``.
The old convention (every layer's output summed, ×2 for backward) is shown for contrast.
"""

from __future__ import annotations

import argparse

import torch

import symcnn
from symcnn.torch.loading import load
from symcnn.torch.measuring import inference_peak, saved_bytes, training_peak

ROWS = [("resnet50", 8), ("vgg16", 1), ("mobilenet_v2", 8), ("densenet121", 8),
        ("efficientnet_b0", 8), ("inception_v3_noaux", 8)]
KWARGS = {"inception_v3_noaux": '{"init_weights": false, "aux_logits": false}'}


def _model(name: str):
    return load(f"torchvision.models:{name.replace('_noaux', '')}", KWARGS.get(name))


def measure(name: str, batch: int, size: int = 224) -> dict:
    spec = f"{size}x{size}x3"
    cuda = symcnn.analyze(name, spec, batch=batch, device="cuda").memory
    cpu = symcnn.analyze(name, spec, batch=batch, device="cpu", optimizer="adam")
    acts = cpu.totals["activations"] * 4 * batch
    x = torch.zeros(batch, 3, size, size, device="meta")
    t = torch.zeros(batch, dtype=torch.long, device="meta")
    return {"name": name, "batch": batch, "old": 2 * acts,
            "saved": (cpu.memory["saved_for_backward"], saved_bytes(_model(name), x)),
            "inference": (cuda["inference_peak"], inference_peak(_model(name), x)),
            "training": (cpu.memory["training_peak"],
                         training_peak(_model(name), x, t, "adam")["total"])}


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f}"


def _pair(p) -> str:
    mine, theirs = p
    diff = mine - theirs
    err = "exact" if not diff else f"{diff:+,} B" if abs(diff) * 10_000 < theirs \
        else f"{100 * diff / theirs:+.2f} %"
    return f"{_mb(mine)} | {_mb(theirs)} | {err}"


def table(results) -> str:
    head = ("| model, batch | old: activations ×2 | saved for backward: symcnn | torch | "
            "agreement | inference peak: symcnn | torch | agreement | training peak "
            "(Adam), estimate: symcnn | torch | error |")
    lines = [head, "|" + "---|" * 11]
    for r in results:
        lines.append(f"| {r['name']}, {r['batch']} | {_mb(r['old'])} | {_pair(r['saved'])} | "
                     f"{_pair(r['inference'])} | {_pair(r['training'])} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=224)
    args = ap.parse_args()
    torch.set_num_threads(2)
    print(f"MB = 10^6 bytes; float32, {args.size}x{args.size}x3, torch {torch.__version__}, "
          "meta device")
    print(table([measure(n, b, args.size) for n, b in ROWS]))


if __name__ == "__main__":
    main()
