"""Keys: estimating a window's key from its notes, naming keys, and moving rolls between keys,
and drawing the key each generated piece is moved to.

A key is an index 0..23: ``tonic`` (0 = C .. 11 = B) for major keys, ``12 + tonic`` for
minor keys. The estimator is Krumhansl-Schmuckler's: correlate the window's pitch-class
distribution with the 24 rotations of a major and a minor key profile and take the best.
The distribution is duration-weighted (lit pixels per pitch class), so a held chord tone
outweighs a passing sixteenth, and the profiles are Albrecht & Shanahan's (2013), which
matched POP909's own key annotations more often than Krumhansl & Kessler's (1982) did
(see ``benchmarks/alignment.py``).

References: Krumhansl, *Cognitive Foundations of Musical Pitch* (1990), ch. 4;
Albrecht & Shanahan, "The use of large corpora to train a new type of key-finding
algorithm", Music Perception 31(1), 2013.
"""

from __future__ import annotations

import numpy as np

from pianogan.errors import OptionError
from pianogan.roll import LOWEST_PITCH, N_PITCHES, PIANO_ROWS, PITCH_CLASS_NAMES

MAJOR_MODES = ("major", "minor")
KEY_NAMES = tuple(f"{PITCH_CLASS_NAMES[i % 12]} {MAJOR_MODES[i // 12]}" for i in range(24))
PROFILES = {
    "krumhansl": (
        np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]),
        np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]),
    ),
    "albrecht": (
        np.array([0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081]),
        np.array([0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052]),
    ),
}
DEFAULT_PROFILE = "albrecht"
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
NATURAL_MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)
# The 24 major and minor triads, numbered as the keys are: k < 12 the major triad on pitch
# class k, k >= 12 the minor one on k - 12. TRIADS[k] marks its pitch classes.
TRIAD_ROOTS = np.arange(24) % 12
TRIADS = np.array([np.isin(np.arange(12), (root + np.array((0, 4, 7) if k < 12 else (0, 3, 7))) % 12) for k, root in enumerate(TRIAD_ROOTS)])
_PITCH_CLASS_OF_ROW = np.eye(12)[(LOWEST_PITCH + np.arange(N_PITCHES)) % 12]  # (106, 12)


def key_templates(profile: str = DEFAULT_PROFILE) -> np.ndarray:
    """(24, 12) profiles, each rotated to its tonic and standardised (mean 0, norm 1)."""
    major, minor = PROFILES[profile]
    rows = [np.roll(major, tonic) for tonic in range(12)] + [np.roll(minor, tonic) for tonic in range(12)]
    templates = np.array(rows)
    templates -= templates.mean(axis=1, keepdims=True)
    return templates / np.linalg.norm(templates, axis=1, keepdims=True)


def pitch_class_time(rolls: np.ndarray) -> np.ndarray:
    """Lit pixels per pitch class (C = 0) of each roll in a stack (..., 106, T): (..., 12)."""
    return np.count_nonzero(rolls, axis=-1) @ _PITCH_CLASS_OF_ROW


def key_correlations(pitch_classes: np.ndarray, profile: str = DEFAULT_PROFILE) -> np.ndarray:
    """Pearson correlation of each distribution (..., 12) with the 24 key profiles: (..., 24).

    A flat distribution (silence, or all twelve classes equally) correlates 0 with all.
    """
    centred = np.asarray(pitch_classes, dtype=float)
    centred = centred - centred.mean(axis=-1, keepdims=True)
    norm = np.linalg.norm(centred, axis=-1, keepdims=True)
    unit = np.divide(centred, norm, out=np.zeros_like(centred), where=norm > 0)
    return unit @ key_templates(profile).T


def estimate_keys(rolls: np.ndarray, profile: str = DEFAULT_PROFILE) -> np.ndarray:
    """The key index (0..23) of each roll in a stack (..., 106, T); C major (0) for silence."""
    return np.argmax(key_correlations(pitch_class_time(rolls), profile), axis=-1)


def key_name(key: int) -> str:
    """'C major', 'A minor', ... for a key index 0..23."""
    return KEY_NAMES[int(key)]


