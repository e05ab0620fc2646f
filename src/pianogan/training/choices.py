"""The names each choice-valued training option accepts, without importing NumPy or Keras.

The command line builds its ``choices=`` from here, so ``pianogan --help`` stays light;
the registries these names stand for (``models.architectures.ARCHITECTURES``,
``models.losses.LOSSES``, ``training.config.RECIPES``) are checked against them by the tests.
"""

from pianogan.constants import SPLITS

CHOICES: dict[str, tuple[str, ...]] = {
    "arch": ("default", "bars", "bars-melody", "bars-lead", "bars-lead-voices", "bars-voices", "seed"),
    "fakes": ("threshold", "stochastic"),
    "recipe": ("ours", "seed"),
    "loss": ("nonsaturating", "hinge", "seed"),
    "optimizer": ("adam", "rmsprop"),
    "key_mode": ("transpose", "normalise"),
    "augment": ("real", "both"),
    "split": SPLITS,
}
