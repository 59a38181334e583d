"""symcnn.torch.from_torch against real torchvision models and hostile modules.

- Every torchvision CNN imports with params, BN buffers and MACs (FlopCounterMode / 2)
  equal to the real model's at 224×224 (the import's own self-check) and at 225×227
  (checked here, from the imported formulas); the 6 segmentation models, with their aux
  heads, at 520×520 and 481×353.
- Every zoo file that is a torchvision model equals the real model at 160×240 (segmentation:
  520×520 and 481×353) and its published params and GFLOPS.
- Importing a torchvision model gives the same formulas as its zoo file; importing
  ``to_torch(zoo model)`` gives back the zoo model's formulas.
- Unmapped operations, untraceable control flow and shared weights raise errors that name
  the module path and the source line; the module is left as it was.

torchvision is an optional dependency: without it these tests skip locally and fail when
``CI`` is set (CI installs torch==2.14.1 torchvision==0.29.1).
"""

from __future__ import annotations

import os

import pytest
import sympy

import symcnn

TV_REQUIRED = "torchvision is required in CI: pip install torch==2.14.1 torchvision==0.29.1"

try:
    import torch
    import torchvision
    from torch import nn
    from torch.nn import functional as F
    from torchvision import models as tvm

    from symcnn.torch import from_torch, to_torch
    from symcnn.torch.importing import module_macs
except ImportError:  # pragma: no cover - depends on the environment
    torchvision = None
    if not os.environ.get("CI") or os.environ.get("SYMCNN_NO_TORCH"):
        pytest.skip("torchvision is not installed (pip install torch==2.14.1 "
                    "torchvision==0.29.1 to test importing); set CI=1 to make this a failure",
                    allow_module_level=True)
else:
    torch.set_num_threads(2)


def test_torchvision_is_installed():
    """The one test that fails in CI when torchvision is missing."""
    assert torchvision is not None, TV_REQUIRED


@pytest.fixture(autouse=True)
def _torchvision_available(request):
    if torchvision is None and request.node.name != "test_torchvision_is_installed":
        pytest.skip("torchvision is missing; see test_torchvision_is_installed")


CNNS = [n for n in (tvm.list_models(module=tvm) if torchvision else [])
        if not n.startswith(("vit_", "swin_", "maxvit_"))]
# How the published weights define the models (googlenet without its aux heads).
PUBLISHED_KWARGS = {"googlenet": '{"aux_logits": false, "init_weights": false}',
                    "inception_v3": '{"init_weights": false}'}


SEGMENTATION = sorted(tvm.list_models(module=tvm.segmentation)) if torchvision else []
# fcn and deeplabv3 as their published weights define them: with the aux head, which runs
for _name in SEGMENTATION:
    PUBLISHED_KWARGS[_name] = '{"weights": null, "weights_backbone": null%s}' % (
        "" if _name.startswith("lraspp") else ', "aux_loss": true')


def build(name: str):
    """The torchvision model on the meta device, through the CLI's MODULE:CALLABLE loader
    (which builds RegNet, whose constructor computes with tensors, on the CPU first)."""
    from symcnn.torch.loading import load
    where = "torchvision.models.segmentation" if name in SEGMENTATION else "torchvision.models"
    return load(f"{where}:{name}", PUBLISHED_KWARGS.get(name))


def torch_counts(model, size):
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for n, b in model.named_buffers()
                  if n.rsplit(".", 1)[-1] in ("running_mean", "running_var"))
    macs, _ = module_macs(model, size)
    return {"params": params, "buffers": buffers, "macs": macs}


def test_the_classification_cnns_are_all_there():
    assert len(CNNS) == 68


@pytest.mark.parametrize("name", sorted(CNNS))
def test_torchvision_cnn_imports_exactly(name):
    model = build(name)
    net = from_torch(model)  # self-checked at 224×224: raises on any difference
    assert symcnn.parse(str(net)) == net
    for size in ((224, 224, 3), (225, 227, 3)):
        t = symcnn.analyze(net, size).totals
        assert {q: t[q] for q in ("params", "buffers", "macs")} == torch_counts(model, size)


