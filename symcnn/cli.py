"""The command line.

    symcnn NET [--input HxWxC] [--format table|json|csv|markdown|latex] [-o FILE] …
    symcnn sweep NET [NET …] --sizes 32:1024:32 [--input HxWx3] [--aspect 4:3] [--metric macs]
                 [--format table|markdown|csv|json] [-o FILE]
    symcnn plot NET [NET …] --metric macs --sizes 32:512:8 [--input HxWx3] [--log] -o cost.png
    symcnn plot NET --per-layer 224x224x3 [--depth N] [--log] -o layers.png
    symcnn budget NET (--memory 8GB | --macs 5G) [--input HxWx3 | 224x224x3] [--batch 32] [--training]
    symcnn verify NET --input 224x224x3 [--input 225x225x3 …] [--against MODULE:CALLABLE]
    symcnn import MODULE:CALLABLE [--kwargs JSON] [--input HxWxC] [-o FILE]   (needs torch)
    symcnn compare NET NET … [--input HxWxC] [--format table|markdown|latex|csv|json]
                   [--layout full|compact] [--caption-tex TEXT] [-o FILE]

NET is a zoo name (``symcnn --list``), a path to a notation file, notation text, or a
torch module as MODULE:CALLABLE (``torchvision.models:resnet50``, built with ``--kwargs``
JSON and imported by :func:`symcnn.torch.from_torch`; see ``_read_net`` for which is which). ``--input`` on sweep, plot and budget replaces the
notation's input line (HxWx3 frees a file's fixed 224x224x3).

Exit statuses: 0 done; 2 an error in what the user gave (one message on stderr,
"symcnn: error: …", never a traceback); ``budget`` exits 1 when nothing fits (0 when it
found the largest input or batch that fits); ``verify`` exits 1 when symcnn and torch disagree.

``-o FILE`` writes a regular file whole or not at all (a temporary file beside it, then a
rename), through symbolic links, with the umask's mode for a new file and the old mode for
an existing one; devices and FIFOs are written directly (see :func:`write_output`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import stat
import sys

__all__ = ["main"]

MAX_FILE_BYTES = 10_000_000
DTYPES = ("float64", "float32", "float16", "bfloat16", "int8")
FORMATS = ("table", "json", "csv", "markdown", "latex")


def _net_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("net", help="a zoo name (see --list), a notation file, notation text "
                   "such as 'conv3-64x2 pool fc10', or a torch module as MODULE:CALLABLE")
    _kwargs_argument(p)


def _kwargs_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kwargs", metavar="JSON", help="with MODULE:CALLABLE: keyword arguments "
                   "for the callable, as a JSON object, e.g. '{\"num_classes\": 10}'")


def _report_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="symcnn",
        description="Exact, symbolic parameter, activation and MAC counts of a CNN written in "
                    "symcnn notation. Subcommands: sweep, plot, budget, verify, import, compare "
                    "(symcnn SUBCOMMAND --help).")
    p.add_argument("net", nargs="?", help="a zoo name (see --list), a notation file, "
                   "notation text such as 'conv3-64x2 pool fc10', or a torch module as "
                   "MODULE:CALLABLE (e.g. torchvision.models:resnet50)")
    _kwargs_argument(p)
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
    p.add_argument("--device", default="cuda", choices=("cuda", "cpu"),
                   help="whose semantics the PyTorch memory figures follow (default: cuda)")
    p.add_argument("--optimizer", default="adam", choices=("sgd", "momentum", "adam", "adamw"),
                   help="whose state the training memory figures count (default: adam)")
    p.add_argument("--depth", "-d", type=int, metavar="N", default=None,
                   help="table, latex: sum layers nested deeper than N blocks into one line "
                        "per block, like torchinfo's depth (default: every layer)")
    p.add_argument("--shares", action="store_true",
                   help="table, markdown: each line's share of the total params and MACs, "
                        "in %% (JSON always has params_share and macs_share)")
    p.add_argument("--caption", help="latex: the table caption, plain text (escaped)")
    p.add_argument("--caption-tex", metavar="LATEX", help="latex: the table caption as your "
                   "own LaTeX, unescaped (math, \\cite); instead of --caption")
    p.add_argument("--label", help="latex: the table label (letters, digits, : . _ -)")
    p.add_argument("--symbol", action="append", default=[], metavar="H=LATEX",
                   help=r"latex: how to print an input symbol, e.g. H=H_{\mathrm{in}}")
    p.add_argument("--standalone", action="store_true",
                   help="latex: a whole document instead of a fragment to \\input")
    p.add_argument("--layout", choices=("full", "compact"), default="full",
                   help="latex: full (every column; longtable past a page) or compact "
                        "(layer, output, params, MACs at \\columnwidth, for two-column "
                        "papers) (default: full)")
    p.add_argument("--convention", default="torch", choices=_conventions(),
                   help="whose MAC count the totals and formulas give: torch "
                        "(FlopCounterMode / 2, the default), torchinfo, fvcore, ptflops, thop "
                        "(see `symcnn reconcile`)")
    p.add_argument("--list", action="store_true", help="list the built-in networks")
    p.add_argument("--version", action="store_true", help="print the version")
    return p


NOTATION_SUFFIXES = (".cnn", ".txt")


def _shown(text: str, limit: int = 120) -> str:
    """``text`` for an error message: long notation cut to ``limit`` characters."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def _stat(path) -> os.stat_result | None:
    """os.stat, or None where there is no such file: missing, a name too long for the file
    system (ENAMETOOLONG), a loop of links, a NUL in the name, no permission to look."""
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def exists(path) -> bool:
    """Whether something is at ``path``, never raising (see :func:`_stat`)."""
    return _stat(path) is not None


