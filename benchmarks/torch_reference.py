"""Exact reference numbers from real PyTorch for torchvision's classification CNNs.

torchvision cannot be installed beside the pinned torch here, so every network below is
a plain ``torch.nn`` re-implementation written to mirror torchvision's own model
definitions (``torchvision/models/*.py`` and ``torchvision/ops/misc.py``) layer for
layer: the same convolutions, kernel sizes, strides and paddings, the same ``bias``
flags, the same BatchNorm placement, ``ceil_mode`` pools, projection shortcuts,
squeeze-and-excitation blocks, dropout positions, adaptive pools and classifiers. Weight
initialisation is not reproduced (it changes no count). Each module's parameter count
is asserted equal to the count torchvision publishes for its weights
(``PUBLISHED_PARAMS``), which pins the structure down.

For every model and input size (batch 1, 3 channels) the script measures, in eval mode
under ``torch.no_grad()``:

- ``params``: sum of ``p.numel()`` over ``model.parameters()``;
- ``buffers``: sum of ``b.numel()`` over buffers, ``num_batches_tracked`` excluded;
- ``bn_layers``: the number of BatchNorm layers;
- ``macs``: ``FlopCounterMode`` total FLOPs // 2 (convolutions and matrix products, i.e.
  conv + linear multiply-accumulates, biases not counted), also split into
  ``macs_conv`` and ``macs_linear``;
- ``output``: the output shape.

Models are built and run on the ``meta`` device (shapes without storage), so even the
VGGs cost nothing; if a model failed on meta it would be retried on the CPU.
inception_v3 keeps its AuxLogits head (torchvision's published count includes it), but
in eval mode the head is not run, so its MACs are not counted (as in torchvision's
published 5.71 GFLOPS, which is at 299x299: 2.84 GMACs at 224x224). At 224x224 the head
could not run anyway (its 5x5 valid conv meets a 3x3 map; it needs Mixed_6e >= 17x17).
inception_v3_noaux is the same network without the head.
convnext_tiny's channels-last nn.Linear layers are counted (FlopCounterMode sees them as
aten.addmm, bias not counted, so they land in ``macs_linear``); its LayerNorms, GELUs and
layer-scale multiplies are not counted.

Run:  python benchmarks/torch_reference.py   (writes tests/data/torch_reference.json)
      python benchmarks/torch_reference.py --cpu-check [NAME ...]
          (re-runs on the CPU with real tensors and checks the meta numbers agree)
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from collections import OrderedDict
from functools import partial
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

SIZES = [(224, 224), (225, 225), (160, 240)]
OUT_PATH = Path(__file__).resolve().parent.parent / "tests" / "data" / "torch_reference.json"
NUM_CLASSES = 1000


# ------------------------------------------------------------------ shared helpers

def _make_divisible(v: float, divisor: int, min_value: Optional[int] = None) -> int:
    """torchvision.models._utils._make_divisible: round to the nearest multiple of
    ``divisor`` (half up, via int(v + divisor/2)), at least ``min_value``, and never
    more than 10% below ``v`` (else one more ``divisor``)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class ConvNormAct(nn.Sequential):
    """torchvision.ops.misc.Conv2dNormActivation: Conv2d, norm, activation.

    padding defaults to (k - 1) // 2 * dilation ("same" for odd k at stride 1), and the
    conv has a bias only when there is no norm layer.
    """

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, stride: int = 1,
                 groups: int = 1, dilation: int = 1,
                 norm_layer: Optional[Callable[..., nn.Module]] = nn.BatchNorm2d,
                 activation_layer: Optional[Callable[..., nn.Module]] = nn.ReLU) -> None:
        padding = (kernel_size - 1) // 2 * dilation
        layers: List[nn.Module] = [
            nn.Conv2d(cin, cout, kernel_size, stride, padding, dilation=dilation,
                      groups=groups, bias=norm_layer is None)]
        if norm_layer is not None:
            layers.append(norm_layer(cout))
        if activation_layer is not None:
            layers.append(activation_layer(inplace=True))
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    """torchvision.ops.misc.SqueezeExcitation: global average pool, 1x1 conv (with
    bias) to ``squeeze``, activation, 1x1 conv (with bias) back, scale activation,
    multiply."""

    def __init__(self, channels: int, squeeze: int,
                 activation: Callable[..., nn.Module] = nn.ReLU,
                 scale_activation: Callable[..., nn.Module] = nn.Sigmoid) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x: Tensor) -> Tensor:
        s = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return s * x


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth ("row" mode): identity in eval mode."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        noise = torch.empty([x.shape[0]] + [1] * (x.ndim - 1), dtype=x.dtype,
                            device=x.device).bernoulli_(keep)
        return x * noise.div_(keep)


# ------------------------------------------------------------------ AlexNet

class AlexNet(nn.Module):
    """torchvision.models.alexnet (the "one weird trick" variant: 64/192/384/256/256)."""

    def __init__(self, num_classes: int = NUM_CLASSES, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


# ------------------------------------------------------------------ VGG

VGG_CFGS: Dict[str, List] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"],
}


class VGG(nn.Module):
    """torchvision.models.vgg: 3x3 pad-1 convs (bias=True even with BN), 2x2/2 max
    pools (floor), AdaptiveAvgPool2d(7x7), 25088-4096-4096-classes with ReLU+Dropout
    after each of the first two Linears."""

    def __init__(self, cfg: str, batch_norm: bool, num_classes: int = NUM_CLASSES,
                 dropout: float = 0.5) -> None:
        super().__init__()
        layers: List[nn.Module] = []
        c = 3
        for v in VGG_CFGS[cfg]:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers.append(nn.Conv2d(c, v, kernel_size=3, padding=1))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(v))
                layers.append(nn.ReLU(inplace=True))
                c = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


