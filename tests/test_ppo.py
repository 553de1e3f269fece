"""PPO: the losses and their gradient table, the networks, the trainer, checkpoints, the train command."""

import csv
import dataclasses
import re

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from rl_course import advantages, cli, plotting, ppo
from rl_course.ppo import losses, networks, speed, trainer
from rl_course.rollouts import collect_rollout


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One torch thread, as training uses (``PPOConfig.torch_threads``): on networks this small a second thread
    only waits, and on a loaded 2-core machine it made an update twenty times slower in CPU time."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _prefixed(where: str):
    """A ``msg`` for ``torch.testing.assert_close``: its own message, prefixed with where the two tensors differ."""
    return lambda message: f"{where}: {message}"


def grad_of_surrogate(rho: float, advantage: float, eps: float = 0.2) -> float:
    ratio = torch.tensor([rho], requires_grad=True)
    losses.clipped_surrogate(ratio, torch.tensor([advantage]), eps).backward()
    return float(ratio.grad)


@pytest.mark.parametrize(
    "rho, advantage, gradient",
    [
        (1.5, 2.0, 0.0),  # A ≥ 0, ρ > 1 + ε: clipped, no push further up
        (0.5, 2.0, 2.0),  # A ≥ 0, ρ < 1 − ε: unclipped, the gradient brings ρ back up
        (1.0, 2.0, 2.0),  # inside the trust region
        (0.5, -2.0, 0.0),  # A < 0, ρ < 1 − ε: clipped
        (1.5, -2.0, -2.0),  # A < 0, ρ > 1 + ε: unclipped, the gradient brings ρ back down
    ],
)
def test_the_gradient_table_of_the_clipped_surrogate(rho, advantage, gradient):
    assert grad_of_surrogate(rho, advantage) == pytest.approx(gradient)


def test_surrogate_values():
    ratio, adv = torch.tensor([0.5, 1.0, 1.5, 0.5, 1.5]), torch.tensor([1.0, 1.0, 1.0, -1.0, -1.0])
    # min(ρA, clip(ρ)A): 0.5, 1.0, 1.2, −0.8, −1.5
    assert float(losses.clipped_surrogate(ratio, adv, 0.2)) == pytest.approx(np.mean([0.5, 1.0, 1.2, -0.8, -1.5]))


def test_ratio_treats_the_old_policy_as_a_constant():
    new, old = torch.tensor([0.0, -1.0], requires_grad=True), torch.tensor([-0.5, -1.0], requires_grad=True)
    ratio = losses.probability_ratio(new, old)
    np.testing.assert_allclose(ratio.detach(), [np.exp(0.5), 1.0], rtol=1e-6)
    ratio.sum().backward()
    assert old.grad is None and new.grad is not None


def test_clipped_value_loss_clips_around_the_old_value():
    V, V_old, y = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 0.0]), torch.tensor([3.0, 1.0])
    # sample 0: V moved by 2 > ε̂ = 0.5: clipped prediction 0.5, max((3−2)², (3−0.5)²) = 6.25; sample 1: 1
    assert float(losses.clipped_value_loss(V, V_old, y, 0.5)) == pytest.approx((6.25 + 1.0) / 2)
    assert float(losses.clipped_value_loss(V, V_old, y, None)) == pytest.approx((1.0 + 1.0) / 2)


def test_normalize_and_diagnostics():
    a = losses.normalize_advantages(torch.tensor([1.0, 2.0, 3.0, 10.0]))
    assert float(a.mean()) == pytest.approx(0, abs=1e-6) and float(a.std()) == pytest.approx(1, abs=1e-4)
    assert float(losses.normalize_advantages(torch.tensor([3.0]))) == 3.0
    ratio = torch.tensor([1.0, 1.1, 0.7, 1.3])
    assert float(losses.clip_fraction(ratio, 0.2)) == 0.5
    assert float(losses.approx_kl(torch.ones(3))) == 0.0 and float(losses.approx_kl(ratio)) > 0
    y = np.array([1.0, 2.0, 3.0])
    assert losses.explained_variance(y, y) == 1.0 and losses.explained_variance(np.full(3, 2.0), y) == pytest.approx(0.0)