def read_notation_file(path) -> str:
    """The text of the notation file ``path`` (a str or path-like): a regular file of at
    most MAX_FILE_BYTES bytes of UTF-8 text, else a SymCNNError that says why not."""
    from .errors import SymCNNError
    name = _shown(os.fspath(path))
    st = _stat(path)
    if st is None:
        raise SymCNNError(f"notation file not found: {name}")
    if not stat.S_ISREG(st.st_mode):
        raise SymCNNError(f"not a notation file (a directory or a device?): {name}")
    if st.st_size > MAX_FILE_BYTES:
        raise SymCNNError(f"notation file is larger than {MAX_FILE_BYTES:,} bytes: {name}")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise SymCNNError(f"cannot read notation file {name}: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:  # it grew after the stat
        raise SymCNNError(f"notation file is larger than {MAX_FILE_BYTES:,} bytes: {name}")
    if b"\0" in data:
        raise SymCNNError(f"{name} is a binary file; notation files are plain text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SymCNNError(f"{name} is not UTF-8 text (byte {e.start}); notation files are "
                          "plain text") from None


def _read_net(net: str, kwargs: str | None = None, input=None):
    """Notation text (or a Network) for the NET argument. A zoo name and notation text pass
    through; a notation file is read; a torch module is imported. Which is which, in order:

    - a zoo name (any case) is the zoo's network;
    - MODULE:CALLABLE (no such file) is a torch module, imported (needs torch);
    - text over several lines (or with a NUL) is notation;
    - a name ending in .cnn or .txt is a file (missing: "notation file not found");
    - an existing regular file is read, whatever its name; an existing directory or
      device whose name holds a path separator is an error;
    - anything else is notation, however long (never "File name too long").
    """
    from . import zoo
    if _MODULE_SPEC.fullmatch(net.strip()) and _stat(net) is None:
        return import_module_spec(net, kwargs, input, free=True)
    if kwargs is not None:
        from .errors import SymCNNError
        raise SymCNNError("--kwargs goes with a torch module given as MODULE:CALLABLE")
    if net.strip().lower() in zoo.names() or "\n" in net or "\0" in net:
        return net
    if net.endswith(NOTATION_SUFFIXES):
        return read_notation_file(net)
    st = _stat(net)
    if st is not None and (stat.S_ISREG(st.st_mode) or os.sep in net):
        return read_notation_file(net)
    return net


_MODULE_SPEC = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
                          r":[A-Za-z_][A-Za-z0-9_]*")


def _symtorch(what: str = "importing a torch module"):
    from .errors import SymCNNError
    try:
        from . import torch as symtorch
    except ImportError:
        raise SymCNNError(f"{what} needs PyTorch: pip install 'symcnn[torch]' (here: pip "
                          "install torch==2.14.1 torchvision==0.29.1, or torch==2.13.0 "
                          "without torchvision)") from None
    return symtorch


def import_module_spec(spec: str, kwargs: str | None = None, input=None, free=False):
    """The Network of the torch module MODULE:CALLABLE builds (from_torch, self-checked).
    ``input`` is its input line; with ``free``, a concrete ``input`` is only the size to
    trace at and the input line stays HxWxC (for formulas next to the numbers)."""
    symtorch = _symtorch()
    from .torch.loading import load
    module = load(spec, kwargs)
    if free and input is not None and not input.symbols:
        return symtorch.from_torch(module, f"HxWx{input.channels}",
                                   at=(input.height, input.width))
    return symtorch.from_torch(module, input)