# ------------------------------------------------------------------ ResNet family

def conv3x3(cin: int, cout: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, groups=groups, bias=False)


def conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None, groups: int = 1,
                 base_width: int = 64) -> None:
        super().__init__()
        assert groups == 1 and base_width == 64
        self.conv1 = conv3x3(cin, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """torchvision's "ResNet V1.5" bottleneck: the stride sits on the 3x3 conv2."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1,
                 downsample: Optional[nn.Module] = None, groups: int = 1,
                 base_width: int = 64) -> None:
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(cin, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision.models.resnet.ResNet: 7x7/2 pad 3 conv (no bias), BN, ReLU, 3x3/2
    pad 1 max pool, four stages (stride 1, 2, 2, 2 on each stage's first block), a
    1x1/stride conv + BN projection shortcut wherever the stride or width changes,
    AdaptiveAvgPool2d(1), Linear."""

    def __init__(self, block, layers: List[int], num_classes: int = NUM_CLASSES,
                 groups: int = 1, width_per_group: int = 64) -> None:
        super().__init__()
        self.inplanes = 64
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample, self.groups,
                        self.base_width)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ------------------------------------------------------------------ MobileNetV2

class InvertedResidualV2(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = int(round(cin * expand_ratio))
        self.use_res_connect = stride == 1 and cin == cout
        layers: List[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvNormAct(cin, hidden, kernel_size=1, activation_layer=nn.ReLU6))
        layers += [
            ConvNormAct(hidden, hidden, stride=stride, groups=hidden,
                        activation_layer=nn.ReLU6),
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    SETTING = [  # t, c, n, s
        [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
        [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
    ]

    def __init__(self, num_classes: int = NUM_CLASSES, width_mult: float = 1.0,
                 round_nearest: int = 8, dropout: float = 0.2) -> None:
        super().__init__()
        cin = _make_divisible(32 * width_mult, round_nearest)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features: List[nn.Module] = [ConvNormAct(3, cin, stride=2, activation_layer=nn.ReLU6)]
        for t, c, n, s in self.SETTING:
            cout = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(InvertedResidualV2(cin, cout, s if i == 0 else 1, t))
                cin = cout
        features.append(ConvNormAct(cin, self.last_channel, kernel_size=1,
                                    activation_layer=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout),
                                        nn.Linear(self.last_channel, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


# ------------------------------------------------------------------ MobileNetV3

class _V3Conf:
    def __init__(self, cin: int, kernel: int, expanded: int, cout: int, use_se: bool,
                 activation: str, stride: int, dilation: int = 1,
                 width_mult: float = 1.0) -> None:
        self.input_channels = _make_divisible(cin * width_mult, 8)
        self.kernel = kernel
        self.expanded_channels = _make_divisible(expanded * width_mult, 8)
        self.out_channels = _make_divisible(cout * width_mult, 8)
        self.use_se = use_se
        self.use_hs = activation == "HS"
        self.stride = stride
        self.dilation = dilation


class InvertedResidualV3(nn.Module):
    def __init__(self, cnf: _V3Conf, norm_layer: Callable[..., nn.Module]) -> None:
        super().__init__()
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        act = nn.Hardswish if cnf.use_hs else nn.ReLU
        layers: List[nn.Module] = []
        if cnf.expanded_channels != cnf.input_channels:
            layers.append(ConvNormAct(cnf.input_channels, cnf.expanded_channels, kernel_size=1,
                                      norm_layer=norm_layer, activation_layer=act))
        stride = 1 if cnf.dilation > 1 else cnf.stride
        layers.append(ConvNormAct(cnf.expanded_channels, cnf.expanded_channels,
                                  kernel_size=cnf.kernel, stride=stride, dilation=cnf.dilation,
                                  groups=cnf.expanded_channels, norm_layer=norm_layer,
                                  activation_layer=act))
        if cnf.use_se:
            # squeeze width from the EXPANDED channels, rounded to a multiple of 8
            squeeze = _make_divisible(cnf.expanded_channels // 4, 8)
            layers.append(SqueezeExcitation(cnf.expanded_channels, squeeze,
                                            scale_activation=nn.Hardsigmoid))
        layers.append(ConvNormAct(cnf.expanded_channels, cnf.out_channels, kernel_size=1,
                                  norm_layer=norm_layer, activation_layer=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        result = self.block(x)
        if self.use_res_connect:
            result = result + x
        return result


def _v3_setting(arch: str):
    c = _V3Conf
    if arch == "large":
        setting = [
            c(16, 3, 16, 16, False, "RE", 1), c(16, 3, 64, 24, False, "RE", 2),
            c(24, 3, 72, 24, False, "RE", 1), c(24, 5, 72, 40, True, "RE", 2),
            c(40, 5, 120, 40, True, "RE", 1), c(40, 5, 120, 40, True, "RE", 1),
            c(40, 3, 240, 80, False, "HS", 2), c(80, 3, 200, 80, False, "HS", 1),
            c(80, 3, 184, 80, False, "HS", 1), c(80, 3, 184, 80, False, "HS", 1),
            c(80, 3, 480, 112, True, "HS", 1), c(112, 3, 672, 112, True, "HS", 1),
            c(112, 5, 672, 160, True, "HS", 2), c(160, 5, 960, 160, True, "HS", 1),
            c(160, 5, 960, 160, True, "HS", 1),
        ]
        return setting, _make_divisible(1280, 8)
    setting = [
        c(16, 3, 16, 16, True, "RE", 2), c(16, 3, 72, 24, False, "RE", 2),
        c(24, 3, 88, 24, False, "RE", 1), c(24, 5, 96, 40, True, "HS", 2),
        c(40, 5, 240, 40, True, "HS", 1), c(40, 5, 240, 40, True, "HS", 1),
        c(40, 5, 120, 48, True, "HS", 1), c(48, 5, 144, 48, True, "HS", 1),
        c(48, 5, 288, 96, True, "HS", 2), c(96, 5, 576, 96, True, "HS", 1),
        c(96, 5, 576, 96, True, "HS", 1),
    ]
    return setting, _make_divisible(1024, 8)


class MobileNetV3(nn.Module):
    """torchvision.models.mobilenetv3: BN eps=0.001 momentum=0.01, Hardswish stem,
    last 1x1 conv to 6 x last block width, then Linear-Hardswish-Dropout-Linear."""

    def __init__(self, arch: str, num_classes: int = NUM_CLASSES, dropout: float = 0.2) -> None:
        super().__init__()
        setting, last_channel = _v3_setting(arch)
        norm_layer = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        layers: List[nn.Module] = [ConvNormAct(3, setting[0].input_channels, kernel_size=3,
                                               stride=2, norm_layer=norm_layer,
                                               activation_layer=nn.Hardswish)]
        layers += [InvertedResidualV3(cnf, norm_layer) for cnf in setting]
        last_in = setting[-1].out_channels
        last_out = 6 * last_in
        layers.append(ConvNormAct(last_in, last_out, kernel_size=1, norm_layer=norm_layer,
                                  activation_layer=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(last_out, last_channel), nn.Hardswish(inplace=True),
            nn.Dropout(p=dropout, inplace=True), nn.Linear(last_channel, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


# ------------------------------------------------------------------ SqueezeNet

class Fire(nn.Module):
    def __init__(self, cin: int, squeeze: int, e1: int, e3: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, e1, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze, e3, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = self.squeeze_activation(self.squeeze(x))
        return torch.cat([self.expand1x1_activation(self.expand1x1(x)),
                          self.expand3x3_activation(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    """torchvision.models.squeezenet: all max pools 3x3/2 ceil_mode=True, no BN,
    biased convs, classifier Dropout - 1x1 conv to classes - ReLU - global avg pool."""

    def __init__(self, version: str, num_classes: int = NUM_CLASSES, dropout: float = 0.5) -> None:
        super().__init__()
        pool = partial(nn.MaxPool2d, kernel_size=3, stride=2, ceil_mode=True)
        if version == "1_0":
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, kernel_size=7, stride=2), nn.ReLU(inplace=True), pool(),
                Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128), pool(),
                Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256), pool(),
                Fire(512, 64, 256, 256),
            )
        else:
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, kernel_size=3, stride=2), nn.ReLU(inplace=True), pool(),
                Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
                Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(),
                Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256),
                Fire(512, 64, 256, 256),
            )
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Conv2d(512, num_classes, kernel_size=1),
            nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1)),
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.flatten(self.classifier(self.features(x)), 1)


# ------------------------------------------------------------------ GoogLeNet

class BasicConv2d(nn.Module):
    """GoogLeNet / Inception v3 conv: Conv2d(bias=False), BatchNorm2d(eps=0.001), ReLU."""

    def __init__(self, cin: int, cout: int, **kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


class GoogLeNetInception(nn.Module):
    def __init__(self, cin: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(cin, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(cin, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        # torchvision's "5x5" branch is really a 3x3 conv (pytorch/vision#906, kept for
        # weight compatibility)
        self.branch3 = nn.Sequential(BasicConv2d(cin, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(cin, pool_proj, kernel_size=1))

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x),
                          self.branch4(x)], 1)


class GoogLeNetAux(nn.Module):
    def __init__(self, cin: int, num_classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        self.conv = BasicConv2d(cin, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))
        x = F.relu(self.fc1(torch.flatten(x, 1)), inplace=True)
        return self.fc2(self.dropout(x))


class GoogLeNet(nn.Module):
    """torchvision.models.googlenet as published (aux_logits=False,
    transform_input=False): every max pool has ceil_mode=True."""

    def __init__(self, num_classes: int = NUM_CLASSES, aux_logits: bool = False,
                 dropout: float = 0.2, dropout_aux: float = 0.7) -> None:
        super().__init__()
        inc = GoogLeNetInception
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = inc(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = inc(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = inc(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = inc(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = inc(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = inc(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = inc(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = inc(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = inc(832, 384, 192, 384, 48, 128, 128)
        self.aux1 = GoogLeNetAux(512, num_classes, dropout_aux) if aux_logits else None
        self.aux2 = GoogLeNetAux(528, num_classes, dropout_aux) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        # aux heads only run in training mode (and are absent as published)
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(self.dropout(x))


# ------------------------------------------------------------------ Inception v3

class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        # count_include_pad=True (the default)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3(x)
        bd = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, bd, bp], 1)


class InceptionC(nn.Module):
    def __init__(self, cin: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        bd = self.branch7x7dbl_3(self.branch7x7dbl_2(bd))
        bd = self.branch7x7dbl_5(self.branch7x7dbl_4(bd))
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b7, bd, bp], 1)


class InceptionD(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_2(self.branch7x7x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(b7))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class InceptionE(nn.Module):
    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([b1, b3, bd, bp], 1)


class InceptionAux(nn.Module):
    def __init__(self, cin: int, num_classes: int) -> None:
        super().__init__()
        self.conv0 = BasicConv2d(cin, 128, kernel_size=1)
        self.conv1 = BasicConv2d(128, 768, kernel_size=5)
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(self.conv0(F.avg_pool2d(x, kernel_size=5, stride=3)))
        x = F.adaptive_avg_pool2d(x, (1, 1))
        return self.fc(torch.flatten(x, 1))


class Inception3(nn.Module):
    """torchvision.models.inception_v3: unpadded ("valid") stem convs and floor-mode
    3x3/2 max pools, BasicConv2d (bias=False, BN eps=0.001) throughout, AuxLogits
    after Mixed_6e (training only), avg pool - dropout - flatten - fc."""

    def __init__(self, num_classes: int = NUM_CLASSES, aux_logits: bool = True,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.AuxLogits = InceptionAux(768, num_classes) if aux_logits else None
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: Tensor):
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.maxpool1(x)
        x = self.maxpool2(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)))
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))
        x = self.Mixed_6a(x)
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))
        aux = self.AuxLogits(x) if (self.AuxLogits is not None and self.training) else None
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        x = torch.flatten(self.dropout(self.avgpool(x)), 1)
        x = self.fc(x)
        return (x, aux) if aux is not None else x


# ------------------------------------------------------------------ DenseNet

class _DenseLayer(nn.Module):
    """Pre-activation bottleneck: BN-ReLU-1x1 conv (bn_size*k) - BN-ReLU-3x3 conv (k)."""

    def __init__(self, cin: int, growth_rate: int, bn_size: int, drop_rate: float) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, bn_size * growth_rate, kernel_size=1, stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1,
                               padding=1, bias=False)
        self.drop_rate = float(drop_rate)

    def forward(self, features: List[Tensor]) -> Tensor:
        x = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
        x = self.conv2(self.relu2(self.norm2(x)))
        if self.drop_rate > 0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return x


class _DenseBlock(nn.ModuleDict):
    def __init__(self, num_layers: int, cin: int, bn_size: int, growth_rate: int,
                 drop_rate: float) -> None:
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}",
                            _DenseLayer(cin + i * growth_rate, growth_rate, bn_size, drop_rate))

    def forward(self, x: Tensor) -> Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.add_module("norm", nn.BatchNorm2d(cin))
        self.add_module("relu", nn.ReLU(inplace=True))
        self.add_module("conv", nn.Conv2d(cin, cout, kernel_size=1, stride=1, bias=False))
        self.add_module("pool", nn.AvgPool2d(kernel_size=2, stride=2))


class DenseNet(nn.Module):
    """torchvision.models.densenet (DenseNet-BC): 7x7/2 conv, BN, ReLU, 3x3/2 pad-1 max
    pool; dense blocks; transitions halve channels (floor) and 2x2/2 avg pool; final
    norm5 + ReLU, global avg pool, Linear."""

    def __init__(self, growth_rate: int = 32, block_config=(6, 12, 24, 16),
                 num_init_features: int = 64, bn_size: int = 4, drop_rate: float = 0,
                 num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3,
                                bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        c = num_init_features
        for i, n in enumerate(block_config):
            self.features.add_module(f"denseblock{i + 1}",
                                     _DenseBlock(n, c, bn_size, growth_rate, drop_rate))
            c += n * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", _Transition(c, c // 2))
                c //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.features(x), inplace=True)
        out = torch.flatten(F.adaptive_avg_pool2d(out, (1, 1)), 1)
        return self.classifier(out)


# ------------------------------------------------------------------ EfficientNet

class MBConv(nn.Module):
    """torchvision.models.efficientnet.MBConv: expand 1x1 (skipped when the ratio is 1),
    depthwise kxk, SE with squeeze = max(1, INPUT channels // 4) and SiLU/Sigmoid,
    project 1x1 without activation; residual (with stochastic depth) when shapes match."""

    def __init__(self, expand_ratio: float, kernel: int, stride: int, cin: int, cout: int,
                 sd_prob: float, norm_layer: Callable[..., nn.Module]) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and cin == cout
        expanded = _make_divisible(cin * expand_ratio, 8)
        layers: List[nn.Module] = []
        if expanded != cin:
            layers.append(ConvNormAct(cin, expanded, kernel_size=1, norm_layer=norm_layer,
                                      activation_layer=nn.SiLU))
        layers.append(ConvNormAct(expanded, expanded, kernel_size=kernel, stride=stride,
                                  groups=expanded, norm_layer=norm_layer,
                                  activation_layer=nn.SiLU))
        layers.append(SqueezeExcitation(expanded, max(1, cin // 4),
                                        activation=partial(nn.SiLU, inplace=True)))
        layers.append(ConvNormAct(expanded, cout, kernel_size=1, norm_layer=norm_layer,
                                  activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(sd_prob)

    def forward(self, x: Tensor) -> Tensor:
        result = self.block(x)
        if self.use_res_connect:
            result = self.stochastic_depth(result) + x
        return result


class EfficientNet(nn.Module):
    """torchvision.models.efficientnet_b0..b7 (V1 only): stem 3x3/2 conv-BN-SiLU, seven
    MBConv stages, 1x1 conv to 4 x 320 (scaled), global avg pool, Dropout, Linear."""

    # expand_ratio, kernel, stride, in, out, layers  (Table 1 of the EfficientNet paper)
    STAGES = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2),
              (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4),
              (6, 3, 1, 192, 320, 1)]

    def __init__(self, width_mult: float = 1.0, depth_mult: float = 1.0, dropout: float = 0.2,
                 stochastic_depth_prob: float = 0.2, num_classes: int = NUM_CLASSES,
                 norm_layer: Callable[..., nn.Module] = nn.BatchNorm2d) -> None:
        super().__init__()
        conf = [(t, k, s, _make_divisible(i * width_mult, 8), _make_divisible(o * width_mult, 8),
                 int(math.ceil(n * depth_mult))) for t, k, s, i, o, n in self.STAGES]
        layers: List[nn.Module] = [ConvNormAct(3, conf[0][3], kernel_size=3, stride=2,
                                               norm_layer=norm_layer, activation_layer=nn.SiLU)]
        total = sum(c[5] for c in conf)
        block_id = 0
        for t, k, s, cin, cout, n in conf:
            stage: List[nn.Module] = []
            for j in range(n):
                sd = stochastic_depth_prob * float(block_id) / total
                stage.append(MBConv(t, k, s if j == 0 else 1, cin if j == 0 else cout, cout,
                                    sd, norm_layer))
                block_id += 1
            layers.append(nn.Sequential(*stage))
        last_in = conf[-1][4]
        last_out = 4 * last_in
        layers.append(ConvNormAct(last_in, last_out, kernel_size=1, norm_layer=norm_layer,
                                  activation_layer=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True),
                                        nn.Linear(last_out, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


# ------------------------------------------------------------------ RegNet

def _regnet_block_params(depth: int, w_0: int, w_a: float, w_m: float, group_width: int,
                         bottleneck_multiplier: float = 1.0):
    """torchvision.models.regnet.BlockParams.from_init_params: quantised linear widths
    (computed in float32 torch ops exactly as torchvision does, on the CPU), grouped into
    stages of equal width, then widths/groups made compatible. Returns per-stage
    (width_out, depth, group_width, bottleneck_multiplier); every stage has stride 2."""
    quant = 8
    if w_a < 0 or w_0 <= 0 or w_m <= 1 or w_0 % 8 != 0:
        raise ValueError("Invalid RegNet settings")
    widths_cont = torch.arange(depth, device="cpu") * w_a + w_0
    block_capacity = torch.round(torch.log(widths_cont / w_0) / math.log(w_m))
    block_widths = (torch.round(torch.divide(w_0 * torch.pow(w_m, block_capacity), quant))
                    * quant).int().tolist()
    splits = [w != wp or r != rp for w, wp, r, rp in zip(
        block_widths + [0], [0] + block_widths, block_widths + [0], [0] + block_widths)]
    stage_widths = [w for w, t in zip(block_widths, splits[:-1]) if t]
    stage_depths = torch.diff(torch.tensor([d for d, t in enumerate(splits) if t],
                                           device="cpu")).int().tolist()
    n = len(stage_widths)
    bms = [bottleneck_multiplier] * n
    # _adjust_widths_groups_compatibilty
    ws_bot = [int(w * b) for w, b in zip(stage_widths, bms)]
    gws = [min(group_width, wb) for wb in ws_bot]
    ws_bot = [_make_divisible(wb, g) for wb, g in zip(ws_bot, gws)]
    stage_widths = [int(wb / b) for wb, b in zip(ws_bot, bms)]
    return list(zip(stage_widths, stage_depths, gws, bms))


class RegNetBlock(nn.Module):
    """torchvision.models.regnet.ResBottleneckBlock: f = a (1x1 conv-BN-ReLU to
    w_b = round(width_out * bottleneck_multiplier)), b (3x3/stride grouped conv-BN-ReLU,
    groups = w_b // group_width), optional SE (squeeze = round(se_ratio * width_IN), ReLU,
    Sigmoid), c (1x1 conv-BN, no activation); projection shortcut (1x1/stride conv + BN)
    when width or stride changes; ReLU after the sum."""

    def __init__(self, cin: int, cout: int, stride: int, group_width: int,
                 bottleneck_multiplier: float, se_ratio: Optional[float]) -> None:
        super().__init__()
        self.proj = None
        if cin != cout or stride != 1:
            self.proj = ConvNormAct(cin, cout, kernel_size=1, stride=stride,
                                    activation_layer=None)
        w_b = int(round(cout * bottleneck_multiplier))
        g = w_b // group_width
        layers: "OrderedDict[str, nn.Module]" = OrderedDict()
        layers["a"] = ConvNormAct(cin, w_b, kernel_size=1)
        layers["b"] = ConvNormAct(w_b, w_b, kernel_size=3, stride=stride, groups=g)
        if se_ratio:
            layers["se"] = SqueezeExcitation(w_b, int(round(se_ratio * cin)),
                                             activation=nn.ReLU)
        layers["c"] = ConvNormAct(w_b, cout, kernel_size=1, activation_layer=None)
        self.f = nn.Sequential(layers)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        x = (self.proj(x) if self.proj is not None else x) + self.f(x)
        return self.activation(x)


class RegNet(nn.Module):
    """torchvision.models.regnet.RegNet: stem 3x3/2 conv(3->32)-BN-ReLU, stages of
    RegNetBlock (stride 2 on each stage's first block), AdaptiveAvgPool2d(1), Linear.
    BatchNorm eps 1e-5."""

    def __init__(self, depth: int, w_0: int, w_a: float, w_m: float, group_width: int,
                 se_ratio: Optional[float] = None, num_classes: int = NUM_CLASSES,
                 stem_width: int = 32) -> None:
        super().__init__()
        self.stem = ConvNormAct(3, stem_width, kernel_size=3, stride=2)
        self.stage_params = _regnet_block_params(depth, w_0, w_a, w_m, group_width)
        c = stem_width
        stages = []
        for i, (cout, n, gw, bm) in enumerate(self.stage_params):
            stages.append((f"block{i + 1}", nn.Sequential(*[
                RegNetBlock(c if j == 0 else cout, cout, 2 if j == 0 else 1, gw, bm, se_ratio)
                for j in range(n)])))
            c = cout
        self.trunk_output = nn.Sequential(OrderedDict(stages))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.trunk_output(self.stem(x)))
        return self.fc(x.flatten(start_dim=1))


# ------------------------------------------------------------------ MNASNet

class MNASNetBlock(nn.Module):
    """torchvision.models.mnasnet._InvertedResidual: 1x1 expand-BN-ReLU, kxk/stride
    depthwise (pad k//2)-BN-ReLU, 1x1 project-BN; residual when cin == cout and stride 1."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expansion: int) -> None:
        super().__init__()
        mid = cin * expansion
        self.apply_residual = cin == cout and stride == 1
        self.layers = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, kernel, padding=kernel // 2, stride=stride, groups=mid,
                      bias=False),
            nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
            nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x) + x if self.apply_residual else self.layers(x)


def _mnasnet_round(val: float, divisor: int = 8, round_up_bias: float = 0.9) -> int:
    new_val = max(divisor, int(val + divisor / 2) // divisor * divisor)
    return new_val if new_val >= round_up_bias * val else new_val + divisor


class MNASNet(nn.Module):
    """torchvision.models.mnasnet.MNASNet (B1, version 2): 3x3/2 conv-BN-ReLU, 3x3
    depthwise conv-BN-ReLU, 1x1 conv-BN (no activation), six stacks of MNASNetBlock,
    1x1 conv to 1280-BN-ReLU, mean over H and W, Dropout, Linear. BN momentum 0.0003
    (eps 1e-5)."""

    # in_idx -> out depth index, kernel, stride, expansion, repeats
    STACKS = [(3, 2, 3, 3), (5, 2, 3, 3), (5, 2, 6, 3), (3, 1, 6, 2), (5, 2, 6, 4),
              (3, 1, 6, 1)]

    def __init__(self, alpha: float = 1.0, num_classes: int = NUM_CLASSES,
                 dropout: float = 0.2) -> None:
        super().__init__()
        d = [_mnasnet_round(v * alpha) for v in (32, 16, 24, 40, 80, 96, 192, 320)]
        bn = partial(nn.BatchNorm2d, momentum=1 - 0.9997)
        layers: List[nn.Module] = [
            nn.Conv2d(3, d[0], 3, padding=1, stride=2, bias=False), bn(d[0]),
            nn.ReLU(inplace=True),
            nn.Conv2d(d[0], d[0], 3, padding=1, stride=1, groups=d[0], bias=False), bn(d[0]),
            nn.ReLU(inplace=True),
            nn.Conv2d(d[0], d[1], 1, bias=False), bn(d[1]),
        ]
        for i, (k, s, t, n) in enumerate(self.STACKS):
            cin, cout = d[i + 1], d[i + 2]
            layers.append(nn.Sequential(*[
                MNASNetBlock(cin if j == 0 else cout, cout, k, s if j == 0 else 1, t)
                for j in range(n)]))
        layers += [nn.Conv2d(d[7], 1280, 1, bias=False), bn(1280), nn.ReLU(inplace=True)]
        self.layers = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True),
                                        nn.Linear(1280, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.layers(x).mean([2, 3]))


# ------------------------------------------------------------------ ConvNeXt

class LayerNorm2d(nn.LayerNorm):
    """torchvision.models.convnext.LayerNorm2d: LayerNorm over C of an NCHW tensor
    (permute to NHWC, F.layer_norm, permute back)."""

    def forward(self, x: Tensor) -> Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Permute(nn.Module):
    """torchvision.ops.misc.Permute."""

    def __init__(self, dims: List[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        return torch.permute(x, self.dims)


class CNBlock(nn.Module):
    """torchvision.models.convnext.CNBlock: 7x7 depthwise conv (pad 3, bias), permute to
    NHWC, LayerNorm(eps 1e-6), Linear(C, 4C), GELU (exact), Linear(4C, C), permute back,
    times layer_scale (a (C, 1, 1) parameter), stochastic depth, plus the input."""

    def __init__(self, dim: int, layer_scale: float, sd_prob: float) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim, bias=True),
            Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim, bias=True),
            nn.GELU(),
            nn.Linear(4 * dim, dim, bias=True),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(sd_prob)

    def forward(self, x: Tensor) -> Tensor:
        result = self.stochastic_depth(self.layer_scale * self.block(x))
        result += x
        return result


class ConvNeXt(nn.Module):
    """torchvision.models.convnext.ConvNeXt: stem 4x4/4 conv (pad 0, bias) + LayerNorm2d,
    stages of CNBlock, each stage but the last followed by LayerNorm2d + 2x2/2 conv
    (bias) downsampling; AdaptiveAvgPool2d(1), LayerNorm2d, Flatten, Linear."""

    def __init__(self, block_setting=((96, 192, 3), (192, 384, 3), (384, 768, 9),
                                      (768, None, 3)),
                 stochastic_depth_prob: float = 0.1, layer_scale: float = 1e-6,
                 num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        norm = partial(LayerNorm2d, eps=1e-6)
        c0 = block_setting[0][0]
        layers: List[nn.Module] = [nn.Sequential(
            nn.Conv2d(3, c0, kernel_size=4, stride=4, padding=0, bias=True), norm(c0))]
        total = sum(n for _, _, n in block_setting)
        block_id = 0
        for cin, cout, n in block_setting:
            stage = []
            for _ in range(n):
                sd = stochastic_depth_prob * block_id / (total - 1.0)
                stage.append(CNBlock(cin, layer_scale, sd))
                block_id += 1
            layers.append(nn.Sequential(*stage))
            if cout is not None:
                layers.append(nn.Sequential(norm(cin),
                                            nn.Conv2d(cin, cout, kernel_size=2, stride=2)))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        last = block_setting[-1][1] or block_setting[-1][0]
        self.classifier = nn.Sequential(norm(last), nn.Flatten(1), nn.Linear(last, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.avgpool(self.features(x)))


# ------------------------------------------------------------------ registry

MODELS: Dict[str, Callable[[], nn.Module]] = {
    "alexnet": AlexNet,
    "vgg11": partial(VGG, "A", False),
    "vgg13": partial(VGG, "B", False),
    "vgg16": partial(VGG, "D", False),
    "vgg19": partial(VGG, "E", False),
    "vgg11_bn": partial(VGG, "A", True),
    "vgg13_bn": partial(VGG, "B", True),
    "vgg16_bn": partial(VGG, "D", True),
    "vgg19_bn": partial(VGG, "E", True),
    "resnet18": partial(ResNet, BasicBlock, [2, 2, 2, 2]),
    "resnet34": partial(ResNet, BasicBlock, [3, 4, 6, 3]),
    "resnet50": partial(ResNet, Bottleneck, [3, 4, 6, 3]),
    "resnet101": partial(ResNet, Bottleneck, [3, 4, 23, 3]),
    "resnet152": partial(ResNet, Bottleneck, [3, 8, 36, 3]),
    "resnext50_32x4d": partial(ResNet, Bottleneck, [3, 4, 6, 3], groups=32, width_per_group=4),
    "wide_resnet50_2": partial(ResNet, Bottleneck, [3, 4, 6, 3], width_per_group=64 * 2),
    "mobilenet_v2": MobileNetV2,
    "squeezenet1_0": partial(SqueezeNet, "1_0"),
    "squeezenet1_1": partial(SqueezeNet, "1_1"),
    "googlenet": partial(GoogLeNet, aux_logits=False),
    "inception_v3": partial(Inception3, aux_logits=True),
    "inception_v3_noaux": partial(Inception3, aux_logits=False),
    "densenet121": partial(DenseNet, 32, (6, 12, 24, 16), 64),
    "mobilenet_v3_small": partial(MobileNetV3, "small"),
    "mobilenet_v3_large": partial(MobileNetV3, "large"),
    "efficientnet_b0": partial(EfficientNet, 1.0, 1.0, 0.2),
    "regnet_x_400mf": partial(RegNet, 22, 24, 24.48, 2.54, 16),
    "regnet_y_400mf": partial(RegNet, 16, 48, 27.89, 2.09, 8, 0.25),
    "mnasnet1_0": partial(MNASNet, 1.0),
    "convnext_tiny": ConvNeXt,
}

# torchvision's published "num_params" for the ImageNet-1K weights.
PUBLISHED_PARAMS: Dict[str, int] = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544, "vgg19": 143_667_240,
    "vgg11_bn": 132_868_840, "vgg13_bn": 133_053_736, "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248,
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet101": 44_549_160, "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904, "wide_resnet50_2": 68_883_240,
    "mobilenet_v2": 3_504_872,
    "squeezenet1_0": 1_248_424, "squeezenet1_1": 1_235_496,
    "googlenet": 6_624_904,
    "inception_v3": 27_161_264,
    "densenet121": 7_978_856,
    "mobilenet_v3_small": 2_542_856, "mobilenet_v3_large": 5_483_032,
    "efficientnet_b0": 5_288_548,
    "regnet_x_400mf": 5_495_976, "regnet_y_400mf": 4_344_144,
    "mnasnet1_0": 4_383_312, "convnext_tiny": 28_589_128,
}

# torchvision's published "GFLOPS" (its "_ops": conv + linear multiply-accumulates at
# the weights' evaluation size, 224x224 here except inception_v3's 299x299 -- see
# PUBLISHED_GMACS_SIZE). Informative only; printed beside the measured value.
PUBLISHED_GMACS: Dict[str, float] = {
    "alexnet": 0.71, "vgg16": 15.47, "resnet18": 1.81, "resnet50": 4.09, "resnet152": 11.51,
    "mobilenet_v2": 0.30, "squeezenet1_0": 0.82, "squeezenet1_1": 0.35, "googlenet": 1.50,
    "inception_v3": 5.71, "densenet121": 2.83, "mobilenet_v3_large": 0.22,
    "mobilenet_v3_small": 0.06, "efficientnet_b0": 0.39, "resnext50_32x4d": 4.23,
    "wide_resnet50_2": 11.40, "regnet_x_400mf": 0.41, "regnet_y_400mf": 0.40,
    "mnasnet1_0": 0.31, "convnext_tiny": 4.46,
}
PUBLISHED_GMACS_SIZE: Dict[str, tuple] = {"inception_v3": (299, 299)}


def build(name: str, device: str = "meta") -> nn.Module:
    """The model ``name`` built on ``device`` in eval mode."""
    with torch.device(device):
        model = MODELS[name]()
    return model.eval()


def static_counts(model: nn.Module) -> Dict[str, int]:
    """Parameters, buffers (num_batches_tracked excluded) and BatchNorm layers."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "buffers": sum(b.numel() for n, b in model.named_buffers()
                       if not n.endswith("num_batches_tracked")),
        "bn_layers": len(bns),
        "bn_params": sum(p.numel() for m in bns for p in m.parameters()),
        "conv_linear_bias_params": sum(
            m.bias.numel() for m in model.modules()
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None),
    }


_LINEAR_OPS = {"mm", "addmm", "bmm", "baddbmm", "matmul"}


def _run(model: nn.Module, h: int, w: int, device: str) -> Dict:
    x = torch.zeros(1, 3, h, w, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(x)
    flops = counter.get_total_flops()
    assert flops % 2 == 0, f"odd FLOP count {flops}"
    conv = linear = 0
    for op, n in counter.get_flop_counts().get("Global", {}).items():
        base = str(op).split(".")[1]  # "aten.convolution" -> "convolution"
        if "conv" in base:
            conv += n
        elif base in _LINEAR_OPS:
            linear += n
        else:
            raise AssertionError(f"unexpected counted op {op}")
    assert conv + linear == flops
    return {"macs": flops // 2, "macs_conv": conv // 2, "macs_linear": linear // 2,
            "output": list(out.shape)}


def measure(name: str, h: int, w: int) -> Dict:
    """MACs and output shape of ``name`` on a 1x3xHxW input, in eval mode: run on the
    meta device, falling back to the CPU; ``{"error": ...}`` if neither works."""
    errors = []
    for device in ("meta", "cpu"):
        try:
            result = _run(build(name, device), h, w, device)
            if device != "meta":
                result["device"] = device
            return result
        except (RuntimeError, ValueError, IndexError, NotImplementedError) as exc:
            errors.append(f"{device}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    return {"error": "; ".join(errors)}


def reference(sizes=SIZES) -> Dict:
    """The whole reference table (what is written to the JSON file)."""
    models = {}
    for name in MODELS:
        counts = static_counts(build(name))
        if name in PUBLISHED_PARAMS:
            assert counts["params"] == PUBLISHED_PARAMS[name], (
                f"{name}: {counts['params']:,} params, torchvision publishes "
                f"{PUBLISHED_PARAMS[name]:,} (diff {counts['params'] - PUBLISHED_PARAMS[name]:+,})")
        models[name] = {**counts,
                        "by_size": {f"{h}x{w}": measure(name, h, w) for h, w in sizes}}
    return {"torch_version": torch.__version__, "sizes": [list(s) for s in sizes],
            "models": models}


def dumps(data: Dict) -> str:
    """JSON with one key per line but short lists of numbers kept on one line."""
    text = json.dumps(data, indent=1)
    return re.sub(r"\[\s*([-\d.,\s]*?)\s*\]",
                  lambda m: "[" + ", ".join(m.group(1).replace(",", " ").split()) + "]",
                  text) + "\n"


def cpu_check(names=None, sizes=SIZES) -> None:
    """Re-measure on the CPU (real kernels, real tensors) and require the meta-device
    numbers to agree exactly; skips the VGGs and AlexNet unless named."""
    names = names or [n for n in MODELS if not n.startswith(("vgg", "alexnet"))]
    for name in names:
        for h, w in sizes:
            meta = _run(build(name, "meta"), h, w, "meta")
            cpu = _run(build(name, "cpu"), h, w, "cpu")
            assert meta == cpu, (name, h, w, meta, cpu)
        print(f"cpu check ok: {name}")


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--cpu-check" in argv:
        cpu_check([a for a in argv if not a.startswith("--")])
        return 0
    t0 = time.perf_counter()
    data = reference()
    OUT_PATH.parent.mkdir(parents=True, exist_ok=True)
    OUT_PATH.write_text(dumps(data))
    print(f"{'model':<20} {'params':>13} {'published':>13} {'GMACs@224':>10} "
          f"{'published':>9}  notes")
    for name, m in data["models"].items():
        r224 = m["by_size"]["224x224"]
        gmacs = f"{r224['macs'] / 1e9:.3f}" if "macs" in r224 else "error"
        pub_p = PUBLISHED_PARAMS.get(name)
        pub_g = PUBLISHED_GMACS.get(name)
        note = ""
        if name in PUBLISHED_GMACS_SIZE:
            h, w = PUBLISHED_GMACS_SIZE[name]
            with torch.no_grad():
                r = measure(name, h, w)
            note = f"{r['macs'] / 1e9:.3f} GMACs at {h}x{w}"
        pub_p = "" if pub_p is None else f"{pub_p:,}"
        pub_g = "" if pub_g is None else f"{pub_g:.2f}"
        print(f"{name:<20} {m['params']:>13,} {pub_p:>13} {gmacs:>10} {pub_g:>9}  {note}")
    print(f"wrote {OUT_PATH} in {time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