def test_the_segmentation_cnns_are_all_there():
    assert SEGMENTATION == ["deeplabv3_mobilenet_v3_large", "deeplabv3_resnet101",
                            "deeplabv3_resnet50", "fcn_resnet101", "fcn_resnet50",
                            "lraspp_mobilenet_v3_large"]


@pytest.mark.parametrize("name", SEGMENTATION)
def test_torchvision_segmentation_cnn_imports_exactly(name):
    model = build(name)
    net = from_torch(model)  # self-checked at 224×224
    assert symcnn.parse(str(net)) == net
    for size in ((520, 520, 3), (481, 353, 3)):
        t = symcnn.analyze(net, size).totals
        assert {q: t[q] for q in ("params", "buffers", "macs")} == torch_counts(model, size)


def test_fcn_reads_with_its_running_aux_head():
    lines = str(from_torch(build("fcn_resnet50"))).splitlines()
    assert "bottleneck(256, 1, 1, 1024) bottleneck_2(256, 2, 1024)x5  # backbone.layer3" in lines
    assert lines[lines.index("bottleneck(256, 1, 1, 1024) bottleneck_2(256, 2, 1024)x5  "
                             "# backbone.layer3") + 1] == \
        "head(conv3-256nb bn relu dropout conv1-21 bilinear-input)  # aux_classifier"
    assert lines[-2:] == ["fcnhead()  # classifier", "bilinear-input  # forward"]


def test_deeplabv3_reads_with_image_pooling_and_lraspp_with_a_product():
    text = str(from_torch(build("deeplabv3_resnet50")))
    assert "| gap conv1-256nb bn relu bilinear-branch)" in text
    text = str(from_torch(build("lraspp_mobilenet_v3_large")))
    assert "mul(conv1-128nb bn relu_ | gap conv1-128nb sigmoid) bilinear-branch conv1-21)" in text


def test_shufflenet_reads_as_split_and_shuffle():
    text = str(from_torch(build("shufflenet_v2_x1_0")))
    assert "def invertedresidual_2(a) = (split( | conv1-anb bn relu_ dw3nb bn conv1-anb bn " \
        "relu_) shuffle)" in text
    assert "invertedresidual(116) invertedresidual_2(116)x7  # stage3" in text


ZOO_TORCHVISION = {n: n.replace("_noaux", "") for n in symcnn.zoo_names()
                   if not n.startswith("cifar_") and n != "unet"}  # not torchvision's


def zoo_model(name: str):
    """The torchvision model a zoo file writes (inception_v3_noaux: without the aux head)."""
    if ZOO_TORCHVISION[name] == "inception_v3":
        with torch.device("meta"):
            return tvm.inception_v3(init_weights=False, aux_logits=name == "inception_v3")
    return build(ZOO_TORCHVISION[name])


def test_the_zoo_has_every_torchvision_cnn():
    assert set(ZOO_TORCHVISION.values()) == set(CNNS) | set(SEGMENTATION)


def _native(name: str) -> tuple[int, int, int]:
    """The size torchvision publishes a model's GFLOPS at: its weights' crop (classification)
    or resize (segmentation) size."""
    t = tvm.get_model_weights(name).DEFAULT.transforms()
    side = (getattr(t, "crop_size", None) or t.resize_size)[0]
    return side, side, 3


@pytest.mark.parametrize("name", sorted(ZOO_TORCHVISION))
def test_zoo_counts_equal_the_real_model_and_the_published_numbers(name):
    """The zoo file against the real torchvision model at 160×240 (segmentation: 520×520
    and 481×353), and against the published weights' metadata: params, and GFLOPS at the
    published size (torchvision's "GFLOPS" are MACs)."""
    tv = ZOO_TORCHVISION[name]
    model = zoo_model(name)
    sizes = [(520, 520, 3), (481, 353, 3)] if tv in SEGMENTATION else [(160, 240, 3)]
    for size in sizes:
        t = symcnn.analyze(name, size).totals
        assert {q: t[q] for q in ("params", "buffers", "macs")} == torch_counts(model, size)
    meta = tvm.get_model_weights(tv).DEFAULT.meta
    native = _native(tv)
    assert symcnn.zoo.native_size(name) == native[0]
    t = symcnn.analyze(name, native).totals
    if name != "inception_v3_noaux":
        assert t["params"] == meta["num_params"]
    assert round(t["macs"] / 1e9, 3) == meta["_ops"]