def _distance(a: str, b: str) -> int:
    """Edits from a to b: insertions, deletions, substitutions and swaps of neighbours
    (optimal string alignment), so that vgg61 is nearer vgg16 than vgg19."""
    prev2, prev = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i]
        for j, cb in enumerate(b, 1):
            d = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if prev2 is not None and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                d = min(d, prev2[j - 2] + 1)
            row.append(d)
        prev2, prev = prev, row
    return prev[-1]


def close_names(word: str, family: bool = True) -> list[str]:
    """The zoo names ``word`` is most likely a misspelling of (at most 3), best first;
    with ``family``, the names that start with ``word`` come before any misspelling."""
    import difflib
    from . import zoo
    key = word.lower()
    family = [n for n in zoo.names() if n.startswith(key)] if family and len(key) >= 3 else []
    if family:  # "regnet": the regnets, before the resnets one letter away
        ratio = lambda n: difflib.SequenceMatcher(None, key, n).ratio()  # noqa: E731
        return sorted(family, key=lambda n: (-ratio(n), n))[:3]
    candidates = difflib.get_close_matches(key, zoo.names(), n=6, cutoff=0.6)
    if not candidates:
        return []
    ranked = sorted(candidates, key=lambda n: (_distance(key, n), candidates.index(n)))
    best = _distance(key, ranked[0])
    return [n for n in ranked if _distance(key, n) == best][:3]


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,99}")


def notation_hint(text: str, error):
    """The error to raise for ``text`` that did not parse: ``error`` itself, unless
    ``text`` is one bare word that looks like a name rather than notation. Then: a
    misspelt zoo name ("unknown network 'resnet5O'; did you mean resnet50? (symcnn
    --list)"), a missing notation file, or the notation error with a pointer to --list."""
    from .errors import NotationError, SymCNNError
    word = text.strip()
    if not isinstance(error, NotationError):
        return error
    if word.endswith(NOTATION_SUFFIXES) and not any(c.isspace() for c in word):
        return SymCNNError(f"notation file not found: {_shown(word)}")
    if not _WORD.fullmatch(word):
        return error
    at_start = (error.line, error.column) == (1, 1 + text.index(word))
    close = close_names(word, family=at_start)  # "conv" is the start of notation
    if close:
        listed = close[0] if len(close) == 1 else f"{', '.join(close[:-1])} or {close[-1]}"
        return NotationError(f"unknown network {word!r}; did you mean {listed}? "
                             "(symcnn --list)")
    if at_start:
        return NotationError(f"{error.message}; nor is it a built-in network "
                             "(symcnn --list)", error.text, error.line, error.column,
                             error.width)
    return error


def _network(args, purpose: str = ""):
    """The parsed network of ``args.net``; with ``args.input`` (sweep, plot, budget) that
    input replaces the notation's input line, e.g. HxWx3 frees a file's 224x224x3. With a
    ``purpose`` (sizes must be free), a fixed input size is an error that names --input."""
    from dataclasses import replace
    from .errors import SymCNNError
    from .report import _network as network_of
    spec = getattr(args, "input", None)
    net = network_of(_read_net(args.net, getattr(args, "kwargs", None),
                               _input_arg(spec) if spec else None), files=False)
    if spec:
        return replace(net, input=_input_arg(spec))
    if purpose and net.input is not None and not isinstance(net.input.height, str) \
            and not isinstance(net.input.width, str):
        raise SymCNNError(f"the notation fixes the input size ({net.input}); give --input "
                          f"HxWx{net.input.channels} (or HxWxC) {purpose}")
    return net


def _input_arg(text: str, flag: str = "--input"):
    """An input size given on the command line, or an error that names the option."""
    from .errors import NotationError, SymCNNError
    from .report import as_input
    try:
        return as_input(text)
    except NotationError as e:
        caret = str(e).split("\n")[1:]
        raise SymCNNError("\n".join([f"{flag} {_shown(text, 40)!r}: {e.message}", *caret])) \
            from None
    except SymCNNError as e:
        raise SymCNNError(f"{flag} {_shown(text, 40)!r}: {e}") from None


def write_output(path: str, data: str | bytes) -> None:
    """Write ``data`` to ``path`` as ``-o PATH`` promises (an error is a SymCNNError):

    - a regular file, new or existing, is written whole or not at all: a temporary file
      in the same directory, then a rename. A new file gets the mode the umask gives
      (0644 under umask 022); an existing one keeps its mode (and, as root, its owner);
    - a symbolic link is written through: its target is replaced, the link stays;
    - a device or FIFO (/dev/null, /dev/stdout, a named pipe) is written to directly,
      and a failed write (/dev/full: no space left on device) is an error; the device
      node stays as it is;
    - a directory is an error.
    """
    from .errors import SymCNNError
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        st = os.stat(path)  # through links
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise SymCNNError(f"cannot write {_shown(path)}: {e.strerror or e}") from None
    try:
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise SymCNNError(f"cannot write {_shown(path)}: it is a directory")
        if st is not None and not stat.S_ISREG(st.st_mode):
            _write_special(path, payload)
        else:
            _replace_file(os.path.realpath(path), payload, st)
    except BrokenPipeError:  # -o /dev/stdout into a closed pipe: as for standard output
        raise
    except OSError as e:
        raise SymCNNError(f"cannot write {_shown(path)}: {e.strerror or e}") from None


