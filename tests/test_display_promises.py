"""The per-layer listing stays small whatever the repeats multiply to.

formatting.display_rows lists a repeat of up to EXPAND_LIMIT copies copy by copy; nested
repeats multiply (``((((relu)x64)x64)x64)x64`` would be 64⁴ lines), so the listing is kept
within MAX_LINES lines (or the number of rows, where there are more): the repeats whose
listing takes the most lines show each of their rows once, with the number of times it
runs. Within the budget the listing is exactly the copy-by-copy rule's (checked here
against a reference implementation of that rule).

The large cases run in a subprocess limited to 1 GiB of address space and 30 s of CPU
time, so a blow-up fails the test instead of the machine; what is asserted is the output
(line counts, the ×count lines, the totals), not the time taken.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import symcnn
from symcnn.formatting import EXPAND_LIMIT, MAX_LINES, Line, display_rows

ROOT = Path(__file__).resolve().parent.parent
MEMORY_BYTES = 2**30
CPU_SECONDS = 30

NESTED = "((((relu)x64)x64)x64)x64"
DEFINITIONS = "def f1() = (relu)x2\n" + "".join(
    f"def f{i}() = (f{i - 1}())x2\n" for i in range(2, 41)) + "f40()"
BRANCHES = "cat(" + " | ".join(["conv1-1"] * 10_000) + ")"

SCRIPT = textwrap.dedent(r'''
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (__MEMORY__, __MEMORY__))
    resource.setrlimit(resource.RLIMIT_CPU, (__CPU__, __CPU__))
    import symcnn
    r = symcnn.analyze(sys.stdin.read())
    out = {"rows": len(r.rows), "totals": {q: str(v) for q, v in r.totals.items()}}
    for name, kwargs in (("to_table", {}), ("to_table", {"depth": 1}), ("to_json", {}),
                         ("to_csv", {}), ("to_markdown", {}), ("to_latex", {})):
        out[name + ("_depth1" if kwargs else "")] = getattr(r, name)(**kwargs)
    json.dump(out, sys.stdout)
''').replace("__MEMORY__", str(MEMORY_BYTES)).replace(
    "__CPU__", str(CPU_SECONDS))


def _exports(text: str) -> dict:
    """Every exporter's output for ``text`` (symbolic input), from a limited process."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", SCRIPT], input=text, capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=CPU_SECONDS * 20)
    assert proc.returncode == 0, (f"exit {proc.returncode} (over {MEMORY_BYTES >> 20} MiB "
                                  f"or {CPU_SECONDS} s of CPU?):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)


def _layer_lines(table: str) -> list[str]:
    """The per-layer lines of a text table (between the first two rules)."""
    lines = table.splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("─")]
    return lines[rules[0] + 1:rules[1]]


def _reference(rows) -> list[tuple]:
    """The copy-by-copy rule alone (no line budget): (index, row, copies, key) per line."""
    def expand(rows, level, key):
        i = 0
        while i < len(rows):
            row = rows[i]
            if len(row.reps) <= level:
                yield row, 1, key
                i += 1
                continue
            uid, count, depth = row.reps[level]
            j = i
            while j < len(rows) and len(rows[j].reps) > level and \
                    rows[j].reps[level][0] == uid:
                j += 1
            if count <= EXPAND_LIMIT:
                for k in range(count):
                    yield from expand(rows[i:j], level + 1, (*key, (uid, k, depth)))
            else:
                for r, copies, inner in expand(rows[i:j], level + 1,
                                               (*key, (uid, -1, depth))):
                    yield r, copies * count, inner
            i = j
    out, n = [], 0
    for row, copies, key in expand(list(rows), 0, ()):
        out.append((n, id(row), copies, key))
        n += copies
    return out


def _plain(lines: list[Line]) -> list[tuple]:
    return [(line.index, id(line.row), line.copies, line.key) for line in lines]


def _runs_add_up(report, lines: list[Line]) -> None:
    """Every row is listed, its copies add up to the times it runs, and the lines are
    numbered by the layers before them."""
    copies: dict[int, int] = {}
    n = 0
    for line in lines:
        assert line.index == n
        n += line.copies
        copies[id(line.row)] = copies.get(id(line.row), 0) + line.copies
    assert copies == {id(row): row.count for row in report.rows}


# ── the reported blow-ups: every exporter, in little memory ─────────────────────────────

