"""Hostile inputs: each one gives a result or a SymCNNError, within bounded CPU time and memory.

Every case runs in a worker process limited to CASE_CPU_SECONDS of CPU time (RLIMIT_CPU,
set afresh before each case) and MEMORY_BYTES of address space, so a hang or a memory
blow-up fails the case instead of the machine. The bound is on CPU time, not wall time: a
busy machine slows a case down but does not fail it (the wall-clock watchdog is only a
last resort, WALL_FACTOR times the CPU bound). The worker evaluates one expression per
case and reports the result's key numbers, or the error's class, message, line and column,
or the traceback of anything else. Speed itself is measured in benchmarks/, not here.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sympy

import symcnn

CASE_CPU_SECONDS = 20
# The largest network symcnn accepts (100,000 layers), analysed and exported in full as
# table, depth-1 table and JSON: linear work of about 10 s of CPU here (benchmarks/bench.py
# times it). This bound catches a path that is not linear (hours at this depth), not a
# slow or busy machine: CPU time itself grows when the other core is loaded.
LARGEST_CPU_SECONDS = 120
MEMORY_BYTES = 3 * 2**30
WALL_FACTOR = 30  # the watchdog: only a case that sleeps or is starved for this long
ROOT = Path(__file__).resolve().parent.parent

WORKER = textwrap.dedent(r'''
    import json, resource, sys, traceback
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    import sympy, symcnn

    def summary(x, export):
        if isinstance(x, symcnn.Report):
            t = x.totals
            for name, kwargs in (("to_table", {}), ("to_table", {"depth": 1}),
                                 ("to_json", {})):
                if export:
                    getattr(x, name)(**kwargs)
            return {"kind": "report", "rows": len(x.rows),
                    "totals": {q: str(v) for q, v in t.items()},
                    "symbolic": x.symbolic}
        if isinstance(x, symcnn.Network):
            return {"kind": "network", "items": len(x.items), "text": str(x)[:2000]}
        return {"kind": type(x).__name__, "repr": repr(x)[:2000]}

    def cpu_used():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    for line in sys.stdin:
        case = json.loads(line)
        # this case may use case["cpu"] more CPU seconds; past them SIGXCPU ends the worker
        limit = int(cpu_used() + case["cpu"]) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (limit, resource.RLIM_INFINITY))
        try:
            value = eval(case["expression"], {"symcnn": symcnn, "sympy": sympy})
            out = {"ok": summary(value, case["export"])}
        except symcnn.SymCNNError as e:
            out = {"error": type(e).__name__, "message": str(e),
                   "line": getattr(e, "line", None), "column": getattr(e, "column", None),
                   "minimum": getattr(e, "minimum", None)}
        except BaseException as e:
            out = {"crash": type(e).__name__,
                   "traceback": traceback.format_exc()[-3000:]}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
''').replace("MEMORY", str(MEMORY_BYTES))


class Worker:
    """A Python process that evaluates cases one at a time; restarted after a timeout."""

    def __init__(self) -> None:
        self.proc = None

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(ROOT), os.environ.get("PYTHONPATH", "")]))
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)

    def run(self, expression: str, seconds: float = CASE_CPU_SECONDS,
            export: bool = True) -> dict:
        """``expression``'s result (a report is also exported as table, depth-1 table and
        JSON unless ``export`` is false), or its SymCNNError, within ``seconds`` of CPU
        time; anything else fails."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self.proc.stdin.write(json.dumps({"expression": expression, "export": export,
                                         "cpu": seconds}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], seconds * WALL_FACTOR)
        if not ready:
            self.stop()
            pytest.fail(f"no answer after {seconds * WALL_FACTOR} s of wall time (a hang "
                        f"that uses no CPU?): {expression[:200]}")
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self.proc = None
            if code == -signal.SIGXCPU:
                pytest.fail(f"used more than {seconds} s of CPU time: {expression[:200]}")
            pytest.fail(f"worker died (exit {code}; memory limit {MEMORY_BYTES >> 20} MiB?): "
                        f"{expression[:200]}")
        out = json.loads(line)
        assert "crash" not in out, f"{out['crash']} (not a SymCNNError):\n{out['traceback']}"
        return out

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture(scope="module")
def worker():
    w = Worker()
    yield w
    w.stop()