def parse_key(text: str) -> int:
    """The key index of a name such as 'A minor', 'Eb major', 'f# min' or 'C'.

    A bare tonic means major. Flats are spelled with 'b', sharps with '#'.
    """
    words = text.strip().replace("-", " ").split()
    if not words or len(words) > 2:
        raise OptionError("key", f"{text!r}: expected a tonic and a mode, e.g. 'A minor' or 'Eb major'")
    tonic_name = words[0][0].upper() + words[0][1:].lower()
    flats = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B", "Fb": "E", "E#": "F", "B#": "C"}
    tonic_name = flats.get(tonic_name, tonic_name)
    if tonic_name not in PITCH_CLASS_NAMES:
        raise OptionError("key", f"{text!r}: unknown tonic {words[0]!r} (use C, C#, Db, D, ..., B)")
    mode = words[1].lower() if len(words) == 2 else "major"
    modes = {"major": 0, "maj": 0, "minor": 12, "min": 12, "m": 12}
    if mode not in modes:
        raise OptionError("key", f"{text!r}: unknown mode {words[1]!r} (use major or minor)")
    return PITCH_CLASS_NAMES.index(tonic_name) + modes[mode]


def relative_major_tonic(key: int) -> int:
    """The tonic of the major key sharing the key's scale: A minor -> C (0)."""
    return int(key) % 12 if key < 12 else (int(key) + 3) % 12


def scale_mask(key: int) -> np.ndarray:
    """(12,) bool: the pitch classes of the key's major or natural minor scale."""
    mask = np.zeros(12, dtype=bool)
    steps = MAJOR_SCALE if key < 12 else NATURAL_MINOR_SCALE
    mask[[(int(key) % 12 + s) % 12 for s in steps]] = True
    return mask


def transposition_between(source: int, target: int) -> int:
    """Semitones (-6..5) that move key ``source`` to ``target``'s scale by the nearest way.

    Major and minor keys move by their relative major, so A minor to C major is 0 and
    A minor to E minor is -5 (down a fourth rather than up a fifth).
    """
    return (relative_major_tonic(target) - relative_major_tonic(source) + 6) % 12 - 6


def fit_on_piano(low_row: int, high_row: int, semitones: int) -> int:
    """``semitones``, or the same move an octave the other way, that keeps rows low..high on the piano.

    Returns the option that keeps every note inside rows 0..87; when neither does (a
    window wider than the piano allows), the one that loses fewer rows.
    """
    options = sorted((semitones, semitones - 12 if semitones > 0 else semitones + 12), key=abs)  # a tie keeps ``semitones``
    for option in options:
        if low_row + option >= 0 and high_row + option <= PIANO_ROWS - 1:
            return option
    return min(options, key=lambda o: max(0, -(low_row + o)) + max(0, high_row + o - (PIANO_ROWS - 1)))


def transpositions_to_keys(roll: np.ndarray) -> np.ndarray:
    """(24,): the semitones ``transposition_to_key`` moves ``roll`` (106, T) by for each key; 0s for a silent roll."""
    lit = np.flatnonzero(roll.any(axis=1))
    if not len(lit):
        return np.zeros(24, dtype=np.int64)
    estimated = int(estimate_keys(roll))
    return np.array([fit_on_piano(int(lit[0]), int(lit[-1]), -transposition_between(key, estimated)) for key in range(24)], dtype=np.int64)


def transposition_to_key(roll: np.ndarray, key: int) -> int:
    """Semitones that move ``roll`` (106, T) the nearer way to ``key``'s scale, kept on the
    piano (``fit_on_piano``); 0 for a silent roll.

    A major and its relative minor share a scale, so a roll the estimator hears in C
    major asked to be in A minor does not move, and one in G major moves down a fifth.
    The move is the reverse of the one that brought a window in ``key`` to the roll's
    key in key-normalised training, so that a tritone apart, where both ways are as
    near, goes up: a window in F# major was moved down to C major, and C major moves
    back up to F#. Going down instead wrote pieces in those keys an octave below where
    the music they learnt from sits (the mean pitch of all pieces 0.9 semitones lower).
    """
    return int(transpositions_to_keys(roll)[int(key)])


REGISTER_SPREAD_FLOOR = 0.5  # semitones: what a key's registers are counted to spread by at least


