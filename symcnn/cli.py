"""The command line.

    symcnn NET [--input HxWxC] [--format table|json|csv|markdown|latex] [-o FILE] …
    symcnn sweep NET --sizes 32:1024:32 [--aspect 4:3] [--format table|csv|json]
    symcnn plot NET --metric macs --sizes 32:512:8 -o cost.png   (or --per-layer)
    symcnn budget NET --memory 8GB --batch 32 [--dtype float16] [--training]
    symcnn verify NET --input 224x224x3 [--input 225x225x3 …]   (needs torch)

NET is a zoo name (``symcnn --list``), a path to a notation file, or notation text.
Errors in what the user typed print one message to stderr and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["main"]

MAX_FILE_BYTES = 10_000_000
DTYPES = ("float64", "float32", "float16", "bfloat16", "int8")
FORMATS = ("table", "json", "csv", "markdown", "latex")


def _net_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("net", help="a zoo name (see --list), a notation file, or notation text "
                   "such as 'conv3-64x2 pool fc10'")


def _report_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="symcnn",
        description="Exact, symbolic parameter, activation and MAC counts of a CNN written in "
                    "symcnn notation. Subcommands: sweep, plot, budget, verify "
                    "(symcnn SUBCOMMAND --help).")
    p.add_argument("net", nargs="?", help="a zoo name (see --list), a notation file, or "
                   "notation text such as 'conv3-64x2 pool fc10'")
    p.add_argument("--input", "-i", metavar="HxWxC", help="input size, e.g. 224x224x3 or "
                   "HxWx3 (default: the notation's input line, else symbolic HxWxC)")
    p.add_argument("--format", "-f", choices=FORMATS, default="table",
                   help="output format (default: table)")
    p.add_argument("--output", "-o", metavar="FILE",
                   help="write to FILE (atomically) instead of standard output")
    p.add_argument("--dtype", default="float32", choices=DTYPES,
                   help="element type for memory in bytes (default: float32)")
    p.add_argument("--batch", "-b", type=int, default=1, metavar="N",
                   help="batch size for activations and MACs (default: 1)")
    p.add_argument("--depth", "-d", type=int, metavar="N", default=None,
                   help="table, latex: sum layers nested deeper than N blocks into one line "
                        "per block, like torchinfo's depth (default: every layer)")
    p.add_argument("--caption", help="latex: the table caption (escaped)")
    p.add_argument("--label", help="latex: the table label (letters, digits, : . _ -)")
    p.add_argument("--symbol", action="append", default=[], metavar="H=LATEX",
                   help=r"latex: how to print an input symbol, e.g. H=H_{\mathrm{in}}")
    p.add_argument("--standalone", action="store_true",
                   help="latex: a whole document instead of a fragment to \\input")
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
    looks_like_file = net.endswith((".cnn", ".txt")) or (
        "\n" not in net and len(net) < 4096 and path.exists())
    if not looks_like_file:
        return net
    if not path.exists():
        raise SymCNNError(f"notation file not found: {net}")
    if not path.is_file():
        raise SymCNNError(f"not a notation file (a directory or a device?): {net}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise SymCNNError(f"notation file is larger than {MAX_FILE_BYTES:,} bytes: {net}")
    data = path.read_bytes()
    if b"\0" in data:
        raise SymCNNError(f"{net} is a binary file; notation files are plain text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SymCNNError(f"{net} is not UTF-8 text (byte {e.start}); notation files are "
                          "plain text") from None


def write_atomic(path: str, data: str | bytes) -> None:
    """Write a whole file or nothing: a temporary file beside it, then a rename."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _emit(text: str, output: str | None) -> None:
    if output:
        write_atomic(output, text)
    else:
        sys.stdout.write(text)


def _symbols(items: list[str]) -> dict:
    from .errors import SymCNNError
    out = {}
    for item in items:
        name, sep, latex = item.partition("=")
        if not sep or not name:
            raise SymCNNError(f"--symbol wants NAME=LATEX, e.g. H=H_{{\\mathrm{{in}}}}; got "
                              f"{item!r:.40}")
        out[name] = latex
    return out


