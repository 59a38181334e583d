"""Built-in networks: notation files shipped in ``symcnn/zoo/``, one per model."""

from __future__ import annotations

import functools
from pathlib import Path

from .layers import Network
from .notation import parse

__all__ = ["names", "load", "source"]

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
