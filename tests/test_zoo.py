"""Every zoo model against numbers measured with real PyTorch (plain torch.nn
re-implementations of torchvision's models, benchmarks/torch_reference.py), recorded in
tests/data/torch_reference.json: params, BN buffers, and MACs (FlopCounterMode / 2) at
224×224, 225×225 and 160×240."""

import json
from pathlib import Path

import pytest

import symcnn

REF = json.loads((Path(__file__).parent / "data" / "torch_reference.json").read_text())
MODELS = REF["models"]
# torchvision's published parameter counts (weights metadata "num_params").
PUBLISHED = {
    "alexnet": 61_100_840, "vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544,
    "vgg19": 143_667_240, "vgg11_bn": 132_868_840, "vgg13_bn": 133_053_736,
    "vgg16_bn": 138_365_992, "vgg19_bn": 143_678_248, "resnet18": 11_689_512,
    "resnet34": 21_797_672, "resnet50": 25_557_032, "resnet101": 44_549_160,
    "resnet152": 60_192_808, "resnext50_32x4d": 25_028_904, "wide_resnet50_2": 68_883_240,
    "mobilenet_v2": 3_504_872, "squeezenet1_0": 1_248_424, "squeezenet1_1": 1_235_496,
    "googlenet": 6_624_904, "densenet121": 7_978_856, "mobilenet_v3_small": 2_542_856,
    "mobilenet_v3_large": 5_483_032, "efficientnet_b0": 5_288_548,
    "inception_v3": 27_161_264, "inception_v3_noaux": 23_834_568,
    "regnet_x_400mf": 5_495_976, "regnet_y_400mf": 4_344_144, "mnasnet1_0": 4_383_312,
    "convnext_tiny": 28_589_128,
}
# torchvision's published GFLOPS column (MACs at 224, rounded to 2 decimals).
GMACS = {"alexnet": 0.71, "vgg16": 15.47, "resnet18": 1.81, "resnet50": 4.09,
         "resnet152": 11.51, "mobilenet_v2": 0.30, "squeezenet1_0": 0.82,
         "squeezenet1_1": 0.35, "googlenet": 1.50, "densenet121": 2.83,
         "mobilenet_v3_large": 0.22, "mobilenet_v3_small": 0.06, "efficientnet_b0": 0.39,
         "resnext50_32x4d": 4.23, "wide_resnet50_2": 11.40, "regnet_x_400mf": 0.41,
         "regnet_y_400mf": 0.40, "mnasnet1_0": 0.31, "convnext_tiny": 4.46}


def test_zoo_covers_the_published_models():
    assert set(PUBLISHED) <= set(symcnn.zoo_names())


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_params_equal_published_and_measured(name):
    report = symcnn.analyze(name)
    assert report.formulas["params"] == PUBLISHED[name] == MODELS[name]["params"]
    assert report.totals["buffers"] == MODELS[name]["buffers"]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
@pytest.mark.parametrize("size", ["224x224", "225x225", "160x240"])
def test_macs_equal_flop_counter(name, size):
    h, w = map(int, size.split("x"))
    totals = symcnn.analyze(name, (h, w, 3)).totals
    assert totals["macs"] == MODELS[name]["by_size"][size]["macs"]
    assert totals["params"] == MODELS[name]["params"]


@pytest.mark.parametrize("name", sorted(GMACS))
def test_published_gmacs(name):
    macs = symcnn.analyze(name, (224, 224, 3)).totals["macs"]
    assert round(macs / 1e9, 2) == GMACS[name]


def test_inception_v3_at_its_own_size():
    # torchvision publishes inception_v3's 5.71 GFLOPS at 299×299; the aux head counts in
    # params (3,326,696 of them) but, as in eval mode, not in MACs or activations.
    with_aux, without = (symcnn.analyze(n, (299, 299, 3)) for n in
                         ("inception_v3", "inception_v3_noaux"))
    assert round(with_aux.totals["macs"] / 1e9, 2) == 5.71
    assert with_aux.totals["macs"] == without.totals["macs"]
    assert with_aux.totals["activations"] == without.totals["activations"]
    assert with_aux.totals["params"] - without.totals["params"] == 3_326_696
    aux_rows = [r for r in with_aux.rows if r.aux]
    assert aux_rows and all(r.macs == 0 and r.activations == 0 for r in aux_rows)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_formula_matches_evaluation(name):
    report = symcnn.analyze(name)
    f = report.evaluator("macs")
    for size in ("224x224", "225x225", "160x240"):
        h, w = map(int, size.split("x"))
        assert f(H=h, W=w) == MODELS[name]["by_size"][size]["macs"]
