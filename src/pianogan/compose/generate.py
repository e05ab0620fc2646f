"""Sample pieces from a generator: latents, long pieces, interpolation, and a run's files.

Latents come from ``numpy.random.default_rng(seed)``: piece ``k`` draws its own stream
(``spawn``), so a piece depends only on the seed and its index, never on how many pieces
were asked for, and its first latent is the same at every length.

A piece longer than one window is a row of windows along a smooth latent path: window
``j`` sits at position ``j / WINDOWS_PER_ANCHOR`` on a path that slerps from one random
anchor to the next. Consecutive windows overlap by a quarter of a window (75 columns of
300) and are cross-faded in probability space before thresholding, so notes that both
windows play continue across the seam and the others hand over in the middle of it.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np

from pianogan.compose.page import PICTURE_SUFFIX
from pianogan.compose.piece import Piece
from pianogan.errors import OptionError, ShapeError
from pianogan.io import atomic
from pianogan.io.midi import OUTPUT_QPM, check_qpm, write_midi
from pianogan.io.outputs import Outputs
from pianogan.models.sampling import BATCH, latent_dim, probabilities, window_width
from pianogan.music.strays import decide_notes
from pianogan.roll import DEFAULT_VELOCITY, MAX_COLUMNS, WINDOW, check_roll

WINDOWS_PER_ANCHOR = 2  # a new random anchor every 2 windows (450 columns, ~56 s)
MAX_TOTAL_COLUMNS = 10_000 * WINDOW  # columns of all pieces of a run: 10,000 pieces of one window


def check_options(
    n: int, seed: int, length: int | None, threshold: float, velocity: int = DEFAULT_VELOCITY, interpolating: bool = False, bpm: float = OUTPUT_QPM
) -> None:
    """``OptionError`` for options no generator could satisfy (checked before loading it)."""
    check_qpm(bpm)
    if n < 1:
        raise OptionError("n", f"must be at least 1, got {n}")
    if interpolating and n < 2:
        raise OptionError("interpolate", f"needs {{n}} of at least 2 pieces, got {n}", mentions=["n"])
    if seed < 0:
        raise OptionError("seed", f"must be 0 or more, got {seed}")
    if length is not None and not 1 <= length <= MAX_COLUMNS:
        raise OptionError("length", f"must be 1..{MAX_COLUMNS} columns, got {length}")
    if n * (length or WINDOW) > MAX_TOTAL_COLUMNS:
        raise OptionError(
            "n", f"{n} pieces of {length or WINDOW} columns are more than the {MAX_TOTAL_COLUMNS:,} columns (about 300 MB of rolls) one run may make"
        )
    if not 0.0 < threshold < 1.0:
        raise OptionError("threshold", f"must lie strictly between 0 and 1, got {threshold}")
    if not 1 <= velocity <= 127:
        raise OptionError("velocity", f"must be 1..127, got {velocity}")


# --- latent paths -------------------------------------------------------------------


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between latents ``a`` and ``b`` (last axis), ``t`` in [0, 1].

    Gaussian latents live near a sphere; a straight line between two of them passes
    closer to the origin, where a generator has seen few samples (White 2016, "Sampling
    generative networks"). ``t = 0`` gives ``a`` and ``t = 1`` gives ``b`` exactly.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    norms = np.linalg.norm(a, axis=-1, keepdims=True) * np.linalg.norm(b, axis=-1, keepdims=True)
    cos = np.clip(np.sum(a * b, axis=-1, keepdims=True) / np.maximum(norms, 1e-12), -1.0, 1.0)
    omega = np.arccos(cos)
    sin = np.sin(omega)
    safe = sin > 1e-6
    sin_safe = np.where(safe, sin, 1.0)
    wa = np.where(safe, np.sin((1.0 - t) * omega) / sin_safe, 1.0 - t)
    wb = np.where(safe, np.sin(t * omega) / sin_safe, t)
    return wa * a + wb * b


def window_count(length: int, width: int) -> int:
    """Windows needed for ``length`` columns when they overlap by ``overlap_of(width)``."""
    if length <= width:
        return 1
    step = width - overlap_of(width)
    return math.ceil((length - overlap_of(width)) / step)


def overlap_of(width: int) -> int:
    """Columns shared by consecutive windows: a quarter of a window (75 of 300)."""
    return width // 4


def anchors(seed: int, count: int, n_anchors: int, latent_dim: int) -> np.ndarray:
    """Random anchors ``(count, n_anchors, latent_dim)``, N(0, 1): piece k from its own stream."""
    streams = np.random.default_rng(seed).spawn(count)
    return np.stack([stream.standard_normal((n_anchors, latent_dim)) for stream in streams])


def anchors_needed(windows: int) -> int:
    return (windows - 1 + WINDOWS_PER_ANCHOR - 1) // WINDOWS_PER_ANCHOR + 1


def path_latents(piece_anchors: np.ndarray, windows: int) -> np.ndarray:
    """Latent of each window ``(windows, d)`` along the slerp path through the anchors."""
    latents = []
    for j in range(windows):
        i, step = divmod(j, WINDOWS_PER_ANCHOR)
        if step == 0:
            latents.append(piece_anchors[i])
        else:
            latents.append(slerp(piece_anchors[i], piece_anchors[i + 1], step / WINDOWS_PER_ANCHOR))
    return np.stack(latents)


def join_windows(windows: np.ndarray, length: int, threshold: float = 0.5) -> np.ndarray:
    """Join overlapping window probabilities ``(m, 106, W)`` into a roll ``(106, length)``.

    Window ``j`` starts at column ``j * (W - O)`` with ``O = overlap_of(W)``. In each
    overlap the next window's weight rises linearly, ``(i + 0.5) / O`` at the overlap's
    ``i``-th column, and the previous one's falls by as much, so the weights sum to 1.
    The blend is decided into notes (``music.strays.decide_notes``). Where that leaves an
    overlap column silent although one of the two windows alone plays there, the column is
    taken from that window as it decides alone, the one with the larger weight (or the other
    one if that is silent): a seam is never silent unless both windows are.
    """
    count, rows, width = windows.shape
    overlap = overlap_of(width) if count > 1 else 0
    step = width - overlap
    total = (count - 1) * step + width
    if total < length:
        raise ValueError(f"{count} windows of {width} columns cover {total} columns, not {length}")
    rise = (np.arange(overlap) + 0.5) / overlap
    blend = np.zeros((rows, total), dtype=np.float64)
    for j, window in enumerate(windows):
        weight = np.ones(width)
        if j > 0:
            weight[:overlap] = rise
        if j < count - 1:
            weight[width - overlap :] = 1.0 - rise
        blend[:, j * step : j * step + width] += weight * window
    roll = decide_notes(blend, threshold)
    decided = decide_notes(windows, threshold)
    for j in range(count - 1):
        start = (j + 1) * step
        before = decided[j][:, step:]
        after = decided[j + 1][:, :overlap]
        seam = roll[:, start : start + overlap]
        silent = ~seam.any(axis=0)
        dominant = np.where(rise > 0.5, after, before)
        other = np.where(rise > 0.5, before, after)
        fill = np.where(dominant.any(axis=0), dominant, other)
        seam[:, silent] = fill[:, silent]
    return roll[:, :length]


def _pieces_from_anchors(model, piece_anchors: np.ndarray, length: int | None, threshold: float, origins: list[dict], progress: bool) -> list[Piece]:
    from tqdm import tqdm

    width = window_width(model)
    length = width if length is None else length
    windows = window_count(length, width)
    paths = [path_latents(a, windows) for a in piece_anchors]
    per_call = max(1, BATCH // windows)  # pieces whose windows fill one generator call
    pieces = []
    with tqdm(total=len(paths), unit="piece", desc="generate", disable=not progress) as bar:
        for first in range(0, len(paths), per_call):
            group = paths[first : first + per_call]
            probs = probabilities(model, np.concatenate(group))
            for k, latents in enumerate(group):
                roll = join_windows(probs[k * windows : (k + 1) * windows], length, threshold)
                pieces.append(Piece(roll, latents, origins[first + k]))
            bar.update(len(group))
    return pieces


def sample(model, n: int = 4, seed: int = 0, length: int | None = None, threshold: float = 0.5, progress: bool = False) -> list[Piece]:
    """Sample ``n`` pieces of ``length`` columns (default: one window) from ``model``.

    The same model, seed and options give the same rolls (float32 on the CPU).
    """
    check_options(n, seed, length, threshold)
    width = window_width(model)
    windows = window_count(width if length is None else length, width)
    piece_anchors = anchors(seed, n, anchors_needed(windows), latent_dim(model))
    origins = [{"seed": seed, "index": k} for k in range(n)]
    return _pieces_from_anchors(model, piece_anchors, length, threshold, origins, progress)


def pieces_from_latents(model, latents: np.ndarray, seed: int = 0, length: int | None = None, threshold: float = 0.5, progress: bool = False) -> list[Piece]:
    """One piece per latent ``(n, d)``: each latent is the piece's first anchor.

    A piece longer than one window continues along the anchors that ``sample`` would
    draw for piece ``k`` of ``seed``, so ``pieces_from_latents(model, [z], seed=s)``
    with ``z`` the first latent of ``sample(seed=s)[0]`` is that very piece; moving
    ``z`` changes how it begins and keeps where it goes.
    """
    latents = np.atleast_2d(np.asarray(latents, dtype=np.float64))
    check_options(len(latents), seed, length, threshold)
    if latents.shape[1] != latent_dim(model) or not np.isfinite(latents).all():
        raise ShapeError(f"a latent must be {latent_dim(model)} finite numbers, got shape {latents.shape[1:]}")
    width = window_width(model)
    piece_anchors = anchors(seed, len(latents), anchors_needed(window_count(width if length is None else length, width)), latent_dim(model))
    piece_anchors[:, 0] = latents
    origins = [{"latent": [round(float(v), 6) for v in z], "seed": seed} for z in latents]
    return _pieces_from_anchors(model, piece_anchors, length, threshold, origins, progress)


def interpolate(
    model,
    seed_a: int,
    seed_b: int,
    n: int = 4,
    length: int | None = None,
    threshold: float = 0.5,
    progress: bool = False,
) -> list[Piece]:
    """``n`` pieces stepping from seed A's first piece to seed B's, by slerp of their latents.

    Piece ``k`` sits at ``t = k / (n - 1)``; every anchor of its latent path is the slerp
    of the corresponding anchors of the two end pieces, so the first and last pieces
    are exactly ``sample(seed=a)[0]`` and ``sample(seed=b)[0]`` (long pieces included).
    """
    for seed in (seed_a, seed_b):
        check_options(n, seed, length, threshold, interpolating=True)
    width = window_width(model)
    count = anchors_needed(window_count(width if length is None else length, width))
    start, end = (anchors(seed, 1, count, latent_dim(model))[0] for seed in (seed_a, seed_b))
    steps = [k / (n - 1) for k in range(n)]
    piece_anchors = np.stack([slerp(start, end, t) for t in steps])
    origins = [{"from_seed": seed_a, "to_seed": seed_b, "t": t} for t in steps]
    return _pieces_from_anchors(model, piece_anchors, length, threshold, origins, progress)


# --- a run's files ------------------------------------------------------------------


def piece_names(n: int) -> list[str]:
    """``piece_000``, ``piece_001``, ... (more digits when there are over 1,000 pieces)."""
    digits = max(3, len(str(n - 1)))
    return [f"piece_{k:0{digits}d}" for k in range(n)]


OUTPUT_GROUP = "generate"  # the group of every file a run writes (see ``pianogan.io.outputs``)


def output_names(n: int, audio: bool, silent: frozenset[int] = frozenset()) -> list[str]:
    """The files ``write_pieces`` writes for ``n`` pieces (no WAV for the ``silent`` ones)."""
    names = ["pieces.json", "index.html"]
    for k, name in enumerate(piece_names(n)):
        names += [f"{name}.png", f"{name}.mid", f"{name}{PICTURE_SUFFIX}"] + ([f"{name}.wav"] if audio and k not in silent else [])
    return names


def check_output_dir(out_dir: str | os.PathLike, n: int, audio: bool) -> Outputs:
    """The output folder, once no file a run of ``n`` pieces writes belongs to someone else.

    Raises a one-line error when ``out_dir`` or a folder above it is a file, when it
    holds a file of one of those names that pianogan did not write, or when it cannot be
    written (``Outputs.probe``); nothing is created.
    """
    outputs = Outputs.at(out_dir)
    outputs.adopt(_files_of_an_earlier_run(outputs.folder), OUTPUT_GROUP)
    outputs.check(output_names(n, audio))
    return outputs.probe()


def _files_of_an_earlier_run(out_dir: Path) -> list[str]:
    """The files an earlier run's ``pieces.json`` in ``out_dir`` says it wrote (none if it has none)."""
    try:
        summary = json.loads((out_dir / "pieces.json").read_text(encoding="utf-8"))
        records = summary["pieces"]
        files = [name for record in records for name in record["files"].values() if isinstance(name, str)]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        return []
    return ["pieces.json", "index.html", *files]


