"""A generator model as a function from latents to note probabilities, and where it lives.

Every layer that samples a generator (composition, evaluation, inversion, export) goes
through ``probabilities``, so a Keras model and the NumPy runtime (``portable``) are
interchangeable and a seed gives the same notes wherever it is sampled.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

ENV_MODEL = "PIANOGAN_MODEL"
BATCH = 32  # windows per generator call: large enough to be efficient, small in memory


def default_model_path() -> Path:
    """``$PIANOGAN_MODEL`` if set, else the generator shipped inside the package.

    ``pianogan/shipped/generator.keras`` is package data, so an installed wheel has it; in a
    source checkout it is a link to the repository's ``models/generator.keras``.
    """
    chosen = os.environ.get(ENV_MODEL)
    return Path(chosen) if chosen else Path(__file__).parent.parent / "shipped" / "generator.keras"


def window_width(model) -> int:
    return int(model.output_shape[2])


def latent_dim(model) -> int:
    return int(model.input_shape[1])


def probabilities(model, latents: np.ndarray) -> np.ndarray:
    """Generator output ``(N, 106, W)`` float32 for latents ``(N, d)``, in batches of BATCH.

    The model is called directly on float32 numpy batches: ``predict`` would trace a
    graph and build a dataset first, which costs more than sampling a few pieces. It
    runs on the CPU even where an accelerator is present, so that the notes of a seed
    do not depend on which device happens to be there.
    """
    if hasattr(model, "probabilities"):  # a portable.NumpyGenerator: no TensorFlow
        return model.probabilities(latents)
    import keras

    latents = np.asarray(latents, dtype=np.float32)
    with keras.device("cpu:0"):
        parts = [keras.ops.convert_to_numpy(model(latents[start : start + BATCH], training=False))[..., 0] for start in range(0, len(latents), BATCH)]
    return np.concatenate(parts).astype(np.float32, copy=False)
