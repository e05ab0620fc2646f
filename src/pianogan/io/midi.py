"""MIDI <-> roll on the file's own beat grid (symusic does the parsing and writing).

One column is a quarter of a quarter note in the file's ticks, whatever its tempo map, so
tempo changes never move a note between columns. A note from tick ``s`` to tick ``e``
lights the columns ``a = round(4 s / tpq)`` up to, not including,
``max(a + 1, round(4 e / tpq))`` (halves round up): every note lights at least one column.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import symusic

from pianogan.errors import MidiError, OptionError
from pianogan.io.atomic import write_bytes
from pianogan.music.alignment import NOT_ALIGNED, Alignment, bar_columns, estimate
from pianogan.roll import (
    COLUMNS_PER_QUARTER,
    DEFAULT_VELOCITY,
    LOWEST_PITCH,
    MAX_COLUMNS,
    N_PITCHES,
    VOICES,
    WINDOW,
    bar_stride,
    check_roll,
    check_window_width,
    cut_windows,
    window_count,
    windows,
)

OUTPUT_TPQ = 480
OUTPUT_QPM = 120.0
MIN_QPM, MAX_QPM = 20.0, 400.0  # tempos a written file may have, in quarter notes per minute
SUSTAIN_CONTROLLER = 64


@dataclass(frozen=True)
class MidiStats:
    """What reading one file kept and dropped, for reports."""

    ticks_per_quarter: int
    notes: int  # notes painted into the roll
    dropped_out_of_range: int  # pitches outside 21..126
    dropped_drums: int  # notes on drum tracks
    first_qpm: float  # tempo at tick 0 (120 when the file has none): seconds shown to people
    alignment: Alignment = NOT_ALIGNED  # the bar alignment applied (``read_midi(align=True)``)
    melody_from: str | None = None  # with ``voices``: "tracks" (a MELODY track) or "top voice"

    @property
    def seconds_per_column(self) -> float:
        return 60.0 / self.first_qpm / COLUMNS_PER_QUARTER


def tick_to_column(ticks: np.ndarray, tpq: int) -> np.ndarray:
    """``round(4 * ticks / tpq)`` with halves rounded up, in exact integer arithmetic."""
    ticks = np.asarray(ticks, dtype=np.int64)
    return (2 * COLUMNS_PER_QUARTER * ticks + tpq) // (2 * tpq)


def load_score(path: str | os.PathLike) -> symusic.Score:
    """Parse a MIDI file, turning every kind of unreadable file into a one-line error.

    The bytes are parsed as MIDI whatever the file's extension: symusic's own file
    loader picks the format from the extension and refuses names such as 'song.Midi'.
    Files whose times symusic cannot hold (see ``check_tick_range``) and timecode-based
    files (no ticks per quarter note) are refused, because their times would be wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise MidiError(f"{path}: no such file")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise MidiError(f"{path}: cannot be read ({error.strerror or error})") from None
    try:
        score = symusic.Score.from_midi(data)
    except Exception as error:  # symusic raises RuntimeError with a C++ message
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise MidiError(f"{path}: not a readable MIDI file ({reason})") from None
    if score.ticks_per_quarter <= 0:
        raise MidiError(f"{path}: ticks per quarter note is {score.ticks_per_quarter}; timecode-based MIDI is not supported")
    check_tick_range(data, path)
    return score


# symusic holds times as 32-bit signed ticks: a later event wraps to a negative time, and
# one past 2**32 to a small positive one, which would move it silently to the start.
MAX_TICK = (1 << 31) - 1
_MAX_DELTA_BYTES = 4  # symusic reads at most 4 bytes of a delta time, as the standard allows


