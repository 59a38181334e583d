"""symcnn against its peers, side by side on one machine.

Install the peers (the benchmark extra), then run one command:

    pip install torch==2.14.1 torchvision==0.29.1   # first: no extra pins torch
    pip install -e ".[bench]"
    python benchmarks/peers.py            # about 3-5 minutes; --runs N to change the repeats

where bench = peers + numpy, and peers = torchinfo 1.8.0, fvcore 0.1.5.post20221221,
ptflops 0.7.5, thop 0.1.1.post2209072238 (pinned, with fvcore's dependencies; none of the
four pins another torch). A peer that is not installed is skipped
with a line saying so; without torch every peer is skipped and only symcnn is timed.

What is measured (every time is a median; the number of runs is printed beside it):

1. Whole process, wall time and peak RSS (``/usr/bin/time -v``; without it a wrapper
   process reads ``getrusage(RUSAGE_CHILDREN)``), for VGG-16 and ResNet-152 at
   224x224x3: ``python -m symcnn NET --input 224x224x3`` against a fresh Python process
   that imports torch and the peer, builds the model with the plain ``torch.nn`` builders
   of ``benchmarks/torch_reference.py`` and asks the peer for its count: torchinfo
   ``summary``, fvcore ``FlopCountAnalysis``, ptflops ``get_model_complexity_info``, thop
   ``profile`` (all four on the CPU, with real tensors) and PyTorch's ``FlopCounterMode``
   with the model built on the meta device. Each process prints the params and MACs it
   found; they are shown beside the times (the peers count MACs differently).
2. In process, one size: ``symcnn.analyze(NET, "224x224x3").totals`` with cold caches
   (SymPy's cache, ``symcnn.dims._expr``, ``symcnn.zoo.load``) against meta-device
   ``FlopCounterMode``, model construction included and excluded.
3. Sweep: VGG-16 and ResNet-50 MACs at 10^4 square sizes (32..10031): symcnn derives the
   formula with cold caches, compiles it (``analyze(NET).evaluator("macs")``) and evaluates
   it on a NumPy array (also on Python ints, size by size); the peer, meta-device
   ``FlopCounterMode``, is timed at 50 sizes spread over the range and its per-size time is
   extrapolated linearly to 10^4 sizes (stated in the output). The 50 sampled sizes are
   also checked for exact agreement.
4. Cold start: ``python -m symcnn vgg16`` (symbolic, every formula) against
   ``python -c "import sympy"``.
5. Depth: a plain stack of N conv layers (``stack()`` of ``benchmarks/bench.py``),
   N = 100, 1000, 10000, derived symbolically with cold caches.
6. Evaluation: ResNet-50 MACs at 10^5 sizes through the compiled evaluator, NumPy int64
   (overflow-guarded) and Python ints, checked equal.

The targets of the "speed" issue are checked at the end, each marked met or MISSED.
Nothing is asserted: the script always prints the whole report and exits 0.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PY = sys.executable
SIZE = (224, 224)
SWEEP_SIZES = (32, 32 + 10_000)          # 10^4 square sizes
SWEEP_SAMPLE = 50                        # peer sizes actually run, then extrapolated
EVAL_SIZES = (32, 32 + 100_000)          # 10^5 square sizes
DEPTHS = (100, 1000, 10_000)

sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(ROOT))
from bench import timed  # noqa: E402  (median of repeated timings)

# ------------------------------------------------------------------ child processes

# Every peer child prints "RESULT <params> <macs>" on its last line.
_PRELUDE = f"""
import sys
sys.path.insert(0, {str(BENCH_DIR)!r})
import torch
from torch_reference import MODELS
NAME = sys.argv[1]
H, W = {SIZE[0]}, {SIZE[1]}
"""

PEERS = {
    # label: (modules that must be importable, pip name, child code)
    "torchinfo summary": (("torch", "torchinfo"), "torchinfo", """
import torchinfo
model = MODELS[NAME]().eval()
s = torchinfo.summary(model, input_size=(1, 3, H, W), verbose=0)
print("RESULT", s.total_params, s.total_mult_adds)
"""),
    "fvcore FlopCountAnalysis": (("torch", "fvcore"), "fvcore", """
