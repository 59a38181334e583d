"""Coverage-guided fuzzing of symcnn: text → parse → analyze → every exporter.

Every input must give a result or a ``symcnn.SymCNNError``; any other exception, a
RecursionError, a hang (libFuzzer's -timeout) or a memory blow-up (-rss_limit_mb) is a
crash. The seed corpus is ``tests/data/fuzz_corpus/`` (zoo networks and edge cases); it is
copied to a working directory first, so the fuzzer never writes into the repository.

With atheris (``pip install atheris``; libFuzzer options pass through)::

    python benchmarks/fuzz_atheris.py -max_total_time=300
    python benchmarks/fuzz_atheris.py crash-1234abcd        # replay one input

Without atheris, or with ``--plain``, the same target runs under a plain random fuzzer
that mutates the corpus (characters, grammar tokens, unicode, long digit runs)::

    python benchmarks/fuzz_atheris.py --plain --seconds 300

Crashing inputs are written to ``--artifacts`` (default ``fuzz-artifacts/`` in the working
directory) and the run ends with a summary: inputs tried, time, crashes.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS = HERE.parent / "tests" / "data" / "fuzz_corpus"
sys.path.insert(0, str(HERE.parent))

try:
    import atheris
except ImportError:  # the plain fuzzer below needs nothing
    atheris = None

if atheris is not None and "--plain" not in sys.argv:
    with atheris.instrument_imports(include=["symcnn"]):
        import symcnn
else:
    import symcnn

SIZES = [None, (224, 224, 3), (1, 1, 1), (7, 9, 2), (32, 32, 3), (10**9, 10**9, 3),
         "HxWx3", "HxWxC"]
EXPORTERS = [("to_table", {}), ("to_table", {"depth": 1}), ("to_json", {}),
             ("to_markdown", {}), ("to_csv", {}), ("to_latex", {}), ("to_dict", {})]
TOKENS = ["conv", "conv3-64", "dw3", "pool", "maxpool", "avgpool", "adaptiveavgpool", "gap",
          "fc", "fc-", "bn", "ln", "scale", "relu", "relu6", "silu", "swish", "sigmoid",
          "hardswish", "hardsigmoid", "gelu", "tanh", "dropout", "softmax", "soft-max",
          "lrn", "res(", "add(", "cat(", "se(", "aux(", "def ", "input ", "x", "-", "/",
          "p", "psame", "d", "g", "nb", "ceil", "(", ")", "|", "{", "}", ",", "=", "+", "*",
          "//", "#", "\n", "\r\n", "\t", " ", "H", "W", "C", "k", "w", "0", "1", "2", "3",
          "9", "1000000000000", "9999999999999", "x1000000000000"]


TARGET = "full"  # "parse": parse (and str round trip) only, many more inputs a second


def run_one(text: str, size_choice: int = 0) -> None:
    """The target: anything but a SymCNNError propagates (and is a crash)."""
    try:
        net = symcnn.parse(text)
    except symcnn.SymCNNError:
        net = None
    if TARGET == "parse":
        if net is not None and symcnn.parse(str(net)) != net:
            raise AssertionError(f"parse(str(net)) != net for {text!r:.200}")
        return
    for size in (None, SIZES[size_choice % len(SIZES)]):
        try:
            report = symcnn.analyze(net if net is not None else text, size)
        except symcnn.SymCNNError:
            continue
        for name, kwargs in EXPORTERS:
            method = getattr(report, name, None)
            if method is None:
                continue
            try:
                method(**kwargs)
            except symcnn.SymCNNError:
                pass
    if net is not None:
        again = symcnn.parse(str(net))
        if again != net:
            raise AssertionError(f"parse(str(net)) != net for {text!r:.200}")


def decode(data: bytes) -> tuple[str, int]:
    """The first byte picks the input size; the rest is UTF-8 (invalid bytes replaced)."""
    if not data:
        return "", 0
    return data[1:].decode("utf-8", "replace"), data[0]


def test_one_input(data: bytes) -> None:
    text, choice = decode(data)
    run_one(text, choice)


# ------------------------------------------------------------------ atheris

def _dict_escape(token: str) -> str:
    """A token in libFuzzer's dictionary syntax: printable ASCII, else \\xNN escapes."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else
                   "".join(f"\\x{b:02X}" for b in c.encode()) for c in token)


def _atheris_main(argv: list[str], work: Path) -> None:
    corpus = work / "corpus"
    artifacts = work / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    if not corpus.exists():
        corpus.mkdir(parents=True)
        for seed in sorted(SEEDS.iterdir()):  # the first byte chooses the input size
            (corpus / seed.name).write_bytes(b"\x00" + seed.read_bytes())
    dict_file = work / "symcnn.dict"
    dict_file.write_text("".join(f'"{_dict_escape(t)}"\n' for t in TOKENS))
    args = [argv[0]]
    passthrough = list(argv[1:])
    replay = [a for a in passthrough if not a.startswith("-")]
    if not any(a.startswith("-dict=") for a in passthrough):
        args.append(f"-dict={dict_file}")
    if not any(a.startswith("-timeout=") for a in passthrough):
        args.append("-timeout=20")
    if not any(a.startswith("-rss_limit_mb=") for a in passthrough):
        args.append("-rss_limit_mb=3072")
    if not any(a.startswith("-max_len=") for a in passthrough):
        args.append("-max_len=4096")
    if not any(a.startswith("-artifact_prefix=") for a in passthrough):
        args.append(f"-artifact_prefix={artifacts}/")
    args += passthrough
    if not replay:
        args.append(str(corpus))
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