def register(rolls: np.ndarray) -> np.ndarray:
    """(..., 2): the lowest row sounding and the mean row of the sounding pixels of each roll
    in a stack (..., 106, T), where a piece sits on the keyboard; NaN for a silent roll."""
    per_row = np.count_nonzero(rolls, axis=-1).astype(float)  # (..., 106)
    total = per_row.sum(axis=-1)
    rows = np.arange(per_row.shape[-1])
    lowest = np.where(total > 0, np.argmax(per_row > 0, axis=-1), np.nan)
    mean = np.divide(per_row @ rows, total, out=np.full(total.shape, np.nan), where=total > 0)
    return np.stack([lowest, mean], axis=-1)


def key_registers(windows: np.ndarray, window_keys: np.ndarray) -> dict[str, list]:
    """Where the windows (N, 106, T) of each key sit: per key the mean ``register`` of its
    windows (the mean over all windows for a key with fewer than three), and the
    covariance of a window's register about its key's mean, pooled over the keys.

    A key-normalised generator writes in C major / A minor the windows that training
    moved there from every key, each by up to a tritone, so its registers spread as widely
    as the windows' own spread and the moves' together; moving each of its pieces to a
    key drawn apart from its register spreads them once more. ``choose_keys`` weighs the
    keys by these, so that a piece lands where windows in its key sit.
    """
    points = register(windows)
    window_keys = np.asarray(window_keys)
    heard = np.isfinite(points).all(axis=1)
    points, window_keys = points[heard], window_keys[heard]
    overall = points.mean(axis=0)
    means = np.array([points[window_keys == key].mean(axis=0) if np.sum(window_keys == key) >= 3 else overall for key in range(24)])
    about = points - means[window_keys]
    # Half a semitone's spread at least: windows all on one bass note would otherwise make a
    # register a semitone away impossible rather than unlikely.
    covariance = about.T @ about / max(len(points) - 1, 1) + REGISTER_SPREAD_FLOOR**2 * np.eye(2)
    return {"means": np.round(means, 4).tolist(), "covariance": np.round(covariance, 4).tolist()}


def register_likelihoods(roll: np.ndarray, registers: dict[str, list]) -> np.ndarray:
    """(24,): how likely ``roll``'s register would be among windows of each key once moved
    there (a Gaussian about ``key_registers``' mean for the key), relative to the most
    likely key; all 1 for a silent roll."""
    point = register(roll)
    if not np.isfinite(point).all():
        return np.ones(24)
    moved = point[None, :] + transpositions_to_keys(roll)[:, None]  # the register once moved to each key
    about = moved - np.asarray(registers["means"], dtype=float)
    distance = np.einsum("ki,ij,kj->k", about, np.linalg.inv(np.asarray(registers["covariance"], dtype=float)), about)
    return np.exp(-0.5 * (distance - distance.min()))


KEY_STREAM = 7  # keys are drawn from their own random stream, apart from the latents


def choose_keys(
    request: str | None,
    seeds: list[tuple[int, int]],
    distribution: list[float] | None,
    rolls: list[np.ndarray] | None = None,
    registers: dict[str, list] | None = None,
) -> list[int | None]:
    """The key each piece moves to: one per (seed, piece index) in ``seeds``.

    ``request`` is a key name ('A minor'), ``"any"`` (each piece a key drawn uniformly
    from the 24), or None: keys drawn from ``distribution`` (the training data's share of
    each key, stored in a model trained key-normalised), or, without one, None for every
    piece, which leaves the keys as the generator wrote them. With the pieces' ``rolls``
    and the model's ``registers`` (``key_registers``), a drawn key is weighed as well by
    how likely the piece's register is among the data's windows in it, once moved there
    (``register_likelihoods``). Draws depend only on the seed, the piece's index and, so
    weighed, its notes.
    """
    if request is not None and request.strip().lower() != "any":
        return [parse_key(request)] * len(seeds)
    if request is None and distribution is None:
        return [None] * len(seeds)
    shares = np.full(24, 1 / 24) if request is not None else np.asarray(distribution, dtype=float)
    chosen: list[int | None] = []
    for k, (seed, index) in enumerate(seeds):
        weights = shares * register_likelihoods(rolls[k], registers) if request is None and registers and rolls is not None else shares
        chosen.append(int(np.random.default_rng([seed, index, KEY_STREAM]).choice(24, p=weights / weights.sum())))
    return chosen
