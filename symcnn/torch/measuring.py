"""What PyTorch really keeps in memory, measured (the checks of :mod:`symcnn.memory`).

- :func:`saved_bytes`: the distinct storages autograd saves for backward during one
  train-mode forward (no loss), found with ``torch.autograd.graph.saved_tensors_hooks``
  and deduplicated by ``untyped_storage()._cdata`` (which works on the meta device, where
  ``data_ptr()`` is 0); parameter and buffer storages are left out.
- :func:`peak_bytes`: the peak of an eval-mode ``no_grad`` forward, or of a steady-state
  training step, from ``torch.distributed._tools.mem_tracker.MemTracker`` (a private torch
  tool: it tracks every storage by category, on the CPU and meta).
"""

from __future__ import annotations

import torch

__all__ = ["saved_bytes", "saved_storages", "inference_peak", "training_peak"]


def _owned(model) -> set:
    return {t.untyped_storage()._cdata for t in (*model.parameters(), *model.buffers())}


def saved_storages(model, x) -> dict:
    """{storage id: bytes} of what autograd saves in one train-mode forward of ``model``
    on ``x`` (the model's mode is restored)."""
    owned, seen = _owned(model), {}

    def pack(t):
        s = t.untyped_storage()
        if s._cdata not in owned:
            seen[s._cdata] = (s.nbytes(), s)  # keep it alive: ids stay unique
        return t

    was = model.training
    model.train()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(x)
    finally:
        model.train(was)
    del out
    return {k: v[0] for k, v in seen.items()}


def saved_bytes(model, x) -> int:
    """Bytes of the distinct storages autograd saves in a train-mode forward."""
    return sum(saved_storages(model, x).values())


def _tracker():
    from torch.distributed._tools.mem_tracker import MemTracker
    return MemTracker()


def _device_total(snapshot) -> int:
    return max(c["Total"] for c in snapshot.values())


def inference_peak(model, x) -> int:
    """Peak bytes of an eval-mode ``no_grad`` forward: params, buffers, the input and
    everything live at the peak (MemTracker)."""
    model.eval()
    mt = _tracker()
    mt.track_external(model, x)
    with mt, torch.no_grad():
        model(x)
    return _device_total(mt.get_tracker_snapshot("peak"))


def training_peak(model, x, target, optimizer: str = "adam", steps: int = 2) -> dict:
    """Peak bytes of the last of ``steps`` training steps (forward, cross-entropy against
    int64 ``target``, backward, ``step()``, ``zero_grad(set_to_none=True)``), by category."""
    model.train()
    params = list(model.parameters())
    opt = _optimizer(params, optimizer)

    def step():
        out = model(x)
        if isinstance(out, dict):
            out = out["out"]
        loss = torch.nn.functional.cross_entropy(out.flatten(2).mean(2) if out.dim() == 4
                                                 and out.shape[-1] * out.shape[-2] > 1
                                                 else out.flatten(1), target)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    for _ in range(steps - 1):
        step()
    mt = _tracker()
    mt.track_external(model, opt, x, target)
    with mt:
        step()
    snap = mt.get_tracker_snapshot("peak")
    cats = snap[params[0].device]  # (Adam's step scalars live on the host)
    return {str(k).replace("_MemRefType.", "").lower(): v for k, v in cats.items()}


def _optimizer(params, optimizer: str):
    return {"sgd": lambda: torch.optim.SGD(params, lr=0.1),
            "momentum": lambda: torch.optim.SGD(params, lr=0.1, momentum=0.9),
            "adam": lambda: torch.optim.Adam(params),
            "adamw": lambda: torch.optim.AdamW(params)}[optimizer]()


def model_state_bytes(model, x, optimizer: str = "adam") -> dict:
    """Bytes of params, gradients and optimizer state after one training step on ``x``
    (a sum of the outputs as the loss), by where they live: ``{"params", "gradients",
    "optimizer_state", "host_state"}`` (host_state: state tensors on the CPU while the
    params are elsewhere, e.g. Adam's step scalars)."""
    model.train()
    params = list(model.parameters())
    opt = _optimizer(params, optimizer)
    out = model(x)
    out = out["out"] if isinstance(out, dict) else out
    out.float().sum().backward()
    opt.step()
    where = params[0].device
    state = host = 0
    for s in opt.state.values():
        for t in s.values():
            if isinstance(t, torch.Tensor):
                if t.device == where:
                    state += t.untyped_storage().nbytes()
                else:
                    host += t.untyped_storage().nbytes()
    return {"params": sum(p.untyped_storage().nbytes() for p in params),
            "gradients": sum(p.grad.untyped_storage().nbytes() for p in params
                             if p.grad is not None),
            "optimizer_state": state, "host_state": host}


def verify_memory(network, input, batch: int = 2, optimizer: str = "adam") -> list[tuple]:
    """symcnn's memory figures against torch's own, on ``to_torch``'s build on the meta
    device (CPU semantics where torch.optim's meta behaviour is the CPU's; CUDA semantics
    for norm statistics, as the meta kernels): rows (figure, symcnn, torch, exact?)."""
    import symcnn
    from .building import to_torch
    r_cpu = symcnn.analyze(network, input, batch=batch, device="cpu", optimizer=optimizer)
    r_cuda = symcnn.analyze(network, input, batch=batch, device="cuda", optimizer=optimizer)
    spec = r_cpu.input
    x = torch.zeros(batch, spec.channels, spec.height, spec.width, device="meta")
    t = torch.zeros(batch, dtype=torch.long, device="meta")
    model = lambda: to_torch(network, input, device="meta")  # noqa: E731
    saved = saved_bytes(model(), x)
    inference = inference_peak(model(), x)
    state = model_state_bytes(model(), x, optimizer)
    try:
        training = training_peak(model(), x, t, optimizer)["total"]
    except Exception:  # a network whose output cross-entropy cannot take
        training = None
    m_cpu, m_cuda = r_cpu.memory, r_cuda.memory
    rows = [("saved_for_backward", m_cpu["saved_for_backward"], saved),
            ("model_state", m_cpu["model_state"], state["params"] + state["gradients"] +
             state["optimizer_state"] + state["host_state"]),
            ("inference_peak", m_cuda["inference_peak"], inference),
            ("training_peak", m_cpu["training_peak"], training)]
    return [(name, mine, theirs, mine == theirs) for name, mine, theirs in rows]


def format_memory(rows, network: str, input, batch: int) -> str:
    lines = [f"symcnn verify --memory: {network} at {input}, batch {batch}, meta device",
             f"  {'figure':<20}{'symcnn':>18}{'torch':>18}  agreement"]
    for name, mine, theirs, same in rows:
        if mine is None or theirs is None:
            lines.append(f"  {name:<20}{str(mine):>18}{str(theirs):>18}  —")
            continue
        err = "exact" if same else f"{100 * (mine - theirs) / theirs:+.2f} %"
        if name == "training_peak" and not same:
            err += " (an estimate)"
        lines.append(f"  {name:<20}{mine:>18,}{theirs:>18,}  {err}")
    return "\n".join(lines)
