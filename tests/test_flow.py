"""Mechanism 1: pseudo-timestep map and the one-step flow; the samplers beside it (K-step flow, SDEdit)."""
import numpy as np
import pytest
import torch

from ditic_lite import flow, samplers
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
    out = samplers.multi_step(v, y, s, steps=1)
    assert torch.equal(out, flow.one_step(y, a * y, s))
    assert calls == [CFG.timestep]


def test_k_steps_integrate_the_flow():
    """For dx/ds = a x (v = a x, x moves by -ds * v), K Euler steps approach x * exp(-a s)."""
    y, s, a = torch.ones(1, 1, 2, 2), torch.full((1, 1, 2, 2), 0.8), torch.full((1, 1, 2, 2), 0.5)
    v, calls = _linear_velocity(a)
    exact = y * torch.exp(-a * s)
    errors = [float((samplers.multi_step(v, y, s, steps=k) - exact).abs().max()) for k in (1, 4, 32)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 2e-3
    # timesteps decrease from t to t/K
    calls.clear()
    samplers.multi_step(v, y, s, steps=4)
    assert calls == [CFG.timestep * f for f in (1.0, 0.75, 0.5, 0.25)]


def test_trajectory_and_bad_steps():
    y, s = torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)
    traj = []
    samplers.multi_step(lambda x, t: torch.ones_like(x), y, s, steps=3, trajectory=traj)
    assert len(traj) == 3
    torch.testing.assert_close(traj[-1], -torch.ones_like(y))
    try:
        samplers.multi_step(lambda x, t: x, y, s, steps=0)
    except ValueError as err:
        assert "steps" in str(err)
    else:
        raise AssertionError("steps=0 must raise")


def test_global_timestep_ablation():
    m = torch.rand(1, 4, 3, 3)
    g = flow.global_timestep_map(m)
    assert torch.allclose(g, torch.full_like(m, float(m.mean())))


def test_velocities_and_timestep_hook():
    """``velocities`` collects each step's v; ``dit_timestep`` decides what the DiT is given."""
    y, s = torch.ones(1, 1, 2, 2), torch.full((1, 1, 2, 2), 0.5)
    seen, velocities = [], []

    def v(x, t):
        seen.append(t)
        return 2 * x

    samplers.multi_step(v, y, s, steps=2, velocities=velocities,
                        dit_timestep=lambda t, like: torch.tensor([t / 1000], dtype=torch.float64))
    assert [float(t) for t in seen] == [CFG.timestep / 1000, CFG.timestep / 2000]
    assert all(t.dtype == torch.float64 for t in seen)
    assert len(velocities) == 2 and torch.equal(velocities[0], 2 * y)
    assert samplers.plain_timestep(999.0, torch.zeros(2, dtype=torch.float16)).dtype == torch.float16


def test_sdedit_sigmas_start_at_the_requested_level():
    from diffusers import FlowMatchEulerDiscreteScheduler

    s = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0)
    s.set_timesteps(sigmas=samplers.sdedit_sigmas(0.55, 4))
    assert float(s.sigmas[0]) == pytest.approx(0.55, abs=1e-5)
    assert float(s.sigmas[-1]) == 0.0 and len(s.timesteps) == 4
    assert (np.diff(s.sigmas.numpy()) < 0).all()


def test_sdedit_noises_then_integrates_to_zero():
    """With v = eps - x0 exactly (the flow the base was trained on), SDEdit returns x0."""
    x0 = torch.randn(1, 2, 3, 3, generator=torch.Generator().manual_seed(0))
    eps = torch.randn(x0.shape, generator=torch.Generator().manual_seed(5))
    out, s0 = samplers.sdedit(lambda x, t: eps - x0, x0, strength=0.6, steps=3, seed=5)
    assert s0 == pytest.approx(0.6, abs=1e-5)
    torch.testing.assert_close(out, x0, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="strength"):
        samplers.sdedit(lambda x, t: x, x0, strength=1.5, steps=1)


@torch.no_grad()
def test_one_reconstruct_for_both_tiers(tiny_model):
    """``DiTIC.reconstruct``: K steps, optional tokens, no decode; the official tier only changes hooks."""
    from ditic_lite.config import tiny_config
    from ditic_lite.official import OfficialDiTIC

    latent, latent2 = tiny_model.encode_latents(torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0)))
    codec_out = tiny_model.codec(latent, latent2)
    full = tiny_model.reconstruct(codec_out, steps=2)
    velocities = []
    latent_only = tiny_model.reconstruct(codec_out, steps=2, velocities=velocities, decode=False)
    assert "image" not in latent_only and "decoder" not in latent_only["timings"]
    assert torch.equal(latent_only["y_hat"], full["y_hat"]) and len(velocities) == 2
    given = tiny_model.reconstruct(codec_out, steps=2, tokens=full["tokens"])
    assert torch.equal(given["image"], full["image"])
    official = OfficialDiTIC(tiny_config())
    t = official.dit_timestep(999.0, torch.zeros(1, dtype=torch.float64))
    assert t.dtype == torch.float32 and float(t) == 999.0 * official.DiT.config.get("timestep_scale", 1.0)
    assert tiny_model.dit_timestep(999.0, torch.zeros(1, dtype=torch.float64)).dtype == torch.float64


def test_variance_calibration_asks_only_for_the_shape_of_the_map():
    torch.manual_seed(0)
    error = torch.randn(2, 3, 8, 8) * torch.linspace(0.1, 2.0, 8).view(1, 1, 1, 8)  # grows to the right
    matched = error.square().log()
    loss = flow.variance_calibration_loss
    # a constant per channel (the DiT's operating point) changes nothing
    shifted = matched + torch.tensor([3.0, -2.0, 0.5]).view(1, 3, 1, 1)
    torch.testing.assert_close(loss(shifted, error), loss(matched, error))
    # the right shape beats a flat map, which beats the inverted one (the shipped tier's, 2026-12-03)
    assert loss(matched, error) < loss(torch.zeros_like(error), error) < loss(-matched, error)
    # only log_scale learns: the error is a target
    log_scale, err = torch.zeros_like(error, requires_grad=True), error.clone().requires_grad_(True)
    loss(log_scale, err).backward()
    assert err.grad is None and log_scale.grad.abs().sum() > 0
    # and the gradient points the map up where the error is large
    assert log_scale.grad[..., -1].mean() < 0 < log_scale.grad[..., 0].mean()
