"""Mechanism 1: pseudo-timestep map and the one-step / K-step flow."""
import torch

from ditic_lite import flow
from ditic_lite.config import FlowConfig

CFG = FlowConfig()


def test_pseudo_timestep_values_on_hand_made_std():
    std = torch.tensor([0.0, 1.0, 2.0, 3.9, 4.0, 10.0, -2.0])
    got = flow.pseudo_timestep_map(std)
    s = CFG.sigma_t
    want = torch.tensor([0.4 * s, 0.55 * s, 0.7 * s, (0.4 + 0.15 * 3.9) * s, s, s, 0.7 * s])
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)


def test_map_is_monotone_and_bounded():
    std = torch.linspace(0, 8, 200)
    m = flow.pseudo_timestep_map(std)
    assert torch.all(m[1:] >= m[:-1])
    assert float(m.min()) >= 0.4 * CFG.sigma_t - 1e-7 and float(m.max()) <= CFG.sigma_t + 1e-7


def test_std_from_log_scale_clamps():
    ls = torch.tensor([-100.0, 0.0, 2.0, 100.0])
    std = flow.std_from_log_scale(ls)
    torch.testing.assert_close(std, torch.exp(0.5 * torch.tensor([-30.0, 0.0, 2.0, 20.0])))


def test_one_step_equation():
    y = torch.randn(1, 4, 3, 5)
    v = torch.randn(1, 4, 3, 5)
    s = torch.rand(1, 4, 3, 5)
    torch.testing.assert_close(flow.one_step(y, v, s), y - s * v)


def _linear_velocity(a: torch.Tensor):
    calls = []

    def v(x, t):
        calls.append(float(t))
        return a * x
    return v, calls


def test_k1_equals_one_step_exactly():
    torch.manual_seed(0)
    y, s, a = torch.randn(1, 8, 4, 4), torch.rand(1, 8, 4, 4), torch.randn(1, 8, 4, 4)
    v, calls = _linear_velocity(a)
    out = flow.multi_step(v, y, s, steps=1)
    assert torch.equal(out, flow.one_step(y, a * y, s))
    assert calls == [CFG.timestep]


def test_k_steps_integrate_the_flow():
    """For dx/ds = a x (v = a x, x moves by -ds * v), K Euler steps approach x * exp(-a s)."""
    y, s, a = torch.ones(1, 1, 2, 2), torch.full((1, 1, 2, 2), 0.8), torch.full((1, 1, 2, 2), 0.5)
    v, calls = _linear_velocity(a)
    exact = y * torch.exp(-a * s)
    errors = [float((flow.multi_step(v, y, s, steps=k) - exact).abs().max()) for k in (1, 4, 32)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 2e-3
    # timesteps decrease from t to t/K
    calls.clear()
    flow.multi_step(v, y, s, steps=4)
    assert calls == [CFG.timestep * f for f in (1.0, 0.75, 0.5, 0.25)]


def test_trajectory_and_bad_steps():
    y, s = torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)
    traj = []
    flow.multi_step(lambda x, t: torch.ones_like(x), y, s, steps=3, trajectory=traj)
    assert len(traj) == 3
    torch.testing.assert_close(traj[-1], -torch.ones_like(y))
    try:
        flow.multi_step(lambda x, t: x, y, s, steps=0)
    except ValueError as err:
        assert "steps" in str(err)
    else:
        raise AssertionError("steps=0 must raise")


def test_global_timestep_ablation():
    m = torch.rand(1, 4, 3, 3)
    g = flow.global_timestep_map(m)
    assert torch.allclose(g, torch.full_like(m, float(m.mean())))