def _write_special(path: str, payload: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_NOCTTY)  # never creates, never replaces
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _replace_file(target: str, payload: bytes, st: os.stat_result | None) -> None:
    import tempfile
    if st is None:
        mask = os.umask(0o022)
        os.umask(mask)
        mode = 0o666 & ~mask
    else:
        mode = stat.S_IMODE(st.st_mode)
    folder, name = os.path.split(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{name[:40]}.", suffix=".part", dir=folder or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fchmod(f.fileno(), mode)
            if st is not None and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(f.fileno(), st.st_uid, st.st_gid)
                except PermissionError:
                    pass  # not root: the file becomes ours, as any editor's save would
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


write_atomic = write_output  # the old name


def _emit(text: str, output: str | None) -> None:
    if output:
        write_output(output, text)
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
        print(_zoo_listing())
        return 0
    if args.net is None:
        _report_parser().print_usage(sys.stderr)
        print("symcnn: error: give a network (a zoo name, a file or notation text)",
              file=sys.stderr)
        return 2
    from .errors import SymCNNError
    from .report import _network as network_of, analyze
    if args.depth is not None and args.depth < 1:
        raise SymCNNError("--depth must be 1 or more")
    spec = _input_arg(args.input) if args.input is not None else None
    report = analyze(network_of(_read_net(args.net, args.kwargs, spec), files=False), spec,
                     dtype=args.dtype, batch=args.batch, device=args.device,
                     optimizer=args.optimizer, convention=args.convention)
    if args.shares and args.format in ("csv", "latex"):
        raise SymCNNError("--shares goes with the table and markdown formats (JSON always "
                          "has params_share and macs_share per layer)")
    if args.format == "json":
        text = report.to_json()
    elif args.format == "csv":
        text = report.to_csv()
    elif args.format == "markdown":
        text = report.to_markdown(shares=args.shares)
    elif args.format == "latex":
        text = report.to_latex(caption=args.caption, caption_tex=args.caption_tex,
                               label=args.label,
                               symbol_names=_symbols(args.symbol),
                               standalone=args.standalone, depth=args.depth,
                               layout=args.layout)
    else:
        text = report.to_table(args.depth, args.shares)
    _emit(text, args.output)
    return 0


def _zoo_listing() -> str:
    """The built-in networks by family: name, params, MACs at the published input size
    (224×224×3; Inception-v3 299×299×3) and what the file says it is."""
    from . import zoo
    from .formatting import aligned, human
    from .report import analyze
    rows, last = [], None
    for name in sorted(zoo.names(), key=lambda n: (zoo.family(n), n)):
        if zoo.family(name) != last:
            last = zoo.family(name)
            rows.append((f"{last}:", "", "", "", ""))
        side, spec = zoo.native_size(name), zoo.load(name).input
        c = spec.channels if spec is not None and isinstance(spec.channels, int) else 3
        t = analyze(name, (side, side, c)).totals
        rows.append((f"  {name}", f"{t['params']:,}", f"{human(t['macs'])}",
                     f"{side}×{side}×{c}", zoo.describe(name)))
    out = aligned([["network", "params", "MACs", "at", ""], *map(list, rows)], {1, 2})
    return "\n".join(out + ["", f"{len(zoo.names())} networks; MACs per image (1 MAC = 2 "
                             "FLOPs); symcnn NAME --input HxWx3 for the formulas"])


def _aspect(text: str) -> tuple[int, int]:
    from .errors import SymCNNError
    a, sep, b = text.partition(":")
    if not (sep and a.isdigit() and b.isdigit() and 0 < int(a) <= 10**6 and 0 < int(b) <= 10**6):
        raise SymCNNError(f"--aspect wants H:W such as 4:3; got {text!r:.20}")
    return int(a), int(b)


def _free_input_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", "-i", metavar="HxWxC", help="replace the notation's input "
                   "line, e.g. HxWx3 to free a file's fixed 224x224x3 (default: the input "
                   "line, else HxWxC)")