def test_approx_kl_estimates_the_kl_divergence():
    old = torch.distributions.Categorical(probs=torch.tensor([0.5, 0.5]))
    new = torch.distributions.Categorical(probs=torch.tensor([0.6, 0.4]))
    actions = torch.multinomial(old.probs, 200_000, replacement=True, generator=torch.Generator().manual_seed(0))
    ratio = torch.exp(new.log_prob(actions) - old.log_prob(actions))
    assert float(losses.approx_kl(ratio)) == pytest.approx(float(torch.distributions.kl_divergence(old, new)), rel=0.05)


def test_networks_discrete_and_gaussian():
    box = gym.spaces.Box(-1, 1, (3,))
    discrete = ppo.ActorCritic(box, gym.spaces.Discrete(4), (16,))
    dist = discrete.distribution(torch.zeros(5, 3))
    assert dist.probs.shape == (5, 4)
    torch.testing.assert_close(dist.probs, torch.full((5, 4), 0.25), atol=0.02, rtol=0)  # output layer gain 0.01
    gaussian = ppo.ActorCritic(box, gym.spaces.Box(-2, 2, (2,)), (16,))
    d = gaussian.distribution(torch.zeros(5, 3))
    a = torch.tensor([[0.5, -0.5]] * 5)
    normal = torch.distributions.Normal(torch.zeros(5, 2), torch.ones(5, 2))  # μ(0) = 0 (zero biases), σ = 1
    torch.testing.assert_close(d.log_prob(a), normal.log_prob(a).sum(-1))  # summed over action dimensions
    torch.testing.assert_close(d.log_prob(a), ppo.gaussian_log_prob(d.mean, gaussian.log_std, a))  # the course's formula
    torch.testing.assert_close(d.entropy(), ppo.gaussian_entropy(gaussian.log_std).expand(5))
    np.testing.assert_array_equal(gaussian.env_actions(np.array([[3.0, -0.5]])), [[2.0, -0.5]])
    with pytest.raises(ValueError, match="unsupported action space"):
        ppo.ActorCritic(box, gym.spaces.MultiBinary(3))


def test_the_mlp_is_tanh_layers_and_a_linear_output():
    torch.manual_seed(0)
    net = networks.mlp([3, 5, 4, 2], output_gain=0.01)
    x = torch.randn(6, 3)
    (w1, b1), (w2, b2), (w3, b3) = [(m.weight, m.bias) for m in net if isinstance(m, torch.nn.Linear)]
    expected = torch.tanh(torch.tanh(x @ w1.T + b1) @ w2.T + b2) @ w3.T + b3
    torch.testing.assert_close(net(x), expected)
    torch.testing.assert_close(w3 @ w3.T, 1e-4 * torch.eye(2), atol=1e-8, rtol=0)  # the output layer's gain
    agent = ppo.ActorCritic(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(2), (5, 4))
    assert agent.policy_head is agent.actor[-1] and agent.value_head is agent.critic[-1]
    assert [type(m).__name__ for m in agent.critic] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]


def test_the_categorical_is_torchs_in_values_and_gradients():
    from torch.distributions import Categorical

    torch.manual_seed(0)
    logits = (torch.randn(40, 3) * torch.tensor([1.0, 5.0, 30.0])).requires_grad_()  # up to near-certain actions
    actions = torch.randint(0, 3, (40,))
    ours, theirs = speed.Categorical(logits), Categorical(logits=logits)
    outputs = [(d.log_prob(actions), d.entropy()) for d in (ours, theirs)]
    for (a, b), name in zip(zip(*outputs, strict=True), ("log_prob", "entropy"), strict=True):
        torch.testing.assert_close(a, b, msg=_prefixed(name))
    grads = [torch.autograd.grad(lp.sum() - 0.3 * h.sum(), logits) for lp, h in outputs]
    torch.testing.assert_close(grads[0], grads[1])
    torch.testing.assert_close(ours.probs, theirs.probs)
    assert torch.equal(ours.mode, theirs.mode)
    other = logits.detach().flip(0)
    kl = torch.distributions.kl_divergence
    torch.testing.assert_close(kl(ours, speed.Categorical(other)), kl(theirs, Categorical(logits=other)))
    torch.testing.assert_close(kl(ours, ours), torch.zeros(40), atol=1e-6, rtol=0)
    certain = torch.tensor([[0.0, -200.0, 0.0]])  # an action given no chance in float32: KL to it is torch's ∞
    assert torch.equal(kl(speed.Categorical(logits[:1]), speed.Categorical(certain)),
                       kl(Categorical(logits=logits[:1]), Categorical(logits=certain)))
    both = torch.tensor([[0, 1, 2]] * 40).T  # (3, 40): every action in every state, broadcast as torch does
    torch.testing.assert_close(ours.log_prob(both), theirs.log_prob(both))
    for shape in [(), (5,), (2, 3)]:  # the same draws as torch's from the same generator state
        torch.manual_seed(2)
        mine = ours.sample(shape)
        torch.manual_seed(2)
        assert torch.equal(mine, theirs.sample(shape)) and mine.shape == torch.Size(shape) + (40,)
    assert ours.support.upper_bound == 2
    torch.manual_seed(1)
    draws = speed.Categorical(torch.tensor([0.0, 1.0, 2.0])).sample((20_000,))
    np.testing.assert_allclose(np.bincount(draws.numpy(), minlength=3) / 20_000, torch.softmax(torch.tensor([0.0, 1.0, 2.0]), 0),
                               atol=0.015)