def write_pieces(
    pieces: list[Piece],
    out_dir: str | os.PathLike,
    settings: dict,
    soundfont: str | os.PathLike | None = None,
    progress: bool = False,
    nearest: list[dict] | None = None,
) -> tuple[dict, list[str]]:
    """Write every piece's files, ``pieces.json`` and ``index.html`` into ``out_dir``.

    ``settings`` comes from ``run_settings`` and its options set the MIDI velocity and
    whether to make audio. Per piece: ``NAME.png`` (the roll in the training PNG
    format), ``NAME.mid`` (at the piece's tempo), ``NAME_roll.webp`` (a picture for
    people: not a PNG, so ``img2midi DIR`` and other batch commands that take every PNG
    in a folder see only the rolls) and ``NAME.wav``; all MIDI files are rendered in one
    call so the SoundFont loads once. A silent piece gets no WAV. ``nearest`` (one dict
    per piece from ``originality``) is recorded as each piece's ``nearest_training``.
    Files of an earlier run in ``out_dir`` that this one does not write again are
    removed, so the page never sits beside pieces it does not show; files pianogan did
    not write are left alone, and one of them with the name of an output is an error
    before anything is written. Returns the ``pieces.json`` content and one line per
    piece whose audio failed.
    """
    options = settings["options"]
    silent = frozenset(k for k, piece in enumerate(pieces) if not piece.roll.any())
    names = output_names(len(pieces), options["audio"], silent)
    outputs = check_output_dir(out_dir, len(pieces), options["audio"]).create()
    with outputs.writing(names, OUTPUT_GROUP):
        summary, problems = _write_files(pieces, outputs.folder, settings, soundfont, progress, nearest)
        removed = outputs.remove_stale(lambda group: group == OUTPUT_GROUP)
    outputs.report(removed)
    return summary, problems