def test_nested_repeats_are_one_line_each_in_every_export():
    out = _exports(NESTED)
    assert out["rows"] == 2
    assert out["totals"]["activations"] == "16777217*C*H*W"  # (1 + 64⁴)·H·W·C
    for name in ("to_table", "to_table_depth1"):
        layers = _layer_lines(out[name])
        assert len(layers) == 2, out[name]
        assert layers[0].split()[:2] == ["0", "input"]
        assert layers[1].split()[:4] == ["1", "relu", "(×16,777,216,", "each)"]
        assert "Activations:           16,777,217·C·H·W elements" in out[name]
    layers = json.loads(out["to_json"])["layers"]
    assert [(x["name"], x.get("repeat", 1)) for x in layers] == [("input", 1),
                                                                 ("relu", 64**4)]
    assert json.loads(out["to_json"])["totals"]["activations"] == "16777217*C*H*W"
    csv_lines = out["to_csv"].splitlines()
    assert len(csv_lines) == 3 and csv_lines[2].startswith("1,relu,elementwise,,16777216,")
    assert "| 1 | `relu ×16,777,216` |" in out["to_markdown"]
    assert "**16,777,217·C·H·W**" in out["to_markdown"]
    assert out["to_markdown"].count("\n| ") == 4  # header, rule, 2 layers, total
    assert r"\texttt{relu} $\times 16{,}777{,}216$" in out["to_latex"]
    assert out["to_latex"].count(r"\texttt{relu}") == 1


def test_forty_nested_definitions_are_one_line():
    out = _exports(DEFINITIONS)
    assert out["rows"] == 2
    assert out["totals"]["activations"] == f"{2**40 + 1}*C*H*W"
    layers = _layer_lines(out["to_table"])
    assert len(layers) == 2 and "relu (×1,099,511,627,776, each)" in layers[1]
    depth1 = _layer_lines(out["to_table_depth1"])
    assert len(depth1) == 2 and "f40() (1,099,511,627,776 layers)" in depth1[1]
    assert "1,099,511,627,776·C·H·W" in depth1[1]
    assert [x.get("repeat", 1) for x in json.loads(out["to_json"])["layers"]] == [1, 2**40]
    assert len(out["to_csv"].splitlines()) == 3
    assert "`relu ×1,099,511,627,776`" in out["to_markdown"]
    assert out["to_latex"].count(r"\texttt{relu}") == 1


def test_ten_thousand_branches_are_listed_one_by_one():
    out = _exports(BRANCHES)
    assert out["rows"] == 10_002  # the input, 10⁴ convs, the concatenation
    assert out["totals"]["params"] == "10000*C + 10000"  # C weights + 1 bias per branch
    layers = _layer_lines(out["to_table"])
    assert len(layers) == 10_002 and "×" not in "".join(line.split("  ")[1]
                                                         for line in layers[1:-1])
    assert sum("conv1-1" in line for line in layers) == 10_000
    assert layers[-1].split()[:2] == ["10001", "cat"]
    depth1 = _layer_lines(out["to_table_depth1"])
    assert len(depth1) == 10_002  # a line per branch (each branch is a block)
    assert "cat(…) branch 10000 (1 layer)" in depth1[-2] and depth1[-1].split()[1] == "cat"
    assert len(json.loads(out["to_json"])["layers"]) == 10_002
    assert len(out["to_csv"].splitlines()) == 10_003
    assert out["to_markdown"].count("`conv1-1`") == 10_000
    assert out["to_latex"].count(r"\texttt{conv1-1}") == 10_000


# ── the budget: what is listed copy by copy and what is not ─────────────────────────────

def test_within_the_budget_nested_repeats_are_listed_copy_by_copy():
    r = symcnn.analyze("input 8x8x3 ((relu)x64)x64")
    lines = display_rows(r.rows)
    assert len(lines) == 1 + 64 * 64 <= MAX_LINES
    assert all(line.copies == 1 for line in lines)
    assert _plain(lines) == _reference(r.rows)
    assert r.to_table().count(" relu ") == 4096 and "×" not in r.to_csv()


def test_over_the_budget_the_longest_listing_is_collapsed():
    r = symcnn.analyze("input 8x8x3 (((relu)x64)x64)x3")  # 12,288 lines copy by copy
    lines = display_rows(r.rows)
    assert [(line.row.name, line.copies) for line in lines] == [("input", 1),
                                                                ("relu", 3 * 64 * 64)]
    _runs_add_up(r, lines)
    assert "relu (×12,288, each)" in r.to_table()