def _sweep_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog)
    p.add_argument("nets", nargs="+", metavar="NET", help="one or more networks (a zoo "
                   "name, a notation file, notation text, or MODULE:CALLABLE); several give "
                   "one column (sweep) or one curve (plot) each")
    _kwargs_argument(p)
    _free_input_argument(p)
    p.add_argument("--aspect", metavar="H:W", help="with square sizes S, use H×W = S×(S·W/H) "
                   "where that is whole")
    p.add_argument("--channels", "-c", type=int, default=None,
                   help="input channels where the notation leaves C free (default: 3)")
    p.add_argument("--dtype", default="float32", choices=DTYPES,
                   help="element type for memory (default: float32)")
    return p


def network_label(text: str) -> str:
    """A network's name as plots and sweep columns show it: a zoo name as it is, a
    notation file's stem (``examples/vgg16_paper.cnn`` → vgg16_paper), a torch module's
    callable (``torchvision.models:resnet50`` → resnet50), notation text shortened."""
    from . import zoo
    from .compare import display_name
    bare = text.strip()
    if bare.lower() in zoo.names():
        return bare.lower()
    if _MODULE_SPEC.fullmatch(bare) and _stat(text) is None:
        return bare.rsplit(":", 1)[1]
    if "\n" not in text and (text.endswith(NOTATION_SUFFIXES) or _stat(text) is not None):
        return display_name(os.path.splitext(os.path.basename(text))[0] or text)
    return display_name(text)


def _sweep_reports(args) -> tuple[list, list[str]]:
    """The report of each NET (sizes free), named; a refused one says which it is."""
    from .errors import SymCNNError
    from .report import analyze
    if args.kwargs is not None and len(args.nets) > 1:
        raise SymCNNError("--kwargs goes with one network (MODULE:CALLABLE)")
    reports = []
    for i, text in enumerate(args.nets, 1):
        one = argparse.Namespace(**{**vars(args), "net": text})
        try:
            reports.append(analyze(_network(one, "to sweep over input sizes"),
                                   dtype=args.dtype))
        except SymCNNError as e:
            if len(args.nets) == 1:
                raise
            raise SymCNNError(f"network {i} ({_shown(text, 40)!r}): {e}") from None
    return reports, [network_label(t) for t in args.nets]


def _sweep_points(args, several: bool):
    """The reports, their names and the stream of sweep points (iter_sweep: checked
    before the first); ``several``: the form with one value per network."""
    from .sweep import iter_sweep, parse_sizes, unique_names
    reports, names = _sweep_reports(args)
    aspect = _aspect(args.aspect) if args.aspect else None
    sizes = parse_sizes(args.sizes)
    if not several:
        return reports, names, iter_sweep(reports[0], sizes, args.channels, aspect=aspect)
    named = dict(zip(unique_names(names), reports))
    return reports, names, iter_sweep(named, sizes, args.channels, aspect=aspect)


def _sweep_cmd(argv: list[str]) -> int:
    from .sweep import SWEEP_FORMATS, SWEEP_QUANTITIES, format_sweep
    p = _sweep_parser("symcnn sweep")
    p.add_argument("--sizes", "-s", required=True, help="224, 32:1024:32 (STOP included), "
                   "160x240, 32:512:32x64:1024:64, or a comma-separated list of these")
    p.add_argument("--format", "-f", choices=SWEEP_FORMATS, default="table",
                   help="output format (default: table)")
    p.add_argument("--metric", "-m", choices=SWEEP_QUANTITIES, default=None,
                   help="one column per network of this (default with several networks: "
                        "macs; with one and no --metric: params, activations and MACs)")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE (atomically)")
    args = p.parse_args(argv)
    several = len(args.nets) > 1 or args.metric is not None
    reports, names, points = _sweep_points(args, several)
    if several:
        pieces = format_sweep(dict(zip(points.names, reports)), points, args.format,
                              args.metric or "macs")
    else:
        pieces = format_sweep(reports[0], points, args.format)
    if args.output:
        text = "".join(pieces)
        write_output(args.output, text)
        what = f"{args.metric or 'macs'} of {', '.join(names)}" if several else \
            f"params, activations and MACs of {names[0]}"
        print(f"wrote {args.output} ({args.format}: {what})")
    else:
        for piece in pieces:  # written as it comes: a long sweep starts at once
            sys.stdout.write(piece)
    return 0