def trained_a_little(action_space, hidden_sizes=(16, 8)):
    """An actor-critic after a few Adam steps, and observations for it."""
    torch.manual_seed(0)
    box = gym.spaces.Box(-1, 1, (3,))
    agent = ppo.ActorCritic(box, action_space, hidden_sizes)
    optimizer = trainer.make_optimizer(agent, ppo.PPOConfig(learning_rate=0.05))
    obs = torch.randn(64, 3)
    for _ in range(3):
        optimizer.zero_grad()
        (agent.actor(obs).square().mean() - agent.value(obs).mean()).backward()
        optimizer.step()
    return agent, obs.numpy()


@pytest.mark.parametrize("hidden_sizes", [(16, 8), ()], ids=["two hidden layers", "none"])
@pytest.mark.parametrize("action_space", [gym.spaces.Discrete(3), gym.spaces.Box(-2, 2, (2,))], ids=["discrete", "gaussian"])
def test_acting_in_numpy_is_the_torch_policy(action_space, hidden_sizes):
    """Acting in numpy (the speed measure) against acting through the torch networks (speed_measures=False)."""
    agent, obs = trained_a_little(action_space, hidden_sizes)
    plain = ppo.ActorCritic(gym.spaces.Box(-1, 1, (3,)), action_space, hidden_sizes, speed_measures=False)
    plain.load_state_dict(agent.state_dict())
    actions, log_probs, values = agent.act_and_value(obs)
    with torch.no_grad():
        dist, expected_values = plain.distribution(torch.as_tensor(obs)), plain.value(torch.as_tensor(obs))
        expected_log_probs = dist.log_prob(torch.as_tensor(actions))
    np.testing.assert_allclose(log_probs, expected_log_probs.numpy(), atol=1e-5)  # of the action sampled
    np.testing.assert_allclose(values, expected_values.numpy(), atol=1e-5)
    np.testing.assert_allclose(plain.values(obs), values, atol=1e-5)
    mode, mode_log_probs, mode_values = agent.act_and_value(obs, deterministic=True)
    for got, expected in zip(plain.act_and_value(obs, deterministic=True), (mode, mode_log_probs, mode_values), strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-5)
    torch.manual_seed(0)
    plain_actions, plain_log_probs, _ = plain.act_and_value(obs)  # sampled from torch's generator
    assert plain_actions.shape == actions.shape and not np.array_equal(plain_actions, mode)
    np.testing.assert_allclose(plain_log_probs, plain.distribution(torch.as_tensor(obs)).log_prob(torch.as_tensor(plain_actions))
                               .detach().numpy(), atol=1e-6)


def test_acting_takes_any_leading_axes_and_replaced_parameters():
    agent, obs = trained_a_little(gym.spaces.Box(-2, 2, (2,)))
    actions, log_probs, values = agent.act_and_value(obs[0])  # one observation, no batch axis
    assert actions.shape == (2,) and log_probs.shape == () and values.shape == ()
    grid = obs[:12].reshape(3, 4, 3)
    actions, log_probs, values = agent.act_and_value(grid, deterministic=True)
    assert actions.shape == (3, 4, 2) and values.shape == (3, 4)
    np.testing.assert_allclose(values, agent.values(grid), atol=1e-5)
    other, _ = trained_a_little(gym.spaces.Box(-2, 2, (2,)), (16, 8))
    with torch.no_grad():
        other.value_head.bias.add_(3.0)
    agent.load_state_dict(other.state_dict(), assign=True)  # new parameter objects
    np.testing.assert_allclose(agent.act_and_value(obs)[2], other.values(obs), atol=1e-5)