def ok(out: dict) -> dict:
    assert "ok" in out, f"expected a result, got {out.get('error')}: {out.get('message')}"
    return out["ok"]


def error(out: dict, kind: str, pattern: str, line=None, column=None) -> dict:
    assert "error" in out, f"expected {kind}, got a result: {out['ok']}"
    assert out["error"] == kind, out
    assert re.search(pattern, out["message"]), out["message"]
    if line is not None:
        assert (out["line"], out["column"]) == (line, column), out["message"]
    if kind == "NotationError" and out["line"] and "\n" in out["message"]:
        caret_at(out["message"], out["column"])
    return out


def caret_at(message: str, column: int) -> None:
    """The source line and caret under it agree with the column (first line: message)."""
    first, source, caret = message.split("\n")[:3]
    assert first.startswith("line ") and f"column {column}:" in first
    start = max(0, column - 60)
    assert caret.index("^") == 2 + (1 if start else 0) + (column - 1 - start), message


def totals(out: dict) -> dict:
    return {q: (int(v) if re.fullmatch(r"-?\d+", v) else v)
            for q, v in ok(out)["totals"].items()}


# ------------------------------------------------------------------ the harness itself

def test_the_harness_bounds_cpu_time_not_wall_time(worker):
    """A case that spins is ended by its CPU bound (not by a wall clock that a busy
    machine would trip), and the worker restarts for the next case."""
    with pytest.raises(pytest.fail.Exception, match=r"more than 2 s of CPU time"):
        worker.run("sum(range(10**11))", seconds=2)
    assert ok(worker.run("symcnn.analyze('conv3-8', (8, 8, 3))"))["rows"] == 2


# ------------------------------------------------------------------ huge repeats and inputs

def test_billion_repeats_are_closed_form(worker):
    t = totals(worker.run("symcnn.analyze('conv3-64x1000000000', (224, 224, 3))"))
    assert t["params"] == (27 * 64 + 64) + (10**9 - 1) * (9 * 64 * 64 + 64)
    assert t["macs"] == 224 * 224 * (27 * 64 + (10**9 - 1) * 9 * 64 * 64)
    assert t["activations"] == 224 * 224 * 3 + 10**9 * 224 * 224 * 64
    symbolic = totals(worker.run("symcnn.analyze('conv3-64x1000000000')"))
    assert symbolic["params"] == "576*C + 36927999963136"


def test_definition_called_a_trillion_times(worker):
    t = totals(worker.run("symcnn.analyze('def a() = (conv3-8 relu)\\na()x1000000000000', "
                          "(16, 16, 8))"))
    assert t["params"] == 10**12 * (9 * 8 * 8 + 8)
    assert t["activations"] == 16 * 16 * 8 * (1 + 2 * 10**12)


def test_stride_two_repeated_without_end_is_closed_form(worker):
    # every size becomes 1 after 40 halvings: the rest repeats in closed form
    t = totals(worker.run("symcnn.analyze('(conv3-8/2)x1000000000000', (10**12, 10**12, 8))"))
    assert t["params"] == 10**12 * (9 * 8 * 8 + 8)
    out = ok(worker.run("symcnn.analyze('(conv3-8/2)x1000000000000')"))
    assert out["rows"] < 100


def brute_vgg16(h: int, w: int) -> dict:
    """VGG-16 (torchvision) counted layer by layer with plain integers."""
    stages = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
    c, act, macs, params = 3, h * w * 3, 0, 0
    for width, n in stages:
        for _ in range(n):
            params += 9 * c * width + width
            macs += 9 * c * width * h * w
            act += 2 * h * w * width  # conv, relu
            c = width
        h, w = h // 2, w // 2
        act += h * w * c  # pool
    act += 7 * 7 * 512    # adaptive pool
    for n_in, n_out, extra in ((7 * 7 * 512, 4096, 2), (4096, 4096, 2), (4096, 1000, 0)):
        params += n_in * n_out + n_out
        macs += n_in * n_out
        act += n_out * (1 + extra)  # fc, relu, dropout
    return {"params": params, "macs": macs, "activations": act}


