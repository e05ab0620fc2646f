"""Benchmark ``pianogan prepare`` against the seed project's music21 conversion.

``pianogan prepare`` runs as a subprocess on a POP909 folder, start-up included, and its
notes/s (notes painted / wall-clock seconds) is printed beside the seed's approach on the
first few of the same files: music21 ``converter.parse`` and the column rule
``floor(offset / 0.25)``, measured in-process without music21's import time (which favours
the seed). The target is 120,000 notes/s on 2 cores: full MAESTRO v2 (~7 M notes) in 60 s.

    python benchmarks/prepare.py [--source DIR] [--files N] [--seed-files 5] [--jobs N]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

POP909 = Path("/work/shared/data/pop909/midi")


def run_prepare(files: list[Path], jobs: int | None) -> tuple[float, int]:
    """Wall seconds and notes of ``pianogan prepare`` on ``files`` (linked into a folder)."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "source"
        source.mkdir()
        for path in files:
            os.symlink(path.resolve(), source / path.name)
        command = [sys.executable, "-m", "pianogan", "prepare", str(source), "-o", str(Path(tmp) / "out"), "--splits", "pop909"]
        if jobs is not None:
            command += ["--jobs", str(jobs)]
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        report = json.loads((Path(tmp) / "out" / "prepare_report.json").read_text())
    return seconds, report["notes"]


def seed_convert(path: Path) -> tuple[np.ndarray, int]:
    """The seed's conversion: music21 parse, column = floor(offset / 0.25), pitch row = p - 21."""
    from music21 import converter

    score = converter.parse(str(path))
    notes = [(float(n.offset), float(n.duration.quarterLength), p.midi) for n in score.flatten().notes for p in n.pitches]
    width = max(math.floor((o + d) / 0.25) + 1 for o, d, _ in notes)
    roll = np.zeros((106, width), dtype=bool)
    for offset, duration, pitch in notes:
        first = math.floor(offset / 0.25)
        roll[pitch - 21, first : max(first + 1, math.floor((offset + duration) / 0.25))] = True
    return roll, len(notes)


def run_seed(files: list[Path]) -> tuple[float, int]:
    import music21  # noqa: F401  (imported before the clock starts: its 5 s import is not conversion time)

    started = time.perf_counter()
    notes = sum(seed_convert(path)[1] for path in files)
    return time.perf_counter() - started, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=POP909, help="folder of POP909 NNN.mid files")
    parser.add_argument("--files", type=int, default=None, help="use only the first N files (default: all)")
    parser.add_argument("--seed-files", type=int, default=5, help="files for the music21 conversion (default 5)")
    parser.add_argument("--jobs", type=int, default=None, help="passed to pianogan prepare (default: all cores)")
    args = parser.parse_args()
    files = sorted(args.source.glob("*.mid"))[: args.files]
    if not files:
        sys.exit(f"{args.source}: no .mid files")
    seconds, notes = run_prepare(files, args.jobs)
    seed_seconds, seed_notes = run_seed(files[: args.seed_files])
    ours, seed = notes / seconds, seed_notes / seed_seconds
    print(f"cores: {os.cpu_count()}")
    print(f"pianogan prepare (subprocess, start-up included): {len(files)} files, {notes:,} notes in {seconds:.2f} s = {ours:,.0f} notes/s")
    print(
        f"seed music21 converter.parse (in-process): {min(len(files), args.seed_files)} files, {seed_notes:,} notes in {seed_seconds:.2f} s = {seed:,.0f} notes/s"
    )
    print(f"speed-up: {ours / seed:,.0f}x; target 120,000 notes/s: {'met' if ours >= 120_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
