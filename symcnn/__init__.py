"""symcnn: exact, symbolic cost of convolutional networks from a compact notation.

    >>> import symcnn
    >>> report = symcnn.analyze("conv3-64x2 pool conv3-128x2 pool fc10", "32x32x3")
    >>> report.totals["params"]
    342090

Data flow, one module per stage: ``notation`` (text → layers) → ``shapes`` (layers →
rows, on numbers or symbols) → ``report`` (rows → totals and formulas) → ``formatting``
and ``export`` (report → table, JSON) → ``cli``.
"""

from .errors import NotationError, ShapeError, SymCNNError, UnmappedError
from .layers import InputSpec, Network
from .notation import parse
from .report import Report, analyze
from .zoo import names as zoo_names

__version__ = "0.1.0"
__all__ = ["parse", "analyze", "Network", "InputSpec", "Report", "SymCNNError",
           "NotationError", "ShapeError", "UnmappedError", "zoo_names", "__version__"]
