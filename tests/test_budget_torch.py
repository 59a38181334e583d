"""Budgets against real PyTorch: the batch a budget answers has a measured inference peak
(MemTracker on the meta device, symcnn's to_torch build) within the budget, and one more
image does not fit.

torch is an optional dependency: without it these tests are skipped locally, but they
fail when the ``CI`` environment variable is set (CI must install torch).
"""

from __future__ import annotations

import os

import pytest

import symcnn
from symcnn.budget import budget

try:
    import torch
    from symcnn.torch import to_torch
    from symcnn.torch.measuring import inference_peak
except ImportError:  # pragma: no cover - depends on the environment
    torch = None
    if not os.environ.get("CI") or os.environ.get("SYMCNN_NO_TORCH"):  # absent on purpose
        pytest.skip("torch is not installed (pip install torch==2.13.0 to cross-check "
                    "budgets against PyTorch); set CI=1 to make this a failure",
                    allow_module_level=True)
else:
    torch.set_num_threads(2)


def test_torch_is_installed():
    """The one test that fails in CI when torch is missing."""
    assert torch is not None, "torch is required in CI: pip install torch==2.13.0"


@pytest.mark.parametrize("net, size, limit", [
    ("conv3-16 bn relu pool2 conv3-32 bn relu gap fc10", "32x32x3", 5 * 10**6),
    ("conv3-8 relu res(conv3-8 bn relu) pool3/2 cat( | conv1-4 relu) gap fc10", "24x24x3",
     2 * 2**20),
    ("resnet18", "64x64x3", 100 * 10**6),
])
def test_the_answered_batch_fits_when_measured_and_one_more_does_not(net, size, limit):
    b = budget(symcnn.analyze(net, size), limit)  # inference peak, CUDA semantics (meta)
    assert b.fits and not b.largest and b.batch >= 2
    h, w, c = map(int, size.split("x"))
    model = to_torch(net, size, device="meta")
    at = lambda n: inference_peak(model, torch.zeros(n, c, h, w, device="meta"))  # noqa
    assert at(b.batch) == b.cost <= limit < b.next_cost == at(b.batch + 1)