from fvcore.nn import FlopCountAnalysis
model = MODELS[NAME]().eval()
with torch.no_grad():
    f = FlopCountAnalysis(model, torch.zeros(1, 3, H, W))
    f.unsupported_ops_warnings(False)
    f.uncalled_modules_warnings(False)
    macs = f.total()
print("RESULT", sum(p.numel() for p in model.parameters()), macs)
"""),
    "ptflops get_model_complexity_info": (("torch", "ptflops"), "ptflops", """
from ptflops import get_model_complexity_info
model = MODELS[NAME]().eval()
with torch.no_grad():
    macs, params = get_model_complexity_info(model, (3, H, W), as_strings=False,
                                             print_per_layer_stat=False, verbose=False)
print("RESULT", params, macs)
"""),
    "thop profile": (("torch", "thop"), "thop", """
from thop import profile
model = MODELS[NAME]().eval()
with torch.no_grad():
    macs, params = profile(model, inputs=(torch.zeros(1, 3, H, W),), verbose=False)
print("RESULT", int(params), int(macs))
"""),
    "FlopCounterMode (meta device)": (("torch",), "torch", """
from torch.utils.flop_counter import FlopCounterMode
with torch.device("meta"):
    model = MODELS[NAME]().eval()
x = torch.zeros(1, 3, H, W, device="meta")
with torch.no_grad(), FlopCounterMode(display=False) as counter:
    model(x)