# ------------------------------------------------------------------ plain random fuzzer

class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 6)):
        pos = rng.randint(0, len(text))
        op = rng.randrange(9)
        if op == 0:
            text = text[:pos] + rng.choice(TOKENS) + text[pos:]
        elif op == 1:
            text = text[:pos] + text[pos + rng.randint(1, 8):]
        elif op == 2 and len(text) > 1:
            i, j = sorted(rng.sample(range(len(text)), 2))
            text = text[:i] + text[j] + text[i + 1:j] + text[i] + text[j + 1:]
        elif op == 3:
            code = rng.choice([rng.randint(0, 0x7f), rng.randint(0x80, 0x2fff),
                               rng.randint(0x3000, 0x10ffff)])
            text = text[:pos] + chr(code) + text[pos:]
        elif op == 4:
            digits = rng.choice("0919") * rng.choice([12, 13, 14, 50, 3000])
            text = text[:pos] + digits + text[pos:]
        elif op == 5:
            end = min(len(text), pos + rng.randint(1, 40))
            text = text[:end] + text[pos:end] * rng.randint(1, 4) + text[end:]
        elif op == 6:
            text = text[:pos] + text[pos:pos + 1].swapcase() + text[pos + 1:]
        elif op == 7:
            text = text[:pos] + rng.choice(["(" * 50, ")", "x2", "x1000000000000", "|", "{",
                                            "}"]) + text[pos:]
        else:
            other = rng.choice(_SEED_TEXTS)
            a = rng.randint(0, len(other))
            text = text[:pos] + other[a:a + rng.randint(1, 80)] + text[pos:]
    return text[:8192]


_SEED_TEXTS: list[str] = []


def plain_main(seconds: float, seed: int, artifacts: Path, per_input: int) -> int:
    rng = random.Random(seed)
    _SEED_TEXTS.extend(p.read_text("utf-8", "replace") for p in sorted(SEEDS.iterdir()))
    pool = list(_SEED_TEXTS)
    artifacts.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGALRM, _alarm)
    start, tried, crashes, seen = time.monotonic(), 0, 0, set()
    while time.monotonic() - start < seconds:
        text = mutate(rng, rng.choice(pool))
        choice = rng.randrange(256)
        tried += 1
        signal.alarm(per_input)
        try:
            run_one(text, choice)
        except _Timeout:
            kind = "timeout"
        except Exception as e:  # noqa: BLE001 - a crash is anything but a SymCNNError
            kind = f"{type(e).__name__}: {str(e)[:120]}"
            where = traceback.extract_tb(e.__traceback__)[-1]
            kind += f" at {Path(where.filename).name}:{where.lineno}"
        else:
            kind = None
            if len(pool) < 5000 and rng.random() < 0.05:
                pool.append(text)  # keep some mutants to mutate further
        finally:
            signal.alarm(0)
        if kind is not None:
            crashes += 1
            if kind not in seen:
                seen.add(kind)
                name = artifacts / f"crash-{len(seen):03d}.cnn"
                name.write_bytes(bytes([choice]) + text.encode("utf-8", "surrogatepass"))
                print(f"crash {len(seen)}: {kind}\n  input {text[:200]!r}\n  saved {name}",
                      flush=True)
    elapsed = time.monotonic() - start
    print(f"plain fuzzer: {tried:,} inputs in {elapsed:.0f} s, {crashes} crashing inputs, "
          f"{len(seen)} distinct crashes", flush=True)
    return 1 if crashes else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=False)
    p.add_argument("--plain", action="store_true", help="the random fuzzer, even with atheris")
    p.add_argument("--seconds", type=float, default=60, help="plain mode: how long")
    p.add_argument("--seed", type=int, default=0, help="plain mode: random seed")
    p.add_argument("--per-input", type=int, default=20, help="plain mode: seconds per input")
    p.add_argument("--work", type=Path, default=None,
                   help="working directory (corpus copy, artifacts); default a temp dir")
    p.add_argument("--artifacts", type=Path, default=None, help="where crashes are saved")
    p.add_argument("--target", choices=("full", "parse"), default="full",
                   help="full: parse, analyze, export (default); parse: parsing only")
    p.add_argument("-h", "--help", action="store_true")
    args, rest = p.parse_known_args()
    global TARGET
    TARGET = args.target
    if args.help:
        p.print_help()
        print("\nOther arguments go to libFuzzer (atheris mode), e.g. -max_total_time=300 "
              "-runs=100000 -jobs=2, or name inputs to replay.")
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="symcnn-fuzz-"))
    artifacts = args.artifacts or work / "artifacts"
    if args.plain or atheris is None:
        if atheris is None and not args.plain:
            print("atheris is not installed: running the plain random fuzzer", flush=True)
        return plain_main(args.seconds, args.seed, artifacts, args.per_input)
    if args.artifacts:
        rest = [f"-artifact_prefix={artifacts}/", *rest]
    _atheris_main([sys.argv[0], *rest], work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