def _write_files(pieces: list[Piece], out_dir: Path, settings: dict, soundfont, progress: bool, nearest: list[dict] | None) -> tuple[dict, list[str]]:
    """Write the files ``write_pieces`` describes."""
    from tqdm import tqdm

    from pianogan.compose import page
    from pianogan.io.png import write_png

    options = settings["options"]
    records = []
    for name, piece in tqdm(list(zip(piece_names(len(pieces)), pieces)), unit="piece", desc="write", disable=not progress):
        roll = check_roll(piece.roll, name)
        write_png(roll, out_dir / f"{name}.png")
        write_midi(roll, out_dir / f"{name}.mid", options["velocity"], piece.bpm)
        page.write_picture(roll, out_dir / f"{name}{PICTURE_SUFFIX}")
        records.append(
            {
                "name": name,
                "files": {"roll": f"{name}.png", "midi": f"{name}.mid", "picture": f"{name}{PICTURE_SUFFIX}", "wav": None},
                "origin": piece.origin,
                "notes": piece.notes,
                "key": piece.key,
                "transposition": piece.transposition,
                "lit_share": round(piece.lit_share, 6),
                "columns": int(roll.shape[1]),
                "bpm": piece.bpm,
                "seconds": piece.seconds,
                "latents": piece.latents.tolist(),
            }
        )
        if nearest is not None:
            records[-1]["nearest_training"] = nearest[len(records) - 1]
    problems = _render_audio(records, pieces, out_dir, soundfont, progress) if options["audio"] else []
    summary = {**settings, "pieces": records}
    atomic.write_text(out_dir / "pieces.json", to_json(summary))
    page.write_page(summary, out_dir / "index.html")
    return summary, problems


