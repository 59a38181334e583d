"""symcnn's memory figures against real PyTorch: what autograd saves in a train-mode
forward, measured with ``saved_tensors_hooks`` (symcnn.torch.measuring) on the meta device
(and the CPU for small networks), on symcnn's own torch build and on torchvision's models.

torch is an optional dependency: without it these tests are skipped locally, but they
fail when the ``CI`` environment variable is set (CI must install torch).
"""

from __future__ import annotations

import os

import pytest

import symcnn
import symcnn.expand
from symcnn import zoo
from symcnn.memory import graph

TORCH_REQUIRED = "torch is required in CI: pip install torch==2.13.0"

try:
    import torch
    from symcnn.torch import to_torch
    from symcnn.torch.measuring import saved_bytes
except ImportError:  # pragma: no cover - depends on the environment
    torch = None
    if not os.environ.get("CI") or os.environ.get("SYMCNN_NO_TORCH"):  # absent on purpose
        pytest.skip("torch is not installed (pip install torch==2.13.0 to cross-check "
                    "symcnn against PyTorch); set CI=1 to make this a failure",
                    allow_module_level=True)
else:
    torch.set_num_threads(2)

try:
    import torchvision
except ImportError:  # pragma: no cover
    torchvision = None


def test_torch_is_installed():
    """The one test that fails in CI when torch is missing."""
    assert torch is not None, TORCH_REQUIRED


@pytest.fixture(autouse=True)
def _torch_available(request):
    if torch is None and request.node.name != "test_torch_is_installed":
        pytest.skip(f"torch is missing; see test_torch_is_installed ({TORCH_REQUIRED})")


# every layer kind, alone and in the contexts that change what is saved
SMALL = [
    "conv3-8", "conv3-8 relu", "relu conv3-8", "pool2 conv3-8", "conv3-8 relu6 conv3-8",
    "conv3-8 silu gelu hardswish hardsigmoid sigmoid tanh", "conv3-8 softmax",
    "conv3-8 dropout", "conv3-8 lrn", "conv3-8 pool2 conv3-8", "conv3-8 pool3/2ceil",
    "conv3-8 pool3/2p1", "conv3-8 avgpool2 gap fc10", "conv3-8 avgpool3/2ceil",
    "conv3-8 adaptiveavgpool3 fc10", "conv3-8 bn relu", "conv3-8 gn2 ln prelu scale",
    "conv3-8 se(2)", "conv3-8 res(conv3-8 bn relu conv3-8 bn) relu",
    "conv3-8 cat(conv1-4 | conv3-4 | ) relu", "conv3-8 split(conv1-4 relu | ) shuffle conv1-8",
    "conv3-8 mul(conv1-8 | gap conv1-8 sigmoid)", "conv3-8 mul(| gap conv1-8 sigmoid)",
    "conv3-8 mul(| gap conv1-8 sigmoid | gap conv1-8 sigmoid)",
    "conv3-8 head(conv1-2 bilinear-input) conv3-8", "conv3-8 nearest2 conv3-8 bilinear2 tconv2-4/2",
    "conv3-8 pad16 conv1-4", "dw3 conv1-8 dw3/2", "conv3-8 (conv3-8 relu)x3",
    "conv3-8 (res(conv3-8 relu))x3 fc10", "conv3-4 cat(crop | pool2 conv3-4 tconv2-4/2)",
    "conv3-8 aux(pool2 conv1-4 gap fc3) conv3-8", "fc10 relu fc4 dropout",
    "conv3-8/2 bn relu (res(conv1-8 bn relu dw3 bn relu se(4) conv1-8 bn))x2 gap fc5",
    "conv3-8 (cat( | bn relu_ conv1-8nb bn relu_ conv3-4nb))x2 conv1-4",
    "def d() = cat( | bn relu_ conv1-8 bn relu_ dw3 conv1-4 relu)\nconv3-8 d()x3 pool2",
    "def cls() = (conv1-4 bilinear-input)\nconv3-8 head(conv1-2 bilinear-input) conv3-8 cls()",
    "def cls() = (conv1-4)\nconv3-8 cls() head(conv1-2) conv3-8 res(conv1-8)",
    "conv3-8 head(conv1-2) pool2 (cat( | conv1-4))x2 head(conv1-3) avgpool2 (cat( | bn relu_))x2"
    " conv1-2",
    "conv3-8 (cat( | conv1-8nb))x0 conv1-4",
]


