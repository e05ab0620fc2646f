"""A run's hyperparameters (``TrainConfig``), the recipes that preset them, and their help.

Without NumPy or Keras, so the command line builds ``pianogan train``'s options from these
fields (each field with a ``help`` is an option, ``--name-with-dashes``, its choices from
``choices.CHOICES``) and checks them before TensorFlow loads: a new option is one field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pianogan.constants import LATENT_DIM
from pianogan.errors import OptionError


def option(default, help: str):
    """A field that ``pianogan train`` offers as an option, with its help text (the default is added)."""
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Every hyperparameter of a run; stored in RUN/config.json."""

    arch: str = option(
        "default",
        "architecture: default; bars: per-bar codes and harmony, for bar-aligned data; bars-melody: bars whose "
        "discriminator also sees the top voice's intervals and the register; bars-lead: bars-melody whose generator also writes "
        "a lead line, one pitch or a rest a column; bars-lead-voices: bars-lead taught by the melody of a dataset prepared with "
        "--voices; bars-voices: bars writing melody, bridge and "
        "accompaniment apart, for a dataset prepared with --voices",
    )
    recipe: str = option("ours", "training recipe: ours, or the seed project's (BCE with flipped labels, RMSprop, batch 16, no shuffling)")
    steps: int = option(2000, "total steps; with --resume, training continues up to this many")
    batch_size: int = option(32, "batch size")
    seed: int = option(0, "seed for weights, batch order, augmentation and latents")
    latent_dim: int = option(LATENT_DIM, "latent vector size")
    loss: str = option("nonsaturating", "adversarial loss")
    lr_g: float = option(2e-4, "generator learning rate")
    lr_d: float = option(2e-4, "discriminator learning rate")
    lr_decay_steps: int = option(
        0,
        "over the run's last N steps every learning rate (G's, D's and the figure critic's) falls linearly to zero "
        "(CycleGAN's schedule, Zhu et al. 2017), so that G and D settle rather than circle each other at the end; "
        "0 keeps them constant. On --resume it may be set as long as the fall has not begun",
    )
    optimizer: str = "adam"
    beta_1: float = 0.5
    beta_2: float = 0.99
    clipvalue: float | None = None
    r1_gamma: float = option(1.0, "weight of the R1 gradient penalty on real data; 0 turns it off")
    texture_matching: float = option(
        0.0,
        "weight of texture matching in the generator's loss: the gaps between the batch's and the training data's "
        "mean and spread of note counts, note lengths, onsets in the beat and on bar lines, columns that start a note, "
        "notes by register, columns sounding two or more pitches, pitches and pitch classes used, the notes' shares "
        "by pitch class and their entropy, the largest gap between the pitches used, the pitches sounding in the first bar and the last, register, silent beats, harmony from bar to bar "
        "and two bars apart, notes in a key, the top voice's height, steps, skips and mean interval, "
        "the bass on the chord's root, rhythm repeated one and two bars on, drones and stray notes (pianogan.models.texture); 0 turns it off",
    )
    texture_kernel: float = option(
        0.0,
        "weight of the texture figures' kernel discrepancy (MMD) in the generator's loss: how far the batch's figures lie "
        "from real windows' taken together, not one by one as --texture-matching reads them; 0 turns it off",
    )
    texture_marginals: float = option(
        0.0,
        "weight of the texture figures' discrepancy one by one (MMD of each figure's distribution alone) in the "
        "generator's loss: where --texture-matching reads a figure's mean and spread, this reads its whole shape, "
        "so that a figure with two modes does not pass for the data's one; 0 turns it off",
    )
    figure_critic: float = option(
        0.0,
        "weight of a critic of the texture figures in the generator's loss: a small network trained, beside D, to tell "
        "real windows' figures from the generator's, whose verdict the generator is asked to turn; where "
        "--texture-kernel compares the figures through a fixed kernel, the critic learns which of their combinations "
        "give the generator away; 0 turns it off",
    )
    critic_r1_gamma: float = option(
        10.0,
        "weight of the R1 gradient penalty on the figure critic's real figures: the lower, the steeper its verdict "
        "may turn and the harder it pushes the generator",
    )
    critic_memory: int = option(
        0,
        "how many steps back the figure critic's memory of the generator's figures reaches: it keeps 16 earlier "
        "batches, one every N/16 steps, and at every step also tells real windows from one of them, so that the "
        "generator cannot pass it by going back to what it wrote before; 0 gives it none",
    )
    mode_seeking: float = option(
        0.0,
        "weight of mode seeking in the generator's loss (Mao et al. 2019): the inverse of how far apart two latents' "
        "rolls lie for how far apart the latents are, which grows as the generator writes alike pieces for unlike "
        "latents; 0 turns it off",
    )
    ema_decay: float = option(
        0.0,
        "decay of the exponential moving average of the generator's weights, which is what gets saved; 0 saves the "
        "generator itself. It may change on --resume: G and D never read it",
    )
    hard_fakes: bool = True
    fakes: str = option(
        "threshold",
        "how the discriminator sees generated notes: threshold (a pixel sounds at probability 0.5 or above) or "
        "stochastic (it sounds with its probability, drawn anew at every step: stochastic binary neurons, so that an "
        "undecided note is noise the discriminator can see)",
    )
    draw_band: float = option(
        0.5,
        "with --fakes stochastic, a generated pixel sounds where its probability exceeds a threshold drawn anew from "
        "0.5 +- this: 0.5 draws each pixel with its own probability; less fixes the pixels outside the band (0.2: "
        "below 0.3 silent, above 0.7 sounding) and lets only undecided ones flicker",
    )
    shuffle: bool = True
    augment: str = option(
        "real",
        "real: time shifts and transpositions of the real windows only; both: the discriminator's inputs, real and "
        "generated alike, move by whole bars and semitones and lose a bar at random (DiffAugment)",
    )
    key_mode: str = option(
        "transpose",
        "transpose: move each real window by a random transposition of up to 6 semitones; normalise: move every window "
        "to C major / A minor (the nearer way, kept on the piano), and let generate choose the key",
    )
    max_transpose: int = 6
    time_shift: bool = True
    split: str = option("train", "dataset split to train on")
    min_span: float = option(
        0.9, "train only on windows whose music spans at least this share of their width (leaves out the mostly silent first and last windows of pieces)"
    )
    sample_every: int = option(500, "write a sample grid every N steps")
    checkpoint_every: int = option(500, "write a checkpoint every N steps")

    @property
    def uses_texture(self) -> bool:
        """Whether G's loss reads the texture figures, so that the data's must be measured first."""
        return bool(self.texture_matching or self.texture_kernel or self.texture_marginals or self.figure_critic)


