"""The GAN as one ``keras.Model``: generator, discriminator, EMA generator and the losses.

The trainer's loop drives it through one training step per Keras backend
(``pianogan.training.backends``); everything here uses ``keras.ops`` only, so every
backend shares the maths.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import ops

from pianogan.models import architectures, texture
from pianogan.models.architectures import remerge
from pianogan.models.losses import discriminator_loss, generator_loss, mode_seeking_loss
from pianogan.roll import COLUMNS_PER_BAR as BAR_COLUMNS


def straight_through_binarize(probabilities):
    """Hard 0/1 values forward, the sigmoid's gradient backward (Bengio et al. 2013).

    Real rolls are exactly binary; feeding D thresholded fakes keeps it from telling them
    apart by softness alone (the pitfall in docs/design.md), as BinaryMuseGAN's deterministic
    binary neurons do (Dong & Yang 2018).
    """
    hard = ops.cast(probabilities >= 0.5, probabilities.dtype)
    return probabilities + ops.stop_gradient(hard - probabilities)


def augment(rolls, params):
    """Move each roll (B, 106, T, C) in time and pitch and blank one bar, differentiably.

    ``params`` (B, 3) ints: a time shift in columns (later is positive), a transposition in
    semitones (up is positive), and the first column of a blanked bar (negative: none).
    What moves out of the window is lost and silence comes in. Done with one-hot matrix
    products, so the gradient reaches the generator through it: DiffAugment (Zhao et al.,
    "Differentiable augmentation for data-efficient GAN training", NeurIPS 2020) applies
    the same random moves to real and generated rolls, so the discriminator cannot
    memorise the few thousand real windows and still sees no difference between them.
    """
    params = ops.cast(params, "int32")
    pitches, steps, channels = rolls.shape[1], rolls.shape[2], rolls.shape[3]
    time_move = _moves(ops.arange(steps)[None, :] + params[:, :1], steps, rolls.dtype)  # (B, src, dst)
    pitch_move = _moves(ops.arange(pitches)[None, :] + params[:, 1:2], pitches, rolls.dtype)
    # Two plain batched products, every channel (a voiced roll's voices) moving alike: an
    # einsum over (B, 106, T, C) made a voiced step a quarter slower under TensorFlow.
    moved = ops.reshape(ops.transpose(rolls, (0, 1, 3, 2)), (-1, pitches * channels, steps))
    moved = ops.reshape(ops.matmul(moved, time_move), (-1, pitches, channels * steps))
    moved = ops.matmul(ops.transpose(pitch_move, (0, 2, 1)), moved)
    moved = ops.transpose(ops.reshape(moved, (-1, pitches, channels, steps)), (0, 1, 3, 2))
    column = ops.arange(steps)[None, :]
    start = params[:, 2:3]
    outside = ops.logical_or(column < start, column >= start + BAR_COLUMNS)
    keep = ops.cast(ops.logical_or(outside, start < 0), rolls.dtype)  # start < 0: no bar blanked
    return moved * keep[:, None, :, None]


def _moves(targets, size: int, dtype):
    """One-hot rows (B, N, size) of ``targets``, all zero where a target leaves ``0..size-1``.

    Written as a comparison rather than ``ops.one_hot``, which PyTorch refuses for indices
    out of range; the matrices are the same under every backend.
    """
    return ops.cast(ops.equal(targets[:, :, None], ops.arange(size)[None, None, :]), dtype)


# The figure critic reads each figure at most this many of the data's standard deviations
# from its mean: early in a run a near-empty window's figures lie dozens away, and the
# critic would read nothing else.
CRITIC_CLIP = 5.0

# How many of G's earlier batches of figures the critic's memory holds (``--critic-memory``).
MEMORY_SLOTS = 16


def ema_decay_at(ema_decay: float, step):
    """The weight average's decay after ``step`` steps: a warm-up of (1+t)/(10+t) up to ``ema_decay``."""
    t = ops.cast(step, "float32")
    return ops.minimum(ema_decay, (1.0 + t) / (10.0 + t))


