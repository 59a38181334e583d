"""Layer records: what the notation says, one frozen dataclass per kind of layer.

``str()`` of every record is its canonical notation token, so ``parse(str(net)) == net``.
Positions (``line``, ``column``) are kept for error messages and ignored by ``==``.
Conventions: kernels, strides and paddings are (height, width) pairs; a convolution has
bias; a pool's stride defaults to its kernel; sizes follow PyTorch's floor mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

__all__ = ["Conv", "Pool", "AdaptiveAvgPool", "FC", "Elementwise", "Repeat", "InputSpec",
           "Network", "Layer", "Item", "ELEMENTWISE_KINDS"]

Pair = tuple[int, int]
ELEMENTWISE_KINDS = ("relu", "dropout", "softmax", "lrn")


def _pos() -> int:
    return field(default=0, compare=False, repr=False)


def _pair(p: Pair) -> str:
    return str(p[0]) if p[0] == p[1] else f"{p[0]}x{p[1]}"


@dataclass(frozen=True)
class Conv:
    """2-D convolution with bias. Default padding is ⌊K/2⌋ per axis ("same" for odd K)."""
    kernel: Pair
    filters: int
    stride: Pair = (1, 1)
    padding: Pair | None = None
    line: int = _pos()
    column: int = _pos()

    @property
    def pad(self) -> Pair:
        return self.padding if self.padding is not None else (self.kernel[0] // 2,
                                                              self.kernel[1] // 2)

    def __str__(self) -> str:
        s = f"conv{_pair(self.kernel)}-{self.filters}"
        if self.stride != (1, 1):
            s += f"/{self.stride[0]}"
        if self.padding is not None:
            s += f"p{self.padding[0]}"
        return s


@dataclass(frozen=True)
class Pool:
    """Max or average pooling, floor mode; stride defaults to the kernel, padding to 0."""
    op: str  # "max" or "avg"
    kernel: Pair = (2, 2)
    stride: Pair | None = None
    padding: Pair = (0, 0)
    line: int = _pos()
    column: int = _pos()

    @property
    def step(self) -> Pair:
        return self.stride if self.stride is not None else self.kernel

    def __str__(self) -> str:
        s = ("pool" if self.op == "max" else "avgpool") + _pair(self.kernel)
        if self.stride is not None:
            s += f"/{self.stride[0]}"
        if self.padding != (0, 0):
            s += f"p{self.padding[0]}"
        return s


@dataclass(frozen=True)
class AdaptiveAvgPool:
    """Average pool to a fixed output size, whatever the input size."""
    output: Pair
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        return f"adaptiveavgpool{_pair(self.output)}"


@dataclass(frozen=True)
class FC:
    """Flatten, then fully connected: weights = inputs·units, one bias per unit; the output
    is 1×1×units, as CS231n writes it."""
    units: int
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        return f"fc{self.units}"


@dataclass(frozen=True)
class Elementwise:
    """A shape-preserving layer without parameters: relu, dropout, softmax, lrn."""
    kind: str
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        return self.kind


Layer = Union[Conv, Pool, AdaptiveAvgPool, FC, Elementwise]


@dataclass(frozen=True)
class Repeat:
    """``body`` applied ``count`` times in sequence."""
    body: tuple["Item", ...]
    count: int
    line: int = _pos()
    column: int = _pos()

    def __str__(self) -> str:
        if len(self.body) == 1 and not isinstance(self.body[0], (Repeat, Pool)):
            return f"{self.body[0]}x{self.count}"
        return f"({' '.join(map(str, self.body))})x{self.count}"


Item = Union[Layer, Repeat]


@dataclass(frozen=True)
class InputSpec:
    """Input height, width, channels: each a positive int or a one-letter symbol name."""
    height: int | str
    width: int | str
    channels: int | str

    def __str__(self) -> str:
        return f"{self.height}x{self.width}x{self.channels}"

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d for d in (self.height, self.width, self.channels)
                                   if isinstance(d, str)))


@dataclass(frozen=True)
class Network:
    """A parsed network: an optional input line and the items in order."""
    items: tuple[Item, ...]
    input: InputSpec | None = None

    def __str__(self) -> str:
        body = " ".join(map(str, self.items))
        return f"input {self.input}\n{body}" if self.input is not None else body