def test_only_the_repeats_over_the_budget_are_collapsed():
    # a short repeat before and after a long one stays listed copy by copy
    r = symcnn.analyze("input 8x8x3 (conv1-3 bn)x3 (((relu)x64)x64)x64 (gelu)x5")
    names = [(line.row.name, line.copies) for line in display_rows(r.rows)]
    assert names == [("input", 1), *[("conv1-3", 1), ("bn", 1)] * 3, ("relu", 64**3),
                     *[("gelu", 1)] * 5]
    table = r.to_table()
    assert "relu (×262,144, each)" in table and table.count(" conv1-3 ") == 3


def test_a_long_repeat_keeps_its_inner_repeats_listed():
    # over EXPAND_LIMIT copies, the block is shown once; a short repeat inside it is still
    # listed copy by copy (the rule within the budget, unchanged)
    r = symcnn.analyze("input 8x8x3 ((relu)x3 conv1-3)x1000")
    lines = display_rows(r.rows)
    assert [(line.row.name, line.copies) for line in lines] == [
        ("input", 1), ("relu", 1000), ("relu", 1000), ("relu", 1000), ("conv1-3", 1000)]
    assert _plain(lines) == _reference(r.rows)


def test_many_listed_repeats_share_the_budget():
    # 200 different repeats of 64 copies of a 2-layer block: 25,600 lines copy by copy
    text = "input 4x4x1 " + " ".join(f"(conv1-{c} relu)x65" for c in range(1, 201))
    r = symcnn.analyze(text)
    lines = display_rows(r.rows)
    assert len(_reference(r.rows)) > MAX_LINES >= len(lines)
    _runs_add_up(r, lines)
    listed = sum(1 for line in lines if line.copies == 1 and line.row.name == "relu")
    assert listed > 0  # some stay listed, the rest are one line per row


@pytest.mark.parametrize("text", [
    "resnet50", "densenet121", "inception_v3", "vgg16_bn", "mobilenet_v3_large",
    "input 16x16x4 ((conv1-4 relu)x3 (bn)x70)x5 res((relu)x2 conv1-4)x64",
    "input 16x16x4 (cat(relu | (bn)x3) conv1-4)x64 ((gelu)x2)x100",
    "(((pool2/1p0 relu)x2)x3)x4 conv3-8",
])
def test_within_the_budget_the_listing_is_the_copy_by_copy_rule(text):
    r = symcnn.analyze(text, "224x224x3" if not text.startswith("input") else None)
    lines = display_rows(r.rows)
    assert _plain(lines) == _reference(r.rows)
    _runs_add_up(r, lines)


def test_every_row_is_listed_whatever_the_budget():
    definitions, call = DEFINITIONS.rsplit("\n", 1)
    r = symcnn.analyze(f"{definitions}\n{NESTED} conv3-8 {call} fc10")
    lines = display_rows(r.rows)
    assert len(lines) == len(r.rows)
    _runs_add_up(r, lines)


# ── plots are written as -o writes ──────────────────────────────────────────────────────

def test_plot_writes_through_a_symlink(tmp_path):
    pytest.importorskip("matplotlib") if not os.environ.get("CI") else None
    from symcnn.plot import plot_layers, plot_sweep
    from symcnn.sweep import iter_sweep, parse_sizes
    target = tmp_path / "real.png"
    target.write_bytes(b"old")
    link = tmp_path / "plot.png"
    link.symlink_to(target.name)
    report = symcnn.analyze("conv3-8 relu pool fc10", (32, 32, 3))
    assert plot_layers(report, "macs", link) == link
    assert link.is_symlink() and os.readlink(link) == "real.png"
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    target.write_bytes(b"old")
    points = iter_sweep(symcnn.analyze("conv3-8 relu pool fc10"), parse_sizes("32:64:16"))
    assert plot_sweep(points, "params", str(link)) == link
    assert link.is_symlink() and target.read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plot.png", "real.png"]


def test_plot_to_a_new_file_and_to_dev_null(tmp_path):
    pytest.importorskip("matplotlib") if not os.environ.get("CI") else None
    from symcnn.plot import plot_layers
    report = symcnn.analyze("conv3-8 relu", (8, 8, 3))
    new = tmp_path / "new.png"
    plot_layers(report, "params", new)
    assert new.read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.png"]  # no .part left
    if os.path.exists("/dev/null"):
        plot_layers(report, "params", "/dev/null")
        assert not Path("/dev/null").is_file()  # the device stays a device


def test_plot_into_a_directory_is_a_clear_error(tmp_path):
    pytest.importorskip("matplotlib") if not os.environ.get("CI") else None
    from symcnn import SymCNNError
    from symcnn.plot import plot_layers
    report = symcnn.analyze("conv3-8 relu", (8, 8, 3))
    with pytest.raises(SymCNNError, match="it is a directory"):
        plot_layers(report, "params", tmp_path)
