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
    """The model family: ``resnet`` for resnet50, ``wide_resnet``, ``mobilenet_v3``, …"""
    return re.match(r"(?:wide_)?[a-z]+(?:_v[0-9])?", name).group(0)


def native_size(name: str) -> int:
    """The input side the model is published at (Inception-v3: 299, the CIFAR ResNets: 32,
    the others 224)."""
    if name.startswith("cifar_"):
        return 32
    return 299 if name.startswith("inception") else 224