@pytest.mark.parametrize("device", ["meta", "cpu"])
@pytest.mark.parametrize("net", SMALL)
def test_saved_for_backward_is_exact_on_small_networks(net, device):
    size = "17x17x3" if "crop" in net else "16x16x3"
    h = int(size.split("x")[0])
    r = symcnn.analyze(net, size, batch=2, device="cpu")  # meta saves like the CPU here
    model = to_torch(net, size, device=device)
    assert saved_bytes(model, torch.zeros(2, 3, h, h, device=device)) == \
        r.memory["saved_for_backward"]


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_saved_for_backward_in_every_float_dtype(dtype, device):
    """Norm statistics: float32 for float16/bfloat16 in batch and layer norm on CUDA (the
    meta kernels), the input's dtype on the CPU and in group norm."""
    net = "conv3-8 bn relu gn2 ln pool2 fc10"
    r = symcnn.analyze(net, "16x16x3", dtype=dtype, batch=2,
                       device="cpu" if device == "cpu" else "cuda")
    model = to_torch(net, "16x16x3", device=device).to(getattr(torch, dtype))
    x = torch.zeros(2, 3, 16, 16, device=device, dtype=getattr(torch, dtype))
    assert saved_bytes(model, x) == r.memory["saved_for_backward"]


def _size(name):
    s = zoo.native_size(name)
    return f"{s}x{s}x{1 if name == 'unet' else 3}"


@pytest.mark.parametrize("name", zoo.names())
def test_every_zoo_file_saves_what_its_torch_build_saves(name):
    size = _size(name)
    h, _, c = map(int, size.split("x"))
    r = symcnn.analyze(name, size, batch=2, device="cpu")  # BN on 1×1 needs batch > 1
    model = to_torch(name, size, device="meta")
    assert saved_bytes(model, torch.zeros(2, c, h, h, device="meta")) == \
        r.memory["saved_for_backward"]


def _torchvision(name):
    from symcnn.torch.loading import load
    seg = name.startswith(("fcn", "deeplab", "lraspp"))
    kwargs = {"googlenet": '{"aux_logits": false, "init_weights": false}',
              "inception_v3": '{"init_weights": false}',
              "inception_v3_noaux": '{"init_weights": false, "aux_logits": false}'}.get(name)
    if seg:
        kwargs = '{"weights": null, "weights_backbone": null%s}' % (
            "" if name.startswith("lraspp") else ', "aux_loss": true')
    where = "torchvision.models.segmentation" if seg else "torchvision.models"
    return load(f"{where}:{name.replace('_noaux', '')}", kwargs)


def _torchvision_extra(model, batch, itemsize=4) -> int:
    """What torchvision saves beyond the notation, exactly: an SE whose gate is a
    hardsigmoid keeps its input and its output (C values, not one C: MobileNetV3), an SE
    whose squeeze activation is SiLU keeps both sides of it (EfficientNet), and every
    stochastic-depth residual with p > 0 keeps its N×1×1×1 noise in train mode
    (EfficientNet, ConvNeXt)."""
    from torchvision.ops import SqueezeExcitation, StochasticDepth
    extra = 0
    for m in model.modules():
        if isinstance(m, SqueezeExcitation):
            extra += m.fc2.out_channels * isinstance(m.scale_activation, torch.nn.Hardsigmoid)
            extra += m.fc1.out_channels * (not isinstance(m.activation, torch.nn.ReLU))
        sd = getattr(m, "stochastic_depth", None)
        if isinstance(sd, StochasticDepth) and sd.p > 0 and getattr(m, "use_res_connect", True):
            extra += 1
    return extra * batch * itemsize


TORCHVISION = [n for n in zoo.names() if n not in ("unet",) and not n.startswith("cifar")]


@pytest.fixture(scope="module")
def _tv():
    if torchvision is None:
        if os.environ.get("CI"):
            pytest.fail("torchvision is required in CI")
        pytest.skip("torchvision is not installed")


