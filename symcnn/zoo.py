"""Built-in networks: notation files shipped in ``symcnn/zoo/``, one per model."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from .layers import Network
from .notation import parse

__all__ = ["names", "load", "source", "describe", "family", "native_size"]

_DIR = Path(__file__).resolve().parent / "zoo"


@functools.lru_cache(maxsize=None)
def names() -> tuple[str, ...]:
    """Names of the built-in networks, sorted."""
    return tuple(sorted(p.stem for p in _DIR.glob("*.cnn")))


def source(name: str) -> str:
    """The notation text of a built-in network."""
    if name not in names():
        raise KeyError(name)
    return (_DIR / f"{name}.cnn").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=None)
def load(name: str) -> Network:
    """The parsed built-in network ``name`` (see :func:`names`)."""
    return parse(source(name))


def describe(name: str) -> str:
    """The file's one-line description: what its first comment says after the name, without
    the parameter count (``torchvision.models.resnet50 (Bottleneck, layers [3, 4, 6, 3])``)."""
    first = source(name).split("\n", 1)[0].lstrip("# ").strip()
    text = first.split(":", 1)[1].strip() if first.startswith(f"{name}:") else first
    text = re.split(r";|:|,? [0-9][0-9,]*( params)?\.?$", text)[0].rstrip(", ")
    return text + ")" * (text.count("(") - text.count(")"))


def family(name: str) -> str:
    """The model family: ``resnet`` for resnet50, ``wide_resnet``, ``mobilenet_v3``,
    ``deeplabv3``, …"""
    return re.match(r"(?:wide_)?(?:deeplabv3|[a-z]+)(?:_v[0-9])?", name).group(0)


# The input side a model is published at, where it is not 224: torchvision's weights'
# crop size (segmentation: resize size), the CIFAR ResNets' 32, U-Net's 572.
_NATIVE = {"efficientnet_b1": 240, "efficientnet_b2": 288, "efficientnet_b3": 300,
           "efficientnet_b4": 380, "efficientnet_b5": 456, "efficientnet_b6": 528,
           "efficientnet_b7": 600, "efficientnet_v2_s": 384, "efficientnet_v2_m": 480,
           "efficientnet_v2_l": 480, "regnet_y_128gf": 384, "unet": 572}
_NATIVE_PREFIX = (("cifar_", 32), ("inception", 299), ("fcn_", 520), ("deeplabv3_", 520),
                  ("lraspp_", 520))


def native_size(name: str) -> int:
    """The input side the model is published at (224 unless _NATIVE says otherwise)."""
    if name in _NATIVE:
        return _NATIVE[name]
    return next((side for prefix, side in _NATIVE_PREFIX if name.startswith(prefix)), 224)
