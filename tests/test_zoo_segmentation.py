"""The dense-prediction zoo files against real PyTorch.

- torchvision's six segmentation models (FCN, DeepLabV3, LR-ASPP), built as their published
  weights define them (``aux_loss=True`` for FCN and DeepLabV3), on the meta device: params,
  BN buffers and MACs (FlopCounterMode / 2 of an eval forward) equal the zoo file's at
  520×520 (their published size), 481×353 and 224×224; params and GFLOPS equal the weights'
  metadata (``num_params``, ``_ops``).
- U-Net (Ronneberger et al. 2015, figure 1) against a plain ``torch.nn`` build of the
  paper's network written here: params, MACs and the output shape at 572×572 (388×388×2,
  31,030,658 params), 252×252 and 508×380.

torchvision is an optional dependency: without it these tests skip locally and fail when
``CI`` is set (CI installs torch==2.14.1 torchvision==0.29.1).
"""

from __future__ import annotations

import functools
import os

import pytest

import symcnn

TV_REQUIRED = "torchvision is required in CI: pip install torch==2.14.1 torchvision==0.29.1"

try:
    import torch
    import torchvision
    from torch import nn
    from torchvision.models import get_model_weights, segmentation

    from symcnn.torch.importing import module_macs
except ImportError:  # pragma: no cover - depends on the environment
    torchvision = None
    if not os.environ.get("CI") or os.environ.get("SYMCNN_NO_TORCH"):
        pytest.skip("torchvision is not installed (pip install torch==2.14.1 "
                    "torchvision==0.29.1 to test importing); set CI=1 to make this a failure",
                    allow_module_level=True)
else:
    torch.set_num_threads(2)


def test_torchvision_is_installed():
    """The one test that fails in CI when torchvision is missing."""
    assert torchvision is not None, TV_REQUIRED


@pytest.fixture(autouse=True)
def _torchvision_available(request):
    if torchvision is None and request.node.name != "test_torchvision_is_installed":
        pytest.skip("torchvision is missing; see test_torchvision_is_installed")


# ---------------------------------------------------------------- torchvision's models

# name: (params, BN buffers, MACs at 520×520), as measured on torchvision 0.29.1.
SEGMENTATION = {
    "fcn_resnet50": (35_322_218, 54_656, 152_716_512_000),
    "fcn_resnet101": (54_314_346, 106_880, 232_737_606_400),
    "deeplabv3_resnet50": (42_004_074, 57_216, 178_721_945_088),
    "deeplabv3_resnet101": (60_996_202, 109_440, 258_743_039_488),
    "deeplabv3_mobilenet_v3_large": (11_029_328, 28_004, 10_452_447_938),
    "lraspp_mobilenet_v3_large": (3_221_538, 24_656, 2_086_219_688),
}
SIZES = [(520, 520, 3), (481, 353, 3), (224, 224, 3)]


@functools.lru_cache(maxsize=None)
def real_model(name: str):
    """torchvision's model as its published weights define it, on the meta device."""
    kwargs = {} if name.startswith("lraspp") else {"aux_loss": True}
    with torch.device("meta"):
        return getattr(segmentation, name)(weights=None, weights_backbone=None, **kwargs)


def torch_counts(model, size):
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for n, b in model.named_buffers()
                  if n.rsplit(".", 1)[-1] in ("running_mean", "running_var"))
    macs, _ = module_macs(model, size)
    return {"params": params, "buffers": buffers, "macs": macs}


def zoo_counts(name, size):
    totals = symcnn.analyze(name, size).totals
    return {q: totals[q] for q in ("params", "buffers", "macs")}


def test_the_segmentation_models_are_all_there():
    assert set(SEGMENTATION) == set(torchvision.models.list_models(module=segmentation))
    assert set(SEGMENTATION) <= set(symcnn.zoo_names())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", sorted(SEGMENTATION))
def test_zoo_equals_torchvision(name, size):
    assert zoo_counts(name, size) == torch_counts(real_model(name), size)