def test_acting_samples_from_the_policy_and_sees_every_update():
    agent, obs = trained_a_little(gym.spaces.Discrete(3))
    one = np.repeat(obs[:1], 20_000, axis=0)
    actions, _ = agent.act(one)
    probs = agent.distribution(torch.as_tensor(one[:1])).probs[0].detach().numpy()
    np.testing.assert_allclose(np.bincount(actions, minlength=3) / len(actions), probs, atol=0.015)
    before = agent.act_and_value(obs)[2]
    with torch.no_grad():
        agent.value_head.bias.add_(1.0)  # in place, as Adam steps
    np.testing.assert_allclose(agent.act_and_value(obs)[2], before + 1.0, atol=1e-5)


def test_flat_adam_takes_the_steps_of_torchs_adam_and_survives_gradients_set_to_none():
    from rl_course.ppo.speed import FlatAdam

    torch.manual_seed(0)
    box = gym.spaces.Box(-1, 1, (3,))
    agent = ppo.ActorCritic(box, gym.spaces.Box(-1, 1, (2,)), (16, 8))
    plain = ppo.ActorCritic(box, gym.spaces.Box(-1, 1, (2,)), (16, 8))
    plain.load_state_dict(agent.state_dict())
    flat, adam = FlatAdam(agent, lr=0.01, eps=1e-5), torch.optim.Adam(plain.parameters(), lr=0.01, eps=1e-5)
    assert flat.flat.numel() == sum(p.numel() for p in plain.parameters())
    obs = torch.randn(32, 3)
    for step in range(6):
        if step == 3:
            agent.zero_grad()  # sets the views to None: the optimizer's zero_grad points them at θ's gradient again
        for module, optimizer in ((agent, flat), (plain, adam)):
            optimizer.zero_grad()
            loss = module.distribution(obs).log_prob(torch.ones(32, 2)).mean() + module.value(obs).square().mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], 0.5)
            optimizer.step()
        for (name, a), b in zip(agent.named_parameters(), plain.parameters(), strict=True):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5, msg=_prefixed(f"step {step}, {name}"))
    assert not torch.equal(agent.log_std, torch.zeros(2))  # every parameter moved, the log-std too
    agent.load_state_dict(plain.state_dict())  # copies in place: the parameters stay views of θ
    torch.testing.assert_close(flat.flat, torch.cat([p.detach().reshape(-1) for p in plain.parameters()]))
    with pytest.raises(ValueError, match=r"set_to_none=True is not supported .* call zero_grad\(\)"):
        flat.zero_grad(set_to_none=True)  # torch's meaning would cut the views loose: refused, not ignored
    assert flat.flat.grad is not None and all(p.grad is not None for p in agent.parameters())


def cartpole_batch(seed: int = 0) -> dict:
    """One rollout of the rl-zoo CartPole configuration (8 environments × 32 steps) by a fresh agent, flattened."""
    config = ppo.PPOConfig(seed=seed)
    envs, _ = ppo.make_training_env(config)
    torch.manual_seed(seed)
    agent = ppo.ActorCritic.for_config(config, envs.single_observation_space, envs.single_action_space)
    obs, _ = envs.reset(seed=seed)
    rollout = collect_rollout(envs, obs, agent.act_and_value, agent.values, config.n_steps, to_env=agent.env_actions)
    envs.close()
    psi = advantages.gae(rollout.rewards, rollout.values, rollout.next_values, rollout.terminated, rollout.truncated,
                         config.gamma, config.gae_lambda)
    return trainer.flatten(rollout, psi)


