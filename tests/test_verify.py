"""The ``symcnn.torch`` API: ``verify`` → ``VerifyResult``, ``format_table``, ``to_torch``,
its errors, and the promise that ``import symcnn`` alone never imports torch."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

import symcnn
from symcnn.layers import Conv
from symcnn.report import Report
from symcnn.shapes import Row

ROOT = Path(__file__).resolve().parent.parent


def test_import_symcnn_does_not_import_torch():
    """Runs without torch too: analysing, formatting and exporting stay torch-free."""
    probe = ("import sys, symcnn; r = symcnn.analyze('vgg16', '224x224x3'); "
             "r.to_table(); r.to_json(); symcnn.analyze('conv3-k se(4) gap', 'HxWx3'); "
             "print(r.totals['params'], 'torch' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["138357544", "False"]


TORCH_REQUIRED = "torch is required in CI: pip install torch==2.13.0"

try:
    import torch
    from symcnn.torch import (MAX_MODULES, AuxHead, Net, VerifyResult, VerifyRow,
                              format_table, to_torch, verify)
except ImportError:  # pragma: no cover - depends on the environment
    torch = None
else:
    torch.set_num_threads(2)

NO_TORCH_NEEDED = {"test_torch_is_installed", "test_import_symcnn_does_not_import_torch"}


def test_torch_is_installed():
    """Fails in CI when torch is missing; skips elsewhere."""
    if torch is None and (not os.environ.get("CI") or os.environ.get("SYMCNN_NO_TORCH")):
        pytest.skip("torch is not installed (pip install torch==2.13.0 to test "
                    "symcnn.torch); set CI=1 to make this a failure")
    assert torch is not None, TORCH_REQUIRED


@pytest.fixture(autouse=True)
def _torch_available(request):
    """Without torch every test of symcnn.torch skips (test_torch_is_installed fails
    under CI); the import check above runs either way."""
    if torch is None and request.node.name not in NO_TORCH_NEEDED:
        pytest.skip(f"torch is missing; see test_torch_is_installed ({TORCH_REQUIRED})"
                    if os.environ.get("CI") else "torch is not installed (pip install "
                    "torch==2.13.0 to test symcnn.torch); set CI=1 to make this a failure")


NET = "conv3-8/2 bn relu res(conv3-8 bn relu conv3-8 bn) cat(conv1-4 | pool3/1p1ceil) se(4) " \
      "gap fc10"
SIZE = (31, 45, 3)


# ---------------------------------------------------------------- a valid network

def test_valid_network_verifies():
    result = verify(NET, SIZE)
    report = symcnn.analyze(NET, SIZE)
    assert isinstance(result, VerifyResult)
    assert result.ok is True
    assert result.notes == ()
    assert result.device == "meta"
    assert result.torch_version == torch.__version__
    assert str(result.input) == "31x45x3"
    assert len(result.rows) == len(report.rows)
    assert all(isinstance(r, VerifyRow) and r.ok for r in result.rows)
    first, conv = result.rows[0], result.rows[1]
    assert (first.index, first.name, first.symcnn_shape, first.torch_shape) == \
        (0, "input", (31, 45, 3), (1, 3, 31, 45))
    assert (conv.name, conv.kind, conv.symcnn_shape, conv.torch_shape) == \
        ("conv3-8/2", "conv", (16, 23, 8), (1, 8, 16, 23))
    assert conv.symcnn_macs == conv.torch_macs == 3 * 3 * 3 * 8 * 16 * 23
    assert conv.symcnn_params == conv.torch_params == 3 * 3 * 3 * 8 + 8
    merges = [r for r in result.rows if r.kind in ("add", "cat")]
    assert [r.name for r in merges] == ["add", "cat"]
    assert merges[1].symcnn_shape == (16, 23, 12)
    for quantity, (mine, theirs, ok) in result.totals.items():
        assert ok and mine == theirs, quantity
    assert result.totals["params"][0] == report.totals["params"]
    assert result.totals["macs"][0] == report.totals["macs"]
    assert result.totals["activations"][0] == report.totals["activations"]
    assert result.totals["buffers"][0] == 2 * (8 + 8 + 8)  # three bn layers of 8 channels
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.ok = False


def test_table_of_a_valid_network():
    table = format_table(verify(NET, SIZE))
    lines = table.splitlines()
    assert lines[0].startswith("symcnn verify: input 31x45x3 (H×W×C)")
    assert "✗" not in table
    header = next(line for line in lines if line.lstrip().startswith("#"))
    for column in ("Layer", "symcnn out", "torch out", "symcnn params", "torch params",
                   "symcnn MACs", "torch MACs"):
        assert column in header
    conv = next(line for line in lines if "conv3-8/2 " in line)
    assert conv.count("16×23×8") == 2 and conv.count("224") == 2 and conv.endswith("✓")
    for quantity in ("params", "weights", "biases", "buffers", "activations", "macs",
                     "flops"):
        assert any(line.startswith(quantity) and line.endswith("✓") for line in lines)
    assert lines[-1].startswith("✓ symcnn and torch agree")


def test_inputs_and_sources_in_every_form():
    network = symcnn.parse(NET)
    results = [verify(NET, SIZE), verify(network, "31x45x3"),
               verify(NET, symcnn.InputSpec(31, 45, 3)),
               verify("input 31x45x3\n" + NET)]
    assert all(r.ok for r in results)
    assert len({tuple(sorted(r.totals.items())) for r in results}) == 1
    assert verify("vgg11", (32, 32, 3)).ok


def test_cpu_device():
    result = verify(NET, SIZE, device="cpu")
    assert result.ok and result.device == "cpu"


def test_falls_back_to_the_cpu_without_a_meta_kernel(monkeypatch):
    real = torch.nn.LocalResponseNorm.forward

    def no_meta(self, x):
        if x.device.type == "meta":
            raise NotImplementedError("no meta kernel (simulated)")
        return real(self, x)

    monkeypatch.setattr(torch.nn.LocalResponseNorm, "forward", no_meta)
    result = verify("conv3-8 lrn pool fc4", (17, 13, 3))
    assert result.ok and result.device == "cpu"


def test_repeated_rows_are_checked_copy_by_copy():
    result = verify("conv1-4 (conv3-4 relu)x7", (9, 9, 3))
    assert result.ok
    repeated = [r for r in result.rows if r.count == 7]
    assert len(repeated) == 2 and all(r.runs == 7 for r in repeated)
    table = format_table(result)
    assert table.count("conv3-4 ") == 7 and table.count(" relu ") == 7  # listed in order
    long = verify("conv1-4 (conv3-4 relu)x100", (9, 9, 3))
    assert long.ok and "conv3-4 (×100, each)" in format_table(long)


def test_aux_head_is_built_not_run():
    text = "conv3-8/2 aux(pool5/3 conv1-4 conv3-16p0 gap fc10) conv3-8 gap fc5"
    for size, runs in [((61, 47, 3), True), ((13, 11, 3), False)]:
        result = verify(text, size)
        assert result.ok, format_table(result)
        model = to_torch(text, size, device="meta")
        (head,) = [m for m in model.modules() if isinstance(m, AuxHead)]
        assert head.ran is runs
        aux = [r for r in result.rows if r.aux]
        assert [r.name for r in aux] == ["pool5/3", "conv1-4", "conv3-16p0", "gap", "fc10"]
        assert all(r.symcnn_macs == r.torch_macs == 0 for r in aux)
        assert aux[-1].symcnn_params == aux[-1].torch_params == 16 * 10 + 10


# ---------------------------------------------------------------- disagreements

def test_a_wrong_total_is_reported_not_raised(monkeypatch):
    original = Report.totals.func

    def wrong(self):
        totals = dict(original(self))
        totals["macs"] += 1
        return totals

    monkeypatch.setattr(Report, "totals", property(wrong))
    result = verify(NET, SIZE)
    assert result.ok is False
    mine, theirs, ok = result.totals["macs"]
    assert mine == theirs + 1 and ok is False
    assert all(r.ok for r in result.rows)  # the rows are right, only the total is off
    table = format_table(result)
    assert any(line.startswith("macs") and line.endswith("✗") for line in table.splitlines())
    assert table.splitlines()[-1].startswith("✗ symcnn and torch disagree: 0 of")
    assert "1 of 7 totals differ" in table


def test_wrong_layer_costs_are_reported_row_by_row(monkeypatch):
    # a symcnn that counts no MACs: per row and (summed apart from the rows) in total
    monkeypatch.setattr(Row, "macs", property(lambda row: 0))
    totals = Report.totals.func
    monkeypatch.setattr(Report, "totals", property(
        lambda report: {**totals(report), "macs": 0, "flops": 0}))
    result = verify(NET, SIZE)
    assert result.ok is False
    bad = [r for r in result.rows if not r.ok]
    assert bad and all(r.symcnn_macs == 0 and r.torch_macs > 0 for r in bad)
    assert {r.kind for r in bad} == {"conv", "se", "fc"}
    assert result.totals["macs"][2] is False and result.totals["params"][2] is True
    table = format_table(result)
    assert sum(line.endswith("✗") for line in table.splitlines()) == len(bad) + 2  # + macs,
    assert f"{len(bad)} of {len(result.rows)} rows" in table                    # flops


def test_torch_failing_to_run_is_reported(monkeypatch):
    """A network torch cannot run although symcnn accepted it: ok False, torch's values
    missing ("—"), the reason in the notes; nothing raised."""
    import symcnn.torch.verifying as st
    real = st.expand

    def with_a_huge_kernel(network):
        return (*real(network), Conv((99, 99), 4, padding=0))

    monkeypatch.setattr(st, "expand", with_a_huge_kernel)
    result = verify("conv3-4 relu", (9, 9, 3))
    assert result.ok is False
    assert any("torch fails at layer 'conv99-4p0'" in note for note in result.notes)
    assert result.totals["macs"][1] is None
    table = format_table(result)
    assert "—" in table and "note: " in table and "✗" in table


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("text,where", [
    ("conv3-k fc10", "'conv3-k'"),
    ("conv3-8 fc{4w}", "'fc{4*w}'"),
    ("conv3-8 se(q)", "'se(q)'"),
    ("def f(w) = (conv3-w relu)\nconv3-4 f(k)", "'conv3-k'"),
])
def test_symbolic_widths_are_refused_clearly(text, where):
    for build in (verify, to_torch):
        with pytest.raises(symcnn.SymCNNError, match="symbolic width") as info:
            build(text, (16, 16, 3))
        message = str(info.value)
        assert where in message and "torch needs numbers" in message


@pytest.mark.parametrize("text,size", [("conv3-8", None), ("conv3-8", "HxWx3"),
                                        ("input Hx32x3\nconv3-8", None)])
def test_symbolic_inputs_are_refused(text, size):
    for build in (verify, to_torch):
        with pytest.raises(symcnn.SymCNNError, match="concrete input size"):
            build(text, size)


def test_too_many_modules_are_refused():
    text = "conv1-4 (conv3-4)x1000000000"
    assert symcnn.analyze(text, (8, 8, 3)).totals["params"] > 0  # closed form in symcnn
    for build in (verify, to_torch):
        with pytest.raises(symcnn.SymCNNError, match=f"more than {MAX_MODULES:,} layer"):
            build(text, (8, 8, 3))


def test_invalid_networks_raise_as_analyze_does():
    with pytest.raises(symcnn.ShapeError):
        verify("conv3-8 pool pool pool", (4, 4, 3))
    with pytest.raises(symcnn.NotationError):
        verify("conv3-", (8, 8, 3))


# ---------------------------------------------------------------- to_torch

def test_to_torch_builds_a_real_module():
    model = to_torch(NET, SIZE)
    assert isinstance(model, Net) and isinstance(model, torch.nn.Module)
    assert not model.training
    assert model.input_shape == (3, 31, 45)
    assert next(model.parameters()).device.type == "cpu"
    assert sum(p.numel() for p in model.parameters()) == \
        symcnn.analyze(NET, SIZE).totals["params"]
    with torch.no_grad():
        out = model(torch.randn(4, 3, 31, 45))
    assert out.shape == (4, 10, 1, 1) and torch.isfinite(out).all()
    # every row module carries its layer record, in the report's order
    records = [m.symcnn_layer for m in model.modules() if hasattr(m, "symcnn_layer")]
    assert records == [r.layer for r in symcnn.analyze(NET, SIZE).rows[1:]]


def test_to_torch_on_meta_and_from_the_input_line():
    model = to_torch("input 20x24x3\nconv3-4/2 fc6", device="meta")
    assert all(p.device.type == "meta" for p in model.parameters())
    assert model.input_shape == (3, 20, 24)
    linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert linear[0].in_features == 10 * 12 * 4
