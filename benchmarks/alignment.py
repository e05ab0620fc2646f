"""Bar alignment and key estimation measured against POP909's own annotations.

Prints, for the POP909 songs in ../shared/data/pop909 (or --pop909 ROOT):
- beat agreement: share of songs whose annotated beats fall on column phase 0 (mod 4)
  after alignment (before it, for comparison);
- downbeat agreement: share of songs whose annotated downbeats fall on column 0 of a
  16-column bar after alignment, over all songs and over the songs whose annotated
  downbeats are 4 beats apart at least 95% of the time (the others change metre, or their
  annotation does, and no single bar fits them);
- pulse: share of 300-column windows whose onsets peak on column phase 0, before and after;
- keys: share of songs whose estimated key (all notes, duration-weighted) equals the
  annotated key of the song's longest key segment, for each key profile, and the same
  (relative keys counted apart) per window against the annotated key at the window's middle.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import symusic

from pianogan.io import midi
from pianogan.music import keys

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "pop909"


def tempo_map(score: symusic.Score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tick, seconds, seconds per tick) at each tempo change, starting at tick 0."""
    changes = [(t.time, t.mspq) for t in score.tempos] or [(0, 500000)]
    if changes[0][0] != 0:
        changes.insert(0, (0, 500000))
    ticks = np.array([c[0] for c in changes], dtype=float)
    per_tick = np.array([c[1] for c in changes], dtype=float) / 1e6 / score.ticks_per_quarter
    seconds = np.concatenate([[0.0], np.cumsum(np.diff(ticks) * per_tick[:-1])])
    return ticks, seconds, per_tick


def seconds_to_ticks(score: symusic.Score, times: np.ndarray) -> np.ndarray:
    ticks, seconds, per_tick = tempo_map(score)
    i = np.searchsorted(seconds, times, side="right") - 1
    return ticks[i] + (times - seconds[i]) / per_tick[i]


def ticks_to_seconds(score: symusic.Score, times: np.ndarray) -> np.ndarray:
    ticks, seconds, per_tick = tempo_map(score)
    i = np.searchsorted(ticks, times, side="right") - 1
    return seconds[i] + (times - ticks[i]) * per_tick[i]


def modal_phase(columns: np.ndarray, period: int) -> int:
    return int(np.bincount(columns % period, minlength=period).argmax())


def annotated_key(text: str) -> int | None:
    """'Gb:maj' -> key index; None for anything else."""
    tonic, _, mode = text.partition(":")
    try:
        return keys.parse_key(f"{tonic} {'minor' if mode.startswith('min') else 'major'}")
    except Exception:
        return None


def onset_phase_peaks(rolls: np.ndarray) -> np.ndarray:
    """Column phase (mod 4) where each window's onsets peak."""
    onsets = rolls.copy()
    onsets[..., 1:] &= ~rolls[..., :-1]
    per_column = onsets.sum(axis=1)
    return per_column.reshape(len(rolls), -1, 4).sum(axis=1).argmax(axis=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pop909", type=Path, default=DEFAULT_ROOT)
    args = parser.parse_args()
    songs = sorted((args.pop909 / "midi").glob("*.mid"))
    if not songs:
        print(f"no POP909 songs under {args.pop909}", file=sys.stderr)
        return 2
    beat = {"before": [], "after": []}
    downbeat, consistent, song_key = [], [], {name: [] for name in keys.PROFILES}
    window_key, peaks = [], {"before": [], "after": []}
    for path in songs:
        score = symusic.Score(str(path))
        tpq = score.ticks_per_quarter
        notes = path.parent.parent / "annotations" / path.stem
        beats = np.loadtxt(notes / "beat_midi.txt", ndmin=2)
        beat_ticks = seconds_to_ticks(score, beats[:, 0])
        down = beats[:, 2] == 1
        for when, align in (("before", False), ("after", True)):
            roll, stats = midi.read_midi(path, align=align)
            columns = np.round(4 * (beat_ticks + stats.alignment.shift_ticks) / tpq).astype(np.int64)
            beat[when].append(modal_phase(columns, 4) == 0)
            cut = midi.midi_to_windows(path, align=align)
            peaks[when].extend(onset_phase_peaks(np.stack([w for _, w in cut.windows])) == 0)
            if align:
                downbeat.append(beat[when][-1] and modal_phase(columns[down], 16) == 0)
                consistent.append(np.mean(np.diff(np.flatnonzero(down)) == 4) >= 0.95)
                segments = [line.split("\t") for line in (notes / "key_audio.txt").read_text().splitlines() if line.strip()]
                spans = [(float(b) - float(a), annotated_key(k), float(a), float(b)) for a, b, k in segments]
                truth = max(spans)[1]
                for name in keys.PROFILES:
                    song_key[name].append(int(keys.estimate_keys(roll, name)) == truth)
                for k, window in cut.windows:
                    middle_tick = (k * cut.stride + 150) * tpq / 4 - stats.alignment.shift_ticks
                    middle = float(ticks_to_seconds(score, np.array([middle_tick]))[0])
                    here = [key for _, key, a, b in spans if a <= middle < b]
                    if here and here[0] is not None:
                        window_key.append(int(keys.estimate_keys(window)) == here[0])
    downbeat, consistent = np.array(downbeat), np.array(consistent)
    print(f"songs: {len(songs)}")
    print(f"beat on column phase 0: before {np.mean(beat['before']):.3f}, after {np.mean(beat['after']):.3f}")
    print(
        f"downbeat on bar column 0: {np.mean(downbeat):.3f} of all songs, {np.mean(downbeat[consistent]):.3f} of the {consistent.sum()} with 4-beat annotated bars"
    )
    print(
        f"windows whose onsets peak on column phase 0: before {np.mean(peaks['before']):.3f} of {len(peaks['before'])}, after {np.mean(peaks['after']):.3f} of {len(peaks['after'])}"
    )
    for name, hits in song_key.items():
        print(f"song key = annotated main key, {name} profile: {np.mean(hits):.3f}")
    print(f"window key = annotated key at its middle ({keys.DEFAULT_PROFILE}): {np.mean(window_key):.3f} of {len(window_key)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
