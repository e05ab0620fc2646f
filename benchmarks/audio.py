"""Benchmark MIDI -> WAV: one FluidSynth process per file vs pianogan's batch vs the fallback.

Renders N generated piano pieces (default 10 x 37.5 s, one training window each: a melody
in eighths over a chord every half bar, sustain-free) and prints the seconds of each way
side by side, with the speed-up over the midi2audio way and the speed in seconds of music
per second, in wall time and in CPU time (this process and its FluidSynth children: the
fairer figure on a busy machine):

- ``fluidsynth per file (midi2audio)``: ``fluidsynth -ni -F out.wav font.sf2 in.mid`` per
  file, as midi2audio runs it: FluidSynth starts and loads the whole SoundFont each time.
- ``fluidsynth per file (render_midi)``: pianogan's pipeline called once per file (load
  only the presets played, float output, tail cut, normalised).
- ``fluidsynth batch (render_many)``: pianogan's pipeline on all files at once: the files
  are joined with gaps into one MIDI file per core, each rendered by one FluidSynth process
  (the SoundFont loaded once per process), then cut apart.
- ``fallback (render_many)``: TinySoundFont with the TimGM6mb SoundFont from pretty_midi.

    python benchmarks/audio.py [--files 10] [--columns 300] [--repeat 2] [--soundfont SF2]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from pianogan import roll
from pianogan.io import audio, midi

PROGRESSION = [(0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12)]  # I V vi IV in C
MAJOR = [0, 2, 4, 5, 7, 9, 11]


def piece(rng: np.random.Generator, columns: int) -> np.ndarray:
    """A piano roll: a chord per half bar (8 columns) low, a random-walk melody in eighths high."""
    piano = np.zeros((roll.N_PITCHES, columns), dtype=bool)
    degree = 7
    for start in range(0, columns, 8):
        for interval in PROGRESSION[start // 16 % 4]:
            piano[48 + interval - roll.LOWEST_PITCH, start : start + 7] = True
        for eighth in range(start, min(start + 8, columns), 2):
            degree = int(np.clip(degree + rng.integers(-2, 3), 0, 13))
            pitch = 60 + 12 * (degree // 7) + MAJOR[degree % 7]
            piano[pitch - roll.LOWEST_PITCH, eighth : eighth + 2] = True
    return piano


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (FluidSynth), user + system."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def best_of(repeat: int, work) -> tuple[float, float]:
    """(wall, CPU) seconds of the run with the least wall time."""
    runs = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), cpu_seconds()
        work()
        runs.append((time.perf_counter() - wall, cpu_seconds() - cpu))
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--columns", type=int, default=roll.WINDOW, help="sixteenths per piece (300 = 37.5 s)")
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    parser.add_argument("--soundfont", help="FluidSynth's SoundFont (default: pianogan's search)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="pianogan-bench-") as tmp:
        folder = Path(tmp)
        files = []
        for number in range(args.files):
            files.append(folder / "midi" / f"piece{number:02d}.mid")
            midi.write_midi(piece(rng, args.columns), files[-1])
        music = sum(audio.load_piece(path).end for path in files)
        font = audio.find_soundfont(args.soundfont)
        pip_font = audio._pip_soundfont()
        rows: list[tuple[str, tuple[float, float]]] = []
        binary = audio.fluidsynth_binary()
        if binary:
            rows.append(("fluidsynth per file (midi2audio)", best_of(args.repeat, lambda: [
                subprocess.run([binary, "-ni", "-q", "-F", str(folder / "m2a" / f"{p.stem}.wav"), str(font), str(p)],
                               check=True, capture_output=True)
                for p in files if (folder / "m2a").mkdir(exist_ok=True) or True
            ])))  # fmt: skip
            rows.append(("fluidsynth per file (render_midi)", best_of(args.repeat, lambda: [
                audio.render_midi(p, folder / "one" / f"{p.stem}.wav", font, renderer="fluidsynth") for p in files
            ])))  # fmt: skip
            rows.append(("fluidsynth batch (render_many)", best_of(args.repeat, lambda: audio.render_many(
                files, folder / "batch", font, renderer="fluidsynth", progress=False
            ))))  # fmt: skip
        else:
            print("fluidsynth is not installed: only the fallback is measured")
        rows.append((f"fallback (render_many, {pip_font.name})", best_of(args.repeat, lambda: audio.render_many(
            files, folder / "fallback", pip_font, renderer="fallback", progress=False
        ))))  # fmt: skip

    print(
        f"{args.files} files, {music:.1f} s of music, FluidSynth's SoundFont {font.name}, "
        f"{os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f}), best of {args.repeat} by wall time"
    )
    print(f"{'method':42} {'wall s':>7} {'s/file':>7} {'x music':>8} {'speed-up':>9} {'CPU s':>7} {'CPU ratio':>9}")
    first_wall, first_cpu = rows[0][1]
    for name, (wall, cpu) in rows:
        print(f"{name:42} {wall:7.2f} {wall / args.files:7.3f} {music / wall:7.0f}x {first_wall / wall:8.2f}x {cpu:7.2f} {first_cpu / cpu:8.2f}x")


if __name__ == "__main__":
    main()