def test_resnet50_batch_8_saves_687_488_512_bytes(_tv):
    x = torch.zeros(8, 3, 224, 224, device="meta")
    r = symcnn.analyze("resnet50", "224x224x3", batch=8)
    assert r.memory["saved_for_backward"] == 687_488_512
    assert saved_bytes(_torchvision("resnet50"), x) == 687_488_512  # in-place ReLUs
    assert saved_bytes(to_torch("resnet50", "224x224x3", device="meta"), x) == 687_488_512


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_saves_what_the_zoo_file_predicts(name, _tv):
    """torchvision's own models (in-place activations, aux heads that run in train mode):
    exactly symcnn's figure, plus the exactly known extras of _torchvision_extra."""
    size = _size(name)
    h = int(size.split("x")[0])
    model = _torchvision(name)
    r = symcnn.analyze(name, size, batch=2, device="cpu")
    got = saved_bytes(model, torch.zeros(2, 3, h, h, device="meta"))
    assert got == r.memory["saved_for_backward"] + _torchvision_extra(model, 2)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "adamw"])
@pytest.mark.parametrize("net, size, device", [
    ("resnet50", "224x224x3", "meta"),
    ("conv3-8 bn relu se(2) gn2 ln scale prelu gap fc10", "16x16x3", "meta"),
    ("conv3-8 bn relu se(2) gn2 ln scale prelu gap fc10", "16x16x3", "cpu"),
    ("mobilenet_v3_small", "64x64x3", "cpu")])
def test_model_state_matches_a_real_optimizer_step(net, size, device, optimizer):
    """Params, gradients and state after a real step; on meta (standing for CUDA) Adam's
    step scalars live on the host, so only the CPU semantics count them."""
    from symcnn.torch.measuring import model_state_bytes
    h = int(size.split("x")[0])
    got = model_state_bytes(to_torch(net, size, device=device),
                            torch.zeros(2, 3, h, h, device=device), optimizer)
    r = symcnn.analyze(net, size, optimizer=optimizer,
                       device="cpu" if device == "cpu" else "cuda")
    assert (got["params"], got["optimizer_state"]) == \
        (r.memory["breakdown"]["params"], r.memory["breakdown"]["optimizer_state"])
    assert got["gradients"] == got["params"]
    assert r.memory["model_state"] == got["params"] + got["gradients"] + got["optimizer_state"]


def _inference(model, x):
    from symcnn.torch.measuring import inference_peak
    return inference_peak(model, x)


@pytest.mark.parametrize("device", ["meta", "cpu"])
@pytest.mark.parametrize("net", [n for n in SMALL if "lrn" not in n])
def test_inference_peak_is_exact_on_small_networks(net, device):
    size = "17x17x3" if "crop" in net else "16x16x3"
    h = int(size.split("x")[0])
    r = symcnn.analyze(net, size, batch=2, device="cpu" if device == "cpu" else "cuda")
    model = to_torch(net, size, device=device)
    assert _inference(model, torch.zeros(2, 3, h, h, device=device)) == \
        r.memory["inference_peak"]


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_a_dense_block_on_a_map_another_layer_saves(device):
    """A dense block's first layer runs on torch.cat([x]), a copy of x: where a head's
    conv saves x too, autograd keeps both (x and its copy are two storages)."""
    net = "conv3-8 head(conv1-2) (cat( | conv1-4))x2 head(conv1-3) (cat( | bn relu_))x2 conv1-2"
    r = symcnn.analyze(net, "16x16x3", batch=2, device="cpu" if device == "cpu" else "cuda")
    model = to_torch(net, "16x16x3", device=device)
    x = torch.zeros(2, 3, 16, 16, device=device)
    assert _inference(model, x) == r.memory["inference_peak"]
    saved = symcnn.analyze(net, "16x16x3", batch=2, device="cpu").memory["saved_for_backward"]
    assert saved_bytes(model, x) == saved
    # the two copies are the difference from counting x once (8 and 8 + 4 + 4 channels)
    nodes = graph(r.rows, device="cpu")
    copies = [st for n in nodes for st in n.saved if st.what == "dense cat"]
    assert [st.bytes(2) for st in copies] == [2 * 16 * 16 * 8 * 4, 2 * 16 * 16 * 16 * 4]