@pytest.mark.parametrize("h, w", [(10**9, 10**9), (10**9 + 7, 999_999_937), (224, 224),
                                  (10**12, 10**12)])
def test_vgg16_at_huge_inputs_is_exact(worker, h, w):
    t = totals(worker.run(f"symcnn.analyze('vgg16', ({h}, {w}, 3))"))
    expected = brute_vgg16(h, w)
    assert {q: t[q] for q in expected} == expected
    assert t["flops"] == 2 * expected["macs"]


def test_input_beyond_the_limit_is_refused(worker):
    error(worker.run("symcnn.analyze('vgg16', (10**12 + 1, 224, 3))"), "SymCNNError",
          r"between 1 and 1,000,000,000,000")


# ------------------------------------------------------------------ depth and length

def test_ten_thousand_nested_parentheses(worker):
    out = ok(worker.run("symcnn.parse('(' * 10000 + 'relu' + ')' * 10000)"))
    assert out["items"] == 1
    ok(worker.run("symcnn.analyze('(' * 10000 + 'conv3-8 relu' + ')' * 10000, (8, 8, 3))"))


def test_ten_thousand_nested_repeats_hit_the_nesting_limit(worker):
    out = worker.run("symcnn.parse('(' * 10000 + 'relu' + ')x2' * 10000)")
    # the 101st repeat from the inside opens at index 10000 - 101
    error(out, "NotationError", r"blocks nest 101 deep; the limit is 100", 1, 9900)
    out = worker.run("symcnn.analyze('(' * 10000 + 'relu' + ')x1' * 100 + ')' * 9900)")
    assert ok(out)["rows"] == 2


def test_unbalanced_parentheses(worker):
    error(worker.run("symcnn.parse('(' * 10000 + 'relu')"), "NotationError",
          r"expected '\)' or whitespace after 'relu', found the end of the input", 1, 10005)
    error(worker.run("symcnn.parse('relu' + ')' * 10000)"), "NotationError",
          r"unmatched '\)'", 1, 5)


def test_hundred_thousand_layers(worker):
    out = ok(worker.run("symcnn.analyze('relu ' * 100000)", seconds=LARGEST_CPU_SECONDS))
    assert out["rows"] == 100_001
    assert out["totals"]["activations"] == "100001*C*H*W"


def test_hundred_thousand_and_one_layers_are_refused(worker):
    error(worker.run("symcnn.analyze('relu ' * 100001)"), "NotationError",
          r"the network expands to more than 100,000 (distinct )?layers", 1, 500_001)


def test_hundred_thousand_layer_conv_pool_mix(worker):
    body = "conv3-8 relu pool3/1p1 bn " * 25_000
    t = totals(worker.run(f"symcnn.analyze('input 64x64x3 ' + {body!r})",
                          seconds=LARGEST_CPU_SECONDS))
    conv = [3 * 9 * 8 + 8] + [8 * 9 * 8 + 8] * 24_999
    assert t["params"] == sum(conv) + 25_000 * 16
    assert t["macs"] == 64 * 64 * sum(c - 8 for c in conv)

    # symbolic: H and W stay H and W (exporting 100,000 rows twice is left to the above)
    out = ok(worker.run(f"symcnn.analyze({body!r})", export=False))
    assert out["rows"] == 100_001


def test_too_many_tokens_are_refused_before_parsing(worker):
    error(worker.run("symcnn.parse('relu ' * 500001)"), "NotationError",
          r"has 1,000,002 tokens .* the limit is 1,000,000")
    error(worker.run("symcnn.parse('#' * 10_000_001)"), "NotationError",
          r"10,000,001 characters long; the limit is 10,000,000")
    ok(worker.run("symcnn.parse('# ' + 'comment ' * 1_000_000)"))  # comments are cheap


def test_deep_repeats_multiply_exactly(worker):
    text = "(" * 100 + "conv3-8" + ")x1000000000000" * 100
    t = totals(worker.run(f"symcnn.analyze({text!r}, (8, 8, 8))"))
    assert t["params"] == 10**1200 * (9 * 8 * 8 + 8)