@pytest.mark.parametrize("name", sorted(ZOO_TORCHVISION))
def test_torchvision_import_has_the_zoo_formulas(name):
    model = zoo_model(name)
    imported = symcnn.analyze(from_torch(model))
    written = symcnn.analyze(name, "HxWx3")
    for q in ("params", "buffers", "macs"):
        assert sympy.expand(imported.totals[q] - written.totals[q]) == 0, q


@pytest.mark.parametrize("name", symcnn.zoo_names())
def test_to_torch_round_trip_gives_the_zoo_formulas(name):
    spec = "299x299x3" if name.startswith("inception") else "224x224x3"
    net = from_torch(to_torch(name, spec, device="meta"), "HxWx3")
    a, b = symcnn.analyze(net), symcnn.analyze(name, "HxWx3")
    for q in ("params", "buffers", "macs"):
        assert sympy.expand(a.formulas[q] - b.formulas[q]) == 0, q


# ------------------------------------------------------------------ readable notation

def test_resnet50_reads_as_blocks():
    text = str(from_torch(build("resnet50")))
    lines = text.splitlines()
    assert lines[0] == "input HxWx3"
    assert sum(l.startswith("def bottleneck") for l in lines) == 2
    assert "bottleneck_2(64, 256)x2  # layer1" in text
    assert lines[-1] == "fc1000  # fc" and "gap  # avgpool" in lines
    assert len(lines) == 13  # input, 2 defs, 10 top-level submodules


def test_densenet_blocks_repeat_their_layers():
    text = str(from_torch(build("densenet121")))
    assert "def denseblock(a) = (cat( | bn relu_ conv1-128nb bn relu_ conv3-32nb)xa)" in text
    assert "denseblock(6) transition(128) denseblock(12)" in text


def test_inception_aux_head_is_imported_as_aux():
    text = str(from_torch(build("inception_v3")))
    assert "aux(avgpool5/3 conv1-128nb bn relu_ conv5-768p0nb bn relu_ gap fc1000)" in text
    assert "# AuxLogits" in text


@pytest.mark.parametrize("spec, first", [(None, "input HxWx3"), ("HxWx3", "input HxWx3"),
                                         ("224x224x3", "input 224x224x3"),
                                         ((160, 240, 3), "input 160x240x3")])
def test_input_forms(spec, first):
    net = from_torch(build("resnet18"), spec)
    assert str(net).splitlines()[0] == first


def test_a_cpu_model_imports_without_computing():
    model = tvm.mobilenet_v3_small()
    before = [p.detach().clone() for p in list(model.parameters())[:3]]
    net = from_torch(model)
    assert symcnn.analyze(net, (224, 224, 3)).totals["params"] == 2_542_856
    assert all(torch.equal(a, b) for a, b in zip(before, list(model.parameters())[:3]))


def test_the_module_is_left_as_it_was():
    model = build("efficientnet_b0").train()
    modes = [m.training for m in model.modules()]
    from_torch(model)
    assert [m.training for m in model.modules()] == modes
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


# ------------------------------------------------------------------ errors