@pytest.mark.parametrize("objective", ["clip", "kl_penalty"])
def test_the_flat_optimizer_makes_the_updates_of_plain_torch_adam(objective):
    """The speed measures (the course's Categorical, Adam over one flat tensor) against plain torch (speed_measures=False:
    torch's Categorical, torch.optim.Adam over the separate parameters): the trainer's own updates on a real CartPole batch, with
    the benchmark's minibatches of 64 (4 per epoch, so the shuffles matter) and annealed learning rates."""
    config = ppo.PPOConfig(minibatch_size=64, n_epochs=5, objective=objective, max_grad_norm=0.5)
    batch = cartpole_batch()
    torch.manual_seed(3)
    plain_config = dataclasses.replace(config, speed_measures=False)  # torch's Categorical and torch.optim.Adam
    flat = ppo.ActorCritic.for_config(config, gym.spaces.Box(-np.inf, np.inf, (4,)), gym.spaces.Discrete(2))
    plain = ppo.ActorCritic.for_config(plain_config, gym.spaces.Box(-np.inf, np.inf, (4,)), gym.spaces.Discrete(2))
    plain.load_state_dict(flat.state_dict())
    start = [p.detach().clone() for p in plain.parameters()]
    flat_optimizer, plain_optimizer = trainer.make_optimizer(flat, config), trainer.make_optimizer(plain, plain_config)
    assert type(plain_optimizer) is torch.optim.Adam and type(plain.distribution(torch.zeros(1, 4))) is torch.distributions.Categorical
    assert len(plain_optimizer.param_groups[0]["params"]) == 12  # weights and biases of three layers each of actor and critic
    for update in range(3):  # 3 updates × 5 epochs × 4 minibatches = 60 Adam steps
        lr = ppo.linear_schedule(config.learning_rate, update, 3)
        results = []
        for agent, optimizer in ((flat, flat_optimizer), (plain, plain_optimizer)):
            for group in optimizer.param_groups:
                group["lr"] = lr
            torch.manual_seed(100 + update)  # the same shuffles for both
            results.append(ppo.update(agent, optimizer, batch, config, 0.2, kl_coef=0.5))
        for key in results[1]:
            assert results[0][key] == pytest.approx(results[1][key], rel=1e-4, abs=1e-6), f"update {update}: {key}"
        for (name, a), b in zip(flat.named_parameters(), plain.parameters(), strict=True):
            torch.testing.assert_close(a, b, atol=2e-6, rtol=1e-5, msg=_prefixed(f"update {update}, {name}"))
    moved = min(float((b.detach() - s).abs().max()) for b, s in zip(plain.parameters(), start, strict=True))
    assert moved > 1e-3  # every layer moved by far more than the tolerance
    torch.testing.assert_close(flat_optimizer.flat.grad, torch.cat([p.grad.reshape(-1) for p in plain.parameters()]),
                               atol=1e-6, rtol=1e-4)  # the last step's clipped gradient, too


def test_training_figure_keeps_a_negative_entropy_in_view():
    history = [{"step": 256 * (k + 1), "mean_return": float(k), "policy_loss": -0.01, "value_loss": 0.1, "approx_kl": 0.01,
                "clip_fraction": 0.1, "explained_variance": -5.0 if k == 0 else 0.8, "entropy": 1.5 - k} for k in range(6)]
    fig = plotting.plot_training(history, [(256, 0.0)], title="PPO")
    low, _ = fig.axes[3].get_ylim()
    assert -5.0 < low < -3.5  # the entropy reaches −3.5; the first explained variance, −5, is left out of view
    plt.close(fig)


def test_update_diagnostics_are_those_of_its_minibatches():
    torch.manual_seed(0)
    agent = ppo.ActorCritic(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(2), (16,))
    config = ppo.PPOConfig(n_envs=1, n_steps=48, n_epochs=3, minibatch_size=16, learning_rate=0.05)
    optimizer = trainer.make_optimizer(agent, config)
    batch = {"obs": torch.randn(48, 3), "actions": torch.randint(0, 2, (48,)), "log_probs": torch.full((48,), -0.7),
             "advantages": torch.randn(48), "targets": torch.randn(48), "values": torch.zeros(48)}
    seen = []

    def spy(ratio, advantages, eps):
        seen.append((ratio.detach(), losses.clipped_surrogate(ratio, advantages, eps).detach()))
        return losses.clipped_surrogate(ratio, advantages, eps)

    stats = ppo.update(agent, optimizer, batch, config, 0.1, policy_objective=spy)
    assert len(seen) == 9  # 3 epochs × 3 minibatches
    ratios = torch.cat([r for r, _ in seen])
    assert stats["approx_kl"] == pytest.approx(float(((ratios - 1) - ratios.log()).mean()), rel=1e-5)
    assert stats["clip_fraction"] == pytest.approx(float(((ratios - 1).abs() > 0.1).float().mean()))
    assert stats["policy_loss"] == pytest.approx(-float(torch.stack([o for _, o in seen]).mean()), rel=1e-5)
    assert 0 < stats["clip_fraction"] < 1