def test_growing_repeat_is_refused_with_its_position(worker):
    error(worker.run("symcnn.analyze('relu\\n  (conv1-8p1)x1000000')"), "NotationError",
          r"'conv1-8p1x1000000' expands to more than 100,000 distinct layers", 2, 3)
    error(worker.run("symcnn.analyze('(cat(|conv3-32))x1000000000000')"), "NotationError",
          r"expands to more than 100,000 distinct layers", 1, 1)


# ------------------------------------------------------------------ numbers

DIGITS = "9" * 3000
NUMERIC = [  # (text, what, column of the number)
    (f"input {DIGITS}x2x3", "an input size", 7),
    (f"input 2x{DIGITS}x3", "an input size", 9),
    (f"conv{DIGITS}-8", "a kernel size", 5),
    (f"conv3x{DIGITS}-8", "a kernel size", 7),
    (f"conv3-{DIGITS}", "a filter count", 7),
    (f"conv3-8/{DIGITS}", "a stride", 9),
    (f"conv3-8p{DIGITS}", "a padding", 9),
    (f"conv3-8d{DIGITS}", "a dilation", 9),
    (f"conv3-8g{DIGITS}", "a group count", 9),
    (f"dw3/{DIGITS}", "a stride", 5),
    (f"pool{DIGITS}", "a kernel size", 5),
    (f"pool3/2p{DIGITS}", "a padding", 9),
    (f"adaptiveavgpool{DIGITS}", "an output size", 16),
    (f"adaptiveavgpool7x{DIGITS}", "an output size", 18),
    (f"fc{DIGITS}", "a unit count", 3),
    (f"fc-{DIGITS}", "a unit count", 4),
    (f"relux{DIGITS}", "a repeat count", 6),
    (f"(relu)x{DIGITS}", "a repeat count", 8),
    (f"se({DIGITS})", "a number", 4),
    (f"def a(w={DIGITS}) = relu", "a number", 9),
    (f"def a(w) = relu\na({DIGITS})", "a number", 3),
    (f"conv3-{{{DIGITS}}}", "a filter count", 8),
]


@pytest.mark.parametrize("text, what, column", NUMERIC,
                         ids=[w + str(c) for _, w, c in NUMERIC])
def test_thousands_of_digits_in_every_numeric_position(worker, text, what, column):
    line = text.count("\n") + 1
    out = worker.run(f"symcnn.parse({text!r})", seconds=5)
    error(out, "NotationError", rf"{what} must be between [01] and 1,000,000,000,000; got "
          rf"99999999999999999999… \(3,000 digits\)", line, column)


def test_leading_zeros_count_as_the_number(worker):
    out = worker.run("symcnn.parse('conv0000000000000000000003-8 fc000000000000000000010')")
    assert ok(out)["text"] == "conv3-8 fc10"


def test_braced_constants_are_checked_as_numbers(worker):
    error(worker.run("symcnn.parse('conv3-{3-5}')"), "NotationError",
          r"a filter count must be between 1 and 1,000,000,000,000; got -2", 1, 7)
    error(worker.run("symcnn.parse('conv3-8/{0*2}')"), "NotationError",
          r"a stride must be between 1 .*; got 0", 1, 9)
    error(worker.run("symcnn.parse('fc{1000000000000*1000000000000}')"), "NotationError",
          r"a unit count must be between 1 .*; got 10000000000000000000… \(25 digits\)",
          1, 3)
    error(worker.run("symcnn.parse('fc{111011111111*111111-4k}')"), "NotationError",
          r"numbers in braces must stay at most 1,000,000,000,000; this expression makes "
          r"12334555566654321", 1, 3)  # folded, it would print as a number out of range
    error(worker.run("symcnn.parse('fc{2*' + '9' * 3000 + '}')"), "NotationError",
          r"a number must be between 0 and 1,000,000,000,000; got 99999999999999999999… "
          r"\(3,000 digits\)", 1, 6)