def check_tick_range(data: bytes, path: str | os.PathLike) -> None:
    """Raise a one-line error when an event of the MIDI file ``data`` lies beyond ``MAX_TICK``.

    A track's last event lies at the sum of its delta times. That sum is bounded cheaply
    from the bytes alone (``_tick_bound``); only a track whose bound is too large, which
    normal files almost never have, is walked event by event (``_track_end``).
    """
    array = np.frombuffer(data, dtype=np.uint8)
    for start, stop in _track_chunks(data):
        if _tick_bound(array[start:stop]) > MAX_TICK and (end := _track_end(data, start, stop)) > MAX_TICK:
            raise MidiError(f"{path}: an event lies at tick {end}, beyond the {MAX_TICK} ticks a MIDI time may reach here; the file's times look corrupt")


def _track_chunks(data: bytes) -> list[tuple[int, int]]:
    """``(start, stop)`` of the bytes of each ``MTrk`` chunk (cut at the end of the file)."""
    chunks, position = [], 14  # after the MThd header chunk
    while position + 8 <= len(data):
        size = int.from_bytes(data[position + 4 : position + 8], "big")
        start, position = position + 8, min(len(data), position + 8 + size)
        if data[start - 8 : start - 4] == b"MTrk":
            chunks.append((start, position))
    return chunks


def _tick_bound(track: np.ndarray) -> float:
    """An upper bound of the sum of a track's delta times, from its bytes alone.

    A delta time is 1 to 4 bytes, all but the last with the high bit set, and worth less
    than ``2**(7 * length)``. Every delta starts at a byte below 0x80 (worth < 2**7) or
    inside a run of high bytes: one delta of a run of r <= 3 such bytes ends at the byte
    after it (< 2**(7 * (r + 1))); a longer run holds at most r deltas (< 2**28 each).
    """
    high = track >= 0x80
    low = np.flatnonzero(~high)
    runs = np.diff(low, prepend=-1) - 1  # high bytes just before each low byte
    trailing = len(track) - 1 - (int(low[-1]) if len(low) else -1)
    short = np.bincount(np.minimum(runs, _MAX_DELTA_BYTES), minlength=_MAX_DELTA_BYTES + 1)[1:_MAX_DELTA_BYTES]
    weights = 2.0 ** (7 * np.arange(2, _MAX_DELTA_BYTES + 1))
    long_runs = int(runs[runs >= _MAX_DELTA_BYTES].sum()) + trailing
    return len(low) * 2.0**7 + float(short @ weights) + long_runs * 2.0 ** (7 * _MAX_DELTA_BYTES)


def _track_end(data: bytes, start: int, stop: int) -> int:
    """The exact sum of a track's delta times, reading its events as symusic does."""
    position, total, running = start, 0, 0

    def number() -> int:
        nonlocal position
        value = 0
        for _ in range(_MAX_DELTA_BYTES):
            if position >= stop:
                break
            byte = data[position]
            position += 1
            value = (value << 7) | (byte & 0x7F)
            if byte < 0x80:
                break
        return value

    while position < stop:
        total += number()
        if position >= stop:
            break
        status = data[position]
        if status >= 0x80:
            position += 1
        else:
            status = running  # running status: the data bytes follow at once
        if status == 0xFF:
            position += 1  # meta type
        if status in (0xFF, 0xF0, 0xF7):  # meta and system exclusive events: a length, then data
            length = number()
            position += length
        else:
            running = status
            position += 1 if 0xC0 <= status < 0xE0 else 2
    return total


def _pedal_ends(track: symusic.Track, starts: np.ndarray, ends: np.ndarray, piece_end: int) -> np.ndarray:
    """Sustain-pedal release time for each note end, or -1 where the pedal is up at that end."""
    controls = track.controls.numpy() if len(track.controls) else None
    if controls is None:
        return np.full(len(ends), -1, dtype=np.int64)
    is_sustain = controls["number"] == SUSTAIN_CONTROLLER
    times = controls["time"][is_sustain].astype(np.int64)
    down = controls["value"][is_sustain] >= 64
    order = np.argsort(times, kind="stable")
    times, down = times[order], down[order]
    if len(times) == 0:
        return np.full(len(ends), -1, dtype=np.int64)
    # release_after[i]: time of the first pedal-up event after event i (piece end if none).
    release_after = np.empty(len(times), dtype=np.int64)
    next_release = piece_end
    for i in range(len(times) - 1, -1, -1):
        release_after[i] = next_release
        if not down[i]:
            next_release = times[i]
    last_event = np.searchsorted(times, ends, side="right") - 1
    pedal_down = (last_event >= 0) & down[np.maximum(last_event, 0)]
    return np.where(pedal_down, release_after[np.maximum(last_event, 0)], -1)