print("RESULT", sum(p.numel() for p in model.parameters()), counter.get_total_flops() // 2)
"""),
}

SYMCNN = "symcnn CLI"

# Every child gets the same environment: bytecode cached under one prefix in the temp
# directory (as an installed package has it), whatever PYTHONDONTWRITEBYTECODE says here,
# so no tool pays for compiling its sources on every start. The first (warm-up) run of the
# first benchmark fills it.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "symcnn-peers-pycache")

_GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None

# Fallback when /usr/bin/time is missing: a wrapper process runs the child and reads
# getrusage(RUSAGE_CHILDREN).ru_maxrss, which then covers that one child only.
_WRAPPER = """
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:])
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print("RUSAGE", u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr)
sys.exit(r.returncode)
"""


def run_process(argv: list[str]) -> dict:
    """Run argv once: wall seconds (measured here, around the whole process), peak RSS
    in bytes, stdout, and an error line if it failed."""
    if _GNU_TIME:
        with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
            t = time.perf_counter()
            p = subprocess.run([_GNU_TIME, "-v", "-o", tf.name, *argv], capture_output=True,
                               text=True, cwd=ROOT, env=CHILD_ENV)
            wall = time.perf_counter() - t
            out = tf.read()
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", out)
        rss = int(m.group(1)) * 1024 if m else None
        cpu = sum(float(x) for x in
                  re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", out)) or None
    else:
        t = time.perf_counter()
        p = subprocess.run([PY, "-c", _WRAPPER, *argv], capture_output=True, text=True,
                           cwd=ROOT, env=CHILD_ENV)
        wall = time.perf_counter() - t
        lines = p.stderr.strip().splitlines()
        rss = cpu = None
        if lines and lines[-1].startswith("RUSAGE "):
            _, kb, cpu = lines.pop().split()
            rss, cpu = int(kb) * 1024, float(cpu)
        p.stderr = "\n".join(lines)
    err = None
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["(no message)"])[-1]
        err = f"exit {p.returncode}: {tail[:160]}"
    return {"wall": wall, "rss": rss, "cpu": cpu, "stdout": p.stdout, "error": err}


def interleaved(argvs: dict[str, list[str]], runs: int) -> dict[str, dict]:
    """One discarded warm-up run of every command (fills the bytecode and file caches),
    then ``runs`` rounds, one run of each command per round; medians per command."""
    for argv in argvs.values():
        run_process(argv)
    samples: dict[str, list[dict]] = {k: [] for k in argvs}
    for _ in range(runs):
        for label, argv in argvs.items():
            samples[label].append(run_process(argv))
    res = {}
    for label, rs in samples.items():
        err = next((r["error"] for r in rs if r["error"]), None)
        if err:
            res[label] = {"error": err}
            continue

        def med(key):
            xs = [r[key] for r in rs if r[key] is not None]
            return statistics.median(xs) if xs else None
        res[label] = {"wall": med("wall"), "rss": med("rss"), "cpu": med("cpu"),
                      "stdout": rs[-1]["stdout"]}
    return res


# ------------------------------------------------------------------ helpers

def have(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def ms(s: float) -> str:
    if s >= 10:
        return f"{s:,.1f} s"
    if s >= 1e-3:
        return f"{s * 1e3:,.1f} ms"
    if s >= 1e-6:
        return f"{s * 1e6:,.1f} µs"
    return f"{s * 1e9:,.1f} ns"


def mib(b) -> str:
    return "—" if b is None else f"{b / 2**20:,.0f} MiB"


def ratio(x: float) -> str:
    return f"{x:,.0f}×" if x >= 100 else f"{x:,.1f}×"


def clear_caches() -> None:
    """Cold start for a derivation: SymPy's cache and symcnn's own caches."""
    from sympy.core.cache import clear_cache
    import symcnn.dims
    import symcnn.zoo
    clear_cache()
    for owner, attr in ((symcnn.dims, "_expr"), (symcnn.zoo, "load"), (symcnn.zoo, "source")):
        fn = getattr(owner, attr, None)
        if hasattr(fn, "cache_clear"):
            fn.cache_clear()


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f", {int(line.split()[1]) / 2**20:.1f} GiB RAM"
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    vers = ", ".join(f"{d} {version(d)}" for d in
                     ("symcnn", "sympy", "lark", "numpy", "torch", "torchinfo", "fvcore",
                      "ptflops", "thop"))
    rss = "/usr/bin/time -v" if _GNU_TIME else "getrusage(RUSAGE_CHILDREN) in a wrapper"
    return (f"Machine: {cpu}, {cores} cores usable{mem}; {platform.system()} "
            f"{platform.release()}; Python {platform.python_version()}\n"
            f"Versions: {vers}\nPeak RSS and CPU time from: {rss}\n{load()}")


def load() -> str:
    """The 1/5/15-minute load average: other work on the machine skews wall times."""
    try:
        return "Load average at this point: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "Load average: unknown"


TARGETS: list[tuple[str, bool | None, str]] = []


def target(name: str, ok: bool | None, detail: str) -> None:
    TARGETS.append((name, ok, detail))


# ------------------------------------------------------------------ 1. whole process

def whole_process(runs: int) -> None:
    print("## 1. Whole process: wall time and peak RSS, 224×224×3, batch 1\n")
    print(f"Median of {runs} runs each, interleaved, after one warm-up run of each "
          "(discarded). Ratios are peer / symcnn "
          "(higher = symcnn ahead). torchinfo, fvcore, ptflops and thop run a real forward "
          "pass on the CPU; FlopCounterMode runs on the meta device (no storage).\n")
    available = {}
    for label, (mods, pip_name, _code) in PEERS.items():
        if have(*mods):
            available[label] = PEERS[label][2]
        else:
            print(f"- skipped: {label} — `{pip_name}` is not installed "
                  f"(`pip install {pip_name}`)")
    if len(available) < len(PEERS):
        print()
    for net in ("vgg16", "resnet152"):
        argvs = {SYMCNN: [PY, "-m", "symcnn", net, "--input", f"{SIZE[0]}x{SIZE[1]}x3"]}
        for label, code in available.items():
            argvs[label] = [PY, "-c", _PRELUDE + code, net]
        res = interleaved(argvs, runs)
        base = res[SYMCNN]
        print(f"### {net}\n")
        print("| tool | wall | peak RSS | CPU (user+sys) | wall ratio | RSS ratio | CPU ratio "
              "| params | MACs reported |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for label, r in res.items():
            if "error" in r:
                print(f"| {label} | failed: {r['error']} | | | | | | | |")
                continue
            params, macs = _counts(label, r["stdout"])
            if label == SYMCNN or "error" in base:
                wr = rr = cr = "1.0×" if label == SYMCNN else "—"
            else:
                wr = ratio(r["wall"] / base["wall"])
                rr = ratio(r["rss"] / base["rss"]) if r["rss"] and base["rss"] else "—"
                cr = ratio(r["cpu"] / base["cpu"]) if r["cpu"] and base["cpu"] else "—"
            cpu = ms(r["cpu"]) if r["cpu"] else "—"
            print(f"| {label} | {ms(r['wall'])} | {mib(r['rss'])} | {cpu} | {wr} | {rr} | "
                  f"{cr} | {params} | {macs} |")
        print()
        if "error" in base:
            continue
        ti = res.get("torchinfo summary")
        if ti and "error" not in ti:
            w, m = ti["wall"] / base["wall"], ti["rss"] / base["rss"]
            target(f"{net}: whole process ≥10× less wall than torchinfo", w >= 10,
                   f"{ratio(w)}")
            target(f"{net}: whole process ≥10× less peak memory than torchinfo", m >= 10,
                   f"{ratio(m)}")
        else:
            target(f"{net}: whole process vs torchinfo", None, "torchinfo not measured")
        fc = res.get("FlopCounterMode (meta device)")
        if fc and "error" not in fc:
            w = fc["wall"] / base["wall"]
            target(f"{net}: whole process ≥5× less wall than meta FlopCounterMode", w >= 5,
                   f"{ratio(w)}")
        else:
            target(f"{net}: whole process vs FlopCounterMode", None, "torch not measured")


def _counts(label: str, stdout: str) -> tuple[str, str]:
    if label == SYMCNN:
        p = re.search(r"Total params:\s+([\d,]+)", stdout)
        m = re.search(r"^MACs:\s+([\d,]+)", stdout, re.M)
        return (p.group(1) if p else "?"), (m.group(1) if m else "?")
    for line in reversed(stdout.splitlines()):
        if line.startswith("RESULT"):
            _, p, m = line.split()
            return f"{int(float(p)):,}", f"{int(float(m)):,}"
    return "?", "?"


# ------------------------------------------------------------------ 2. in process

def in_process(runs: int) -> None:
    import symcnn
    print("## 2. In process, one size (224×224×3): totals from nothing\n")
    print("symcnn: `symcnn.analyze(NET, '224x224x3').totals` after clearing SymPy's cache, "
          "`symcnn.dims._expr` and `symcnn.zoo.load` (so parse + propagate each time). "
          f"Peer: meta-device `FlopCounterMode`. Median of {runs} runs after one warm-up.\n")
    torch_ok = have("torch")
    if not torch_ok:
        print("- skipped: FlopCounterMode — torch is not installed\n")
    print("| network | symcnn analyze | FlopCounterMode incl. model build | "
          "FlopCounterMode excl. build | ratio incl. | ratio excl. |")
    print("|---|---:|---:|---:|---:|---:|")
    for net in ("vgg16", "resnet152"):
        def sym():
            clear_caches()
            return symcnn.analyze(net, f"{SIZE[0]}x{SIZE[1]}x3").totals
        sym()
        t_sym = timed(sym, runs)
        if not torch_ok:
            print(f"| {net} | {ms(t_sym)} | — | — | — | — |")
            continue
        import torch
        from torch.utils.flop_counter import FlopCounterMode
        from torch_reference import MODELS
        x = torch.zeros(1, 3, *SIZE, device="meta")

        def build():
            with torch.device("meta"):
                return MODELS[net]().eval()

        def count(model):
            with torch.no_grad(), FlopCounterMode(display=False) as c:
                model(x)
            return c.get_total_flops() // 2

        model = build()
        assert count(model) == sym()["macs"], f"{net}: MACs differ from FlopCounterMode"
        t_incl = timed(lambda: count(build()), runs)
        t_excl = timed(lambda: count(model), runs)
        print(f"| {net} | {ms(t_sym)} | {ms(t_incl)} | {ms(t_excl)} | "
              f"{ratio(t_incl / t_sym)} | {ratio(t_excl / t_sym)} |")
        target(f"{net}: in-process analyze faster than meta FlopCounterMode (build incl.)",
               t_sym < t_incl, f"{ratio(t_incl / t_sym)}")
        target(f"{net}: in-process analyze faster than meta FlopCounterMode (build excl.)",
               t_sym < t_excl, f"{ratio(t_excl / t_sym)}")
    print("\nMACs agree exactly with FlopCounterMode / 2 for both networks (checked).\n"
          if torch_ok else "")


# ------------------------------------------------------------------ 3. sweep

def sweep(runs: int) -> None:
    import numpy as np
    import symcnn
    lo, hi = SWEEP_SIZES
    n = hi - lo
    print(f"## 3. Sweep: MACs at {n:,} square sizes ({lo}..{hi - 1})\n")
    print("symcnn total = derive the formula with cold caches + compile "
          "(`analyze(NET).evaluator('macs')`) + evaluate. The peer (meta-device "
          f"`FlopCounterMode`, model built once) is **run at {SWEEP_SAMPLE} sizes spread "
          f"over the range and its median per-size time extrapolated linearly to {n:,} "
          f"sizes** (+ one model build); the {SWEEP_SAMPLE} sampled sizes are checked "
          f"for exact agreement. symcnn times are medians of {runs} runs.\n")
    torch_ok = have("torch")
    if not torch_ok:
        print("- skipped: FlopCounterMode — torch is not installed\n")
    print("| network | symcnn derive + compile | eval NumPy (10⁴) | eval Python ints (10⁴) | "
          "symcnn total (NumPy) | FlopCounterMode per size | FlopCounterMode ×10⁴ "
          "(extrapolated) | ratio (NumPy) | ratio (Python ints) | exact at samples |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    arr = np.arange(lo, hi, dtype=np.int64)
    for net in ("vgg16", "resnet50"):
        def derive():
            clear_caches()
            return symcnn.analyze(net).evaluator("macs")
        t_derive = timed(derive, runs)
        f = derive()
        t_np = timed(lambda: f(H=arr, W=arr), max(runs, 5))
        t_py = timed(lambda: [f(H=s, W=s) for s in range(lo, hi)], runs)
        vals = f(H=arr, W=arr)
        assert [int(v) for v in vals] == [f(H=s, W=s) for s in range(lo, hi)]
        sym_np = t_derive + t_np
        sym_py = t_derive + t_py
        if not torch_ok:
            print(f"| {net} | {ms(t_derive)} | {ms(t_np)} | {ms(t_py)} | {ms(sym_np)} | — | — "
                  "| — | — | — |")
            continue
        import torch
        from torch.utils.flop_counter import FlopCounterMode
        from torch_reference import MODELS
        t = time.perf_counter()
        with torch.device("meta"):
            model = MODELS[net]().eval()
        t_build = time.perf_counter() - t
        sample = sorted({int(s) for s in np.linspace(lo, hi - 1, SWEEP_SAMPLE)})
        per, agree = [], 0
        for s in sample:
            x = torch.zeros(1, 3, s, s, device="meta")
            t = time.perf_counter()
            with torch.no_grad(), FlopCounterMode(display=False) as c:
                model(x)
            per.append(time.perf_counter() - t)
            agree += c.get_total_flops() // 2 == int(vals[s - lo])
        t_per = statistics.median(per)
        peer = t_build + t_per * n
        print(f"| {net} | {ms(t_derive)} | {ms(t_np)} | {ms(t_py)} | {ms(sym_np)} | "
              f"{ms(t_per)} | {ms(peer)} | {ratio(peer / sym_np)} | {ratio(peer / sym_py)} | "
              f"{agree}/{len(sample)} |")
        target(f"{net}: sweep of 10⁴ sizes ≥1000× faster than meta FlopCounterMode",
               peer / sym_np >= 1000, f"{ratio(peer / sym_np)} (NumPy path, peer "
               f"extrapolated from {len(sample)} sizes)")
    print()


# ------------------------------------------------------------------ 4. cold start

def cold_start(runs: int) -> None:
    print("## 4. Cold start: whole process\n")
    cases = {
        "`symcnn vgg16` (symbolic, every formula)": [PY, "-m", "symcnn", "vgg16"],
        "`python -c \"import sympy\"`": [PY, "-c", "import sympy"],
        "`python -c \"pass\"` (interpreter alone)": [PY, "-c", "pass"],
    }
    res = interleaved(cases, runs)
    print(f"Median of {runs} runs each, interleaved, after one warm-up run of each.\n")
    print("| process | wall | peak RSS | CPU (user+sys) |\n|---|---:|---:|---:|")
    for k, r in res.items():
        if "error" in r:
            print(f"| {k} | failed: {r['error']} | | |")
            continue
        print(f"| {k} | {ms(r['wall'])} | {mib(r['rss'])} | "
              f"{ms(r['cpu']) if r['cpu'] else '—'} |")
    res = {k: r["wall"] for k, r in res.items() if "error" not in r}
    keys = list(cases)
    if keys[0] in res and keys[1] in res:
        r = res[keys[0]] / res[keys[1]]
        print(f"\n`symcnn vgg16` / `import sympy` = {r:.2f}\n")
        target("cold start: `symcnn vgg16` within 1.5× of `import sympy`", r <= 1.5, f"{r:.2f}×")


# ------------------------------------------------------------------ 5. depth

def depth(runs: int) -> None:
    from bench import derive, stack
    print("## 5. Depth: plain stack of N conv layers, symbolic derivation\n")
    print("`stack(N)` from `benchmarks/bench.py` (changing widths, 5 stride-2 pools, fc10); "
          "parse + propagate + every closed form, cold caches each run.\n")
    print("| N | time | runs |\n|---:|---:|---:|")
    t = {}
    for n in DEPTHS:
        text = stack(n)
        reps = runs if n >= 10_000 else max(runs, 5)
        t[n] = timed(lambda: derive(text), reps)
        print(f"| {n:,} | {ms(t[n])} | {reps} |")
    r1 = t[1000] / t[100]
    r2 = t[10_000] / t[1000]
    print(f"\ntime(1000)/time(100) = {r1:.1f}; time(10000)/time(1000) = {r2:.1f} "
          "(linear would be 10)\n")
    target("depth: time(1000)/time(100) ≤ 15", r1 <= 15, f"{r1:.1f}")
    target("depth: time(10000)/time(1000) ≤ 15", r2 <= 15, f"{r2:.1f}")


# ------------------------------------------------------------------ 6. evaluation

def evaluation(runs: int) -> None:
    import numpy as np
    import symcnn
    lo, hi = EVAL_SIZES
    n = hi - lo
    print(f"## 6. Evaluation: ResNet-50 MACs at {n:,} square sizes ({lo}..{hi - 1})\n")
    f = symcnn.analyze("resnet50").evaluator("macs")
    arr = np.arange(lo, hi, dtype=np.int64)
    t_np = timed(lambda: f(H=arr, W=arr), max(runs, 5))
    t_py = timed(lambda: [f(H=s, W=s) for s in range(lo, hi)], runs)
    a = f(H=arr, W=arr)
    exact = [int(v) for v in a] == [f(H=s, W=s) for s in range(lo, hi)]
    print("| path | time | per size |\n|---|---:|---:|")
    print(f"| NumPy int64, overflow-guarded ({a.dtype}) | {ms(t_np)} | {ms(t_np / n)} |")
    print(f"| Python ints | {ms(t_py)} | {ms(t_py / n)} |")
    print(f"\nNumPy result equals the Python-int result at all {n:,} sizes: {exact}; "
          f"largest value {int(a.max()):,} MACs.\n")
    target("evaluation: 10⁵ sizes well under a second (NumPy)", t_np < 0.1 and exact,
           f"{ms(t_np)}, exact={exact}")
    target("evaluation: 10⁵ sizes under a second (Python ints)", t_py < 1.0,
           f"{ms(t_py)}")


# ------------------------------------------------------------------ main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="repeats per measurement (≥3)")
    args = ap.parse_args(argv)
    runs = max(1, args.runs)
    t0 = time.perf_counter()
    print("# symcnn against its peers\n")
    print(machine() + "\n")
    whole_process(runs)
    if have("numpy"):
        in_process(runs)
        sweep(runs)
    else:
        print("- skipped: in-process, sweep and evaluation sections — numpy is not installed\n")
    cold_start(max(runs, 5))
    depth(runs)
    if have("numpy"):
        evaluation(runs)
    print("## Targets\n")
    print("| target | result | measured |\n|---|---|---:|")
    for name, ok, detail in TARGETS:
        mark = "not measured" if ok is None else ("met" if ok else "**MISSED**")
        print(f"| {name} | {mark} | {detail} |")
    print(f"\n{load()}. Total benchmark time: {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
