"""The speed measures of rl_course.ppo (acting in numpy, Adam over one flat tensor) against plain torch, and what each changes in the numbers.

    python benchmarks/ppo_speed.py [--repeats 5]

1. acting: one rollout step's policy and value on 8 CartPole observations, numpy (``act_and_value``)
   against torch (``distribution(obs).sample()``, ``log_prob``, ``value``);
2. optimizer: one minibatch step of 256 (loss, backward, gradient clipping, Adam) with ``FlatAdam``
   against ``torch.optim.Adam`` over the separate parameters; and the largest parameter difference
   between the two after the 20 steps of an update from the same weights on the same batch;
3. for the record, a measure the package no longer takes: tanh written as 2σ(2z) − 1 against
   ``torch.tanh``, forward and backward on a (256, 64) batch of hidden units.

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
from rl_course.ppo.optimization import FlatAdam


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

    pairs = {"acting on 8 observations": (lambda: agent.act_and_value(obs8), torch_acting, 2000),
             "minibatch step of 256": (flat_step, plain_step, 300),
             "tanh fwd+bwd (256, 64)": (sigmoid_tanh, torch_tanh, 3000)}
    names = {"acting on 8 observations": ("numpy", "torch"), "minibatch step of 256": ("FlatAdam", "torch Adam"),
             "tanh fwd+bwd (256, 64)": ("2σ(2z) − 1", "torch.tanh")}
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
    print(f"at the end: {cpu_description()}")


if __name__ == "__main__":
    main()
