"""The GAN step under PyTorch: eager autograd, as Keras's PyTorch backend runs its layers.

Gradients come from ``torch.autograd.grad`` rather than ``backward()``, so neither net
accumulates gradients it does not update; the R1 penalty's gradient with respect to the
real rolls is taken with ``create_graph=True`` so that D's update differentiates through
it.

Data parallelism runs one process per device, joined by ``torch.distributed`` (NCCL on
GPUs, gloo on CPUs), as ``torchrun`` launches them. Every process builds the whole batch
from (seed, step), as every batch is, and trains on its equal share. Three things make N
processes train like one device with the same batch:

- Batch statistics cover the whole batch: inside the step, batch normalisation and the
  minibatch deviation average their moments over the processes with a differentiable
  all-reduce, whose gradient is an all-reduce, so the R1 penalty's input gradient and the
  double backpropagation see the whole batch.
- Gradients are averaged over the processes right after ``autograd.grad`` returns them,
  before the optimizer clips them. ``DistributedDataParallel`` would not do: it reduces
  gradients in hooks that only ``backward()`` fires, and the R1 penalty's inner
  ``autograd.grad`` would not go through them either.
- Logged figures are means over equal shares, so their mean over the processes is the
  batch's.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator

import keras
import numpy as np
import torch
import torch.distributed as dist
from keras import ops

from pianogan.errors import PianoganError
from pianogan.models.architectures import MinibatchStd
from pianogan.models.losses import discriminator_loss
from pianogan.training.backends import Placement, refuse_critic_memory, refuse_dropout

_sharing = False  # inside a step whose batch is split over the processes


def start(placement: Placement, batch_size: int) -> None:
    """Join the other processes (one per device) before any model is built."""
    wanted = torch.cuda.device_count() if placement.devices is None else placement.devices
    if wanted > 1:
        raise PianoganError(
            f"--devices {placement.devices or 'all'}: under --backend torch each process trains on one device; start one process per device (--num-processes, or torchrun)"
        )
    if placement.processes == 1:
        return
    if not placement.coordinator:
        raise PianoganError(f"--num-processes {placement.processes} needs --coordinator HOST:PORT (process 0's address)")
    if batch_size % placement.processes:
        raise PianoganError(f"--batch-size {batch_size} does not split evenly over {placement.processes} processes")
    if torch.cuda.is_available():  # this machine's processes take a device each
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", placement.process_id % torch.cuda.device_count())))
    dist.init_process_group(
        "nccl" if torch.cuda.is_available() else "gloo",
        init_method=f"tcp://{placement.coordinator}",
        rank=placement.process_id,
        world_size=placement.processes,
    )


def enable_determinism() -> None:
    """Deterministic kernels only, so a resumed run equals an uninterrupted one."""
    torch.use_deterministic_algorithms(True)


def make_step(gan):
    """The step, on this process's share of each batch when several processes train: then the
    batch statistics of G, D and the figure critic (batch normalisation, ``MinibatchStd``)
    cover every process's share inside the step (``_shared``)."""
    if not dist.is_initialized():
        return lambda batch: gan_step(gan, batch)
    refuse_dropout(gan, f"--num-processes {dist.get_world_size()}")
    refuse_critic_memory(gan, f"--num-processes {dist.get_world_size()}")
    for layer in _layers(gan, keras.layers.BatchNormalization):
        layer._moments = _shared_moments(layer, layer._moments)
    for layer in _layers(gan, MinibatchStd):
        layer.batch_variance = _batch_variance
    started = False

    def step(batch: dict[str, np.ndarray]) -> dict[str, float]:
        nonlocal started
        if not started:  # every process starts from process 0's variables, whatever each read or drew
            _broadcast(gan)
            started = True
        with _shared():
            return gan_step(gan, _share(batch))

    return step


def local():
    return contextlib.nullcontext()


def agree(flag: bool) -> bool:
    if not dist.is_initialized():
        return flag
    decided = torch.tensor([flag], dtype=torch.int32, device=_device())
    dist.broadcast(decided, 0)
    return bool(decided.item())


def _batch_variance(x):
    """``MinibatchStd``'s variance over the whole batch inside the step."""
    if not _sharing:
        return MinibatchStd.batch_variance(x)
    mean = _mean_over_processes(x.mean(dim=0))
    return _mean_over_processes((x - mean).square().mean(dim=0))


def _mean_over_processes(x):
    """The mean of ``x`` over the processes, differentiably (equal shares: the mean of their means is the batch's)."""
    return _SumOverProcesses.apply(x) / dist.get_world_size()


class _SumOverProcesses(torch.autograd.Function):
    """An all-reduce sum whose gradient is the all-reduce sum of the gradients, itself
    differentiable, for the R1 penalty's double backpropagation. Written here because
    ``torch.distributed.nn``'s is deprecated and the functional collectives' gradients are
    recent; every process must take it at the same points, as the step's do."""

    @staticmethod
    def forward(ctx, x):
        total = x.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, gradient):
        return _SumOverProcesses.apply(gradient)


def _shared_moments(layer, own):
    """``BatchNormalization._moments`` over the whole batch inside the step, in the formula of
    Keras's own (E[x^2] - E[x]^2), so that the figures match one device's to round-off."""

    def moments(inputs, mask):
        if not _sharing or mask is not None:
            return own(inputs, mask)
        axes = layer._reduction_axes
        both = _mean_over_processes(torch.stack([inputs.mean(dim=axes), inputs.square().mean(dim=axes)]))
        return both[0], both[1] - both[0].square()

    return moments