def read_midi(path: str | os.PathLike, pedal: bool = False, align: bool = False, voices: bool = False) -> tuple[np.ndarray, MidiStats]:
    """Read a MIDI file into a whole-piece roll (bool, 106 x T) and what was dropped.

    All non-drum tracks are merged; drum notes and pitches outside 21..126 are dropped
    and counted. With ``pedal``, a note that ends while the sustain pedal (controller 64
    >= 64, on its own track) is down lasts until the pedal is released or until the next
    onset of the same pitch, whichever comes first. With ``align``, every note moves later
    by the whole number of ticks that puts the piece's sixteenth grid on the column lines
    and a downbeat on a multiple of the bar (``alignment.estimate``; nothing moves in a
    file without a steady grid). T is the last sounding column + 1 (0 for a file with no
    notes in range).

    With ``voices`` the roll is a uint8 voice mask instead: bit ``i`` of a pixel is set
    where voice ``VOICES[i]`` sounds (``voice_masks``), and any non-zero pixel sounds.
    """
    score = load_score(path)
    tpq = score.ticks_per_quarter
    tracks, drums = [], 0
    for track in score.tracks:
        if len(track.notes) == 0:
            continue
        if track.is_drum:
            drums += len(track.notes)
            continue
        notes = track.notes.numpy()
        start = notes["time"].astype(np.int64)
        tracks.append((track, start, start + np.maximum(notes["duration"].astype(np.int64), 0), notes["pitch"].astype(np.int64)))
    track_voices = np.concatenate([np.full(len(t[1]), track_voice(t[0].name)) for t in tracks]) if tracks else np.zeros(0, np.int64)
    if tracks:
        starts = np.concatenate([t[1] for t in tracks])
        ends = np.concatenate([t[2] for t in tracks])
        pitches = np.concatenate([t[3] for t in tracks])
    else:
        starts = ends = pitches = np.zeros(0, dtype=np.int64)
    if pedal and len(starts):
        ends = _sustain(tracks, starts, ends, pitches)
    alignment = estimate(starts, ends, pitches, tpq, _bar_of(score)) if align else NOT_ALIGNED
    starts, ends = starts + alignment.shift_ticks, ends + alignment.shift_ticks
    in_range = (pitches >= LOWEST_PITCH) & (pitches < LOWEST_PITCH + N_PITCHES)
    rows = pitches[in_range] - LOWEST_PITCH
    first = tick_to_column(starts[in_range], tpq)
    last = np.maximum(first + 1, tick_to_column(ends[in_range], tpq))
    if len(last) and last.max() > MAX_COLUMNS:
        raise MidiError(
            f"{path}: a note ends at column {int(last.max())} (quarter note {int(last.max()) // COLUMNS_PER_QUARTER}), "
            f"beyond the {MAX_COLUMNS} columns a piece may span; the file's times look corrupt"
        )
    roll = paint(rows, first, last)
    qpm = float(score.tempos[0].qpm) if len(score.tempos) and score.tempos[0].time == 0 else 120.0
    melody_from = None
    if voices:
        melody_from = "tracks" if (track_voices == 0).any() else "top voice"
        roll = voice_masks(rows, first, last, track_voices[in_range], roll.shape[1])
    stats = MidiStats(tpq, int(in_range.sum()), int((~in_range).sum()), drums, qpm, alignment, melody_from)
    return roll, stats