# ------------------------------------------------------------------ definitions

def test_self_recursion(worker):
    error(worker.run("symcnn.analyze('def a() = a()\\na()')"), "NotationError",
          r"'a' calls itself \(a → a\); definitions cannot recurse", 1, 11)


def test_mutual_recursion(worker):
    text = "def a() = (relu b())\\ndef b() = (bn c())\\ndef c() = a()\\nrelu a()"
    error(worker.run(f"symcnn.analyze('{text}')"), "NotationError",
          r"'a' calls itself \(a → b → c → a\)", 3, 11)


def chain(n: int) -> str:
    return "\\n".join(f"def c{i}() = c{i + 1}()" for i in range(n)) + \
        f"\\ndef c{n}() = conv3-8\\nc0()"


def test_call_chains_up_to_the_limit(worker):
    t = totals(worker.run(f"symcnn.analyze('{chain(99)}', (8, 8, 3))"))
    assert t["params"] == 27 * 8 + 8
    error(worker.run(f"symcnn.analyze('{chain(100)}')"), "NotationError",
          r"blocks nest more than 100 deep once definitions are expanded", 100, 13)


def test_exponential_expansion_is_refused_quickly(worker):
    text = "\\n".join(f"def d{i}() = (d{i + 1}() d{i + 1}())" for i in range(30)) + \
        "\\ndef d30() = relu\\nd0()"
    out = worker.run(f"symcnn.analyze('{text}')", seconds=10)
    error(out, "NotationError", r"expands to more than 300,000 layers and blocks")
    # the same with each call repeated once, and with chains under a fan-out
    text = "\\n".join(f"def d{i}() = (d{i + 1}()x1 d{i + 1}()x1)" for i in range(30)) + \
        "\\ndef d30() = relu\\nd0()"
    error(worker.run(f"symcnn.analyze('{text}')", seconds=10), "NotationError",
          r"expands to more than 300,000 layers and blocks")
    text = "\\n".join(f"def c{i}() = c{i + 1}()" for i in range(70)) + \
        "\\ndef c70() = relu\\n" \
        + "\\n".join(f"def f{i}() = (f{i + 1}() f{i + 1}())" for i in range(20)) + \
        "\\ndef f20() = c0()\\nf0()"
    error(worker.run(f"symcnn.analyze('{text}')", seconds=10), "NotationError",
          r"expands to more than 300,000 layers and blocks")


def test_exponential_expansion_below_the_limit_works(worker):
    text = "\\n".join(f"def d{i}() = (d{i + 1}() d{i + 1}())" for i in range(15)) + \
        "\\ndef d15() = relu\\nd0()"
    assert ok(worker.run(f"symcnn.analyze('{text}')"))["rows"] == 2**15 + 1


# ------------------------------------------------------------------ symbolic widths

def test_symbolic_widths_everywhere(worker):
    text = ("input HxWxC\\ndef blk(w, e=4) = res(conv1-{w*e} bn relu conv3-{w*e}g{w} bn "
            "relu se({w//4}) conv1-w bn)\\nconv3-a/2 blk(a) blk(a) conv3-b/2 blk(b, 6) "
            "cat(conv1-{b//2} | conv3-{b//2+c}) gap fc{2*d} fc{d-1} fc10")
    t = totals(worker.run(f"symcnn.analyze('{text}')"))
    params = sympy.sympify(t["params"])
    assert {s.name for s in params.free_symbols} >= {"a", "b", "c", "d", "C"}


@pytest.mark.parametrize("body, arg", [
    ("{w*w+1}", "k"),                      # degree doubles at every call
    ("{1000000000000*w}", "k"),            # coefficients grow 40 bits a call
    ("{w+w*w}", "k"),                      # the argument is used twice: shared terms
    ("{w*w}", "{2k}"),
])
def test_widths_fed_through_definitions_cannot_grow_without_bound(worker, body, arg):
    text = "\\n".join(f"def s{i}(w) = s{i + 1}({body})" for i in range(40)) + \
        f"\\ndef s40(w) = conv3-w\\ns0({arg})"
    out = worker.run(f"symcnn.analyze('{text}')", seconds=10)
    error(out, "NotationError", r"an argument .* grows too large a formula")


