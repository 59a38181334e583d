"""symcnn benchmarks: derivation time against depth, CLI wall time, formula evaluation.

Run:  python benchmarks/bench.py            (prints a Markdown table for the README)

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


def main() -> None:
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

    print(f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, "
          f"Python {platform.python_version()}, sympy {__import__('sympy').__version__}, "
          f"lark {__import__('lark').__version__}\n")
    print("| measurement | median |\n|---|---:|")
    for name, t in rows:
        print(f"| {name} | {t * 1000:,.1f} ms |")
    print(f"\nDepth growth: time(1000)/time(100) = {depth[1000] / depth[100]:.1f} "
          f"(linear would be 10); time(10000)/time(1000) = {depth[10_000] / depth[1000]:.1f}."
          f"\nCLI / bare sympy import = {cli / bare:.2f}.")


if __name__ == "__main__":
    main()
