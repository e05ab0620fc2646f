"""Training datasets: from MIDI or roll PNGs to one bit-packed file per split, and back.

A dataset folder holds ``<split>.npz`` for each split that has windows (``rolls``: the
windows bit-packed along time with ``np.packbits``, shape ``(N, 106, ceil(columns / 8))``
uint8; ``columns``: the window width; with ``prepare --voices``, ``voices``: each voice's
windows packed the same way, ``(N, len(VOICES), 106, ceil(columns / 8))``),
``manifest.csv`` (one row per window: where it came from) and ``prepare_report.json``
(what was converted, skipped and why). Packing bits stores a
pixel in one bit (MAESTRO's ~19,000 windows: 77 MB instead of 610 MB as bool), zip
compression shrinks that again (POP909's 4,500 windows: 1.5 MB), and the ``.npz`` loads with
``allow_pickle=False``, so a dataset file cannot run code.

Sources (``find_source``): a MAESTRO root (v2 or v3, recognised by its ``maestro-v*.csv`` or
``.json``), any folder of MIDI files, or a folder of roll PNGs such as the seed project's
training images. Files are converted in parallel; a file that cannot be read is skipped and
named in the report, because one bad file in a thousand must not cost the other 999.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import math
import os
import re
import time
import tokenize
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from tqdm import tqdm

from pianogan.constants import SPLITS, VOICES
from pianogan.errors import DatasetError, OptionError, PianoganError
from pianogan.io import atomic
from pianogan.io.inputs import MIDI_SUFFIXES, PNG_SUFFIXES, stays_inside
from pianogan.io.midi import midi_to_windows, roll_notes
from pianogan.io.outputs import Outputs
from pianogan.io.png import read_png, write_png
from pianogan.music.keys import estimate_keys, key_name
from pianogan.roll import LOWEST_PITCH, N_PITCHES, WINDOW, check_window_width, voice_planes, windows
from pianogan.workers import cores, ordered_map

# A damaged .npy header can fail numpy's parser of its Python-literal dict as well as its checks.
_HEADER_ERRORS = (SyntaxError, tokenize.TokenError)

MANIFEST = "manifest.csv"
REPORT = "prepare_report.json"
PNG_FOLDER = "png"
DATASET_FILES = (*(f"{split}.npz" for split in SPLITS), MANIFEST, REPORT)
MANIFEST_COLUMNS = ("split", "index", "file", "k", "start", "shift_ticks", "key", "composer", "title", "year")
MAESTRO_COLUMNS = ("canonical_composer", "canonical_title", "split", "year", "midi_filename")


@dataclass(frozen=True)
class SourceFile:
    """One input file: where it is, its name relative to SOURCE, its split and metadata."""

    path: Path
    name: str  # POSIX path relative to SOURCE: the name used in the manifest and report
    split: str
    kind: str  # "midi" or "png"
    composer: str = ""
    title: str = ""
    year: str = ""


@dataclass
class Source:
    """What ``find_source`` found: the files to convert and the files given no split."""

    root: Path
    kind: str  # e.g. "MAESTRO (maestro-v2.0.0.csv)", "MIDI folder", "PNG folder"
    files: list[SourceFile]
    missing: list[SourceFile] = field(default_factory=list)  # listed in metadata/CSV, absent
    unlisted: list[str] = field(default_factory=list)  # found, but no split given
    outside: list[SourceFile] = field(default_factory=list)  # listed, but the name leaves SOURCE: refused


# --- sources ------------------------------------------------------------------------------


def find_source(source: str | os.PathLike, splits: str | os.PathLike | Mapping[str, str] | None = None, exclude: str | os.PathLike | None = None) -> Source:
    """Recognise SOURCE and list its files with their splits.

    A folder with ``maestro-v*.csv`` / ``maestro-v*.json`` at its root is MAESTRO and takes
    its splits from that metadata. Otherwise a folder with MIDI files (searched recursively,
    ``.mid``/``.midi`` in any case) is a MIDI folder, and a folder with only PNGs a PNG
    folder. ``splits`` is a splits CSV (see ``read_splits_csv``), ``"pop909"`` (see
    ``pop909_splits``), a ready mapping, or None for everything in ``train``. ``exclude`` is
    a folder left out of the search (the output's PNG folder, should OUT lie inside SOURCE).
    """
    root = Path(source)
    if not root.exists():
        raise DatasetError(f"{root}: no such folder")
    if not root.is_dir():
        raise DatasetError(f"{root}: SOURCE must be a folder (a MAESTRO root, MIDI files or roll PNGs)")
    metadata = maestro_metadata_file(root)
    if metadata is not None:
        if splits is not None:
            raise OptionError("splits", f": {root} is a MAESTRO root whose {metadata.name} gives the splits; leave {{splits}} out")
        return read_maestro(root, metadata)
    midi, pngs = _scan(root, exclude)
    if not midi and not pngs:
        raise DatasetError(f"{root}: no MIDI files (.mid, .midi) or roll PNGs found")
    kind, names = ("MIDI folder", midi) if midi else ("PNG folder", pngs)
    if splits is None or isinstance(splits, Mapping):
        mapping = splits
    elif str(splits) == "pop909":
        mapping = pop909_splits(root)
    else:
        mapping = read_splits_csv(splits)
    return _assign(root, kind, names, mapping)


def _scan(root: Path, exclude: str | os.PathLike | None) -> tuple[list[str], list[str]]:
    """Relative POSIX names of the MIDI files and of the PNG files under ``root``, sorted.

    Hidden files and folders (names starting with '.') are skipped, as ``inputs.find_inputs``
    skips them."""
    skip = Path(exclude).resolve() if exclude is not None else None
    midi: list[str] = []
    pngs: list[str] = []
    for folder, subfolders, names in os.walk(root):
        if skip is not None and Path(folder).resolve() == skip:
            subfolders[:] = []
            continue
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        for name in names:
            suffix = os.path.splitext(name)[1].lower()
            if suffix in MIDI_SUFFIXES + PNG_SUFFIXES and not name.startswith("."):
                relative = (Path(folder) / name).relative_to(root).as_posix()
                (midi if suffix in MIDI_SUFFIXES else pngs).append(relative)
    return sorted(midi), sorted(pngs)


def _assign(root: Path, kind: str, names: list[str], splits: Mapping[str, str] | None) -> Source:
    """Give each found file its split: by relative path first, then by bare file name.

    A bare name in the splits applies to every file of that name. Files the splits do not
    mention are left out (``unlisted``) rather than guessed into ``train``, so a test
    file can never leak into training; names in the splits that match no file are
    ``missing``.
    """
    file_kind = "png" if kind == "PNG folder" else "midi"
    if splits is None:
        files = [SourceFile(root / n, n, "train", file_kind) for n in names]
        return Source(root, kind, files)
    files, unlisted, used = [], [], set()
    for name in names:
        bare = PurePosixPath(name).name
        key = name if name in splits else bare if bare in splits else None
        if key is None:
            unlisted.append(name)
            continue
        used.add(key)
        files.append(SourceFile(root / name, name, splits[key], file_kind))
    absent = [SourceFile(root / k, k, s, file_kind) for k, s in splits.items() if k not in used]
    missing, outside = _split_outside(absent)
    return Source(root, kind, files, missing, unlisted, outside)


def _split_outside(entries: list[SourceFile]) -> tuple[list[SourceFile], list[SourceFile]]:
    """``entries`` whose names stay inside SOURCE, and those that leave it (absolute paths or
    '..'): names read from metadata or a CSV are never followed out of SOURCE."""
    entries = sorted(entries, key=lambda f: f.name)
    return [f for f in entries if stays_inside(f.name)], [f for f in entries if not stays_inside(f.name)]


def read_splits_csv(path: str | os.PathLike) -> dict[str, str]:
    """Read a splits CSV: header ``file,split``, then one row per file.

    ``file`` is a path relative to SOURCE (``/`` or ``\\`` separators) or a bare file name;
    ``split`` is ``train``, ``validation`` or ``test``. Other columns are ignored.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise OptionError("splits", f": {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise OptionError("splits", f": {path}: cannot read as UTF-8 text ({error})") from None
    try:
        table = list(csv.reader(io.StringIO(text)))
    except csv.Error as error:
        raise OptionError("splits", f": {path}: not a valid CSV file ({error})") from None
    rows = iter(table)
    header = [h.strip().lower() for h in next(rows, [])]
    if "file" not in header or "split" not in header:
        raise OptionError("splits", f": {path}: first line must be the header 'file,split', got {','.join(header) or 'nothing'!r}")
    file_at, split_at = header.index("file"), header.index("split")
    splits: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(file_at, split_at) or not row[file_at].strip():
            raise OptionError("splits", f": {path} line {line}: expected 'file,split', got {','.join(row)!r}")
        name = _normalise(row[file_at])
        split = row[split_at].strip().lower()
        if split not in SPLITS:
            raise OptionError("splits", f": {path} line {line}: unknown split {row[split_at].strip()!r} (use {', '.join(SPLITS)})")
        if splits.get(name, split) != split:
            raise OptionError("splits", f": {path} line {line}: {name} is already in split {splits[name]!r}")
        splits[name] = split
    if not splits:
        raise OptionError("splits", f": {path}: no rows after the header")
    return splits


def _normalise(name: str) -> str:
    """A CSV file name as a POSIX relative path (``./a\\b.mid`` -> ``a/b.mid``)."""
    return PurePosixPath(name.strip().replace("\\", "/")).as_posix().removeprefix("./")


def pop909_splits(source: str | os.PathLike) -> dict[str, str]:
    """POP909's fixed splits for the song files ``NNN.mid`` under ``source``.

    test = song number divisible by 10, validation = number ending in 5, train = the rest
    (90, 91 and 728 songs), so every tool trained or evaluated on POP909 agrees. Files
    whose name is not a song number (e.g. the original release's ``versions/001-v1.mid``)
    are not listed.
    """
    root = Path(source)
    midi, _ = _scan(root, None) if root.is_dir() else ([], [])
    splits = {}
    for name in midi:
        stem = PurePosixPath(name).stem
        if stem.isdigit():
            number = int(stem)
            splits[name] = "test" if number % 10 == 0 else "validation" if number % 10 == 5 else "train"
    if not splits:
        raise OptionError("splits", f"pop909: no POP909 song files (NNN.mid) under {root}")
    return splits


def maestro_metadata_file(root: Path) -> Path | None:
    """The MAESTRO metadata at ``root``: the newest ``maestro-v*.csv``, else ``.json``."""
    found = [p for p in root.glob("maestro-v*") if p.is_file() and p.suffix.lower() in (".csv", ".json")]
    if not found:
        return None
    version = lambda p: [int(n) for n in re.findall(r"\d+", p.stem)]  # noqa: E731
    return max(found, key=lambda p: (p.suffix.lower() == ".csv", version(p)))


def read_maestro(root: Path, metadata: Path) -> Source:
    """List a MAESTRO root's performances with split, composer, title and year.

    The CSV has one row per performance; the v2 JSON is a list of such records and the v3
    JSON is column-oriented (``{"split": {"0": "train", ...}, ...}``). Performances whose
    file is absent (a partial download) are reported, not fatal; so are names that leave
    the root (absolute, or climbing with '..'), which are never read.
    """
    records = _maestro_records(metadata)
    files: list[SourceFile] = []
    not_found: list[SourceFile] = []
    for number, record in enumerate(records, start=1):
        absent = [c for c in MAESTRO_COLUMNS if c not in record]
        if absent:
            raise DatasetError(f"{metadata}: record {number} lacks {', '.join(absent)}")
        split = str(record["split"]).strip().lower()
        if split not in SPLITS:
            raise DatasetError(f"{metadata}: record {number} has unknown split {record['split']!r}")
        name = _normalise(str(record["midi_filename"]))
        entry = SourceFile(root / name, name, split, "midi", str(record["canonical_composer"]), str(record["canonical_title"]), str(record["year"]))
        (files if stays_inside(name) and entry.path.is_file() else not_found).append(entry)
    if not records:
        raise DatasetError(f"{metadata}: no performances listed")
    files.sort(key=lambda f: f.name)
    missing, outside = _split_outside(not_found)
    return Source(root, f"MAESTRO ({metadata.name})", files, missing, outside=outside)


def _maestro_records(metadata: Path) -> list[dict]:
    """The metadata's records as dicts, from the CSV or either JSON shape."""
    try:
        text = metadata.read_text(encoding="utf-8-sig")
        if metadata.suffix.lower() == ".csv":
            return list(csv.DictReader(io.StringIO(text)))
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, csv.Error, json.JSONDecodeError) as error:
        raise DatasetError(f"{metadata}: unreadable MAESTRO metadata ({str(error).splitlines()[0]})") from None
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return data
    if isinstance(data, dict) and all(isinstance(c, dict) for c in data.values()):
        rows = sorted({key for column in data.values() for key in column}, key=lambda k: int(k) if str(k).isdigit() else str(k))
        return [{name: column[row] for name, column in data.items() if row in column} for row in rows]
    raise DatasetError(f"{metadata}: expected a list of records or a column-oriented object")


# --- conversion (runs in worker processes) --------------------------------------------------


@dataclass(frozen=True)
class _Task:
    path: Path
    kind: str
    columns: int
    pedal: bool
    align: bool
    voices: bool
    png_prefix: str | None  # write window k to f"{png_prefix}_{k}.png" in ``outputs`` when set
    outputs: Outputs | None = None  # the output folder, narrowed to this file's images


@dataclass
class _Result:
    packed: np.ndarray | None = None  # (n, 106, ceil(columns / 8)) uint8: small to send back
    voices: np.ndarray | None = None  # with ``voices``: (n, len(VOICES), 106, ceil(columns / 8)) uint8
    melody_from: str | None = None  # with ``voices``: where the melody came from (``MidiStats``)
    ks: np.ndarray | None = None
    stride: int = 0  # columns between window starts
    keys: np.ndarray | None = None  # estimated key index of each window
    alignment: dict | None = None  # the piece's bar alignment (MIDI sources with --align)
    png_names: tuple[str, ...] = ()  # images written, relative to OUT (even when a later one failed)
    notes: int = 0
    out_of_range: int = 0
    drums: int = 0
    silent: int = 0
    reason: str | None = None


def _convert(task: _Task) -> _Result:
    """Convert one file to packed windows; any failure becomes a one-line reason."""
    written: list[str] = []  # images written, kept track of even when a later one fails
    try:
        if task.kind == "png":
            whole = read_png(task.path)
            cut, total = windows(whole, task.columns), -(-whole.shape[1] // task.columns)
            result = _Result(notes=len(roll_notes(whole)[0]), stride=task.columns)
        else:
            cut, total, stats, stride, masks = midi_to_windows(task.path, task.columns, pedal=task.pedal, align=task.align, voices=task.voices)
            alignment = stats.alignment.as_dict() if task.align else None
            result = _Result(notes=stats.notes, out_of_range=stats.dropped_out_of_range, drums=stats.dropped_drums, stride=stride, alignment=alignment)
            if masks is not None:
                result.voices, result.melody_from = pack_voice_masks(masks), stats.melody_from
        if not cut:
            dropped = f" ({result.out_of_range} out of range {LOWEST_PITCH}..{LOWEST_PITCH + N_PITCHES - 1}, {result.drums} on drums)"
            result.reason = "no notes" + (dropped if result.out_of_range or result.drums else "")
            return result
        result.ks = np.array([k for k, _ in cut], dtype=np.int64)
        stack = np.stack([w for _, w in cut])
        result.packed = np.packbits(stack, axis=-1)
        result.keys = estimate_keys(stack)
        result.silent = total - len(cut)
        if task.png_prefix is not None:
            _write_pngs(task, cut, written)
        result.png_names = tuple(written)
        return result
    except PianoganError as error:
        return _Result(reason=str(error).removeprefix(f"{task.path}: "), png_names=tuple(written))
    except Exception as error:  # a bad file must never stop the batch
        return _Result(reason=f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'no message'}", png_names=tuple(written))


def _write_pngs(task: _Task, cut: list[tuple[int, np.ndarray]], written: list[str]) -> None:
    """Write each window as an image, once every one of them may be written (see ``outputs``)."""
    names = [f"{task.png_prefix}_{k}.png" for k, _ in cut]
    task.outputs.check(names)
    for name, (_, window) in zip(names, cut):
        write_png(window, task.outputs.folder / name)
        written.append(name)


# --- prepare ----------------------------------------------------------------------------------


def prepare(
    source: str | os.PathLike,
    out: str | os.PathLike,
    splits: str | os.PathLike | Mapping[str, str] | None = None,
    columns: int = WINDOW,
    pedal: bool = False,
    align: bool = True,
    png: bool = False,
    jobs: int | None = None,
    progress: bool = True,
    voices: bool = False,
) -> dict:
    """Convert SOURCE into a dataset folder OUT and return the report (also in OUT).

    Writes ``OUT/<split>.npz`` per split with windows, ``OUT/manifest.csv``,
    ``OUT/prepare_report.json`` and, with ``png``, ``OUT/png/<split>/<stem>_<k>.png`` where
    ``<stem>`` is the file's relative path without suffix, folders joined by ``__``. With
    ``align`` (the default) each MIDI piece is bar-aligned first (``alignment``): the
    manifest gives each window's start column and the piece's shift in ticks, the report
    each piece's alignment and the files left as they were for want of a steady grid.
    Every window's estimated key is in the manifest too. With ``voices`` (MIDI sources) the
    split files also hold each window's voices (``load_voice_masks``), and the report says
    how many files had a melody track and in how many the melody is the top voice. Every
    input file is named once in the report: under ``converted``, ``failed`` (with a
    one-line reason; ``no notes`` for a readable file without notes in range) or
    ``unlisted`` (no split given). Raises DatasetError, after writing the report, when
    no file converted.
    """
    started = time.perf_counter()
    check_window_width(columns)
    jobs = cores() if jobs is None else jobs
    if jobs < 1:
        raise OptionError("jobs", f"must be at least 1, got {jobs}")
    png_root = Path(out) / PNG_FOLDER
    found = find_source(source, splits, exclude=png_root)
    if voices and found.kind == "PNG folder":
        raise DatasetError(f"{found.root}: {{voices}} needs MIDI files, which name their tracks; roll images have one voice", mentions=["voices"])
    if png and found.root.resolve().is_relative_to(png_root.resolve()):
        raise DatasetError(
            f"{found.root}: lies inside {png_root}, where {{png}} writes; prepare from elsewhere or choose another {{out}}", mentions=["png", "out"]
        )
    outputs = Outputs.at(out, inputs=[f.path for f in found.files])
    for group, names in _files_of_an_earlier_run(outputs.folder).items():
        outputs.adopt(names, group)
    outputs.check(DATASET_FILES)
    outputs.create(subfolders=[f"{PNG_FOLDER}/{split}" for split in SPLITS])
    out = outputs.folder
    prefixes = _png_prefixes(found.files) if png else [None] * len(found.files)
    narrowed = outputs.narrowed(_png_group(p) for p in prefixes if p)
    tasks = [_Task(f.path, f.kind, columns, pedal, align, voices, p, narrowed[_png_group(p)] if p else None) for f, p in zip(found.files, prefixes)]

    packed: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    voice_packed: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    melody_from = {"tracks": 0, "top voice": 0}
    counts = dict.fromkeys(SPLITS, 0)
    manifest: list[tuple] = []
    converted = []
    failed = [_failure(f, "no such file") for f in found.missing] + [_failure(f, "the name leaves SOURCE (absolute, or '..'); not read") for f in found.outside]
    totals = dict(notes=0, out_of_range=0, drums=0, silent=0)
    unfinished = {task.png_prefix for task in tasks if task.png_prefix}
    with contextlib.ExitStack() as stack:
        stack.callback(_list_images, outputs, unfinished)  # also on Ctrl-C or kill: the images written stay listed
        convert = stack.enter_context(ordered_map(_convert, len(tasks), jobs))
        bar = stack.enter_context(tqdm(total=len(tasks), unit="file", desc="prepare", disable=not progress))
        for task, file, result in zip(tasks, found.files, convert(tasks)):
            bar.update()
            outputs.claim(result.png_names, _png_group(task.png_prefix))
            unfinished.discard(task.png_prefix)
            for key in totals:
                totals[key] += getattr(result, key)
            if result.reason is not None:
                failed.append(_failure(file, result.reason))
                continue
            start = counts[file.split]
            counts[file.split] += len(result.ks)
            packed[file.split].append(result.packed)
            if result.voices is not None:
                voice_packed[file.split].append(result.voices)
                melody_from[result.melody_from or "top voice"] += 1
            shift = result.alignment["shift_ticks"] if result.alignment else 0
            manifest.extend(
                (file.split, start + i, file.name, int(k), int(k) * result.stride, shift, key_name(key), file.composer, file.title, file.year)
                for i, (k, key) in enumerate(zip(result.ks, result.keys))
            )
            converted.append(
                {
                    "file": file.name,
                    "split": file.split,
                    "windows": len(result.ks),
                    "silent_windows": result.silent,
                    "notes": result.notes,
                    "dropped_out_of_range": result.out_of_range,
                    "dropped_drums": result.drums,
                }
                | ({"alignment": result.alignment} if result.alignment else {})
            )

        removed = _write_dataset(outputs, packed, manifest, columns, voice_packed if voices else None) if converted else []
    seconds = time.perf_counter() - started
    report = {
        "source": str(found.root),
        "source_kind": found.kind,
        "columns": columns,
        "pedal": pedal,
        "align": align,
        "voices": {"names": list(VOICES), "melody_from_tracks": melody_from["tracks"], "melody_from_top_voice": melody_from["top voice"]} if voices else None,
        "files_aligned": sum(1 for c in converted if c.get("alignment", {}).get("aligned")),
        "files_without_steady_grid": [c["file"] for c in converted if c.get("alignment", {}).get("aligned") is False],
        "files": len(found.files) + len(found.missing) + len(found.outside) + len(found.unlisted),
        "files_converted": len(converted),
        "files_failed": len(failed),
        "files_unlisted": len(found.unlisted),
        "windows": counts,
        "windows_written": sum(counts.values()),
        "silent_windows_skipped": totals["silent"],
        "notes": totals["notes"],
        "notes_dropped_out_of_range": totals["out_of_range"],
        "notes_dropped_drums": totals["drums"],
        "seconds": round(seconds, 3),
        "notes_per_second": round(totals["notes"] / seconds) if seconds > 0 else 0,
        "png_folder": str(png_root) if png else None,
        "converted": converted,
        "failed": sorted(failed, key=lambda f: f["file"]),
        "unlisted": found.unlisted,
        "earlier_files_replaced": len(outputs.replaced()),
        "earlier_files_removed": len(removed),
    }
    with outputs.writing([REPORT], "prepare"):
        atomic.write_text(out / REPORT, _report_text(report))
    outputs.report(removed)
    if not converted:
        example = f"; e.g. {failed[0]['file']}: {failed[0]['reason']}" if failed else ""
        raise DatasetError(f"{found.root}: no file converted ({len(failed)} failed, {len(found.unlisted)} without a split; see {out / REPORT}){example}")
    return report


def _list_images(outputs: Outputs, unfinished: set[str]) -> None:
    """List the images written, by files an interrupt cut short too."""
    for prefix in unfinished:
        outputs.claim_new(rf"{re.escape(prefix)}_\d+\.png", _png_group(prefix))
    outputs.save()


def _write_dataset(
    outputs: Outputs, packed: dict[str, list[np.ndarray]], manifest: list[tuple], columns: int, voices: dict[str, list[np.ndarray]] | None = None
) -> list[str]:
    """Write the split files, then the manifest; remove what an earlier run wrote and this one
    did not (a split file that would not match the new manifest, images of files no longer
    converted). Returns the names removed."""
    outputs.claim([REPORT], "prepare")  # written next, by ``prepare``: not an earlier run's leftover
    for split in SPLITS:
        if packed[split]:
            outputs.claim([f"{split}.npz"], "prepare")
            save_split(outputs.folder / f"{split}.npz", np.concatenate(packed[split]), columns, np.concatenate(voices[split]) if voices else None)
    outputs.claim([MANIFEST], "prepare")
    atomic.write_text(outputs.folder / MANIFEST, _manifest_text(manifest))
    return outputs.remove_stale(lambda group: group == "prepare" or group.startswith("prepare:"))


def _report_text(report: dict) -> str:
    """The report as JSON with one line per file, so people can read and grep it."""

    def dump(value) -> str:
        if isinstance(value, list) and value:
            return "[\n" + ",\n".join("  " + json.dumps(v, ensure_ascii=False) for v in value) + "\n ]"
        return json.dumps(value, ensure_ascii=False)

    return "{\n" + ",\n".join(f" {json.dumps(k)}: {dump(v)}" for k, v in report.items()) + "\n}\n"


def _failure(file: SourceFile, reason: str) -> dict:
    return {"file": file.name, "split": file.split, "reason": reason}


def _files_of_an_earlier_run(out: Path) -> dict[str, list[str]]:
    """The files, by output group, that an earlier run's report in ``out`` says it wrote:
    the dataset files and, for each converted file, its images (none without a report)."""
    try:
        report = json.loads((out / REPORT).read_text(encoding="utf-8"))
        prefixes = {f"{PNG_FOLDER}/{entry['split']}/{'__'.join(PurePosixPath(str(entry['file'])).with_suffix('').parts)}" for entry in report["converted"]}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return {}
    files: dict[str, list[str]] = {"prepare": list(DATASET_FILES)}
    for split in SPLITS:
        folder = out / PNG_FOLDER / split
        for path in folder.glob("*.png") if folder.is_dir() else ():
            window = re.fullmatch(r"(.+)_\d+\.png", path.name)
            prefix = f"{PNG_FOLDER}/{split}/{window.group(1)}" if window else None
            if prefix in prefixes:
                files.setdefault(_png_group(prefix), []).append(f"{PNG_FOLDER}/{split}/{path.name}")
    return files


def _png_group(prefix: str | None) -> str:
    """The output group (see ``pianogan.io.outputs``) of one file's images."""
    return f"prepare:{prefix}"


def _png_prefixes(files: list[SourceFile]) -> list[str]:
    """``png/<split>/<stem>`` for each file, relative to OUT, made unique (``a.mid`` and
    ``a.midi`` both exist)."""
    prefixes, taken = [], set()
    for file in files:
        stem = "__".join(PurePosixPath(file.name).with_suffix("").parts)
        candidate, n = stem, 1
        while (file.split, candidate) in taken:
            n += 1
            candidate = f"{stem}-{n}"
        taken.add((file.split, candidate))
        prefixes.append(f"{PNG_FOLDER}/{file.split}/{candidate}")
    return prefixes


def _manifest_text(rows: list[tuple]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    writer.writerows(rows)
    return buffer.getvalue()


# --- dataset files ------------------------------------------------------------------------------


def save_split(path: str | os.PathLike, packed: np.ndarray, columns: int, voices: np.ndarray | None = None) -> None:
    """Write one split's packed windows (``np.packbits(..., axis=-1)``) atomically, and
    their packed voices (``pack_voice_masks``) when given."""
    extra = {} if voices is None else {"voices": voices}
    with atomic.atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, rolls=packed, columns=np.int64(columns), **extra)


def pack_voice_masks(masks: np.ndarray) -> np.ndarray:
    """Voice masks (n, 106, W) uint8 -> one packed bit plane per voice, (n, len(VOICES), 106, ceil(W / 8)) uint8."""
    return np.packbits(voice_planes(masks, axis=1), axis=-1)


def npz_arrays(path: str | os.PathLike, kind: str = ".npz file") -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of every array of an ``.npz`` file, read from the headers alone.

    A header can claim any shape (750 GiB in 200 bytes), and numpy allocates what it
    claims before reading; each claim is checked against the bytes its zip member holds
    before anything is loaded. One-line DatasetError ("not a readable ``kind``") for a
    file that fails.
    """
    path = Path(path)
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as handle:
                    version = np.lib.format.read_magic(handle)
                    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                    shape, _, dtype = reader(handle)
                    claimed = math.prod(shape) * dtype.itemsize
                    if dtype.hasobject or claimed > info.file_size - handle.tell():
                        raise ValueError(f"{info.filename} claims {claimed:,} bytes of {dtype} in {info.file_size:,}")
                arrays[info.filename.removesuffix(".npy")] = (tuple(shape), dtype)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except (OSError, ValueError, EOFError, TypeError, zipfile.BadZipFile, zlib.error, NotImplementedError, *_HEADER_ERRORS) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DatasetError(f"{path}: not a readable {kind} ({reason})") from None
    return arrays


def _check_split_file(path: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Check a split file's arrays from their headers (nothing is decompressed); their shapes and dtypes."""
    arrays = npz_arrays(path, "pianogan dataset file")
    if {"rolls", "columns"} - set(arrays) or arrays["rolls"][1] != np.uint8 or len(arrays["rolls"][0]) != 3:
        raise DatasetError(f"{path}: not a pianogan dataset file (expected 'rolls' of uint8 (N, 106, W/8) and 'columns')")
    return arrays


def check_split(dataset_dir: str | os.PathLike, split: str) -> Path:
    """The file of one split of a dataset, checked cheaply before any heavy work."""
    path = _split_path(dataset_dir, split)
    _check_split_file(path)
    return path


def _read_packed(path: Path) -> tuple[np.ndarray, int]:
    """A split file's packed windows and width, checked; any damage is a one-line error."""
    _check_split_file(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            packed, columns = data["rolls"], int(data["columns"])
    except (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile, zlib.error, *_HEADER_ERRORS) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DatasetError(f"{path}: not a readable pianogan dataset file ({reason})") from None
    if packed.dtype != np.uint8 or packed.ndim != 3 or packed.shape[1] != N_PITCHES or columns < 1 or packed.shape[2] != -(-columns // 8):
        raise DatasetError(f"{path}: not a pianogan dataset file (rolls {packed.dtype} {packed.shape}, columns {columns})")
    return packed, columns


def _split_path(dataset_dir: str | os.PathLike, split: str) -> Path:
    directory = Path(dataset_dir)
    if not directory.is_dir():
        raise DatasetError(f"{directory}: no such dataset folder (make one with 'pianogan prepare')")
    path = directory / f"{split}.npz"
    if not path.is_file():
        present = list_splits(directory)
        raise DatasetError(f"{directory}: no {split!r} split (found: {', '.join(present) or 'none'})")
    return path


def load_split(dataset_dir: str | os.PathLike, split: str = "train") -> np.ndarray:
    """One split's windows as a bool array of shape (N, 106, columns)."""
    packed, columns = _read_packed(_split_path(dataset_dir, split))
    return np.unpackbits(packed, axis=-1, count=columns).view(bool)


def load_voice_masks(dataset_dir: str | os.PathLike, split: str = "train") -> np.ndarray:
    """One split's voice masks, uint8 (N, 106, columns): bit ``i`` set where ``VOICES[i]``
    sounds, the same windows as ``load_split``; a one-line error for a dataset without voices."""
    path = _split_path(dataset_dir, split)
    arrays = _check_split_file(path)
    if "voices" not in arrays:
        raise DatasetError(f"{path}: the dataset has no voices (prepare it again with --voices)")
    try:
        with np.load(path, allow_pickle=False) as data:  # members load lazily: the rolls stay compressed
            columns, packed = int(data["columns"]), data["voices"]
    except (OSError, ValueError, EOFError, TypeError, zipfile.BadZipFile, zlib.error, *_HEADER_ERRORS) as error:
        raise DatasetError(f"{path}: its voices are not readable ({str(error).splitlines()[0] if str(error) else type(error).__name__})") from None
    rolls, width = arrays["rolls"][0], -(-columns // 8)
    if packed.ndim != 4 or packed.shape != (rolls[0], len(VOICES), N_PITCHES, width) or rolls[2] != width:
        raise DatasetError(f"{path}: voices of shape {packed.shape} do not match its rolls {rolls}")
    planes = np.unpackbits(packed, axis=-1, count=columns)
    return np.bitwise_or.reduce(planes << np.arange(len(VOICES), dtype=np.uint8)[None, :, None, None], axis=1)


def read_manifest(dataset_dir: str | os.PathLike, split: str) -> list[dict]:
    """One split's rows of ``manifest.csv`` in window order, ``index`` as an int.

    Empty when the dataset has no manifest; a damaged one raises what ``csv`` or ``int``
    raise, for the caller to decide how much it matters.
    """
    path = Path(dataset_dir) / MANIFEST
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [{**row, "index": int(row["index"])} for row in csv.DictReader(handle) if row.get("split") == split]
    return sorted(rows, key=lambda row: row["index"])


def bar_aligned(dataset_dir: str | os.PathLike) -> bool:
    """Whether ``prepare`` bar-aligned the dataset's pieces (its report says so)."""
    try:
        return bool(json.loads((Path(dataset_dir) / REPORT).read_text(encoding="utf-8")).get("align", False))
    except (OSError, ValueError, AttributeError):
        return False


def list_splits(dataset_dir: str | os.PathLike) -> list[str]:
    """The splits a dataset folder holds, in the order train, validation, test."""
    directory = Path(dataset_dir)
    if not directory.is_dir():
        raise DatasetError(f"{directory}: no such dataset folder (make one with 'pianogan prepare')")
    return [s for s in SPLITS if (directory / f"{s}.npz").is_file()]


def dataset_fingerprint(dataset_dir: str | os.PathLike) -> str:
    """SHA-256 (hex) of the dataset's content: every split's windows and the manifest.

    It hashes the windows, not the ``.npz`` bytes (whose zip headers hold write times), so
    preparing the same source twice gives the same fingerprint, and a trained model can
    name exactly the data it saw.
    """
    splits = list_splits(dataset_dir)
    if not splits:
        raise DatasetError(f"{dataset_dir}: no split files (train.npz, validation.npz, test.npz)")
    digest = hashlib.sha256()
    for split in splits:
        packed, columns = _read_packed(Path(dataset_dir) / f"{split}.npz")
        digest.update(f"{split} {columns} {packed.shape}\n".encode())
        digest.update(np.ascontiguousarray(packed).data)
    manifest = Path(dataset_dir) / MANIFEST
    if manifest.is_file():
        digest.update(manifest.read_bytes())
    return digest.hexdigest()
