"""Deterministic training batches: every draw is a function of (seed, step).

Nothing about the data order lives in a random generator's state, so a run resumed at
step k sees exactly the batches an uninterrupted run sees from step k on, and a
checkpoint needs to store only the step.
"""

from __future__ import annotations

import numpy as np

from pianogan.roll import COLUMNS_PER_QUARTER, PIANO_ROWS, transpose, voice_planes

# Stream tags keep the draws for different purposes independent of each other.
_ORDER, _AUGMENT, _LATENT, _LABELS, _D_AUGMENT = 1, 2, 3, 4, 5
D_SHIFT_BARS = 2  # D's inputs move by up to 2 bars either way
D_TRANSPOSE = 3  # and up to 3 semitones
D_CUTOUT = 0.5  # and lose one bar half of the time


def batch_indices(n_windows: int, batch_size: int, step: int, seed: int, shuffle: bool) -> np.ndarray:
    """Window indices of batch ``step``: consecutive slices of per-epoch permutations.

    Sample position ``p = step * batch_size + i`` lies in epoch ``p // n_windows``; each
    epoch has its own permutation drawn from (seed, epoch), so a dataset smaller than a
    batch simply wraps over several epochs.
    """
    positions = step * batch_size + np.arange(batch_size)
    epochs, offsets = np.divmod(positions, n_windows)
    if not shuffle:
        return offsets
    indices = np.empty(batch_size, dtype=np.int64)
    for epoch in np.unique(epochs):
        order = np.random.default_rng([seed, _ORDER, int(epoch)]).permutation(n_windows)
        chosen = epochs == epoch
        indices[chosen] = order[offsets[chosen]]
    return indices


def d_channels(windows: np.ndarray, groups: tuple[tuple[int, ...], ...] | None = None) -> np.ndarray:
    """Windows (B, 106, T) as the discriminator takes them, float32 in {0, 1}: a bool roll as
    (B, 106, T, 1); a uint8 voice mask (``datasets.load_voice_masks``) as (B, 106, T,
    1 + len(VOICES)), the merged roll and then each voice, or, given ``groups`` (indices
    into ``VOICES``), the merged roll and then one channel per group, sounding where any
    of its voices does."""
    if windows.dtype == bool:
        return windows[..., None].astype(np.float32)
    planes = voice_planes(windows)
    if groups is not None:
        planes = np.stack([planes[..., list(group)].any(axis=-1) for group in groups], axis=-1)
    return np.concatenate([windows[..., None] > 0, planes], axis=-1).astype(np.float32)