def track_voice(name: str) -> int:
    """The voice (index into ``VOICES``) of a track, by POP909's track names; any other track accompanies."""
    upper = name.upper()
    return 0 if "MELODY" in upper else 1 if "BRIDGE" in upper else 2


def voice_masks(rows: np.ndarray, first: np.ndarray, last: np.ndarray, voices: np.ndarray, width: int) -> np.ndarray:
    """Paint each voice's notes into its bit of a uint8 roll (106, width).

    Without a melody track the melody is the top voice: each column's highest sounding
    pitch, taken out of the accompaniment (the usual way to find a tune in a piano part).
    """
    masks = np.zeros((N_PITCHES, width), dtype=np.uint8)
    for voice in range(len(VOICES)):
        mine = voices == voice
        if mine.any():
            masks[:, : int(last[mine].max())] |= paint(rows[mine], first[mine], last[mine]).astype(np.uint8) << voice
    if width and not (voices == 0).any():
        sounding = masks > 0
        top = N_PITCHES - 1 - np.argmax(sounding[::-1], axis=0)
        columns = np.flatnonzero(sounding.any(axis=0))
        masks[top[columns], columns] = 1
    return masks


def _bar_of(score: symusic.Score) -> int:
    """Columns per bar from the first time signature, for triple and compound metres only.

    Converted files often carry a placeholder signature (617 of POP909's 909 songs say 1/4
    and 28 say 2/4 while their annotated bars hold four beats), so only 3/x, 6/x, 9/x and
    12/x change the bar from 4/4.
    """
    signatures = score.time_signatures
    if len(signatures) and signatures[0].numerator % 3 == 0:
        return bar_columns(signatures[0].numerator, signatures[0].denominator)
    return bar_columns(4, 4)


class PieceWindows(NamedTuple):
    """The non-silent windows of one MIDI file, how many windows it spans, and its stats."""

    windows: list[tuple[int, np.ndarray]]  # (k, window): window k covers columns k*stride ...
    total: int  # windows the piece spans, silent ones included
    stats: MidiStats
    stride: int  # columns between window starts: the width, or whole bars when aligned
    voice_masks: np.ndarray | None = None  # uint8 (len(windows), 106, columns) with ``voices``


def midi_to_windows(path: str | os.PathLike, columns: int = WINDOW, pedal: bool = False, align: bool = False, voices: bool = False) -> PieceWindows:
    """Read a MIDI file and cut it into windows of ``columns`` columns (see ``roll.windows``).

    An aligned piece is cut every whole number of bars (288 columns for 300-column
    windows in 4/4), so every window starts on beat 1. ``midi2img`` and dataset
    preparation share this, so an image ``<stem>_<k>.png`` and window ``k`` of a dataset
    always hold the same music. With ``voices``, ``voice_masks`` holds the same windows'
    voice masks (see ``read_midi``).
    """
    check_window_width(columns)
    roll, stats = read_midi(path, pedal=pedal, align=align, voices=voices)
    stride = bar_stride(columns, stats.alignment.bar_columns) if stats.alignment.aligned else columns
    cut = windows(roll > 0, columns, stride)
    masks = cut_windows(roll, [k for k, _ in cut], columns, stride) if voices else None
    return PieceWindows(cut, window_count(roll.shape[1], columns, stride), stats, stride, masks)