def _report_cmd(argv: list[str]) -> int:
    args = _report_parser().parse_args(argv)
    if args.version:
        from . import __version__
        print(f"symcnn {__version__}")
        return 0
    if args.list:
        from . import zoo
        print("\n".join(zoo.names()))
        return 0
    if args.net is None:
        _report_parser().print_usage(sys.stderr)
        print("symcnn: error: give a network (a zoo name, a file or notation text)",
              file=sys.stderr)
        return 2
    from .errors import SymCNNError
    from .report import analyze
    if args.depth is not None and args.depth < 1:
        raise SymCNNError("--depth must be 1 or more")
    report = analyze(_read_net(args.net), args.input, dtype=args.dtype, batch=args.batch)
    if args.format == "json":
        text = report.to_json()
    elif args.format == "csv":
        text = report.to_csv()
    elif args.format == "markdown":
        text = report.to_markdown()
    elif args.format == "latex":
        text = report.to_latex(caption=args.caption, label=args.label,
                               symbol_names=_symbols(args.symbol),
                               standalone=args.standalone, depth=args.depth)
    else:
        text = report.to_table(args.depth)
    _emit(text, args.output)
    return 0


def _aspect(text: str) -> tuple[int, int]:
    from .errors import SymCNNError
    a, sep, b = text.partition(":")
    if not (sep and a.isdigit() and b.isdigit() and 0 < int(a) <= 10**6 and 0 < int(b) <= 10**6):
        raise SymCNNError(f"--aspect wants H:W such as 4:3; got {text!r:.20}")
    return int(a), int(b)


def _sweep_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog)
    _net_arguments(p)
    p.add_argument("--sizes", "-s", required=True, help="224, 32:1024:32 (STOP included), "
                   "160x240, 32:512:32x64:1024:64, or a comma-separated list of these")
    p.add_argument("--aspect", metavar="H:W", help="with square sizes S, use H×W = S×(S·W/H) "
                   "where that is whole")
    p.add_argument("--channels", "-c", type=int, default=None,
                   help="input channels where the notation leaves C free (default: 3)")
    p.add_argument("--dtype", default="float32", choices=DTYPES,
                   help="element type for memory (default: float32)")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE (atomically)")
    return p