@pytest.mark.parametrize("name", sorted(SEGMENTATION))
def test_published_params_and_gflops(name):
    params, buffers, macs = SEGMENTATION[name]
    assert zoo_counts(name, (520, 520, 3)) == {"params": params, "buffers": buffers,
                                               "macs": macs}
    meta = get_model_weights(name).DEFAULT.meta  # metadata only, nothing is downloaded
    assert meta["num_params"] == params
    assert round(macs / 1e9, 3) == meta["_ops"]  # torchvision's "GFLOPS" is MACs at 520


@pytest.mark.parametrize("name", sorted(SEGMENTATION))
def test_output_is_21_classes_at_the_input_size(name):
    report = symcnn.analyze(name, (481, 353, 3))
    assert report.rows[-1].out == (481, 353, 21)


# ---------------------------------------------------------------- U-Net

class UNet(nn.Module):
    """U-Net as in Ronneberger et al. 2015, figure 1: unpadded 3x3 convolutions + ReLU, two
    per level, 2x2 max pooling, 64 → 1024 channels over five levels; on the way up a 2x2
    up-convolution halves the channels, the contracting path's map is centre-cropped and
    concatenated, two 3x3 convolutions follow; a final 1x1 convolution to 2 classes."""

    def __init__(self, in_channels: int = 1, classes: int = 2):
        super().__init__()
        widths = [64, 128, 256, 512, 1024]
        self.down = nn.ModuleList()
        c = in_channels
        for w in widths:
            self.down.append(self.level(c, w))
            c = w
        self.upconv = nn.ModuleList()
        self.up = nn.ModuleList()
        for w in reversed(widths[:-1]):
            self.upconv.append(nn.ConvTranspose2d(c, w, kernel_size=2, stride=2))
            self.up.append(self.level(2 * w, w))
            c = w
        self.pool = nn.MaxPool2d(2)
        self.out = nn.Conv2d(c, classes, kernel_size=1)

    @staticmethod
    def level(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, cout, 3), nn.ReLU(),
                             nn.Conv2d(cout, cout, 3), nn.ReLU())

    @staticmethod
    def crop(x, size):
        h, w = size
        top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
        return x[..., top:top + h, left:left + w]

    def forward(self, x):
        skips = []
        for i, level in enumerate(self.down):
            if i:
                x = self.pool(x)
            x = level(x)
            skips.append(x)
        skips.pop()
        for upconv, level in zip(self.upconv, self.up):
            x = upconv(x)
            x = level(torch.cat([self.crop(skips.pop(), x.shape[-2:]), x], dim=1))
        return self.out(x)


UNET_SIZES = {(572, 572, 1): (388, 388, 2), (252, 252, 1): (68, 68, 2),
              (508, 380, 1): (324, 196, 2)}


@functools.lru_cache(maxsize=None)
def plain_unet():
    with torch.device("meta"):
        return UNet()


@pytest.mark.parametrize("size", sorted(UNET_SIZES), ids=lambda s: f"{s[0]}x{s[1]}")
def test_unet_equals_plain_torch(size):
    model = plain_unet()
    report = symcnn.analyze("unet", size)
    assert zoo_counts("unet", size) == torch_counts(model, size)
    h, w, c = size
    with torch.no_grad():
        out = model.eval()(torch.empty(1, c, h, w, device="meta"))
    assert tuple(out.shape) == (1, UNET_SIZES[size][2], *UNET_SIZES[size][:2])
    assert report.rows[-1].out == UNET_SIZES[size]


def test_unet_is_the_papers():
    report = symcnn.analyze("unet", (572, 572, 1))
    assert report.rows[-1].out == (388, 388, 2)
    assert report.totals["params"] == 31_030_658 == \
        sum(p.numel() for p in plain_unet().parameters())
    assert report.totals["buffers"] == 0
    assert report.totals["macs"] == 150_428_424_448