@pytest.mark.parametrize("name", zoo.names())
def test_every_zoo_file_peaks_as_its_torch_build(name):
    size = _size(name)
    h, _, c = map(int, size.split("x"))
    r = symcnn.analyze(name, size, batch=2)
    model = to_torch(name, size, device="meta")
    assert _inference(model, torch.zeros(2, c, h, h, device="meta")) == \
        r.memory["inference_peak"]


# every torchvision model of the zoo: exactly MemTracker's peak (the zoo files nest and run
# in place as torchvision's code does; a dense block keeps its maps in a list as
# _DenseBlock does; a segmentation model's heads run after its classifier, their inputs and
# the backbone's output kept, as _SimpleSegmentationModel does)


def _tv_peak(name, h, w, device="meta"):
    model = _torchvision(name) if device == "meta" else \
        getattr(torchvision.models, name)(**({"init_weights": False} if name == "inception_v3"
                                             else {}))
    return _inference(model, torch.zeros(2, 3, h, w, device=device))


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_inference_peak_is_exact(name, _tv):
    """Every torchvision model of the zoo, meta device, batch 2: at its native size and at
    an odd, non-square 225×227."""
    s = zoo.native_size(name)
    for h, w in ((s, s), (225, 227)):
        want = symcnn.analyze(name, (h, w, 3), batch=2).memory["inference_peak"]
        assert _tv_peak(name, h, w) == want, (h, w)


@pytest.mark.parametrize("name", ["resnet50", "vgg16", "regnet_y_400mf", "mobilenet_v3_large",
                                  "efficientnet_v2_s", "convnext_tiny", "inception_v3",
                                  "squeezenet1_1", "lraspp_mobilenet_v3_large", "densenet121",
                                  "fcn_resnet50", "deeplabv3_mobilenet_v3_large"])
def test_torchvision_inference_peak_at_160x240(name, _tv):
    want = symcnn.analyze(name, (160, 240, 3), batch=2).memory["inference_peak"]
    assert _tv_peak(name, 160, 240) == want


@pytest.mark.parametrize("name, h, w", [("resnet18", 64, 64), ("squeezenet1_1", 97, 81),
                                        ("mobilenet_v3_small", 64, 96),
                                        ("shufflenet_v2_x0_5", 65, 65), ("densenet121", 64, 80)])
def test_torchvision_inference_peak_on_the_cpu(name, h, w, _tv):
    """On the CPU, real allocations: the same bytes (CPU semantics: no batch norm stats)."""
    want = symcnn.analyze(name, (h, w, 3), batch=2, device="cpu").memory["inference_peak"]
    assert _tv_peak(name, h, w, "cpu") == want


@pytest.mark.parametrize("name", ["resnet50", "vgg16", "regnet_y_400mf", "efficientnet_b0",
                                  "mobilenet_v2", "inception_v3", "squeezenet1_1",
                                  "mnasnet0_5", "densenet121", "fcn_resnet50"])
def test_imported_torchvision_model_peaks_as_measured(name, _tv):
    """The importer reads torchvision's in-place modules and += adds as relu_ and add_(…):
    the imported notation's figure is the measured peak."""
    from symcnn.torch import from_torch
    model = _torchvision(name)
    s = zoo.native_size(name)
    want = symcnn.analyze(from_torch(model), (s, s, 3), batch=2).memory["inference_peak"]
    assert _inference(model, torch.zeros(2, 3, s, s, device="meta")) == want


IN_PLACE_NETS = ["conv3-8 relu_ conv3-8", "conv3-8 silu_ conv3-8 bn relu6_ hardswish_ fc10",
                 "conv3-8 bn hardsigmoid_ sigmoid_ tanh_ conv3-8 dropout_ gap fc4",
                 "conv3-8 res_(conv3-8 bn relu_ conv3-8 bn) relu_",
                 "conv3-8 res_(conv3-8 bn relu_ conv3-8 bn | conv1-8 bn) relu_ fc10 relu_",
                 "conv3-8 add_(conv3-8 | conv1-8 | conv3-8 relu_) relu_",
                 "conv3-8 pool2 relu_ conv3-8 (conv3-8 relu_)x2 res_(conv1-8)x2"]


