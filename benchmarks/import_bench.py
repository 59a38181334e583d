"""How long ``symcnn.torch.from_torch`` takes on real torchvision models (meta device,
self-check included: trace, shapes, structure, notation, parse, analyze, FlopCounterMode).

    python benchmarks/import_bench.py              # every torchvision CNN (74)
    python benchmarks/import_bench.py resnet50     # some of them

Targets: ResNet-50 ≤ 1 s, any torchvision CNN ≤ 5 s on a 2-core machine. Each model is
built once (outside the timing) and imported three times; the best time is reported
(the machine is shared: the best of three is the least disturbed).
Needs torch==2.14.1 and torchvision==0.29.1.
"""

from __future__ import annotations

import sys
import time

import torch
from torchvision import models as tvm

from symcnn.torch import from_torch
from symcnn.torch.loading import load


SEGMENTATION = tvm.list_models(module=tvm.segmentation)
# as the published weights define them (fcn and deeplabv3 with their aux heads)
KWARGS = {"googlenet": '{"aux_logits": false, "init_weights": false}',
          "inception_v3": '{"init_weights": false}',
          **{n: '{"weights": null, "weights_backbone": null%s}' % (
              "" if n.startswith("lraspp") else ', "aux_loss": true') for n in SEGMENTATION}}


def build(name: str):
    """The model on meta, as ``symcnn import torchvision.models[.segmentation]:NAME``
    builds it."""
    where = "torchvision.models.segmentation" if name in SEGMENTATION else "torchvision.models"
    return load(f"{where}:{name}", KWARGS.get(name))


def main(names: list[str]) -> None:
    torch.set_num_threads(2)
    names = names or [n for n in tvm.list_models(module=tvm)
                      if not n.startswith(("vit_", "swin_", "maxvit_"))] + SEGMENTATION
    from_torch(build("resnet18"))  # warm up imports and caches
    rows = []
    for name in names:
        model = build(name)
        best = min(_timed(model) for _ in range(3))
        rows.append((name, best))
        print(f"{name:22s} {best:6.2f} s", flush=True)
    worst = max(rows, key=lambda r: r[1])
    print(f"\n{len(rows)} models; slowest {worst[0]} {worst[1]:.2f} s; "
          f"median {sorted(r[1] for r in rows)[len(rows) // 2]:.2f} s")


def _timed(model) -> float:
    start = time.perf_counter()
    from_torch(model)
    return time.perf_counter() - start


if __name__ == "__main__":
    main(sys.argv[1:])
