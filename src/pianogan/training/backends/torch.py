"""The GAN step under PyTorch: eager autograd, as Keras's PyTorch backend runs its layers.

Gradients come from ``torch.autograd.grad`` rather than ``backward()``, so neither net
accumulates gradients it does not update; the R1 penalty's gradient with respect to the
real rolls is taken with ``create_graph=True`` so that D's update differentiates through
it. One device, one process: data parallelism runs under JAX and TensorFlow (see
``backends.jax`` and ``backends.tensorflow``).
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from keras import ops

from pianogan.models.losses import discriminator_loss, generator_loss
from pianogan.training.backends import Placement, single_device_only


def start(placement: Placement, batch_size: int) -> None:
    single_device_only("torch", placement, torch.cuda.device_count())


def enable_determinism() -> None:
    """Deterministic kernels only, so a resumed run equals an uninterrupted one."""
    torch.use_deterministic_algorithms(True)


def make_step(gan):
    return lambda batch: gan_step(gan, batch)


def local():
    return contextlib.nullcontext()


def agree(flag: bool) -> bool:
    return flag


def _gradients(loss, variables) -> list:
    """d loss / d variables, zeros for a variable the loss does not reach."""
    values = [variable.value for variable in variables]
    gradients = torch.autograd.grad(loss, values, allow_unused=True)
    return [torch.zeros_like(value) if gradient is None else gradient for value, gradient in zip(values, gradients)]


def gan_step(gan, batch: dict[str, np.ndarray]) -> dict[str, float]:
    """One discriminator update, then one generator update; returns the logged figures."""
    real, z, noise, moves = (ops.convert_to_tensor(batch[key]) for key in ("real", "z", "noise", "augment"))
    real = gan.d_real(real, moves[0])
    generator, discriminator = gan.generator, gan.discriminator
    fake = gan.d_input(generator(z, training=True), moves[1]).detach()
    if gan.r1_gamma > 0:
        real = real.detach().requires_grad_(True)
        real_logits = discriminator(real, training=True)
        (input_gradient,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
        r1_penalty = input_gradient.square().sum(dim=(1, 2, 3)).mean()
    else:
        real_logits = discriminator(real, training=True)
        r1_penalty = torch.zeros((), device=real.device)
    fake_logits = discriminator(fake, training=True)
    d_loss = discriminator_loss(gan.loss_kind, real_logits, fake_logits, noise)
    d_weights = discriminator.trainable_variables
    gradients = _gradients(d_loss + 0.5 * gan.r1_gamma * r1_penalty, d_weights)
    with torch.no_grad():
        gan.d_optimizer.apply(gradients, d_weights)

    probabilities = generator(z, training=True)
    g_loss = generator_loss(gan.loss_kind, discriminator(gan.d_input(probabilities, moves[1]), training=True))
    g_weights = generator.trainable_variables
    gradients = _gradients(g_loss, g_weights)
    with torch.no_grad():
        gan.g_optimizer.apply(gradients, g_weights)
        gan.step_counter.assign_add(1)
        gan.update_ema()
        logs = {
            "d_loss": d_loss,
            "g_loss": g_loss,
            "r1": r1_penalty,
            "d_real": torch.sigmoid(real_logits).mean(),
            "d_fake": torch.sigmoid(fake_logits).mean(),
            "fake_lit": (probabilities[..., :1] >= 0.5).float().mean(),
            "real_lit": real[..., :1].mean(),
        }
        return {name: float(value) for name, value in logs.items()}
