"""The command line: ``symcnn NET [--input HxWxC] [--format table|json] …``.

NET is a zoo name (``symcnn --list``), a path to a notation file, or notation text.
Errors in what the user typed print one message to stderr and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]

MAX_FILE_BYTES = 10_000_000


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="symcnn",
        description="Exact, symbolic parameter, activation and MAC counts of a CNN "
                    "written in symcnn notation (e.g. 'conv3-64x2 pool fc10').")
    p.add_argument("net", nargs="?", help="a zoo name (see --list), a notation file, or "
                   "notation text such as 'conv3-64x2 pool fc10'")
    p.add_argument("--input", "-i", metavar="HxWxC", help="input size, e.g. 224x224x3 or "
                   "HxWx3 (default: the notation's input line, else symbolic HxWxC)")
    p.add_argument("--format", "-f", choices=("table", "json"), default="table",
                   help="output format (default: table)")
    p.add_argument("--dtype", default="float32",
                   choices=("float64", "float32", "float16", "bfloat16", "int8"),
                   help="element type for memory in bytes (default: float32)")
    p.add_argument("--batch", "-b", type=int, default=1, metavar="N",
                   help="batch size for activations and MACs (default: 1)")
    p.add_argument("--depth", "-d", type=int, metavar="N", default=None,
                   help="table: sum layers nested deeper than N blocks into one line per "
                        "block, like torchinfo's depth (default: every layer)")
    p.add_argument("--list", action="store_true", help="list the built-in networks")
    p.add_argument("--version", action="store_true", help="print the version")
    return p


def _read_net(net: str) -> str:
    """Notation text for NET: a zoo name and notation text pass through; a file is read."""
    from . import zoo
    from .errors import SymCNNError
    if net.strip().lower() in zoo.names():
        return net
    path = Path(net)
    looks_like_file = net.endswith((".cnn", ".txt")) or (path.exists() and "\n" not in net)
    if not looks_like_file:
        return net
    if not path.exists():
        raise SymCNNError(f"notation file not found: {net}")
    if not path.is_file():
        raise SymCNNError(f"not a notation file (a directory or a device?): {net}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise SymCNNError(f"notation file is larger than {MAX_FILE_BYTES:,} bytes: {net}")
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SymCNNError(f"{net} is not UTF-8 text (byte {e.start}); notation files are "
                          "plain text") from None


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.version:
        from . import __version__
        print(f"symcnn {__version__}")
        return 0
    if args.list:
        from . import zoo
        print("\n".join(zoo.names()))
        return 0
    if args.net is None:
        _parser().print_usage(sys.stderr)
        print("symcnn: error: give a network (a zoo name, a file or notation text)",
              file=sys.stderr)
        return 2
    from .errors import SymCNNError
    from .report import analyze
    try:
        report = analyze(_read_net(args.net), args.input, dtype=args.dtype, batch=args.batch)
        if args.depth is not None and args.depth < 1:
            raise SymCNNError("--depth must be 1 or more")
        text = report.to_json() if args.format == "json" else report.to_table(args.depth)
    except SymCNNError as e:
        print(f"symcnn: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"symcnn: error: cannot read {args.net}: {e.strerror or e}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