RECIPES: dict[str, dict] = {
    # Non-saturating loss + R1 on real data, Adam, straight-through binary fakes, shuffled
    # batches with transposition and beat-aligned time shifts, and only windows whose music
    # spans at least 90% of their width: a piece's first and last windows are mostly
    # silence, and a generator that learns them writes silent pieces. No weight average by
    # default: measured on POP909 after 5,750 steps, an EMA (decay 0.999) of this generator
    # fragmented notes once thresholded (qualified-note rate 0.43 against 0.65 for the
    # generator itself, 0.74 in the data; two-sample accuracy 0.993 against 0.982).
    "ours": {},
    # The seed project's recipe, for comparisons: flipped-label BCE with 0.05 label noise,
    # RMSprop 1e-4 clipped at 1.0 for both nets, batch 16, no shuffling or augmentation,
    # soft fakes, no penalty and no EMA.
    "seed": dict(
        loss="seed",
        optimizer="rmsprop",
        lr_g=1e-4,
        lr_d=1e-4,
        clipvalue=1.0,
        batch_size=16,
        r1_gamma=0.0,
        ema_decay=0.0,
        hard_fakes=False,
        shuffle=False,
        max_transpose=0,
        time_shift=False,
        min_span=0.0,
    ),
}


def recipe_config(recipe: str, **overrides) -> TrainConfig:
    """A recipe's configuration with explicit options (those not None) applied on top."""
    if recipe not in RECIPES:
        raise OptionError("recipe", f"must be one of {', '.join(RECIPES)}, got {recipe!r}")
    values = {**RECIPES[recipe], **{k: v for k, v in overrides.items() if v is not None}}
    return TrainConfig(recipe=recipe, **values)