def test_numbers_fed_through_definitions_stay_in_range(worker):
    text = "\\n".join(f"def s{i}(w) = s{i + 1}({{w*w}})" for i in range(60)) + \
        "\\ndef s60(w) = conv3-w\\ns0(2)"
    error(worker.run(f"symcnn.analyze('{text}')"), "NotationError",
          r"an argument is \{w\*w\} = 4294967296\b|an argument is .* it must be between 0 and")


def test_long_braced_expressions_are_refused(worker):
    for expr in ["w" + "//2" * 3000, "w//" * 3000 + "2", "k*" * 40 + "k",
                 "(a+b+c+d+e+f+g+h+i)*" * 5 + "(a+b+c+d+e+f+g+h+i)"]:
        out = worker.run(f"symcnn.parse('conv3-{{' + {expr!r} + '}}')", seconds=10)
        error(out, "NotationError", r"an expression in braces may grow to at most 64 names, "
              r"numbers and operations", 1, 8)
    error(worker.run("symcnn.parse('fc{' + 'w+' * 50000 + 'w}')", seconds=10),
          "NotationError", r"ask for more than 10,000 distinct operations", 1, 4)
    # what stays small is fine, however it is written
    out = ok(worker.run("symcnn.parse('conv3-{' + '(w+' * 5000 + 'w' + ')' * 5000 + '}')"))
    assert out["text"] == "conv3-{5001*w}"
    out = ok(worker.run("symcnn.parse('conv3-{' + '(' * 5000 + 'w' + ')' * 5000 + '} ' + "
                        "'fc{w//2} ' * 1000)"))
    assert out["items"] == 1001


def test_width_named_x_round_trips():
    # a bare letter x is the repeat sign: a width named x prints in braces
    net = symcnn.parse("conv3-{x} fc{X} fc{x2}")
    assert symcnn.parse(str(net)) == net


def test_widths_that_cannot_be_positive(worker):
    error(worker.run("symcnn.analyze('conv3-{w-w-w}')"), "NotationError",
          r"the filter count is \{0-w\}, which is not positive for any positive w|"
          r"the filter count is \{-w\}, which is not positive", 1, 1)
    error(worker.run("symcnn.analyze('def a(w) = fc{w-8}\\na({0-k})')"), "NotationError",
          r"an argument is \{0-k\}|an argument is \{-k\}", 2, 1)


# ------------------------------------------------------------------ text that is not notation

@pytest.mark.parametrize("text", ["", "   ", "\n\n", "# only\n# comments", "\r\n# c\r\n"])
def test_empty_notations_are_the_input_alone(worker, text):
    out = ok(worker.run(f"symcnn.analyze({text!r})"))
    assert out["rows"] == 1 and out["totals"]["params"] == "0"


@pytest.mark.parametrize("value, kind", [(b"conv3-8", "bytes"), (None, "NoneType"),
                                         (42, "int"), (["relu"], "list"),
                                         (bytearray(b"relu"), "bytearray")])
def test_parse_wants_text(worker, value, kind):
    error(worker.run(f"symcnn.parse({value!r})"), "NotationError",
          rf"notation must be text \(str\), not {kind}")


@pytest.mark.parametrize("text, line, column, found", [
    ("relu\x00relu", 1, 5, r"'\\x00relu'"),
    ("relu \x01", 1, 6, r"'\\x01'"),
    ("\x7fconv", 1, 1, r"'\\x7fconv'"),
    ("relu\u202econv3-x", 1, 5, r"'\\u202econv3-x'"),
    ("conv3-64 \udcff", 1, 10, r"'\\udcff'"),
    ("relu 中文", 1, 6, r"'中文'"),
])
def test_binary_and_control_characters(worker, text, line, column, found):
    out = worker.run(f"symcnn.parse({text!r})")
    error(out, "NotationError", rf"found {found}", line, column)
    source = out["message"].split("\n")[1]
    assert source.isprintable()  # shown without control characters


