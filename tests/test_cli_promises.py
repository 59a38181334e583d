"""What the CLI promises (issue 13, "Keep every promise"), as reproducer → exit status and
message: did-you-mean for misspelt zoo names, notation that is never taken for a file
name, --input on every command that takes a network, budget's exit statuses, and -o that
writes through links, to devices and with the umask's mode. In-process: main(argv)."""

import os
import re
import stat
from pathlib import Path

import pytest

import symcnn
from symcnn.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIXED = str(ROOT / "examples" / "vgg16_cs231n.cnn")  # has the line "input 224x224x3"
VGG16_PARAMS = "138,357,544"


def run(capsys, argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def notation_of_length(n: int) -> str:
    """Valid one-line notation of exactly ``n`` characters (n ≥ 7): 8 filters, then relus."""
    text = "conv3-8"
    while len(text) + 5 <= n:
        text += " relu"
    return text + " " * (n - len(text))


# (label, argv, exit status, regex the output must match, regex stderr must match);
# "{fixed}" is a notation file with a fixed input line. A regex of None: that stream is
# empty. Exit 2 is always "symcnn: error: …" on stderr without a traceback.
CASES = [
    # did you mean …? for a bare word close to a zoo name
    ("misspelt zoo name", ["resnet5O"], 2, None,
     r"^symcnn: error: unknown network 'resnet5O'; did you mean resnet50\? \(symcnn --list\)$"),
    ("swapped digits", ["vgg61"], 2, None, r"unknown network 'vgg61'; did you mean vgg16\b"),
    ("a family name", ["resnet"], 2, None,
     r"did you mean resnet18, resnet34 or resnet50\? \(symcnn --list\)"),
    ("a family one letter from another", ["regnet"], 2, None,
     r"did you mean regnet_x_8gf, regnet_y_8gf or regnet_x_16gf\?"),
    ("a missing letter", ["dense121"], 2, None, r"did you mean densenet121\?"),
    ("zoo names ignore case", ["VGG16", "-i", "224x224x3"], 0, VGG16_PARAMS, None),
    ("no close name: the notation error, and --list",
     ["foo"], 2, None, r"column 1: expected a layer .* found 'foo'; nor is it a built-in "
                       r"network \(symcnn --list\)\n  foo\n  \^\^\^$"),
    ("notation with an error later on: no hint", ["conv"], 2, None,
     r"column 5: expected a kernel size after 'conv'(?![\s\S]*(unknown network|--list))"),
    ("several words: no hint", ["resnet5O relu"], 2, None,
     r"found 'resnet5O'(?![\s\S]*unknown network)"),
    # notation files and notation text
    ("missing .cnn file", ["missing.cnn"], 2, None, r"notation file not found: missing\.cnn$"),
    ("missing .txt file in a folder", ["nets/missing.txt"], 2, None,
     r"notation file not found: nets/missing\.txt$"),
    ("a notation file", [FIXED], 0, VGG16_PARAMS, None),
    ("a directory", [str(ROOT / "examples")], 2, None, r"not a notation file"),
    *[(f"notation of {n} characters", [notation_of_length(n), "-i", "8x8x3"], 0,
       r"Total params:\s+224\b", None) for n in (255, 256, 300, 4095, 5000)],
    ("long notation with an error", ["conv3-8 " * 600 + "conv"], 2, None,
     r"line 1, column 4805: expected a kernel size(?![\s\S]*File name too long)"),
    ("a file name too long for the file system", ["n" * 300 + ".cnn"], 2, None,
     r"notation file not found: n{120}… \(304 characters\)$"),
    # --input, named as such
    ("malformed --input", ["vgg16", "--input", "224x224"], 2, None,
     r"^symcnn: error: --input '224x224': expected 'x' .*\n  224x224\n         \^$"),
    ("verify without --input", ["verify", "vgg11"], 2, None,
     r"verify needs --input HxWxC, a concrete size such as 224x224x3"),
    ("verify, malformed --input", ["verify", "vgg11", "--input", "224x224"], 2, None,
     r"--input '224x224': expected 'x'"),
    ("verify, symbolic --input", ["verify", "vgg11", "-i", "HxWx3"], 2, None,
     r"verify needs a concrete --input such as 224x224x3; got 'HxWx3'"),
    # budget: 0 an answer, 1 nothing fits, 2 an error
    ("budget: an answer", ["budget", "vgg16", "--memory", "8GB", "--batch", "32"], 0,
     r"^largest input: \d+x\d+ ", None),
    ("budget: nothing fits", ["budget", "vgg16", "--memory", "1KB"], 1,
     r"^nothing fits: the smallest input \(32x32\) needs 553,966,752 bytes "
     r"\(budget 1,000\)\nfigure: inference peak \(cuda semantics", None),
    ("budget: not even batch 1", ["budget", "vgg16", "-i", "224x224x3", "--memory", "1KB"], 1,
     r"^nothing fits: batch 1 at 224x224x3 needs \d[\d,]* bytes \(budget 1,000\)\n", None),
    ("budget: both budgets", ["budget", "vgg16", "--memory", "8GB", "--macs", "5G"], 2, None,
     r"^symcnn: error: give --memory or --macs, not both$"),
    ("budget: no budget", ["budget", "vgg16"], 2, None, r"give either --memory or --macs$"),
    ("budget: a file fixes the input: the largest batch", ["budget", "{fixed}", "--memory",
     "8GB"], 0, r"^largest batch at 224x224x3: 283  \(7,994,129,568 bytes ≤ 8,000,000,000; "
     r"batch 284 needs 8,020,421,792\)\n", None),
    ("budget: a fixed input and a batch", ["budget", "{fixed}", "--memory", "8GB", "-b", "4"],
     2, None, r"^symcnn: error: the input is fixed \(224x224x3\) and so is the batch \(4\): "
     r"nothing to solve; .* give a symbolic input \(--input HxWx3, or HxWxC\) to search "
     r"input sizes$"),
    ("budget: --input frees it", ["budget", "{fixed}", "--input", "HxWx3", "--memory", "8GB"],
     0, r"^largest input: 959x959  \(7,679,120,556 bytes ≤ 8,000,000,000", None),
    ("budget: malformed --input", ["budget", "{fixed}", "-i", "HxW", "--memory", "8GB"], 2,
     None, r"--input 'HxW': expected 'x'"),
    # sweep: --input frees a fixed input line
    ("sweep: a file fixes the input", ["sweep", "{fixed}", "--sizes", "32:64:32"], 2, None,
     r"^symcnn: error: the notation fixes the input size \(224x224x3\); give --input HxWx3 "
     r"\(or HxWxC\) to sweep over input sizes$"),
    ("sweep: --input frees it", ["sweep", "{fixed}", "-i", "HxWx3", "--sizes", "32:64:32"], 0,
     r"\n +32 +32 +37,694,248 .*\n +64 +64 +43,985,704 .*\n2 sizes", None),
    ("sweep: --input HxWxC with --channels",
     ["sweep", "conv3-8 gap", "-i", "HxWxC", "-c", "1", "-s", "8", "-f", "csv"], 0,
     r"^h,w,params,activations,macs,activation_bytes\n8,8,80,584,4608,2336\n$", None),
]


@pytest.mark.parametrize("label, argv, code, out_re, err_re", CASES,
                         ids=[c[0] for c in CASES])
def test_promise(capsys, label, argv, code, out_re, err_re):
    got, out, err = run(capsys, [a.replace("{fixed}", FIXED) for a in argv])
    assert got == code, (label, out, err)
    assert "Traceback" not in err
    for text, regex in ((out, out_re), (err.rstrip("\n"), err_re)):
        if regex is None:
            assert not text, (label, text)
        else:
            assert re.search(regex, text), (label, regex, text)


def test_budget_help_documents_exit_statuses(capsys):
    with pytest.raises(SystemExit) as done:
        main(["budget", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert done.value.code == 0
    assert ("exit status: 0 an answer (the largest input or batch that fits), 1 nothing "
            "fits (not even the smallest input the network takes, or batch 1), 2 an error in "
            "what was given.") in out
    assert "exit" in symcnn.cli.__doc__ and "budget`` exits 1 when nothing fits" in \
        symcnn.cli.__doc__


def test_plot_input_frees_a_fixed_input(capsys, tmp_path):
    pytest.importorskip("matplotlib") if not os.environ.get("CI") else None
    png = tmp_path / "macs.png"
    assert main(["plot", FIXED, "--sizes", "32:64:32", "-o", str(png)]) == 2
    assert "fixes the input" in capsys.readouterr().err and not png.exists()
    assert main(["plot", FIXED, "--input", "HxWx3", "--sizes", "32:256:32", "-o",
                 str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["macs.png"]  # no temporary left


@pytest.mark.parametrize("argv, found", [
    (["{tmp}/net"], True),               # an existing file is read, whatever its name
    (["{tmp}/net.txt"], True),
    (["relu"], False),                   # notation, no such file
])
def test_bare_names(capsys, tmp_path, monkeypatch, argv, found):
    (tmp_path / "net").write_text("conv3-8 pool\n")
    (tmp_path / "net.txt").write_text("conv3-8 pool\n")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, [a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert code == 0, err
    assert ("pool" in out) == found


# --- symcnn.analyze reads notation files as the CLI does ------------------------------------

@pytest.mark.parametrize("network, expected", [
    (Path(FIXED), 138_357_544),
    (FIXED, 138_357_544),
    ("vgg16", 138_357_544),
    ("input 32x32x3 conv3-64x2 pool fc10", 202_570),
    (Path(ROOT / "examples"), r"not a notation file"),
    (Path("missing-net"), r"notation file not found: missing-net$"),
    ("missing.cnn", r"notation file not found: missing\.cnn$"),
    ("nets/missing.txt", r"notation file not found: nets/missing\.txt$"),
    (Path("nets/missing.txt"), r"notation file not found: nets/missing\.txt$"),
    ("input 8x8x3 conv3-64 # a comment naming notes.txt", 3 * 3 * 3 * 64 + 64),
    ("resnet5O", r"^unknown network 'resnet5O'; did you mean resnet50\? \(symcnn --list\)$"),
])
def test_analyze_reads_notation_files(network, expected):
    if isinstance(expected, int):
        fixed = "fc10" in str(network) or "#" in str(network)
        assert symcnn.analyze(network, None if fixed else "224x224x3").totals["params"] \
            == expected
    else:
        with pytest.raises(symcnn.SymCNNError, match=expected):
            symcnn.analyze(network)


def test_misspelt_zoo_name_is_a_notation_error():
    with pytest.raises(symcnn.NotationError, match="did you mean vgg16"):
        symcnn.analyze("vgg61")


# --- -o PATH -----------------------------------------------------------------------------

def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_file_gets_the_umask_mode(capsys, tmp_path, umask, mode):
    out = tmp_path / "report.txt"
    old = os.umask(umask)
    try:
        code = main(["vgg11", "-i", "224x224x3", "-o", str(out)])
    finally:
        os.umask(old)
    assert code == 0 and capsys.readouterr() == ("", "")
    assert _mode(out) == mode and "Total params:          132,863,336" in out.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]


@pytest.mark.parametrize("mode", [0o640, 0o600, 0o664, 0o444])
def test_existing_file_keeps_its_mode(capsys, tmp_path, mode):
    out = tmp_path / "report.json"
    out.write_text("old")
    out.chmod(mode)
    assert main(["vgg11", "-f", "json", "-o", str(out)]) == 0
    assert _mode(out) == mode and out.read_text().startswith("{")


def test_symlink_is_written_through(capsys, tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "report.txt"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    chain = tmp_path / "chain.txt"
    chain.symlink_to(link)
    assert main(["vgg11", "-o", str(chain)]) == 0
    assert chain.is_symlink() and link.is_symlink() and os.readlink(chain) == str(link)
    assert not target.is_symlink() and _mode(target) == 0o640
    assert "Total params:" in target.read_text()
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["report.txt"]


def test_dangling_symlink_creates_its_target(capsys, tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "new.txt")
    assert main(["vgg11", "-o", str(link)]) == 0
    assert link.is_symlink() and "Total params:" in (tmp_path / "new.txt").read_text()


def test_failed_run_leaves_the_file(capsys, tmp_path):
    out = tmp_path / "report.txt"
    out.write_text("old")
    assert main(["conv3-", "-o", str(out)]) == 2
    assert out.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["report.txt"]


@pytest.mark.parametrize("target, code, err_re", [
    ("/dev/null", 0, None),
    ("/dev/full", 2, r"^symcnn: error: cannot write /dev/full: No space left on device$"),
    ("{tmp}", 2, r"^symcnn: error: cannot write .*: it is a directory$"),
    ("{tmp}/no/such/dir/out.txt", 2, r"cannot write .*/no/such/dir/out\.txt: No such file"),
])
def test_special_targets(capsys, tmp_path, target, code, err_re):
    path = target.replace("{tmp}", str(tmp_path))
    before = os.stat(path) if os.path.exists(path) else None
    got, out, err = run(capsys, ["vgg11", "-o", path])
    assert got == code and not out and "Traceback" not in err
    assert re.search(err_re, err.rstrip("\n")) if err_re else not err
    if before is not None:  # the device node or directory is left as it was
        after = os.stat(path)
        assert (after.st_mode, after.st_ino, after.st_rdev) == \
            (before.st_mode, before.st_ino, before.st_rdev)
    assert list(tmp_path.iterdir()) == []


def test_fifo_is_written_directly(capsys, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so that the writer's open returns
    try:
        assert main(["vgg11", "-o", str(fifo)]) == 0
        data = os.read(reader, 1 << 16)
    finally:
        os.close(reader)
    assert b"Total params:          132,863,336" in data
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_plot_output_follows_the_same_rules(capsys, tmp_path):
    pytest.importorskip("matplotlib") if not os.environ.get("CI") else None
    target = tmp_path / "real.png"
    target.write_bytes(b"old")
    target.chmod(0o640)
    link = tmp_path / "plot.png"
    link.symlink_to(target)
    assert main(["plot", "resnet18", "--per-layer", "64x64x3", "-o", str(link)]) == 0
    assert link.is_symlink() and _mode(target) == 0o640
    assert target.read_bytes()[:4] == b"\x89PNG"
    assert main(["plot", "resnet18", "--per-layer", "64x64", "-o", str(link)]) == 2
    assert "--per-layer '64x64': expected 'x'" in capsys.readouterr().err
