"""torch.compile of a training step that calls KAdam.step() builds its graphs once: the step
count is a tensor (as torch keeps it), a tensor lr stays a tensor, and the lazily created
state is made by ``_init_group``, which dynamo runs eagerly. Frames are counted with dynamo's
CompileCounter backend (it runs the captured graphs without inductor, so the test is fast)."""

import pytest
import torch
from torch._dynamo.testing import CompileCounter

from ctadam.optim import KAdam


def compiled_run(make_opt, steps: int, scheduler=None, compile_step: bool = True):
    """Train a small linear model; return the frame count after each step and the weights."""
    torch._dynamo.reset()
    torch.manual_seed(0)
    net = torch.nn.Linear(4, 3)
    opt = make_opt(net.parameters())
    sched = scheduler(opt) if scheduler is not None else None
    x, y = torch.randn(8, 4), torch.randn(8, 3)
    counter = CompileCounter()

    def train_step():
        loss = torch.nn.functional.mse_loss(net(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
        return loss

    fn = torch.compile(train_step, backend=counter) if compile_step else train_step
    frames = []
    for _ in range(steps):
        fn()
        if sched is not None:
            sched.step()
        frames.append(counter.frame_count)
    return frames, counter, torch.cat([p.detach().flatten() for p in net.parameters()])


CONFIGS = {
    "k1": dict(),
    "k3-tensor-lr": dict(k=3, lr=torch.tensor(0.01)),
    "k2-pooled-study": dict(k=2, pooled=[False, True], betas=[(0.9, 0.999), (0.0, 0.99)]),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_compiled_training_step_builds_its_graphs_once(name):
    options = CONFIGS[name]

    def make(params):
        return KAdam(params, **{"lr": 0.01, **options})

    frames, counter, weights = compiled_run(make, steps=6)
    assert frames[0] > 0 and frames == [frames[0]] * 6, frames  # no recompilation
    assert counter.op_count > 10  # the optimizer's arithmetic is inside the graphs
    _, _, eager = compiled_run(make, steps=6, compile_step=False)
    # Traced, the bias corrections are computed from the float32 step tensor, so the weights
    # agree to float32 rounding, not bit for bit: torch's Adam, traced the same way, differs
    # from its eager run by 1e-6 (relative) after these 6 steps, as KAdam does.
    assert torch.allclose(weights, eager, rtol=1e-5, atol=1e-6)


def test_tensor_lr_driven_by_a_scheduler_does_not_recompile():
    """torch's advice for compiled optimizers with schedulers: a tensor lr, filled in place."""
    frames, _, _ = compiled_run(lambda p: KAdam(p, k=2, lr=torch.tensor(0.05)), steps=6,
                                scheduler=lambda o: torch.optim.lr_scheduler.ExponentialLR(
                                    o, gamma=0.8))
    assert frames == [frames[0]] * 6, frames