def pitch_bounds(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest lit row of each window (N, 106, T); (0, 87) for empty ones."""
    lit_rows = windows.any(axis=2)
    has_notes = lit_rows.any(axis=1)
    low = np.where(has_notes, lit_rows.argmax(axis=1), 0)
    high = np.where(has_notes, lit_rows.shape[1] - 1 - lit_rows[:, ::-1].argmax(axis=1), PIANO_ROWS - 1)
    return low, high


class BatchMaker:
    """Builds batch ``step`` of real windows, latents and label noise.

    Augmentation keeps the music valid. A time shift by whole steps of ``shift_unit``
    columns (a beat, or a bar for bar-aligned data, so beat 1 stays on column 0) continues
    into the window's successor in the same piece (``successors[i]``), which starts
    ``strides[i]`` columns after it; a piece's last window (``successors[i] == -1``) is not
    shifted, since silence made up after it would teach the generator to stop mid-window.
    Batches are drawn from the windows in ``trained`` (all by default); the others serve as
    successors only. Then each
    window moves by ``key_shifts[i]`` semitones (key normalisation: the same move for every
    draw of that window) when given, else by a random transposition of up to
    ``max_transpose`` semitones that keeps every note on the piano. ``windows`` are bool
    rolls, or uint8 voice masks for a voiced generator, whose ``voice_groups`` make its
    channels (see ``d_channels``).
    """

    def __init__(
        self,
        windows: np.ndarray,
        batch_size: int,
        latent_dim: int,
        seed: int,
        shuffle: bool = True,
        max_transpose: int = 0,
        time_shift: bool = False,
        successors: np.ndarray | None = None,
        strides: np.ndarray | None = None,
        shift_unit: int = COLUMNS_PER_QUARTER,
        key_shifts: np.ndarray | None = None,
        trained: np.ndarray | None = None,
        voice_groups: tuple[tuple[int, ...], ...] | None = None,
    ):
        self.windows = windows
        self.batch_size = batch_size
        self.latent_dim = latent_dim
        self.seed = seed
        self.shuffle = shuffle
        self.max_transpose = max_transpose
        self.time_shift = time_shift
        self.successors = successors if successors is not None else np.full(len(windows), -1)
        self.strides = strides if strides is not None else np.full(len(windows), windows.shape[2])
        self.shift_unit = shift_unit
        self.key_shifts = key_shifts
        self.trained = np.arange(len(windows)) if trained is None else np.asarray(trained)
        self.voice_groups = voice_groups
        self.low, self.high = pitch_bounds(windows)

    def real(self, step: int) -> np.ndarray:
        """Real windows of batch ``step`` as float32 (B, 106, T, C) in {0, 1} (``d_channels``)."""
        indices = self.trained[batch_indices(len(self.trained), self.batch_size, step, self.seed, self.shuffle)]
        rng = np.random.default_rng([self.seed, _AUGMENT, step])
        width = self.windows.shape[2]
        batch = np.empty((self.batch_size, *self.windows.shape[1:]), dtype=self.windows.dtype)
        for slot, index in enumerate(indices):
            window = self.windows[index]
            if self.time_shift:
                steps = int(rng.integers(0, width // self.shift_unit))  # drawn for every window: the stream stays in step
                following = self.successors[index]
                if following >= 0:
                    window = np.concatenate([window[:, : self.strides[index]], self.windows[following]], axis=1)
                    window = window[:, self.shift_unit * steps : self.shift_unit * steps + width]
            if self.key_shifts is not None:
                window = transpose(window, int(self.key_shifts[index]))
            elif self.max_transpose:
                down = max(0, min(self.max_transpose, int(self.low[index])))
                up = max(0, min(self.max_transpose, PIANO_ROWS - 1 - int(self.high[index])))
                window = transpose(window, int(rng.integers(-down, up + 1)))
            batch[slot] = window
        return d_channels(batch, self.voice_groups)

    def latents(self, step: int) -> np.ndarray:
        """Standard normal latents (B, latent_dim) of batch ``step``."""
        return np.random.default_rng([self.seed, _LATENT, step]).standard_normal((self.batch_size, self.latent_dim), dtype=np.float32)

    def label_noise(self, step: int) -> np.ndarray:
        """Uniform [0, 1) noise (B, 2) for recipes that perturb labels (the seed's)."""
        return np.random.default_rng([self.seed, _LABELS, step]).random((self.batch_size, 2), dtype=np.float32)

    def d_moves(self, step: int) -> np.ndarray:
        """Moves (2, B, 3) for D's real and generated inputs: time shift (columns), semitones,
        first column of a blanked bar (-1: none). Whole bars, so beat 1 stays on a bar line."""
        rng = np.random.default_rng([self.seed, _D_AUGMENT, step])
        shape = (2, self.batch_size)
        shift = 16 * rng.integers(-D_SHIFT_BARS, D_SHIFT_BARS + 1, shape)
        semitones = rng.integers(-D_TRANSPOSE, D_TRANSPOSE + 1, shape)
        width = self.windows.shape[2]
        cutout = np.where(rng.random(shape) < D_CUTOUT, 16 * rng.integers(0, -(-width // 16), shape), -1)
        return np.stack([shift, semitones, cutout], axis=-1).astype(np.int32)

    def batch(self, step: int) -> dict[str, np.ndarray]:
        return {"real": self.real(step), "z": self.latents(step), "noise": self.label_noise(step), "augment": self.d_moves(step)}