@pytest.mark.parametrize("text, line, column", [
    ("relu\r\nconv3-x", 2, 7),
    ("relu\r\n\r\n  conv3-x\r\n", 3, 9),
    ("relu\tconv3-x", 1, 12),
    ("\t\trelu\t\tconv3-x", 1, 15),
    ("relu\n\tpool\tconv3-x", 2, 13),
    ("relu\x0bconv3-x", 1, 12),
    ("relu\x0cconv3-x", 1, 12),
    ("relu\u2028conv3-x", 1, 12),
    ("relu\u3000conv3-x", 1, 12),
    ("relu\u00a0conv3-x", 1, 12),
    ("relu\rconv3-x", 1, 12),
    ("中文\n", 1, 1),
    ("relu 中文", 1, 6),
])
def test_carets_point_at_the_column(worker, text, line, column):
    out = worker.run(f"symcnn.parse({text!r})")
    assert "error" in out
    assert (out["line"], out["column"]) == (line, column)
    lines = out["message"].split("\n")
    assert len(lines) == 3  # nothing in the source line breaks it
    source, caret = lines[1][2:], lines[2][2:]
    # the caret sits under the character at the column, counting wide characters twice
    import unicodedata
    cells = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1
                for c in source[:column - 1])
    assert caret.index("^") == cells


def test_error_columns_in_very_long_lines(worker):
    text = "relu " * 2000 + "conv3-x"
    out = error(worker.run(f"symcnn.parse({text!r})"), "NotationError",
                r"expected a filter count after 'conv3-'", 1, 10007)
    source, caret = out["message"].split("\n")[1:3]
    assert source[caret.index("^")] == "x"


def test_errors_after_parsing_show_the_source_line(worker):
    out = error(worker.run("symcnn.analyze('relu\\n  def a(w) = conv3-{w-5}\\na(3)')"),
                "NotationError", r"the filter count is \{w-5\} = -2", 2, 14)
    assert out["message"].split("\n")[1] == "    def a(w) = conv3-{w-5}"
    out = error(worker.run("symcnn.analyze('relu\\nb()')"), "NotationError",
                r"unknown block 'b'", 2, 1)
    assert out["message"].split("\n")[1:] == ["  b()", "  ^^"]
    # a Network built without text still explains itself
    net = "symcnn.Network((symcnn.layers.Call('b', (), 3, 4),))"
    out = error(worker.run(f"symcnn.analyze({net})"), "NotationError",
                r"^line 3, column 4: unknown block 'b'", 3, 4)


def test_a_byte_order_mark_is_a_space(worker):
    assert ok(worker.run("symcnn.parse('\\ufeffrelu\\ufeff conv3-8')"))["text"] == \
        "relu conv3-8"
    error(worker.run("symcnn.parse('\\ufeffrelu conv3-x')"), "NotationError",
          r"expected a filter count", 1, 13)


def test_input_sizes_are_bounded_text(worker):
    error(worker.run("symcnn.analyze('conv3-8', 'x' * 20_000_000)"), "NotationError",
          r"characters long; the limit is")
    error(worker.run("symcnn.analyze('conv3-8', '224x224x' + '9' * 5000)"), "NotationError",
          r"an input size must be between 1")
    error(worker.run("symcnn.analyze('conv3-8', b'224x224x3')"), "SymCNNError",
          r"input must be")


def test_shapes_no_input_survives(worker):
    out = error(worker.run("symcnn.analyze('(pool)x1000000')"), "ShapeError",
                r"empty for every input size up to 1,000,000,000,000")
    assert out["minimum"] is None
    out = error(worker.run("symcnn.analyze('input 16x16x3 conv3-64x2 pool pool pool pool "
                           "pool pool')"), "ShapeError", r"at least 64x64")
    assert out["minimum"] == [64, 64]


def test_cli_reports_hostile_input_without_traceback(tmp_path):
    bad = tmp_path / "bad.cnn"
    bad.write_bytes(b"relu\r\n\tconv3-x\xff")
    proc = subprocess.run([sys.executable, "-m", "symcnn", str(bad)], capture_output=True,
                          text=True, cwd=ROOT, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("symcnn: error:")