@pytest.mark.parametrize("scope", ["minibatch", "batch"])
def test_advantages_are_normalized_over_the_scope_the_config_names(scope):
    torch.manual_seed(0)
    agent = ppo.ActorCritic(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(2), (16,))
    config = ppo.PPOConfig(n_envs=1, n_steps=48, n_epochs=2, minibatch_size=16, advantage_scope=scope)
    batch = {"obs": torch.randn(48, 3), "actions": torch.randint(0, 2, (48,)), "log_probs": torch.full((48,), -0.7),
             "advantages": torch.linspace(-3, 40, 48), "targets": torch.linspace(-1, 1, 48), "values": torch.zeros(48)}
    seen = []

    def spy(values, old_values, targets, eps):
        seen.append(targets)
        return losses.clipped_value_loss(values, old_values, targets, eps)

    def policy(ratio, advantages, eps):
        seen.append(advantages)
        return losses.clipped_surrogate(ratio, advantages, eps)

    ppo.update(agent, trainer.make_optimizer(agent, config), batch, config, 0.2, policy_objective=policy, value_loss=spy)
    whole = losses.normalize_advantages(batch["advantages"])
    for advantages_seen, targets in zip(seen[0::2], seen[1::2], strict=True):  # the policy loss comes first in each minibatch
        idx = (targets.reshape(-1, 1) - batch["targets"].reshape(1, -1)).abs().argmin(1)
        expected = whole[idx] if scope == "batch" else losses.normalize_advantages(batch["advantages"][idx])
        torch.testing.assert_close(advantages_seen, expected)


def test_config_errors_name_the_setting():
    with pytest.raises(ValueError, match="PPOConfig.minibatch_size \\(512\\) exceeds the batch"):
        ppo.PPOConfig(minibatch_size=512).check()
    with pytest.raises(ValueError, match="PPOConfig.gae_lambda must be in \\[0, 1\\]"):
        ppo.PPOConfig(gae_lambda=1.5).check()
    with pytest.raises(ValueError, match="PPOConfig.advantage_scope must be one of 'minibatch', 'batch', got 'epoch'"):
        ppo.PPOConfig(advantage_scope="epoch").check()


@pytest.fixture(scope="module")
def cartpole():
    """The default configuration (rl-zoo's for CartPole-v1) on seed 0, 60k steps."""
    return ppo.train(ppo.PPOConfig(total_steps=60_000, seed=0), progress=False)


@pytest.mark.slow
def test_ppo_solves_cartpole(cartpole):
    assert cartpole.solved_at is not None and cartpole.solved_at <= 60_000
    assert cartpole.history[-1]["mean_return"] >= 400  # sampled actions: 429–500 over seeds 0–9
    assert ppo.evaluate(cartpole.agent, "CartPole-v1", n_episodes=5).mean() >= 475


@pytest.mark.slow
def test_ppo_with_plain_torch_solves_cartpole():
    """The switch back to plain torch (torch's Categorical and Adam, acting through the torch networks) learns as the
    speed measures do: over seeds 0–9 it solved CartPole in 24k–45k steps, and the agent it stopped with evaluated
    at 500 on every seed."""
    training = ppo.train(ppo.PPOConfig(total_steps=60_000, seed=0, speed_measures=False), progress=False, stop_when_solved=True)
    assert type(training.agent.distribution(torch.zeros(1, 4))) is torch.distributions.Categorical
    assert training.solved_at is not None and training.solved_at <= 60_000
    assert ppo.evaluate(training.agent, "CartPole-v1", n_episodes=5).mean() >= 475