class WithFFT(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.up = nn.ReflectionPad2d(1)

    def forward(self, x):
        x = self.conv(x)
        x = torch.fft.fft2(x).real
        return self.up(x)


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        if x.sum() > 0:
            return self.conv(x)
        return x


class Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.stem = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        return self.conv(self.conv(self.stem(x)))


class TwoOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        y = self.conv(x)
        return y.relu(), y  # the second output is on the way to the first: not a head


class HeadFromTwoPlaces(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)

    def forward(self, x):
        y = self.a(x)
        z = self.b(y)
        return z.relu(), y + z  # the second output leaves the main path at y and at z


class SegmentationLike(nn.Module):
    """torchvision's pattern: a dict of outputs, heads upsampled to the input's size, a
    transposed conv, and an upsampling to the size of a merge's input."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.down = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(16, 16, 1))
        self.up = nn.ConvTranspose2d(32, 8, 2, stride=2)
        self.aux = nn.Conv2d(8, 5, 1)
        self.cls = nn.Conv2d(8, 5, 1)

    def forward(self, x):
        size = x.shape[-2:]
        y = self.stem(x)
        aux = F.interpolate(self.aux(y), size=size, mode="bilinear", align_corners=False)
        z = self.down(y)
        p = F.interpolate(self.pool(z), size=z.shape[-2:], mode="nearest")
        z = self.up(torch.cat([z, p], dim=1))
        out = F.interpolate(self.cls(z), scale_factor=2, mode="nearest")
        return {"aux": aux, "out": out}


class Crossing(nn.Module):
    """Two forks whose branches cross: a + b and b + c."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = (nn.Conv2d(3, 3, 1) for _ in range(3))

    def forward(self, x):
        a, b, c = self.a(x), self.b(x), self.c(x)
        return (a + b) * 0 + torch.relu(b + c)


def _source_line(cls, text: str) -> int:
    import inspect
    lines, start = inspect.getsourcelines(cls.forward)
    return start + next(i for i, l in enumerate(lines) if text in l)


def test_unmapped_ops_are_listed_with_path_and_line():
    with pytest.raises(symcnn.UnmappedError) as e:
        from_torch(WithFFT())
    text = str(e.value)
    assert text.startswith("3 operations symcnn cannot map")  # fft2, .real, the reflection pad
    assert f"test_import.py:{_source_line(WithFFT, 'fft2')}" in text
    assert "torch._C._fft.fft_fft2" in text or "fft2" in text
    assert "up: ReflectionPad2d at" in text
    assert f"test_import.py:{_source_line(WithFFT, 'self.up')}" in text
    assert len(e.value.ops) == 3 and isinstance(e.value, symcnn.SymCNNError)


def test_data_dependent_control_flow_names_the_line():
    with pytest.raises(symcnn.SymCNNError, match=r"torch\.fx cannot trace") as e:
        from_torch(DataDependent())
    assert f"test_import.py:{_source_line(DataDependent, 'x.sum()')}" in str(e.value)
    assert "write that part in notation" in str(e.value)


def test_shared_weights_are_refused():
    with pytest.raises(symcnn.UnmappedError, match=r"conv: Conv2d at .*shared weights"):
        from_torch(Shared())


def test_outputs_that_are_not_heads_are_refused():
    with pytest.raises(symcnn.SymCNNError, match=r"an output that is also on the way to the "
                       r"main output"):
        from_torch(TwoOutputs())
    with pytest.raises(symcnn.SymCNNError, match=r"neither the main one nor a head leaving "
                       r"the main path at one tensor"):
        from_torch(HeadFromTwoPlaces())


def test_dict_outputs_heads_upsampling_and_transposed_conv_import():
    net = from_torch(SegmentationLike())
    assert str(net).splitlines()[1:] == [
        "conv3-8/2  # stem",
        "head(conv1-5 bilinear-input)  # aux",
        "conv3-16/2  # down",
        "cat( | gap conv1-16 nearest-branch)  # forward",
        "tconv2-8/2  # up",
        "conv1-5  # cls",
        "nearest2  # forward"]
    for size in ((64, 64, 3), (45, 71, 3)):
        t = symcnn.analyze(net, size).totals
        assert {q: t[q] for q in ("params", "buffers", "macs")} == \
            torch_counts(SegmentationLike(), size)


def test_branches_that_do_not_nest_are_refused():
    with pytest.raises(symcnn.SymCNNError):
        from_torch(Crossing())


def test_not_a_module():
    with pytest.raises(symcnn.SymCNNError, match=r"wants a torch.nn.Module"):
        from_torch("resnet50")


# ------------------------------------------------------------------ the API and the CLI

def test_analyze_takes_a_module():
    model = build("resnet18")
    r = symcnn.analyze(model, "225x227x3")
    assert r.totals["macs"] == torch_counts(model, (225, 227, 3))["macs"]
    assert symcnn.analyze(model).formulas["params"] == 11_689_512


PACKAGE = '''
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self, width=8, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.BatchNorm2d(width),
                                  nn.ReLU())
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Linear(width * 14 * 14, classes)

    def forward(self, x):
        x = self.pool(self.stem(x))
        return self.head(torch.flatten(x, 1))
'''


@pytest.fixture
def user_package(tmp_path, monkeypatch):
    pkg = tmp_path / "symcnn_user_models"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(PACKAGE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "symcnn_user_models.models:Net"


def test_cli_imports_the_users_own_module(user_package, capsys):
    from symcnn.cli import main
    assert main(["import", user_package, "--kwargs", '{"width": 16}', "--input",
                 "28x28x1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["input 28x28x1", "conv3-16 bn relu  # stem", "pool2  # pool",
                                "fc10  # head"]
    assert main([user_package, "--kwargs", '{"width": 16}', "--input", "28x28x1"]) == 0
    table = capsys.readouterr().out
    assert f"Total params:          {(9 * 16 + 16) + 32 + (16 * 14 * 14 * 10 + 10):,}" in table


def test_cli_import_writes_a_file(user_package, tmp_path, capsys):
    from symcnn.cli import main
    out = tmp_path / "net.cnn"
    assert main(["import", user_package, "--input", "28x28x1", "-o", str(out)]) == 0
    assert symcnn.analyze(out).totals["params"] == (9 * 8 + 8) + 16 + (8 * 196 * 10 + 10)


def test_cli_verify_against_the_users_module(user_package, capsys):
    from symcnn.cli import main
    good = "input 28x28x1 conv3-8 bn relu pool2 fc10"
    assert main(["verify", good, "--against", user_package]) == 0
    assert "✓ the notation and the module agree" in capsys.readouterr().out
    assert main(["verify", "input 28x28x1 conv3-8 relu pool2 fc10", "--against",
                 user_package]) == 1
    out = capsys.readouterr().out
    assert "✗ the notation and the module disagree" in out
    assert "buffers  notation" in out


@pytest.mark.parametrize("argv, message", [
    (["import", "torchvision.models:nope"], r"torchvision.models has no callable nope"),
    (["import", "no_such_package_xyz.m:f"], r"cannot import no_such_package_xyz.m"),
    (["import", "torchvision.models:resnet18", "--kwargs", "[1]"], r"JSON object"),
    (["import", "torchvision.models:resnet18", "--kwargs", "{"], r"--kwargs is not JSON"),
    (["import", "torchvision.models:resnet18", "--kwargs", '{"nope": 1}'],
     r"unexpected keyword argument 'nope'"),
    (["import", "resnet18"], r"not MODULE:CALLABLE"),
    (["resnet18", "--kwargs", "{}"], r"--kwargs goes with a torch module"),
])
def test_cli_import_errors(argv, message, capsys):
    from symcnn.cli import main
    import re
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("symcnn: error: ") and "Traceback" not in err
    assert re.search(message, err), err


class OptionA(nn.Module):
    """A CIFAR ResNet basic block (He et al. 2016) with option A's shortcut: subsample,
    then zero channels; ``exotic`` swaps in group norm and PReLU."""

    def __init__(self, cin, cout, stride, exotic=False):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.act = nn.PReLU(cout) if exotic else nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.norm2 = nn.GroupNorm(4, cout) if exotic else nn.BatchNorm2d(cout)
        self.pad = cout - cin

    def forward(self, x):
        out = self.norm2(self.conv2(self.act(self.bn1(self.conv1(x)))))
        short = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, self.pad)) if self.pad else x
        return F.relu(out + short)


def test_option_a_group_norm_and_prelu_import():
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1, bias=False),
                          OptionA(16, 16, 1, exotic=True), OptionA(16, 32, 2, exotic=True),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(32, 10))
    text = str(from_torch(model, "33x31x3"))
    assert "def optiona() = (add(conv3-16nb bn prelu conv3-16nb gn4 | ) relu)" in text
    assert "def optiona_2() = (add(conv3-32/2nb bn prelu conv3-32nb gn4 | pool1/2 pad32) " \
        "relu)" in text
    assert symcnn.analyze(text, (33, 31, 3)).totals["macs"] == \
        torch_counts(model, (33, 31, 3))["macs"]


