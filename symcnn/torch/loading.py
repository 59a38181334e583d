"""``MODULE:CALLABLE`` → a torch module, for the CLI (``symcnn import``, ``--against``).

``torchvision.models:resnet50`` imports ``torchvision.models`` (with the current directory
on the path, so ``mypkg.models:Net`` finds the user's own package) and calls ``resnet50``
with the keyword arguments given as JSON (``--kwargs '{"width": 64}'``): JSON is data, never
code; nothing the user typed is evaluated. The model is built on the meta device (no
weights allocated); a constructor that cannot run there (RegNet computes widths with
tensors) is built on the CPU and moved to meta.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys

import torch
from torch import nn

from ..errors import SymCNNError

__all__ = ["SPEC", "is_spec", "load"]

SPEC = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
                  r":([A-Za-z_][A-Za-z0-9_]*)")


def is_spec(text: str) -> bool:
    """Whether ``text`` reads as MODULE:CALLABLE (and so is no notation)."""
    return SPEC.fullmatch(text.strip()) is not None


def _kwargs(text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise SymCNNError(f"--kwargs is not JSON ({e.msg} at column {e.colno}): "
                          f"{text[:60]!r}") from None
    if not isinstance(value, dict):
        raise SymCNNError(f"--kwargs must be a JSON object such as '{{\"width\": 64}}', "
                          f"not {type(value).__name__}")
    return value


def load(spec: str, kwargs: str | None = None) -> nn.Module:
    """The module ``spec`` (MODULE:CALLABLE) builds with ``kwargs`` (JSON), on meta."""
    m = SPEC.fullmatch(spec.strip())
    if m is None:
        raise SymCNNError(f"{spec[:80]!r} is not MODULE:CALLABLE, e.g. "
                          "torchvision.models:resnet50")
    module_name, attr = m.groups()
    args = _kwargs(kwargs)
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        mod = importlib.import_module(module_name)
    except ImportError as e:
        raise SymCNNError(f"cannot import {module_name}: {e}") from None
    factory = getattr(mod, attr, None)
    if not callable(factory):
        raise SymCNNError(f"{module_name} has no callable {attr}")
    model = _build(factory, args, spec)
    if not isinstance(model, nn.Module):
        raise SymCNNError(f"{spec} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _build(factory, args: dict, spec: str):
    try:
        with torch.device("meta"):
            return factory(**args)
    except TypeError as e:
        raise SymCNNError(f"{spec}: {e}") from None
    except Exception as meta_error:  # a constructor that computes with tensors
        try:
            return factory(**args).to("meta")
        except TypeError as e:
            raise SymCNNError(f"{spec}: {e}") from None
        except Exception as e:
            raise SymCNNError(f"{spec} fails to build: {type(e).__name__}: {e} (on the "
                              f"meta device: {type(meta_error).__name__})") from None