@pytest.mark.slow
def test_history_has_every_diagnostic(cartpole):
    row = cartpole.history[-1]
    for key in ("step", "seconds", "learning_rate", "clip_eps", "mean_return", "policy_loss", "value_loss", "entropy",
                "approx_kl", "clip_fraction", "explained_variance"):
        assert np.isfinite(row[key]), key
    assert cartpole.history[0]["learning_rate"] == 1e-3 and row["learning_rate"] < 1e-5  # annealed linearly


@pytest.mark.slow
def test_checkpoint_round_trip(cartpole, tmp_path):
    ppo.save_checkpoint(tmp_path / "agent.pt", cartpole.agent, cartpole.config)
    agent, config = ppo.load_checkpoint(tmp_path / "agent.pt")
    obs = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    np.testing.assert_array_equal(agent.act(obs, deterministic=True)[0], cartpole.agent.act(obs, deterministic=True)[0])
    assert config == cartpole.config


class EndlessReward(gym.Env):
    """Reward 1 every step, forever, with nothing to observe: V = 1 / (1 − γ). Only a time limit ends it."""

    observation_space = gym.spaces.Box(-1, 1, (1,))
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        return np.zeros(1, dtype=np.float32), 1.0, False, False, {}


gym.register("rl_course_tests/EndlessReward-v0", entry_point=EndlessReward, max_episode_steps=20)


@pytest.mark.slow
def test_truncation_bootstraps_from_the_final_observation():
    """The critic learns V = 1/(1 − γ) = 10 only if the time limit is not mistaken for the end of the task."""
    config = ppo.PPOConfig(env_id="rl_course_tests/EndlessReward-v0", gamma=0.9, total_steps=20_000, learning_rate=3e-3,
                           anneal_lr=False, seed=0)
    right = ppo.train(config, progress=False)

    def as_termination(r, v, nv, terminated, truncated, gamma, lam):
        return advantages.gae(r, v, nv, terminated | truncated, np.zeros_like(truncated), gamma, lam)

    wrong = ppo.train(config, gae=as_termination, progress=False)
    obs = np.zeros((1, 1), dtype=np.float32)
    assert right.agent.values(obs)[0] == pytest.approx(10.0, abs=0.5)
    assert wrong.agent.values(obs)[0] < 8.0  # the average of returns cut off after 20 − t steps


def test_nan_loss_stops_with_a_message():
    def broken(ratio, adv, eps):
        return (ratio * adv).mean() * float("nan")

    with pytest.raises(FloatingPointError, match="PPO loss is nan .* at minibatch 0"):
        ppo.train(ppo.PPOConfig(total_steps=256), policy_objective=broken, progress=False)


def test_unknown_environment_is_named():
    with pytest.raises(ValueError, match="unknown environment 'CartPole-v9'"):
        ppo.train(ppo.PPOConfig(env_id="CartPole-v9", total_steps=256), progress=False)


