"""The CLI, in-process (main(argv) with capsys) and once as a real process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import symcnn
from symcnn.cli import main

ROOT = Path(__file__).parent.parent


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_vgg16_table(capsys):
    code, out, err = run(capsys, "vgg16", "--input", "224x224x3")
    assert code == 0 and not err
    for text in ["Total params:          138,357,544", "Trainable params:      138,357,544",
                 "Non-trainable params:  0", "15,470,264,320  (15.47 G)",
                 "30,940,528,640  (30.94 G)   (1 MAC = 2 FLOPs)",
                 "MB = 10⁶ bytes, MiB = 2²⁰ bytes", "params      = 138,357,544"]:
        assert text in out, text


def test_symbolic_without_input(capsys):
    code, out, _ = run(capsys, "conv3-64x2 pool fc10")
    assert code == 0
    assert "Formulas in H, W, C" in out
    assert "params      = 576·C + 10·⌊H/2⌋·⌊W/2⌋·64 + 36,938" not in out  # sympy orders it
    assert "⌊H/2⌋·⌊W/2⌋" in out and "Where H and W are multiples of 2:" in out


def test_json_schema(capsys):
    code, out, _ = run(capsys, str(ROOT / "examples" / "vgg16_cs231n.cnn"), "-f", "json")
    assert code == 0
    d = json.loads(out)
    assert d["schema_version"] == 1 and d["input"] == [224, 224, 3]
    assert set(d["totals"]) == {"params", "weights", "biases", "buffers", "activations", "macs",
                                "flops"}
    assert d["totals"]["params"] == 138_357_544 and d["totals"]["activations"] == 15_237_608
    layer = d["layers"][1]
    assert {"name", "kind", "output", "params", "weights", "biases", "activations",
            "macs"} <= set(layer)
    assert layer["output"] == [224, 224, 64] and layer["weights"] == 1728
    assert len(d["layers"]) == 22
    assert sum(l["params"] for l in d["layers"]) == d["totals"]["params"]
    assert d["formulas"]["params"] == 138_357_544  # the file fixes the input


def test_json_formulas_beside_numbers(capsys):
    code, out, _ = run(capsys, str(ROOT / "examples" / "vgg16_paper.cnn"), "--input",
                       "224x224x3", "--format", "json")
    d = json.loads(out)
    assert d["totals"]["params"] == 138_357_544
    assert d["formulas"]["params"] == "2097152*floor(H/32)*floor(W/32) + 35597096"
    assert d["formulas_divisible"]["params"] == "2048*H*W + 35597096"
    assert d["formulas_divisible"]["multiples"] == {"H": 32, "W": 32}


def test_json_symbolic_values_are_strings(capsys):
    _, out, _ = run(capsys, "conv3-8 pool", "-f", "json")
    d = json.loads(out)
    assert d["totals"]["macs"] == "72*C*H*W" and d["layers"][2]["output"][0] == "floor(H/2)"


def test_batch_and_dtype(capsys):
    _, out, _ = run(capsys, "vgg16", "-i", "224x224x3", "--batch", "32", "--dtype", "float16")
    assert "batch of 32" in out and "float16, 2 B/element" in out
    assert f"{32 * 15_470_264_320:,}" in out


@pytest.mark.parametrize("argv, message", [
    (["conv3-"], "line 1, column 7: expected a filter count"),
    (["vgg16", "--input", "224x224"], "expected 'x'"),
    (["input 16x16x3 conv3-64x2 pool pool pool pool pool pool"], "at least 64x64"),
    (["missing.cnn"], "notation file not found: missing.cnn"),
    ([], "give a network"),
])
def test_errors_exit_2_without_traceback(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err and not out


def test_unreadable_files(capsys, tmp_path):
    latin = tmp_path / "net.cnn"
    latin.write_bytes(b"conv3-64 # caf\xe9\n")
    code, _, err = run(capsys, str(latin))
    assert code == 2 and "not UTF-8 text (byte 14)" in err
    binary = tmp_path / "net.bin.cnn"
    binary.write_bytes(b"\x7fELF\x00\x00conv")
    code, _, err = run(capsys, str(binary))
    assert code == 2 and "is a binary file" in err
    folder = tmp_path / "dir.cnn"
    folder.mkdir()
    code, _, err = run(capsys, str(folder))
    assert code == 2 and "not a notation file" in err


def test_notation_file_with_error_on_line_2(capsys, tmp_path):
    f = tmp_path / "bad.cnn"
    f.write_text("input 32x32x3\nconv3-64 pool2fc10\n")
    code, _, err = run(capsys, str(f))
    assert code == 2 and "line 2, column 15" in err and "pool2fc10" in err


def test_list_and_version(capsys):
    code, out, _ = run(capsys, "--list")
    assert code == 0 and {"vgg16", "resnet50", "densenet121"} <= set(out.split())
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("symcnn ")


def test_python_dash_m(tmp_path):
    done = subprocess.run([sys.executable, "-m", "symcnn", "vgg11", "--input", "224x224x3"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Total params:          132,863,336" in done.stdout


def test_verify_command(capsys):
    # Without torch: a skip, except under CI (a failure) unless SYMCNN_NO_TORCH=1 says
    # torch is deliberately absent (.ci/run's second, torch-free venv).
    if not os.environ.get("CI") or os.environ.get("SYMCNN_NO_TORCH"):
        pytest.importorskip("torch", reason="torch is not installed (pip install "
                            "torch==2.13.0); set CI=1 to make this a failure")
    code, out, err = run(capsys, "verify", "resnet18", "--input", "65x97x3", "-i", "33x33x3")
    assert code == 0, err
    assert out.count("✓ symcnn and torch agree") == 2 and "✗" not in out


def test_broken_pipe_is_quiet(tmp_path):
    done = subprocess.run(f"{sys.executable} -m symcnn resnet152 -i 224x224x3 | head -1",
                          shell=True, capture_output=True, text=True, timeout=120)
    assert done.stdout.startswith("symcnn: input") and not done.stderr


def test_list_shows_params_macs_and_descriptions_by_family(capsys):
    code, out, _ = run(capsys, "--list")
    lines = out.splitlines()
    row = next(l for l in lines if l.split()[:1] == ["resnet50"])
    assert row.split()[1:5] == ["25,557,032", "4.09", "G", "224×224×3"]
    assert "Bottleneck, layers [3, 4, 6, 3]" in row
    inception = next(l for l in lines if l.split()[:1] == ["inception_v3"])
    assert "27,161,264" in inception and "299×299×3" in inception
    cifar = next(l for l in lines if l.split()[:1] == ["cifar_resnet20"])
    assert cifar.split()[1:5] == ["269,722", "40.55", "M", "32×32×3"]
    assert lines.index("resnet:") < lines.index(row) < lines.index("resnext:")
    assert lines[-1].startswith(f"{len(symcnn.zoo_names())} networks")