def _plot_cmd(argv: list[str]) -> int:
    from .errors import SymCNNError
    p = _sweep_parser("symcnn plot")
    p.add_argument("--metric", "-m", default="macs", choices=("macs", "params", "activations"),
                   help="what to plot (default: macs)")
    p.add_argument("--sizes", "-s", help="as for sweep: cost against input size (one curve "
                   "per network)")
    p.add_argument("--per-layer", metavar="HxWxC", help="a bar per layer at this input "
                   "(one network; layers with 0 left out)")
    p.add_argument("--depth", "-d", type=int, default=None, metavar="N",
                   help="with --per-layer: blocks nested deeper than N summed into one bar")
    p.add_argument("--log", action="store_true", help="a logarithmic value axis")
    p.add_argument("--output", "-o", required=True, metavar="FILE.png")
    args = p.parse_args(argv)
    from .plot import METRICS, plot_layers, plot_sweep
    if bool(args.sizes) == bool(args.per_layer):
        raise SymCNNError("give either --sizes (cost against size) or --per-layer HxWxC")
    if args.depth is not None and not args.per_layer:
        raise SymCNNError("--depth goes with --per-layer (a bar per block at that depth)")
    if args.depth is not None and args.depth < 1:
        raise SymCNNError("--depth must be 1 or more")
    if args.per_layer:
        if len(args.nets) > 1:
            raise SymCNNError(f"--per-layer plots one network; got {len(args.nets)} (give "
                              "--sizes for one curve each)")
        from .report import analyze
        args.net = args.nets[0]
        spec = _input_arg(args.per_layer, "--per-layer")
        report = analyze(_network(args), spec, dtype=args.dtype)
        name = network_label(args.net)
        png = _render(lambda path: plot_layers(report, args.metric, path, name, args.depth,
                                               args.log))
        what = (f"{METRICS[args.metric]} per layer of {name} at {spec}"
                f"{f', depth {args.depth}' if args.depth else ''}")
    else:
        several = len(args.nets) > 1
        _, names, points = _sweep_points(args, several)
        shown = points.names if several else None
        png = _render(lambda path: plot_sweep(points, args.metric, path, ", ".join(names),
                                              shown, args.log))
        what = f"{METRICS[args.metric]} against input size, {', '.join(names)}"
    write_output(args.output, png)
    print(f"wrote {args.output} (PNG: {what}{', log scale' if args.log else ''})")
    return 0