@pytest.mark.slow
def test_train_command_writes_everything(tmp_path, capsys):
    assert cli.main(["train", "--env", "CartPole-v1", "--steps", "2048", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for suffix in ("_curves.png", "_metrics.csv", ".pt", ".gif"):
        assert (tmp_path / f"ppo_CartPole-v1{suffix}").stat().st_size > 0
    summary = out.strip().splitlines()[-1]
    assert summary.startswith("CartPole-v1: 2048 steps, ") and "mean return of the last 20 episodes" in summary
    assert "did not reach 475" in summary


@pytest.mark.slow
def test_train_command_keeps_the_agent_where_the_mean_return_peaked(tmp_path, capsys):
    assert cli.main(["train", "--env", "CartPole-v1", "--steps", "8192", "--no-gif", "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    step, peak = re.search(r"the agent at step (\d+), where the mean return of the last 20 episodes peaked at ([\d.]+)", lines[-2]).groups()
    rows = list(csv.DictReader((tmp_path / "ppo_CartPole-v1_metrics.csv").open()))
    best = max(rows, key=lambda row: float(row["mean_return"]))
    assert (int(step), float(peak)) == (int(best["step"]), round(float(best["mean_return"]), 1))
    agent, _ = ppo.load_checkpoint(tmp_path / "ppo_CartPole-v1.pt")
    at_peak = {}  # the same training again, its agent captured at that step
    ppo.train(ppo.PPOConfig(total_steps=8192), progress=False, on_iteration=lambda row, training: at_peak.update(
        {k: v.clone() for k, v in training.agent.state_dict().items()}) if row["step"] == int(step) else None)
    assert all(torch.equal(value, at_peak[key]) for key, value in agent.state_dict().items())


def test_train_command_uses_the_environment_preset(tmp_path, capsys):
    assert cli.main(["train", "--env", "Pendulum-v1", "--steps", "2048", "--no-gif", "--out", str(tmp_path)]) == 0
    assert ppo.load_checkpoint(tmp_path / "ppo_Pendulum-v1.pt")[1] == ppo.PPOConfig.for_env("Pendulum-v1", total_steps=2048)
    assert ppo.PPOConfig.for_env("Pendulum-v1").gamma != ppo.PPOConfig().gamma  # the preset, not CartPole's defaults
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith("no solved threshold")


def test_train_command_reports_bad_environments(tmp_path, capsys):
    assert cli.main(["train", "--env", "NoSuchEnv-v0", "--steps", "256", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rl-course: error: train --env NoSuchEnv-v0: unknown environment") and err.count("\n") == 1


def test_a_checkpoint_that_does_not_fit_says_so(tmp_path):
    path = tmp_path / "old.pt"
    agent = ppo.ActorCritic(gym.make("CartPole-v1").observation_space, gym.make("CartPole-v1").action_space)
    ppo.save_checkpoint(path, agent, ppo.PPOConfig())
    saved = torch.load(path, weights_only=True)
    saved["state_dict"] = {"hidden.0.weight": torch.zeros(2, 4, 64)}  # the layout of an earlier version
    torch.save(saved, path)
    with pytest.raises(ValueError, match="do not fit the actor-critic of this rl_course version"):
        ppo.load_checkpoint(path)


def notebook_functions(path, grade_ids):
    """The functions that the solution notebook's cells ``grade_ids`` define, after its setup cell."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells if c.cell_type == "code"}
    namespace = {}
    for grade_id in ("setup", *grade_ids):
        exec(compile(cells[grade_id], f"{path.name}:{grade_id}", "exec"), namespace)
    return namespace


def test_the_notebook_loop_and_the_library_loop_make_the_same_updates(course_root):
    """Assignment 04's train_ppo and ppo_update (the solution) and ppo.train, on the same seed and configuration: the
    same rollouts, the same weights after every update, the same diagnostics. Several minibatches of a shuffled batch,
    annealed learning rate and ε, as the default configuration does."""
    notebook = notebook_functions(course_root / "solutions" / "04_ppo" / "ppo.ipynb",
                                  ["log_prob_of_actions", "probability_ratio", "clipped_surrogate", "clipped_value_loss",
                                   "normalize_advantages", "ppo_update", "train_ppo"])
    config = ppo.PPOConfig(seed=3, total_steps=5 * 128, n_envs=4, n_steps=32, minibatch_size=32, n_epochs=3, clip_value=0.5)
    theirs = []
    their_update = notebook["ppo_update"]

    def recording_update(agent, *args, **kwargs):
        stats = their_update(agent, *args, **kwargs)
        theirs.append([p.detach().clone() for p in agent.parameters()])
        return stats

    notebook["ppo_update"] = recording_update  # what the notebook's train_ppo calls
    notebook["tqdm"] = lambda iterable, **kwargs: iterable
    _, their_rows = notebook["train_ppo"](config)
    ours = []
    training = ppo.train(config, progress=False,
                         on_iteration=lambda row, run: ours.append([p.detach().clone() for p in run.agent.parameters()]))
    assert len(ours) == len(theirs) == 5
    for k, (mine, notebooks) in enumerate(zip(ours, theirs, strict=True)):
        for (name, _), a, b in zip(training.agent.named_parameters(), mine, notebooks, strict=True):
            torch.testing.assert_close(a, b, atol=2e-6, rtol=1e-5, msg=_prefixed(f"update {k + 1}, {name}"))
    for k, (row, their_row) in enumerate(zip(training.history, their_rows, strict=True)):
        assert row["step"] == their_row["step"]
        np.testing.assert_equal(row["mean_return"], their_row["mean_return"])  # the same episodes: the same actions
        for key in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "explained_variance"):
            assert row[key] == pytest.approx(their_row[key], rel=1e-4, abs=1e-6), f"update {k + 1}: {key}"
