"""symcnn → PyTorch: build a network as real ``torch.nn`` modules and check symcnn's counts.

    >>> import symcnn.torch
    >>> model = symcnn.torch.to_torch("vgg16", "224x224x3")          # a torch.nn.Module
    >>> result = symcnn.torch.verify("vgg16", "224x224x3")
    >>> result.ok, result.totals["macs"]
    (True, (15470264320, 15470264320, True))
    >>> print(symcnn.torch.format_table(result))                     # doctest: +SKIP

This is the only package of symcnn that imports torch; ``import symcnn`` never does (it is
imported explicitly, as ``symcnn.torch``). torch is an optional dependency
(``pip install torch``). One module per job: :mod:`.building` (notation → ``torch.nn``),
:mod:`.verifying` (symcnn against a forward pass), and the import of a torch module as
notation: :mod:`.tracing` (fx trace → ops) → :mod:`.structure` (forks and joins →
branches) → :mod:`.emitting` (defs, repeats, layout) → :mod:`.importing` (``from_torch``
and its self-check).
"""

from __future__ import annotations

try:
    import torch  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(f"symcnn.torch needs PyTorch (pip install torch): {e}") from e

from .building import (MAX_MODULES, AuxHead, FullyConnected, Merge, Net, Parallel,
                    SqueezeExcitation, to_torch)
from .importing import ImportCheckError, from_torch
from .verifying import VerifyResult, VerifyRow, format_table, verify

__all__ = ["to_torch", "from_torch", "verify", "format_table", "VerifyResult", "VerifyRow",
           "ImportCheckError", "MAX_MODULES",
           "Net", "Merge", "Parallel", "AuxHead", "FullyConnected", "SqueezeExcitation"]