def _sustain(tracks, starts: np.ndarray, ends: np.ndarray, pitches: np.ndarray) -> np.ndarray:
    """Apply the sustain pedal to note ends (see ``read_midi``)."""
    piece_end = int(ends.max())
    release = np.concatenate([_pedal_ends(t[0], t[1], t[2], piece_end) for t in tracks])
    # Next onset of the same pitch after each note's own onset (across all merged tracks).
    order = np.lexsort((starts, pitches))
    sorted_starts, sorted_pitches = starts[order], pitches[order]
    next_onset_sorted = np.full(len(order), np.iinfo(np.int64).max)
    # For each note, the first later note of the same pitch with a strictly later onset.
    key = sorted_pitches * (int(sorted_starts.max()) + 2) + sorted_starts
    later = np.searchsorted(key, key, side="right")
    same_pitch = later < len(order)
    same_pitch[same_pitch] = sorted_pitches[later[same_pitch]] == sorted_pitches[same_pitch]
    next_onset_sorted[same_pitch] = sorted_starts[later[same_pitch]]
    next_onset = np.empty_like(next_onset_sorted)
    next_onset[order] = next_onset_sorted
    held = release >= 0
    extended = np.minimum(release, next_onset)
    return np.where(held, np.maximum(ends, extended), ends)


def paint(rows: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """Light columns ``first[i] <= c < last[i]`` of row ``rows[i]`` for every note ``i``."""
    width = int(last.max()) if len(last) else 0
    stride = width + 1
    flat_starts = rows * stride + first
    flat_ends = rows * stride + last
    size = N_PITCHES * stride
    edges = np.bincount(flat_starts, minlength=size) - np.bincount(flat_ends, minlength=size)
    return np.cumsum(edges.reshape(N_PITCHES, stride), axis=1)[:, :width] > 0


def roll_notes(roll: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each maximal horizontal run of lit pixels as a note: (rows, first column, length)."""
    roll = check_roll(roll)
    padded = np.zeros((roll.shape[0], roll.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = roll
    edges = np.diff(padded, axis=1)
    rows, first = np.nonzero(edges == 1)
    _, after = np.nonzero(edges == -1)
    return rows, first, after - first


def check_qpm(qpm: float, parameter: str = "bpm") -> float:
    """``qpm`` as a float if it is a tempo a file may have, else an ``OptionError`` naming ``parameter``."""
    if not MIN_QPM <= qpm <= MAX_QPM:  # also refuses NaN
        raise OptionError(parameter, f"must be {MIN_QPM:g}..{MAX_QPM:g} beats per minute, got {qpm}")
    return float(qpm)


def roll_to_score(roll: np.ndarray, velocity: int = DEFAULT_VELOCITY, qpm: float = OUTPUT_QPM) -> symusic.Score:
    """A roll as a one-track piano score at ``qpm`` beats per minute (480 ticks per quarter).

    Each run of lit pixels becomes one note starting at ``column / 4`` quarter notes and
    lasting ``run / 4`` quarter notes, so reading the score back gives the same roll at
    any tempo; the tempo only sets how long a column lasts when it is played.
    """
    if not 1 <= velocity <= 127:
        raise OptionError("velocity", f"must be 1..127, got {velocity}")
    check_qpm(qpm, "qpm")
    rows, first, length = roll_notes(roll)
    ticks_per_column = OUTPUT_TPQ // COLUMNS_PER_QUARTER
    order = np.lexsort((rows, first))
    score = symusic.Score(OUTPUT_TPQ)
    score.tempos.append(symusic.Tempo(0, qpm=qpm))
    track = symusic.Track("Piano", 0, False)
    track.notes.extend(
        symusic.Note.from_numpy(
            (first[order] * ticks_per_column).astype(np.int32),
            (length[order] * ticks_per_column).astype(np.int32),
            (rows[order] + LOWEST_PITCH).astype(np.int8),
            np.full(len(order), velocity, dtype=np.int8),
        )
    )
    score.tracks.append(track)
    return score


def write_midi(roll: np.ndarray, path: str | os.PathLike, velocity: int = DEFAULT_VELOCITY, qpm: float = OUTPUT_QPM) -> None:
    """Write a roll as a MIDI file (see ``roll_to_score``), atomically.

    The file is made in memory and written with a size check: symusic's ``dump_midi``
    reports nothing when the disk is full and leaves an empty file.
    """
    write_bytes(path, roll_to_score(roll, velocity, qpm).dumps_midi())
