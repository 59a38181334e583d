"""symcnn benchmarks: derivation time against depth, CLI wall time, formula evaluation.

Run:  python benchmarks/bench.py            (prints a Markdown table for the README)
      python benchmarks/bench.py --exporters   (only the exporters at depth, with targets)

Each timing is the median of several runs on this machine; nothing here is asserted.
Derivation = parse + propagate on symbols + every closed form (params, activations,
MACs, and the divisible form) — the work `symcnn NET` does for a symbolic report.
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import time

import symcnn
import symcnn.zoo


def stack(n: int) -> str:
    """A plain stack of n conv layers with changing widths and 5 stride-2 pools."""
    layers = []
    for i in range(n):
        layers.append(f"conv3-{16 + 8 * (i % 7)}")
        if (i + 1) % max(1, n // 5) == 0 and layers.count("pool") < 5:
            layers.append("pool")
    return " ".join(layers) + " fc10"


def derive(text: str) -> None:
    # Cold caches each time: SymPy's expression cache and symcnn's Dim → expr cache.
    from sympy.core.cache import clear_cache
    from symcnn.dims import _expr
    clear_cache()
    _expr.cache_clear()
    r = symcnn.analyze(text)
    r.formulas, r.divisible  # noqa: B018 - force every closed form


def timed(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def wall(argv: list[str], repeat: int = 5) -> float:
    return timed(lambda: subprocess.run(argv, check=True, capture_output=True), repeat)


def widths_stack(n: int) -> str:
    """Issue 13's stack: conv3-64, conv3-65, … (widths 64 + i % 37 written out), a stride-2
    layer at i = 99, 199, …, then fc10."""
    return " ".join(f"conv3-{64 + i % 37}" + ("/2" if i % 100 == 99 else "")
                    for i in range(n)) + " fc10"


def long_file(n_pairs: int = 50_000) -> str:
    """'conv3-8 relu ' × 50,000 (100,000 layers) with the width changing every 1,000."""
    return " ".join(f"conv3-{8 if (i // 1000) % 2 == 0 else 16} relu" for i in range(n_pairs))


def exporters() -> tuple[list[tuple[str, float]], list[tuple[str, bool]]]:
    """Exporters at depth: analyze + to_json against depth, each format at 1,000 layers,
    a 100,000-layer file to a table (the engine's part and the exporter's part apart) and
    totals over 20,000 distinct sizes; with the targets of issue 13."""
    rows, t = [], {}

    def json_run(text):
        symcnn.analyze(text).to_json()
    for n in (100, 1000):
        text = widths_stack(n)
        t[n] = timed(lambda: json_run(text), 9 if n == 100 else 5)
        rows.append((f"analyze + to_json, {n:,}-layer widths stack", t[n]))
    report = symcnn.analyze(widths_stack(1000))
    for name, fn in (("to_table", report.to_table), ("to_table(depth=1)",
                     lambda: report.to_table(depth=1)), ("to_json", report.to_json),
                     ("to_csv", report.to_csv), ("to_markdown", report.to_markdown),
                     ("to_latex", report.to_latex)):
        rows.append((f"{name} alone, 1,000-layer widths stack (analyzed once)",
                     timed(fn, 3)))
    text = long_file()
    engine = timed(lambda: symcnn.analyze(text), 1)
    big = symcnn.analyze(text)
    table = timed(big.to_table, 1)
    rows += [("100,000-layer file: analyze (parse + propagate)", engine),
             ("100,000-layer file: to_table (totals + printing)", table),
             ("100,000-layer file to a table, whole", engine + table)]
    # tests/test_hardening.py's largest case, as its worker runs it (CPU-time bound there)
    mix = "input 64x64x3 " + "conv3-8 relu pool3/1p1 bn " * 25_000
    def hardening_case():
        r = symcnn.analyze(mix)
        r.to_table(), r.to_table(depth=1), r.to_json()
    whole = timed(hardening_case, 1)
    rows.append(("100,000-layer conv/relu/pool/bn mix at 64×64×3: analyze, table, "
                 "depth-1 table, JSON", whole))
    unpadded = "conv3-8p0 " * 20_000 + "fc10"
    r = symcnn.analyze(unpadded)
    totals = timed(lambda: (r.__dict__.pop("totals", None), r.totals), 1)
    rows.append(("totals over 20,000 distinct sizes (20,000 unpadded layers)", totals))
    targets = [("t(1000)/t(100) ≤ 12 for analyze + to_json", t[1000] / t[100] <= 12),
               ("1,000 layers analyze + to_json < 1 s", t[1000] < 1),
               ("100,000-layer file to a table < 10 s", engine + table < 10),
               ("totals over 20,000 distinct sizes < 2 s", totals < 2),
               ("the 100,000-layer mix analysed and exported < 20 s", whole < 20)]
    return rows, targets


def main() -> None:
    if "--exporters" in sys.argv:
        rows, targets = exporters()
        print("| measurement | median |\n|---|---:|")
        for name, t in rows:
            print(f"| {name} | {t * 1000:,.1f} ms |")
        print()
        for name, ok in targets:
            print(f"- {name}: {'met' if ok else 'MISSED'}")
        return
    rows = []
    vgg = open("examples/vgg16_paper.cnn").read()
    rows.append(("derive VGG-16 (symbolic, all formulas)", timed(lambda: derive(vgg))))
    depth = {}
    for n, rep in ((100, 5), (152, 5), (1000, 3), (10_000, 1)):
        text = stack(n)
        depth[n] = timed(lambda: derive(text), rep)
        rows.append((f"derive plain stack, {n:,} conv layers", depth[n]))
    for name in ("resnet50", "resnet152", "densenet121", "inception_v3"):
        text = symcnn.zoo.source(name)
        rows.append((f"derive {name} (symbolic, all formulas)", timed(lambda: derive(text))))
    slowest = max(timed(lambda: derive(symcnn.zoo.source(n)), 3) for n in symcnn.zoo_names())
    rows.append(("slowest derivation over the whole zoo", slowest))
    rows.append(("evaluate VGG-16 at 224×224×3 (analyze with input)",
                 timed(lambda: symcnn.analyze("vgg16", "224x224x3").totals)))
    f = symcnn.analyze("vgg16").evaluator("macs")
    sizes = range(32, 32 + 100_000)
    rows.append(("VGG-16 MACs at 10⁵ sizes, Python ints (exact)",
                 timed(lambda: [f(H=s, W=s) for s in sizes], 3)))
    try:
        import numpy as np
        arr = np.arange(32, 32 + 100_000)
        rows.append(("VGG-16 MACs at 10⁵ sizes, NumPy int64 (exact, guarded)",
                     timed(lambda: f(H=arr, W=arr))))
    except ImportError:
        pass
    cli = wall([sys.executable, "-m", "symcnn", "vgg16", "--input", "224x224x3"])
    bare = wall([sys.executable, "-c", "import sympy"])
    rows.append(("CLI: `symcnn vgg16 --input 224x224x3`, whole process", cli))
    rows.append(("reference: `python -c 'import sympy'`, whole process", bare))
    more, targets = exporters()
    rows += more

    print(f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
          f"Python {platform.python_version()}, sympy {__import__('sympy').__version__}, "
          f"lark {__import__('lark').__version__}\n")
    print("| measurement | median |\n|---|---:|")
    for name, t in rows:
        print(f"| {name} | {t * 1000:,.1f} ms |")
    print(f"\nDepth growth: time(1000)/time(100) = {depth[1000] / depth[100]:.1f} "
          f"(linear would be 10); time(10000)/time(1000) = {depth[10_000] / depth[1000]:.1f}."
          f"\nCLI / bare sympy import = {cli / bare:.2f}.")
    for name, ok in targets:
        print(f"- {name}: {'met' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