def _render(draw) -> bytes:
    """The PNG bytes ``draw(path)`` writes, so that -o FILE.png is written as every -o is."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="symcnn-plot-") as folder:
        path = os.path.join(folder, "plot.png")
        draw(path)
        with open(path, "rb") as f:
            return f.read()


BUDGET_EPILOG = """With a symbolic input (the default, or --input HxWx3) budget answers the largest
input that fits at --batch; with a concrete one (--input 224x224x3, or a file's input line)
the largest batch. A --memory budget is on the inference peak, --training on the training
peak (an estimate), --on on any figure (activations: the seed's activations + params).
exit status: 0 an answer (the largest input or batch that fits), 1 nothing fits (not even
the smallest input the network takes, or batch 1), 2 an error in what was given."""


def _budget_cmd(argv: list[str]) -> int:
    from .errors import SymCNNError
    from .budget import BUDGET_FIGURES
    from .memory import DEVICES, OPTIMIZERS
    p = argparse.ArgumentParser(prog="symcnn budget", epilog=BUDGET_EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _net_arguments(p)
    p.add_argument("--input", "-i", metavar="HxWxC", help="replace the notation's input "
                   "line: symbolic (HxWx3) to solve for the input size, concrete "
                   "(224x224x3) to solve for the batch (default: the input line, else HxWxC)")
    p.add_argument("--memory", help="memory budget, e.g. 8GB (10⁹ bytes) or 8GiB (2³⁰)")
    p.add_argument("--macs", help="MACs budget per batch, e.g. 5G")
    p.add_argument("--batch", "-b", type=int, default=None,
                   help="batch size when solving for the input size (default: 1)")
    p.add_argument("--dtype", default="float32", choices=DTYPES,
                   help="element type (default: float32)")
    p.add_argument("--training", action="store_true",
                   help="budget the training peak (an estimate) instead of the inference peak")
    p.add_argument("--on", choices=BUDGET_FIGURES,
                   help="budget this memory figure (default: inference_peak; training_peak "
                        "with --training)")
    p.add_argument("--device", default="cuda", choices=DEVICES,
                   help="whose semantics the figures follow (default: cuda)")
    p.add_argument("--optimizer", default="adam", choices=OPTIMIZERS,
                   help="whose state the training peak and model state count (default: adam)")
    p.add_argument("--aspect", metavar="H:W", default=None,
                   help="input aspect when solving for the size (default 1:1)")
    p.add_argument("--channels", "-c", type=int, default=None)
    args = p.parse_args(argv)
    from .report import analyze
    from .budget import budget, parse_amount
    if args.memory is not None and args.macs is not None:
        raise SymCNNError("give --memory or --macs, not both")
    if not (args.memory or args.macs):
        raise SymCNNError("give either --memory or --macs")
    if args.batch is not None and not 1 <= args.batch <= 10**12:
        raise SymCNNError("--batch must be between 1 and 10^12")
    report = analyze(_network(args), dtype=args.dtype, device=args.device,
                     optimizer=args.optimizer)
    quantity = "memory" if args.memory else "macs"
    limit = parse_amount(args.memory or args.macs, f"--{quantity}")
    b = budget(report, limit, quantity, args.batch, args.training,
               _aspect(args.aspect) if args.aspect else None, args.channels, args.on)
    print(b.describe())
    return 0 if b.fits else 1  # 1: nothing fits


def _verify_cmd(argv: list[str]) -> int:
    from .errors import SymCNNError
    p = argparse.ArgumentParser(prog="symcnn verify")
    _net_arguments(p)
    p.add_argument("--input", "-i", action="append", metavar="HxWxC",
                   help="a concrete input size to verify at, e.g. 224x224x3 (repeatable; "
                        "default: the notation's input line if it is concrete)")
    p.add_argument("--against", metavar="MODULE:CALLABLE", help="check NET against your own "
                   "torch module instead of symcnn's torch build of it: params, BN buffers "
                   "and MACs in total, and every layer with params or MACs, in order")
    p.add_argument("--against-kwargs", metavar="JSON", help="keyword arguments for the "
                   "--against callable, as a JSON object")
    p.add_argument("--memory", action="store_true", help="check the PyTorch memory figures "
                   "(saved for backward, model state, inference and training peaks) against "
                   "torch on the meta device instead")
    p.add_argument("--batch", "-b", type=int, default=2, help="with --memory (default: 2)")
    p.add_argument("--optimizer", default="adam", choices=("sgd", "momentum", "adam", "adamw"),
                   help="with --memory (default: adam)")
    args = p.parse_args(argv)
    from .report import _network as network_of
    specs = [_input_arg(text) for text in args.input or []]
    net = network_of(_read_net(args.net, args.kwargs, specs[0] if specs else None),
                     files=False)
    if not specs and net.input is not None and not net.input.symbols:
        specs = [net.input]
    if not specs:
        raise SymCNNError("verify needs --input HxWxC, a concrete size such as 224x224x3 "
                          "(the notation gives none)")
    for text, spec in zip(args.input or [str(net.input)], specs):
        if spec.symbols:
            raise SymCNNError(f"verify needs a concrete --input such as 224x224x3; got "
                              f"{_shown(text, 40)!r}")
    symtorch = _symtorch("verify")
    ok = True
    if args.memory:
        from .torch.measuring import format_memory, verify_memory
        for spec in specs:
            rows = verify_memory(net, spec, args.batch, args.optimizer)
            print(format_memory(rows, args.net, spec, args.batch))
            # exact figures must agree; the training peak is an estimate
            ok = ok and all(same for name, _, _, same in rows if name != "training_peak")
        return 0 if ok else 1
    if args.against:
        from .torch.comparing import compare, format_comparison
        from .torch.loading import load
        module = load(args.against, args.against_kwargs)
        for spec in specs:
            result = compare(net, module, spec)
            print(format_comparison(result, args.against))
            ok = ok and result.ok
        return 0 if ok else 1
    for spec in specs:
        result = symtorch.verify(net, spec)
        print(symtorch.format_table(result))
        ok = ok and result.ok
    return 0 if ok else 1


def _import_cmd(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="symcnn import", description="Import a torch module as symcnn notation: one "
        "line per top-level submodule, blocks as definitions; checked against the module "
        "(params, BN buffers, MACs) before anything is printed.")
    p.add_argument("module", metavar="MODULE:CALLABLE", help="e.g. torchvision.models:resnet50 "
                   "or mypkg.models:Net (the current directory is on the path)")
    _kwargs_argument(p)
    p.add_argument("--input", "-i", metavar="HxWxC", help="the input line to write (default: "
                   "HxWxC with C from the first layer's weights); a concrete size is also "
                   "the size traced and checked at (else 224x224)")
    p.add_argument("--output", "-o", metavar="FILE", help="write the notation to FILE")
    args = p.parse_args(argv)
    spec = _input_arg(args.input) if args.input is not None else None
    net = import_module_spec(args.module, args.kwargs, spec)
    _emit(str(net) + "\n", args.output)
    if args.output:
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _compare_cmd(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="symcnn compare", description="Several networks side by side, one row each: "
        "params (all trainable), BN buffers, MACs, FLOPs, activation memory, the smallest "
        "input, and the params and MACs formulas in H and W.")
    p.add_argument("nets", nargs="+", metavar="NET", help="two or more networks, each as "
                   "the main command takes it (a zoo name, a notation file, notation text)")
    p.add_argument("--input", "-i", metavar="HxWxC", help="the input of every network, "
                   "e.g. 224x224x3 (default: each notation's input line, else HxWxC)")
    p.add_argument("--format", "-f", choices=("table", "markdown", "latex", "csv", "json"),
                   default="table", help="output format (default: table)")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE (atomically)")
    p.add_argument("--dtype", default="float32", choices=DTYPES,
                   help="element type for activation memory (default: float32)")
    p.add_argument("--batch", "-b", type=int, default=1, metavar="N",
                   help="batch size for MACs, FLOPs and activation memory (default: 1)")
    p.add_argument("--caption", help="latex: the table caption (escaped)")
    p.add_argument("--caption-tex", metavar="LATEX", help="latex: the table caption as your "
                   "own LaTeX, unescaped (math, \\cite); instead of --caption")
    p.add_argument("--label", help="latex: the table label (letters, digits, : . _ -)")
    p.add_argument("--standalone", action="store_true",
                   help="latex: a whole document instead of a fragment to \\input")
    p.add_argument("--layout", choices=("full", "compact"), default="full",
                   help="latex: full (every count exact, a page wide) or compact (params "
                   "in M, MACs in G, memory in MB: one column of a two-column paper)")
    args = p.parse_args(argv)
    from .compare import compare, display_name
    from .errors import SymCNNError
    from .report import _network as network_of
    if len(args.nets) < 2:
        raise SymCNNError(f"compare needs at least 2 networks; got {len(args.nets)}")
    spec = _input_arg(args.input) if args.input is not None else None
    nets = []
    for i, text in enumerate(args.nets, 1):
        try:
            nets.append(network_of(_read_net(text, None, spec), files=False))
        except SymCNNError as e:
            raise SymCNNError(f"network {i} ({_shown(text, 40)!r}): {e}") from None
    result = compare(nets, spec, dtype=args.dtype, batch=args.batch,
                     names=[display_name(t) for t in args.nets])
    if args.format == "latex":
        text = result.to_latex(caption=args.caption, label=args.label,
                               standalone=args.standalone, caption_tex=args.caption_tex,
                               layout=args.layout)
    else:
        text = {"table": result.to_table, "markdown": result.to_markdown,
                "csv": result.to_csv, "json": result.to_json}[args.format]()
    _emit(text, args.output)
    return 0


def _conventions() -> tuple[str, ...]:
    from .conventions import CONVENTIONS
    return CONVENTIONS


def _reconcile_cmd(argv: list[str]) -> int:
    """symcnn reconcile NET --input HxWxC: every peer's MAC count and why it differs."""
    p = argparse.ArgumentParser(prog="symcnn reconcile", description="The MAC count each "
                                "tool (FlopCounterMode, torchinfo, fvcore, ptflops, thop) "
                                "prints for NET, and the terms that make it differ from "
                                "symcnn's MACs (symcnn.conventions).")
    _net_arguments(p)
    _free_input_argument(p)
    p.add_argument("--format", "-f", choices=("table", "json"), default="table",
                   help="output format (default: table)")
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE (atomically)")
    args = p.parse_args(argv)
    from .conventions import reconcile, reconcile_lines
    from .report import _network as network_of, analyze
    spec = _input_arg(args.input) if args.input is not None else None
    report = analyze(network_of(_read_net(args.net, args.kwargs, spec), files=False), spec)
    macs = report.totals["macs"]
    entries = reconcile(report.rows, macs)
    at = "×".join(str(d) for d in (report.input.height, report.input.width,
                                   report.input.channels))
    if args.format == "json":
        import json
        from .export import _value
        doc = {"network": str(report.network), "input": at, "macs": _value(macs),
               "tools": [{"tool": e["tool"], **({"error": e["error"]} if "error" in e else
                          {"macs": _value(e["macs"]),
                           "terms": [{"label": t.label, "value": _value(t.value)}
                                     for t in e["terms"]]}),
                          "depends_on_code": e["code"]} for e in entries]}
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    else:
        from .formatting import pretty
        lines = [f"{args.net} at {at}: symcnn's MACs {pretty(macs)}",
                 "(torch: FlopCounterMode / 2; each tool's count = MACs + the terms shown; "
                 "per element: of the layer's output, pools by input)", ""]
        lines += reconcile_lines(entries, macs)
        lines += ["", "Counts assume torchvision-style modules (nn.ReLU, nn.MaxPool2d, "
                  "nn.AdaptiveAvgPool2d); where a model calls functionals, ptflops and thop "
                  "print other numbers (README: Counting conventions)."]
        text = "\n".join(lines) + "\n"
    _emit(text, args.output)
    return 0


_COMMANDS = {"sweep": _sweep_cmd, "plot": _plot_cmd, "budget": _budget_cmd,
             "verify": _verify_cmd, "import": _import_cmd, "compare": _compare_cmd,
             "reconcile": _reconcile_cmd}


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
