"""symcnn: exact, symbolic cost of convolutional networks from a compact notation."""
from .errors import NotationError, ShapeError, SymCNNError
from .layers import Network
from .notation import parse

__version__ = "0.1.0"
__all__ = ["parse", "Network", "SymCNNError", "NotationError", "ShapeError", "__version__"]
