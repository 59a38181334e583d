"""The CS231n VGG-16 breakdown (tests/data/cs231n_vgg16_seed.txt, a copy of the seed),
reproduced row by row from its own text: every memory and weights product, every total."""

import re
from pathlib import Path

import pytest

import symcnn

DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).parent.parent / "examples"
SEED = (DATA / "cs231n_vgg16_seed.txt").read_text()

# "CONV3-64: [224x224x64] memory: 224*224*64=3.2M weights: (3*3*3)*64 = 1,728"
ROW = re.compile(r"^(\w[\w-]*): \[(\d+)x(\d+)x(\d+)\] memory: ([\d*]+)(?:=\S+)? weights: (.*)$",
                 re.M)


def product(text: str) -> int:
    """Multiply the integers in '(3*3*3)*64' without evaluating any text."""
    out = 1
    for n in re.findall(r"\d+", text.replace(",", "").split("=")[0]):
        out *= int(n)
    return out


def seed_rows():
    rows = []
    for name, h, w, c, memory, weights in ROW.findall(SEED):
        rows.append((name, (int(h), int(w), int(c)), product(memory),
                     0 if weights.strip() == "0" else product(weights)))
    return rows


@pytest.fixture(scope="module")
def report():
    return symcnn.analyze((EXAMPLES / "vgg16_cs231n.cnn").read_text())


def test_seed_has_all_rows():
    assert len(seed_rows()) == 1 + 13 + 5 + 3


def test_every_seed_row(report):
    ours = [(r.name, r.out, r.activations, r.weights)
            for r in report.rows for _ in range(r.count)]
    assert len(ours) == len(seed_rows())
    for (name, shape, memory, weights), (oname, oshape, omemory, oweights) in zip(
            seed_rows(), ours):
        assert oshape == shape, name
        assert omemory == memory, name
        assert oweights == weights, name
        # the weights printed after '=' in the seed agree with the product too
    for line in SEED.splitlines():
        m = re.search(r"weights: (.+?) = ([\d,]+)$", line)
        if m:
            assert product(m.group(1)) == int(m.group(2).replace(",", ""))


def test_seed_totals(report):
    t = report.totals
    assert t["weights"] == 138_344_128
    assert t["params"] == 138_357_544
    assert t["biases"] == 64 * 2 + 128 * 2 + 256 * 3 + 512 * 6 + 4096 * 2 + 1000
    assert t["activations"] == sum(m for _, _, m, _ in seed_rows()) == 15_237_608
    assert t["activations"] * 4 == 60_950_432  # not the seed's "24M * 4 bytes ~= 93MB"
    assert t["macs"] == 15_470_264_320


@pytest.mark.parametrize("first, count, expected", [
    # the UPDATE block: per stage and per fc, weights + biases
    (1, 2, 38_720), (3, 2, 221_440), (5, 3, 1_475_328), (8, 3, 5_899_776),
    (11, 3, 7_079_424), (14, 1, 102_764_544), (15, 1, 16_781_312), (16, 1, 4_097_000),
])
def test_seed_update_block(report, first, count, expected):
    params = [r.params for r in report.rows if r.params for _ in range(r.count)]
    assert sum(params[first - 1:first - 1 + count]) == expected


def test_seed_third_stage_and_fc1(report):
    convs = [r for r in report.rows if r.kind == "conv" for _ in range(r.count)]
    assert convs[4].params == 128 * 3 * 3 * 256 + 256 == 295_168
    assert convs[5].params == convs[6].params == 256 * 3 * 3 * 256 + 256 == 590_080
    fc1 = next(r for r in report.rows if r.kind == "fc")
    assert fc1.params == (512 * 7 * 7) * 4096 + 4096


def test_table_shows_true_memory_total(report):
    text = report.to_table()
    assert "Total params:          138,357,544" in text
    assert "15,237,608" in text and "60,950,432 B" in text
    assert "(3·3·3)·64 = 1,728" in text and "(7·7·512)·4,096 = 102,760,448" in text