def _sweep_points(args):
    from .report import analyze
    from .sweep import parse_sizes, sweep
    report = analyze(_read_net(args.net), dtype=args.dtype)
    sizes = parse_sizes(args.sizes)
    if args.aspect:
        a, b = _aspect(args.aspect)
        sizes = [(h, h * b // a) for h, w in sizes if h == w and h * b % a == 0]
    return report, sweep(report, sizes, args.channels)


def _sweep_cmd(argv: list[str]) -> int:
    p = _sweep_parser("symcnn sweep")
    p.add_argument("--format", "-f", choices=("table", "csv", "json"), default="table",
                   help="output format (default: table)")
    args = p.parse_args(argv)
    report, points = _sweep_points(args)
    size = report.bytes_per_element
    if args.format == "json":
        text = json.dumps({"dtype": report.dtype, "bytes_per_element": size,
                           "points": points}) + "\n"
    elif args.format == "csv":
        text = "h,w,params,activations,macs,activation_bytes\n" + "".join(
            f"{q['h']},{q['w']},{q['params']},{q['activations']},{q['macs']},"
            f"{q['activations'] * size}\n" for q in points)
    else:
        from .formatting import human
        head = f"{'H':>6} {'W':>6} {'params':>16} {'activations':>16} {'MACs':>22}"
        text = "\n".join([head, *(f"{q['h']:>6} {q['w']:>6} {q['params']:>16,} "
                                   f"{q['activations']:>16,} {q['macs']:>22,}  "
                                   f"({human(q['macs'])})" for q in points),
                          f"{len(points):,} sizes; per image; 1 MAC = 2 FLOPs; sizes below "
                          "the network's minimum input are left out."]) + "\n"
    _emit(text, args.output)
    return 0


def _plot_cmd(argv: list[str]) -> int:
    from .errors import SymCNNError
    p = argparse.ArgumentParser(prog="symcnn plot")
    _net_arguments(p)
    p.add_argument("--metric", "-m", default="macs", choices=("macs", "params", "activations"),
                   help="what to plot (default: macs)")
    p.add_argument("--sizes", "-s", help="as for sweep: cost against input size")
    p.add_argument("--per-layer", metavar="HxWxC", help="a bar per layer at this input")
    p.add_argument("--aspect", metavar="H:W", help="as for sweep")
    p.add_argument("--channels", "-c", type=int, default=None)
    p.add_argument("--dtype", default="float32", choices=DTYPES)
    p.add_argument("--output", "-o", required=True, metavar="FILE.png")
    args = p.parse_args(argv)
    from .plot import plot_layers, plot_sweep
    if bool(args.sizes) == bool(args.per_layer):
        raise SymCNNError("give either --sizes (cost against size) or --per-layer HxWxC")
    if args.per_layer:
        from .report import analyze
        plot_layers(analyze(_read_net(args.net), args.per_layer), args.metric, args.output)
    else:
        _, points = _sweep_points(args)
        plot_sweep(points, args.metric, args.output, f"{args.net}: {args.metric}")
    print(f"wrote {args.output}")
    return 0


def _budget_cmd(argv: list[str]) -> int:
    from .errors import SymCNNError
    p = argparse.ArgumentParser(prog="symcnn budget")
    _net_arguments(p)
    p.add_argument("--memory", help="memory budget, e.g. 8GB (10⁹ bytes) or 8GiB (2³⁰)")
    p.add_argument("--macs", help="MACs budget per batch, e.g. 5G")
    p.add_argument("--batch", "-b", type=int, default=1, help="batch size (default: 1)")
    p.add_argument("--dtype", default="float32", choices=DTYPES,
                   help="element type (default: float32)")
    p.add_argument("--training", action="store_true", help="memory for training (Adam)")
    p.add_argument("--aspect", metavar="H:W", default="1:1", help="input aspect (default 1:1)")
    p.add_argument("--channels", "-c", type=int, default=None)
    args = p.parse_args(argv)
    from .report import analyze
    from .sweep import budget, parse_amount
    if bool(args.memory) == bool(args.macs):
        raise SymCNNError("give either --memory or --macs")
    if not 1 <= args.batch <= 10**12:
        raise SymCNNError("--batch must be between 1 and 10^12")
    report = analyze(_read_net(args.net), dtype=args.dtype)
    quantity = "memory" if args.memory else "macs"
    limit = parse_amount(args.memory or args.macs, f"--{quantity}")
    b = budget(report, limit, quantity, args.batch, args.training, _aspect(args.aspect),
               args.channels)
    unit = "bytes" if quantity == "memory" else "MACs"
    if b.height is None:
        print(f"nothing fits: the smallest input needs {b.next_cost:,} {unit} "
              f"(budget {limit:,}); {b.assumption}")
        return 1
    print(f"largest input: {b.height}x{b.width}  ({b.cost:,} {unit} ≤ {limit:,}; the next "
          f"size up needs {b.next_cost:,})\nassumption: {b.assumption}")
    return 0


def _verify_cmd(argv: list[str]) -> int:
    from .errors import SymCNNError
    p = argparse.ArgumentParser(prog="symcnn verify")
    _net_arguments(p)
    p.add_argument("--input", "-i", action="append", required=True, metavar="HxWxC",
                   help="an input size to verify at (repeatable)")
    args = p.parse_args(argv)
    try:
        from . import torch as symtorch
    except ImportError:
        raise SymCNNError("verify needs PyTorch: pip install 'symcnn[torch]' "
                          "(CPU: pip install torch==2.13.0)") from None
    text = _read_net(args.net)
    ok = True
    for spec in args.input:
        result = symtorch.verify(text, spec)
        print(symtorch.format_table(result))
        ok = ok and result.ok
    return 0 if ok else 1


_COMMANDS = {"sweep": _sweep_cmd, "plot": _plot_cmd, "budget": _budget_cmd,
             "verify": _verify_cmd}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _COMMANDS.get(argv[0]) if argv else None
    from .errors import SymCNNError
    try:
        return command(argv[1:]) if command else _report_cmd(argv)
    except SymCNNError as e:
        print(f"symcnn: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (symcnn … | head): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error
        return 0
    except OSError as e:
        print(f"symcnn: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "),
              file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