@contextlib.contextmanager
def _shared() -> Iterator[None]:
    """Batch statistics over every process's share while the step runs (not for the models'
    other calls, such as process 0's probe of D, which the other processes do not make)."""
    global _sharing
    _sharing = True
    try:
        yield
    finally:
        _sharing = False


def _share(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """This process's rows of the whole batch; the moves (2, B, 3) split along their second axis."""
    size = len(batch["real"]) // dist.get_world_size()
    rows = slice(dist.get_rank() * size, (dist.get_rank() + 1) * size)
    return {name: value[:, rows] if name == "augment" else value[rows] for name, value in batch.items()}


def _broadcast(gan) -> None:
    """Process 0's variables in every process: the gradients are averaged, so the processes
    stay equal only if they start equal."""
    with torch.no_grad():
        for variables in gan.state_variables().values():
            for variable in variables:
                dist.broadcast(variable.value, 0)


def _averaged(tensors: list) -> list:
    """The mean of each tensor over the processes, in one all-reduce; the tensors themselves
    outside a shared step."""
    if not _sharing:
        return tensors
    flat = torch.cat([tensor.reshape(-1) for tensor in tensors])
    dist.all_reduce(flat)
    flat = flat / dist.get_world_size()
    return [piece.view_as(tensor) for piece, tensor in zip(flat.split([tensor.numel() for tensor in tensors]), tensors)]


def _batch_mean(x):
    """The mean over the first axis of the whole batch, which the processes share equally
    while a step runs."""
    mean = x.mean(dim=0)
    return _mean_over_processes(mean) if _sharing else mean


def _device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def _layers(gan, kind: type) -> list:
    """The layers of the networks a step trains (``gan.networks``) that are ``kind``."""
    return [layer for model in gan.networks for layer in model.layers if isinstance(layer, kind)]


def _gradients(loss, variables) -> list:
    """d loss / d variables, zeros for a variable the loss does not reach."""
    values = [variable.value for variable in variables]
    gradients = torch.autograd.grad(loss, values, allow_unused=True)
    return [torch.zeros_like(value) if gradient is None else gradient for value, gradient in zip(values, gradients)]


def gan_step(gan, batch: dict[str, np.ndarray]) -> dict[str, float]:
    """One discriminator update, then one update of the figure critic (when there is one),
    then one generator update; returns the logged figures."""
    unmoved, z, noise, moves = (ops.convert_to_tensor(batch[key]) for key in ("real", "z", "noise", "augment"))
    real = gan.d_real(unmoved, moves[0])
    generator, discriminator = gan.generator, gan.discriminator
    drawn = generator(z, training=True).detach()
    fake = gan.d_input(drawn, moves[1])
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
    gradients = _averaged(_gradients(d_loss + 0.5 * gan.r1_gamma * r1_penalty, d_weights))
    with torch.no_grad():
        gan.d_optimizer.apply(gradients, d_weights)
    critic_logs = {} if gan.critic is None else _critic_update(gan, unmoved, drawn, noise)

    probabilities = generator(z, training=True)
    g_total, g_loss, terms = gan.generator_objective(discriminator(gan.d_input(probabilities, moves[1]), training=True), probabilities, z, _batch_mean)
    g_weights = generator.trainable_variables
    gradients = _averaged(_gradients(g_total, g_weights))
    with torch.no_grad():
        gan.g_optimizer.apply(gradients, g_weights)
        gan.step_counter.assign_add(1)
        gan.update_ema()
        logs = (
            {
                "d_loss": d_loss,
                "g_loss": g_loss,
                "r1": r1_penalty,
                "d_real": torch.sigmoid(real_logits).mean(),
                "d_fake": torch.sigmoid(fake_logits).mean(),
                "fake_lit": (probabilities[..., :1] >= 0.5).float().mean(),
                "real_lit": real[..., :1].mean(),
            }
            | critic_logs
            | terms
        )
        return {name: float(value) for name, value in zip(logs, _averaged(list(logs.values())))}


def _critic_update(gan, real, probabilities, noise) -> dict:
    """One update of the figure critic (``gan.critic_batch``), with R1 on the real figures,
    as the TensorFlow step's; returns its loss."""
    real_figures, fake_figures = gan.critic_batch(real, probabilities)
    real_figures = real_figures.detach().requires_grad_(True)
    real_logits = gan.critic(real_figures, training=True)
    (input_gradient,) = torch.autograd.grad(real_logits.sum(), real_figures, create_graph=True)
    r1_penalty = input_gradient.square().sum(dim=1).mean()
    memory = gan.critic_memory
    c_objective, c_loss = gan.critic_objective(
        functools.partial(gan.critic, training=True), real_logits, fake_figures, noise, gan.step_counter.value, None if memory is None else memory.value
    )
    c_weights = gan.critic.trainable_variables
    gradients = _averaged(_gradients(c_objective + 0.5 * gan.critic_r1_gamma * r1_penalty, c_weights))
    with torch.no_grad():
        gan.c_optimizer.apply(gradients, c_weights)
        if memory is not None:
            memory.assign(gan.remember(memory.value, gan.step_counter.value, fake_figures))
    return {"critic_loss": c_loss.detach()}
