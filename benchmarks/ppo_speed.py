"""The speed measures of rl_course.ppo against plain torch, and what each changes in the numbers.

    python benchmarks/ppo_speed.py [--repeats 5] [--train-seeds 4]

1. acting: one rollout step's policy and value on 8 CartPole observations, numpy (``act_and_value``)
   against torch (``distribution(obs).sample()``, ``log_prob``, ``value``);
2. optimizer: one minibatch step of 256 (loss, backward, gradient clipping, Adam) with ``FlatAdam``
   against ``torch.optim.Adam`` over the separate parameters; and the largest parameter difference
   between the two after the 20 steps of an update from the same weights on the same batch;
3. the categorical: log π(a|s) and H(π(·|s)) forward and backward on 256 states, ``speed.Categorical``
   against ``torch.distributions.Categorical``;
4. for the record, measures the package does not take: tanh written as 2σ(2z) − 1 against ``torch.tanh``,
   forward and backward on a (256, 64) batch of hidden units; torch's fused Adam kernel on the flat tensor
   against the reference implementation ``FlatAdam`` uses;
5. whole trainings, interleaved seed by seed: ``ppo.train`` as it is against the same trainer with plain torch
   (``PPOConfig(speed_measures=False)``: ``torch.optim.Adam`` over the separate parameters, ``torch.distributions.Categorical``,
   acting through the torch networks), rl-zoo's CartPole
   configuration until solved: environment steps and process CPU seconds, so that a measure must both learn
   the same and be faster.

Process CPU time per call (one torch thread), median over ``--repeats`` interleaved rounds.
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
import numpy as np
import torch
from peers import cpu_description

from rl_course import ppo
from rl_course.ppo import losses
from rl_course.ppo.speed import Categorical, FlatAdam


def per_call(function, calls: int) -> float:
    for _ in range(max(calls // 10, 1)):
        function()
    started = time.process_time()
    for _ in range(calls):
        function()
    return (time.process_time() - started) / calls * 1e6


def minibatch_step(agent, optimizer, batch):
    parameters = [p for group in optimizer.param_groups for p in group["params"]]

    def step():
        dist = agent.distribution(batch["obs"])
        ratio = losses.probability_ratio(dist.log_prob(batch["actions"]), batch["log_probs"])
        loss = -losses.clipped_surrogate(ratio, losses.normalize_advantages(batch["advantages"]), 0.2) \
            + 0.5 * losses.clipped_value_loss(agent.value(batch["obs"]), batch["values"], batch["targets"], None)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 0.5)
        optimizer.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train-seeds", type=int, default=4, help="seeds of the whole-training comparison (0: none)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(cpu_description())
    env = gym.make("CartPole-v1")
    torch.manual_seed(0)
    agent = ppo.ActorCritic(env.observation_space, env.action_space)
    obs8 = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)

    def torch_acting():
        with torch.no_grad():
            x = torch.as_tensor(obs8)
            dist = agent.distribution(x)
            actions = dist.sample()
            return actions.numpy(), dist.log_prob(actions).numpy(), agent.value(x).double().numpy()

    g = torch.Generator().manual_seed(1)
    batch = {"obs": torch.randn(256, 4, generator=g), "actions": torch.randint(0, 2, (256,), generator=g),
             "log_probs": torch.full((256,), -0.69), "advantages": torch.randn(256, generator=g),
             "targets": torch.randn(256, generator=g), "values": torch.zeros(256)}
    flat_agent, plain_agent = (ppo.ActorCritic(env.observation_space, env.action_space) for _ in range(2))
    flat_step = minibatch_step(flat_agent, FlatAdam(flat_agent, lr=1e-3, eps=1e-5), batch)
    plain_step = minibatch_step(plain_agent, torch.optim.Adam(plain_agent.parameters(), lr=1e-3, eps=1e-5), batch)
    z = torch.randn(256, 64, requires_grad=True)

    def sigmoid_tanh():
        s = torch.sigmoid(z + z)
        (s + s - 1).sum().backward()

    def torch_tanh():
        torch.tanh(z).sum().backward()

    logits, actions = torch.randn(256, 2, requires_grad=True), torch.randint(0, 2, (256,), generator=g)

    def categorical(dist):
        return lambda: (dist(logits).log_prob(actions).mean() + dist(logits).entropy().mean()).backward()

    def torch_categorical(z):
        return torch.distributions.Categorical(logits=z, validate_args=False)

    flat_fused = torch.nn.Parameter(FlatAdam(ppo.ActorCritic(env.observation_space, env.action_space), lr=1e-3).flat.detach().clone())
    flat_fused.grad = torch.randn_like(flat_fused) * 1e-3
    reference = FlatAdam(ppo.ActorCritic(env.observation_space, env.action_space), lr=1e-3, eps=1e-5)
    reference.flat.grad.copy_(flat_fused.grad)
    fused = torch.optim.Adam([flat_fused], lr=1e-3, eps=1e-5, fused=True)

    pairs = {"acting on 8 observations": (lambda: agent.act_and_value(obs8), torch_acting, 2000),
             "minibatch step of 256": (flat_step, plain_step, 300),
             "categorical fwd+bwd 256": (categorical(Categorical), categorical(torch_categorical), 2000),
             "tanh fwd+bwd (256, 64)": (sigmoid_tanh, torch_tanh, 3000),
             "Adam step on flat θ": (fused.step, reference.step, 2000)}
    names = {"acting on 8 observations": ("numpy", "torch"), "minibatch step of 256": ("FlatAdam", "torch Adam"),
             "categorical fwd+bwd 256": ("ours", "torch's"), "tanh fwd+bwd (256, 64)": ("2σ(2z) − 1", "torch.tanh"),
             "Adam step on flat θ": ("fused", "reference")}
    times = {key: ([], []) for key in pairs}
    for _ in range(args.repeats):
        for key, (measure, plain, calls) in pairs.items():
            times[key][0].append(per_call(measure, calls))
            times[key][1].append(per_call(plain, calls))
    print(f"{'':<28}{'measure':>14}{'µs':>8}{'plain torch':>14}{'µs':>8}{'ratio':>8}")
    for key, (ours, plain) in times.items():
        a, b = statistics.median(ours), statistics.median(plain)
        print(f"{key:<28}{names[key][0]:>14}{a:>8.1f}{names[key][1]:>14}{b:>8.1f}{a / b:>8.2f}")

    # the same 20 steps from the same weights: how far FlatAdam's parameters end up from torch's Adam's
    torch.manual_seed(0)
    one = ppo.ActorCritic(env.observation_space, env.action_space)
    two = ppo.ActorCritic(env.observation_space, env.action_space)
    two.load_state_dict(one.state_dict())
    start = torch.cat([p.detach().reshape(-1).clone() for p in one.parameters()])
    steps = (minibatch_step(one, FlatAdam(one, lr=1e-3, eps=1e-5), batch),
             minibatch_step(two, torch.optim.Adam(two.parameters(), lr=1e-3, eps=1e-5), batch))
    for _ in range(20):
        for step in steps:
            step()
    theta = [torch.cat([p.detach().reshape(-1) for p in m.parameters()]) for m in (one, two)]
    print(f"after 20 steps: FlatAdam − torch Adam, largest |Δθ| {float((theta[0] - theta[1]).abs().max()):.1e}, "
          f"on a change of {float((theta[1] - start).abs().max()):.1e}")
    if args.train_seeds:
        compare_trainings(args.train_seeds)
    print(f"at the end: {cpu_description()}")


def compare_trainings(seeds: int) -> None:
    """``ppo.train`` with its speed measures and with plain torch in their place (``speed_measures=False``), seed by
    seed, alternating."""
    variants = {"rl_course": True, "plain torch": False}
    rows = {name: [] for name in variants}
    print("whole trainings, CartPole-v1 rl-zoo configuration until solved: steps, CPU s, CPU µs per environment step")
    print(f"{'seed':>4}" + "".join(f"{name:>34}" for name in variants))
    for seed in range(seeds):
        cells = []
        for name, speed_measures in variants.items():
            started = time.process_time()
            training = ppo.train(ppo.PPOConfig(seed=seed, total_steps=100_000, speed_measures=speed_measures), progress=False,
                                 stop_when_solved=True)
            seconds = time.process_time() - started
            per_step = seconds / training.history[-1]["step"] * 1e6
            rows[name].append((training.solved_at, seconds, per_step))
            cells.append(f"{str(training.solved_at or 'not solved'):>14}{seconds:>9.1f} s{per_step:>8.0f} µs")
        print(f"{seed:>4}" + "".join(cells), flush=True)
    for name, runs in rows.items():
        solved = [r[0] for r in runs if r[0] is not None]
        print(f"{name:>12}: solved {len(solved)}/{len(runs)}, median steps {statistics.median(solved) if solved else None}, "
              f"median CPU µs per step {statistics.median(r[2] for r in runs):.0f}")
    ours, plain = (statistics.median(r[2] for r in rows[name]) for name in variants)
    print(f"ratio rl_course / plain torch, CPU per step: {ours / plain:.2f}")


if __name__ == "__main__":
    main()