def _in_place_count(items) -> int:
    """In-place layers and merges of expanded items, every repeat copy counted."""
    from symcnn.layers import Block, Branches, Repeat
    n = 0
    for i in items:
        if isinstance(i, Repeat):
            n += i.count * _in_place_count(i.body)
        elif isinstance(i, Block):
            n += _in_place_count(i.items)
        elif isinstance(i, Branches):
            n += i.inplace + sum(_in_place_count(b) for b in i.branches)
        else:
            n += getattr(i, "inplace", False)
    return n


@pytest.mark.parametrize("net", IN_PLACE_NETS)
def test_to_torch_builds_in_place_and_computes_the_same(net):
    """relu_ → nn.ReLU(inplace=True) (sigmoid_/tanh_: the Tensor method), add_(…) → out += b;
    the same values as the out-of-place build with the same weights; the same peaks."""
    from symcnn.torch.building import InPlace, Merge
    model = to_torch(net, "16x16x3")
    plain = to_torch(net.replace("_", ""), "16x16x3")
    plain.load_state_dict(model.state_dict())
    marked = [m for m in model.modules() if getattr(m, "inplace", False)]
    assert len(marked) + sum(isinstance(m, InPlace) for m in model.modules()) == \
        _in_place_count(symcnn.expand.expand(symcnn.parse(net)))
    assert all(not getattr(m, "inplace", False) for m in plain.modules())
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(model(x.clone()), plain(x.clone()), atol=1e-6)
    assert any(isinstance(m, Merge) and m.inplace for m in model.modules()) == ("add_" in net
                                                                                 or "res_" in net)


@pytest.mark.parametrize("device", ["meta", "cpu"])
@pytest.mark.parametrize("net", IN_PLACE_NETS)
def test_in_place_peaks_and_saves_exactly(net, device):
    r = symcnn.analyze(net, "16x16x3", batch=2, device="cpu" if device == "cpu" else "cuda")
    x = torch.zeros(2, 3, 16, 16, device=device)
    assert _inference(to_torch(net, "16x16x3", device=device), x) == \
        r.memory["inference_peak"]
    saved = symcnn.analyze(net, "16x16x3", batch=2, device="cpu").memory["saved_for_backward"]
    assert saved_bytes(to_torch(net, "16x16x3", device=device), x) == saved


# symcnn's estimate against MemTracker's peak of a whole second training step (meta, batch 8,
# 224×224): the zoo's torch build and torchvision's model; the bound is the README's
TRAINING = [("resnet18", "adam", 0.5), ("resnet50", "sgd", 0.8), ("resnet50", "adam", 0.7),
            ("mobilenet_v2", "adam", 0.01), ("vgg11", "momentum", 0.01),
            ("densenet121", "adamw", 1.7), ("efficientnet_b0", "sgd", 0.01)]


@pytest.mark.parametrize("name, optimizer, bound", TRAINING)
def test_training_peak_estimate_is_within_its_bound(name, optimizer, bound, _tv):
    from symcnn.torch.measuring import training_peak
    x = torch.zeros(8, 3, 224, 224, device="meta")
    t = torch.zeros(8, dtype=torch.long, device="meta")
    # on meta, torch.optim runs single-tensor (as on the CPU): the CPU semantics
    want = symcnn.analyze(name, "224x224x3", batch=8, optimizer=optimizer,
                          device="cpu").memory["training_peak"]
    for model in (to_torch(name, "224x224x3", device="meta"), _torchvision(name)):
        got = training_peak(model, x, t, optimizer)["total"]
        assert abs(want - got) / got * 100 <= bound, (want, got)


def test_verify_memory_cli(capsys):
    from symcnn.cli import main
    assert main(["verify", "resnet18", "--input", "64x64x3", "--memory"]) == 0
    out = capsys.readouterr().out
    for name in ("saved_for_backward", "model_state", "inference_peak"):
        assert any(line.split()[0] == name and line.endswith("exact")
                   for line in out.splitlines()[2:])
    assert "training_peak" in out
