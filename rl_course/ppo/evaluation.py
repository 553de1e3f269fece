"""Evaluating a trained agent, saving and loading it, and animating one of its episodes."""

from __future__ import annotations

import os
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from rl_course.ppo.config import PPOConfig
from rl_course.ppo.networks import ActorCritic


def evaluate(agent: ActorCritic, env_id: str, n_episodes: int = 10, seed: int = 10_000, deterministic: bool = True,
             **env_kwargs) -> np.ndarray:
    """Returns of ``n_episodes`` full episodes of the agent (its most likely action if ``deterministic``).

    Observations are normalized with the statistics the agent was trained with, frozen (``agent.observe``):
    evaluation episodes do not change them.
    """
    env = gym.make(env_id, **env_kwargs)
    returns = []
    try:
        for i in range(n_episodes):
            obs, _ = env.reset(seed=seed + i)
            total, done = 0.0, False
            while not done:
                action, _ = agent.act(agent.observe(obs[None]), deterministic=deterministic)
                obs, reward, terminated, truncated, _ = env.step(agent.env_actions(action)[0])
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
    finally:
        env.close()
    return np.array(returns)


def save_checkpoint(path: Path | str, agent: ActorCritic, config: PPOConfig) -> None:
    """The agent's weights and the config that made it, in one torch file."""
    torch.save({"config": config.to_dict(), "state_dict": agent.state_dict()}, path)


def load_checkpoint(path: Path | str) -> tuple[ActorCritic, PPOConfig]:
    """Rebuild the agent saved by ``save_checkpoint``; returns (agent, config)."""
    saved = torch.load(path, weights_only=True)
    config = PPOConfig(**{**saved["config"], "hidden_sizes": tuple(saved["config"]["hidden_sizes"])})
    env = gym.make(config.env_id, **config.env_kwargs)
    agent = ActorCritic.for_config(config, env.observation_space, env.action_space)
    env.close()
    try:
        agent.load_state_dict(saved["state_dict"])
    except RuntimeError as error:
        raise ValueError(f"{path}: these weights do not fit the actor-critic of this rl_course version "
                         f"(saved by an older one? train again): {str(error).splitlines()[0]}") from None
    return agent, config


def render_episode(agent: ActorCritic, env_id: str, seed: int = 0, max_frames: int = 1000, **env_kwargs) -> list[np.ndarray]:
    """RGB frames of one episode of the agent acting deterministically (rendered off-screen)."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # pygame draws into memory; no display is needed
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("MUJOCO_GL", "egl")  # MuJoCo renders off-screen through EGL (osmesa where there is no GPU driver)
    env = gym.make(env_id, render_mode="rgb_array", **env_kwargs)
    frames = []
    try:
        obs, _ = env.reset(seed=seed)
        frames.append(env.render())
        done = False
        while not done and len(frames) < max_frames:
            action, _ = agent.act(agent.observe(obs[None]), deterministic=True)
            obs, _, terminated, truncated, _ = env.step(agent.env_actions(action)[0])
            frames.append(env.render())
            done = terminated or truncated
    finally:
        env.close()
    return frames


def save_gif(frames: list[np.ndarray], path: Path | str, fps: int = 30, every: int = 2, width: int = 300) -> None:
    """Write every ``every``-th frame, scaled to ``width`` pixels, as a looping GIF."""
    from PIL import Image

    images = []
    for frame in frames[::every]:
        image = Image.fromarray(frame)
        images.append(image.resize((width, round(image.height * width / image.width))))
    images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 * every / fps), loop=0)