def run_settings(
    model_path: str | os.PathLike,
    seed: int | None,
    n: int,
    length: int,
    threshold: float,
    velocity: int = DEFAULT_VELOCITY,
    interpolate: tuple[int, int] | None = None,
    audio: bool = True,
    key: str | None = None,
    bpm: float = OUTPUT_QPM,
) -> dict:
    """The settings part of ``pieces.json``: enough to make the same pieces again."""
    return {
        "model": str(model_path),
        "seed": None if interpolate else seed,
        "options": {
            "n": n,
            "length": length,
            "threshold": threshold,
            "velocity": velocity,
            "interpolate": list(interpolate) if interpolate else None,
            "audio": audio,
            "key": key,
            "bpm": bpm,
        },
    }


def to_json(summary: dict) -> str:
    """``summary`` as indented JSON with each list of numbers (a latent) on one line."""
    text = json.dumps(summary, indent=1)
    return re.sub(r"\[\s+([-+0-9.eE,\s]+?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n"


def _render_audio(records: list[dict], pieces: list[Piece], out_dir: Path, soundfont, progress: bool) -> list[str]:
    """Render the MIDI of every non-silent piece in one call; note each WAV in its record."""
    from pianogan.io import audio

    sounding = [r for r, p in zip(records, pieces) if p.roll.any()]
    if not sounding:
        return []
    results = audio.render_many([out_dir / r["files"]["midi"] for r in sounding], out_dir, soundfont, progress=progress)
    by_midi = {Path(result.midi).name: result for result in results}
    problems = []
    for record in sounding:
        result = by_midi[record["files"]["midi"]]
        if result.error:
            problems.append(result.error)
        else:
            record["files"]["wav"] = Path(result.wav).name
    return problems