def cifar_resnet(n: int):
    """He et al. 2016's CIFAR-10 ResNet-(6n+2), option A shortcuts, in plain torch.nn."""
    layers = [nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    cin = 16
    for width, stride in ((16, 1), (32, 2), (64, 2)):
        for i in range(n):
            layers.append(OptionA(cin, width, stride if i == 0 else 1))
            cin = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


@pytest.mark.parametrize("depth, paper", [(20, 0.27e6), (32, 0.46e6), (44, 0.66e6),
                                          (56, 0.85e6), (110, 1.7e6)])
def test_cifar_resnets_match_torch_and_the_paper(depth, paper):
    from symcnn.torch.comparing import compare
    model = cifar_resnet((depth - 2) // 6)
    for size in ("32x32x3", "33x35x3"):
        result = compare(f"cifar_resnet{depth}", model, size)
        assert result.ok, result
    params = symcnn.analyze(f"cifar_resnet{depth}").totals["params"]
    assert round(params / 1e6, 2 if depth < 110 else 1) == paper / 1e6


# ------------------------------------------------------------------ in place

class _InPlaceForms(nn.Module if torch is not None else object):
    """Every way torch code writes an in-place activation or add."""

    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2, self.c3 = (nn.Conv2d(8, 8, 3, padding=1) for _ in range(3))
        self.relu, self.silu = nn.ReLU(inplace=True), nn.SiLU(inplace=True)
        self.relu6, self.hs = nn.ReLU6(inplace=True), nn.Hardswish(inplace=True)
        self.drop = nn.Dropout(0.2, inplace=True)
        self.stem = nn.Conv2d(3, 8, 1)

    def forward(self, x):
        x = self.stem(x)
        x = F.relu(x, inplace=True)
        x = self.relu(self.c1(x))
        x = F.relu_(x)
        x = x.relu_()
        out = self.silu(self.c2(x))
        out += x                                  # torch.fx records this as +: read as +=
        out = self.relu6(out)
        y = self.hs(self.c3(out))
        y = y.add_(out)
        y = F.silu(y, inplace=True)
        y = F.hardtanh(y, 0.0, 6.0, True)
        y = self.drop(y)
        return y.sigmoid_() + F.relu(y)


def test_in_place_forms_import_as_underscores():
    text = str(from_torch(_InPlaceForms(), "8x8x3"))
    body = " ".join(line.split("  #")[0] for line in text.splitlines()[1:])
    assert "conv1-8 relu_ conv3-8 relu_ relu_x2 add_(conv3-8 silu_ | ) relu6_ " \
        "add_(conv3-8 hardswish_ | ) silu_ relu6_ dropout_ add(sigmoid_ | relu)" in body


def test_an_add_into_the_fork_itself_is_refused():
    class IntoInput(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem, self.conv = nn.Conv2d(3, 4, 1), nn.Conv2d(4, 4, 1)

        def forward(self, x):
            x = self.stem(x)
            x += self.conv(x)
            return x
    with pytest.raises(symcnn.SymCNNError, match="in-place add into the tensor its branches"):
        from_torch(IntoInput(), "8x8x3")


def test_resnet_blocks_read_in_place():
    text = str(from_torch(build("resnet18")))
    assert "def basicblock(a) = (add_(conv3-anb bn relu_ conv3-anb bn | ) relu_)" in text
    text = str(from_torch(build("mobilenet_v2")))
    assert "add(" in text and "add_(" not in text and "relu6_" in text  # x + conv(x)


def test_to_torch_in_place_round_trips():
    net = "input 16x16x3\nconv3-8 relu_ res_(conv3-8 bn relu_ conv3-8 bn | conv1-8 bn) " \
          "relu_ sigmoid_ dropout_ gap fc4"
    back = from_torch(to_torch(net))
    items = " ".join(line.split("  #")[0] for line in str(back).splitlines()[1:])
    assert "add_(" in items and items.count("relu_") == 3 and "sigmoid_" in items \
        and "dropout_" in items