class GAN(keras.Model):
    """Holds G, D, the EMA copy of G, both optimizers and the step count."""

    def __init__(
        self,
        generator,
        discriminator,
        ema_generator,
        loss="nonsaturating",
        r1_gamma=0.0,
        texture_matching=0.0,
        texture_kernel=0.0,
        texture_marginals=0.0,
        figure_critic=0.0,
        critic_r1_gamma=10.0,
        critic_memory=0,
        batch_size=None,
        mode_seeking=0.0,
        real_figures=None,
        ema_decay=0.0,
        hard_fakes=True,
        augment_both=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.ema_generator = ema_generator
        self.loss_kind = loss
        self.r1_gamma = float(r1_gamma)
        self.texture_matching = float(texture_matching)
        self.texture_kernel = float(texture_kernel)
        self.texture_marginals = float(texture_marginals)
        self.figure_critic = float(figure_critic)
        # The critic of the texture figures (``critic_figures``), trained beside D with D's
        # optimizer's settings and its own R1 weight; G's loss reads its verdict on G's figures.
        self.critic_r1_gamma = float(critic_r1_gamma)
        self.critic = architectures.figure_critic(len(texture.FEATURES)) if self.figure_critic else None
        # The critic's memory (Shrivastava et al. 2017's history of refined images, read as
        # figures): every ``memory_stride``-th step's batch of G's figures, the last
        # ``MEMORY_SLOTS`` of them, so the critic keeps telling real windows from what G
        # wrote earlier too, and G cannot pass it by going back to a trick it has forgotten.
        self.memory_stride = max(1, int(critic_memory) // MEMORY_SLOTS)
        self.critic_memory = None
        if critic_memory:
            if self.critic is None or not batch_size:
                raise ValueError("the critic's memory needs the critic (figure_critic) and the batch size")
            self.critic_memory = keras.Variable(ops.zeros((MEMORY_SLOTS, batch_size, len(texture.FEATURES))), trainable=False, name="critic_memory")
        self.mode_seeking = float(mode_seeking)
        if self.uses_texture and real_figures is None:
            raise ValueError("texture matching needs real windows' texture figures (texture.texture_figures)")
        if real_figures is not None:
            # on the backend's device: the data's means and spreads of the figures, and its mean kernel features
            target = texture.texture_target(real_figures)
            self.texture_target = ops.convert_to_tensor(target)
            self.real_kernel_mean = ops.convert_to_tensor(texture.real_kernel_mean(real_figures, target))
            self.real_marginal_mean = ops.convert_to_tensor(texture.real_marginal_mean(real_figures, target))
        # How G's loss reads its figures; a backend may compile it (``compile_figures``).
        self.read_heard = texture.heard_figures
        self.ema_decay = float(ema_decay)
        self.hard_fakes = bool(hard_fakes)
        self.augment_both = bool(augment_both)
        self.step_counter = keras.Variable(0, dtype="int64", trainable=False, name="step")

    @property
    def uses_texture(self) -> bool:
        """Whether G's loss reads the texture figures at all."""
        return bool(self.texture_matching or self.texture_kernel or self.texture_marginals or self.figure_critic)

    @property
    def networks(self) -> tuple:
        """The networks a step trains: G, D and the figure critic when there is one."""
        return (self.generator, self.discriminator) if self.critic is None else (self.generator, self.discriminator, self.critic)

    def compile(self, g_optimizer, d_optimizer):
        super().compile()
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        g_optimizer.build(self.generator.trainable_variables)
        d_optimizer.build(self.discriminator.trainable_variables)
        if self.critic is not None:
            self.c_optimizer = d_optimizer.__class__.from_config(d_optimizer.get_config())
            self.c_optimizer.build(self.critic.trainable_variables)
        self.base_learning_rates = [float(keras.ops.convert_to_numpy(optimizer.learning_rate)) for optimizer in self.optimizers()]

    def optimizers(self) -> list:
        """G's, D's and, when there is one, the figure critic's optimizer."""
        return [self.g_optimizer, self.d_optimizer] + ([] if self.critic is None else [self.c_optimizer])

    def scale_learning_rates(self, scale: float) -> None:
        """Every optimizer's learning rate at ``scale`` times the one it was compiled with.

        The rates are optimizer variables, saved in the checkpoint and read by every
        backend's step when it runs, so a schedule set from the step count resumes exactly."""
        for optimizer, rate in zip(self.optimizers(), self.base_learning_rates):
            optimizer.learning_rate = rate * scale

    def compile_figures(self, compile_function: Callable) -> None:
        """Let G's loss read its figures through ``compile_function`` of ``texture.heard_figures``.

        The figures are some hundred element-wise operations on whole rolls, whose gradient
        a graph runs one operation at a time: fused into a few loops by XLA, the figures and
        their gradient take two thirds of the time under TensorFlow on the CPU. The
        critic's update reads figures without a gradient, which XLA does not make faster,
        so it reads them plain."""
        self.read_heard = compile_function(texture.heard_figures)

    def call(self, z, training=False):
        return self.ema_generator(z, training=training)

    def d_input(self, probabilities, params):
        """What D sees of generated rolls: binarised (straight-through), augmented like the reals.

        A voiced roll's merged channel is made again from its voices as D sees them, so it is
        their OR exactly, as in the real voiced windows.
        """
        rolls = straight_through_binarize(probabilities) if self.hard_fakes else probabilities
        return self.d_real(remerge(rolls), params)

    def generator_objective(self, logits, probabilities, z, *batch_mean, critic=None):
        """What G's step descends: the adversarial loss on D's ``logits``, plus, on G's
        ``probabilities``, texture matching's gap in the figures' moments, its kernel
        discrepancy and its figure-by-figure discrepancy when they are on, and the mode
        seeking term on the pairs of latents ``z`` when it is on, and the figure critic's
        verdict on G's figures when there is one (``batch_mean``, if given: how
        ``texture`` averages a batch split over devices; ``critic``, if given: the critic
        as a function of its weights' current values, for a step that passes them).
        Returns that sum, the adversarial loss and the extra terms by their log's names
        (``runlog.TERM_FIELDS``; empty when all are off), the last two for the step's log."""
        g_loss = generator_loss(self.loss_kind, logits)
        total, terms = g_loss, {}
        if self.uses_texture:
            figures = self.read_heard(probabilities)
            terms["texture_gap"] = texture.texture_loss(figures, self.texture_target, *batch_mean)
            terms["texture_kernel_gap"] = texture.texture_kernel_loss(figures, self.texture_target, self.real_kernel_mean, *batch_mean)
            terms["texture_marginal_gap"] = texture.texture_marginal_loss(figures, self.texture_target, self.real_marginal_mean, *batch_mean)
            total = total + self.texture_matching * terms["texture_gap"] + self.texture_kernel * terms["texture_kernel_gap"]
            total = total + self.texture_marginals * terms["texture_marginal_gap"]
        if self.critic is not None:
            verdict = (critic or self.critic)(self.critic_figures(figures))
            terms["figure_critic"] = generator_loss(self.loss_kind, verdict)
            total = total + self.figure_critic * terms["figure_critic"]
        if self.mode_seeking:
            terms["mode_seeking"] = mode_seeking_loss(z, probabilities, *batch_mean)
            total = total + self.mode_seeking * terms["mode_seeking"]
        return total, g_loss, terms

    def critic_figures(self, figures):
        """What the figure critic reads of figures (B, F): each in the data's standard
        deviations from its mean, clipped at ``CRITIC_CLIP``."""
        return ops.clip(texture.standardised(figures, self.texture_target), -CRITIC_CLIP, CRITIC_CLIP)

    def critic_batch(self, real, probabilities):
        """What one update of the figure critic compares, as it reads them
        (``critic_figures``): real windows' figures (``real``, unmoved, as the batch holds
        them, since G's are read unmoved too) and G's (``probabilities``, heard as G's loss
        hears them)."""
        return self.critic_figures(texture.texture_features(real[..., 0])), self.critic_figures(texture.heard_figures(probabilities))

    def critic_objective(self, critic, real_logits, fake_figures, noise, step, memory=None):
        """The loss of the critic (``critic``: figures -> logits, as the step calls it) on G's
        figures (returned twice), or, given its ``memory``'s value, the mean of that and its
        loss on the batch it recalls at ``step`` (``recall``), with the first alone for the
        log."""
        c_loss = discriminator_loss(self.loss_kind, real_logits, critic(fake_figures), noise)
        if memory is None:
            return c_loss, c_loss
        recalled_logits = critic(self.recall(memory, step, fake_figures))
        return 0.5 * (c_loss + discriminator_loss(self.loss_kind, real_logits, recalled_logits, noise)), c_loss

    def recall(self, memory, step, fake_figures):
        """The batch of G's figures the critic rereads at ``step``: the batches kept before
        it, each in turn; the current one (``fake_figures``) before any is kept."""
        step = ops.cast(step, "int32")
        kept = ops.minimum((step + self.memory_stride - 1) // self.memory_stride, MEMORY_SLOTS)
        recalled = ops.take(memory, step % ops.maximum(kept, 1), axis=0)
        return ops.where(kept > 0, recalled, fake_figures)

    def remember(self, memory, step, fake_figures):
        """``memory`` with the current batch of G's figures written on every
        ``memory_stride``-th step, over the slot written longest ago once all are full;
        unchanged on the other steps (a pure function, for every backend's step)."""
        step = ops.cast(step, "int32")
        slot = ops.one_hot((step // self.memory_stride) % MEMORY_SLOTS, MEMORY_SLOTS, dtype=memory.dtype)
        written = slot * ops.cast(step % self.memory_stride == 0, memory.dtype)
        return memory * (1.0 - written[:, None, None]) + written[:, None, None] * fake_figures[None]

    def d_real(self, rolls, params):
        """What D sees of real rolls: augmented when both sides are (``augment_both``)."""
        return augment(rolls, params) if self.augment_both else rolls

    def update_ema(self):
        """EMA of G's weights with a warm-up (decay grows as (1+t)/(10+t) up to ``ema_decay``).

        Normalisation statistics are copied, not averaged, as in StyleGAN's implementation.
        """
        decay = ema_decay_at(self.ema_decay, self.step_counter)
        for ema, live in zip(self.ema_generator.trainable_variables, self.generator.trainable_variables):
            ema.assign(decay * ema + (1.0 - decay) * live)
        for ema, live in zip(self.ema_generator.non_trainable_variables, self.generator.non_trainable_variables):
            ema.assign(live)

    def state_variables(self) -> dict[str, list]:
        """Every variable a checkpoint must hold to continue exactly."""
        return (
            {
                "generator": self.generator.variables,
                "discriminator": self.discriminator.variables,
                "ema_generator": self.ema_generator.variables,
                "g_optimizer": self.g_optimizer.variables,
                "d_optimizer": self.d_optimizer.variables,
                "step": [self.step_counter],
            }
            | ({"critic": self.critic.variables, "c_optimizer": self.c_optimizer.variables} if self.critic is not None else {})
            | ({"critic_memory": [self.critic_memory]} if self.critic_memory is not None else {})
        )
