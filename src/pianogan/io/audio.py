"""MIDI to WAV: FluidSynth when it is installed, a SoundFont synth from pip when it is not.

Both renderers play the same list of timed MIDI events, read with symusic (so tempo
maps, corrupt files and errors are handled in one place), and their float output goes
through one finishing step: cut the tail where it has decayed, normalise the peak to
-1 dBFS, write 16-bit stereo PCM with the stdlib ``wave`` module, atomically.

- ``fluidsynth``: the FluidSynth command line (Debian package ``fluidsynth``) with a
  General MIDI SoundFont (``fluid-soundfont-gm``). Measured here, one process that loads
  FluidR3_GM.sf2 whole (as midi2audio runs it) costs 0.16 s of CPU before any music,
  0.06 s when it loads only the presets played (``synth.dynamic-sample-loading``); 37.5 s
  of piano then take about 0.25 s. So the pieces of a call are joined into one MIDI file
  per core, a few seconds apart, each rendered by one process and cut apart again
  (``BATCH_SECONDS`` of music per process bounds memory).
- ``fallback``: TinySoundFont (``pip install --no-deps tinysoundfont``; its declared
  pyaudio dependency is only for live playback) with the TimGM6mb SoundFont that ships
  inside pretty_midi. It has no reverb and ignores the sustain pedal, which is
  applied here by holding note-offs while the pedal is down.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import struct
import subprocess
import tempfile
import wave
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from pianogan.errors import AudioError, OptionError, PianoganError
from pianogan.io.atomic import atomic_path, size_is
from pianogan.io.inputs import MIDI_SUFFIXES, find_inputs
from pianogan.io.midi import load_score
from pianogan.workers import cores

DEFAULT_RATE = 44100
CHANNELS = 2  # stereo: both renderers pan notes and FluidSynth adds stereo reverb
TAIL_SECONDS = 2.0  # the most audio kept after the last MIDI event (release, reverb)
SILENCE_DB = -60.0  # the tail ends where the sound stays this far below the peak
PEAK_DBFS = -1.0  # peak level after normalisation: headroom, no clipping
FADE_SECONDS = 0.05  # fade at the very end, so a tail cut at TAIL_SECONDS cannot click
GAP_SECONDS = TAIL_SECONDS + 1.0  # between pieces joined for one FluidSynth process
BATCH_SECONDS = 600.0  # music per FluidSynth process: 600 s is ~210 MB of float audio
MAX_PROCESSES = 4  # FluidSynth processes at once, at most one per core
MIN_RATE, MAX_RATE = 8000, 96000  # FluidSynth's range for synth.sample-rate
MAX_PIECE_SECONDS = 3600.0  # longer is a corrupt time stamp; its audio would not fit in memory
RENDERERS = ("auto", "fluidsynth", "fallback")
WAV_HEADER_BYTES = 44  # what the ``wave`` module writes before PCM frames
ENV_SOUNDFONT = "PIANOGAN_SOUNDFONT"
DEBIAN_SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/sounds/sf2/TimGM6mb.sf2"),
)

_TICKS_PER_QUARTER = 1000  # the joined MIDI file, at 1 s per quarter: a tick is 1 ms
_PROGRAM, _CONTROL, _BEND, _OFF, _ON = range(5)  # event order at equal times: off before on
_STATUS = {_PROGRAM: 0xC0, _CONTROL: 0xB0, _BEND: 0xE0, _OFF: 0x80, _ON: 0x90}
_SUSTAIN, _VOLUME, _PAN, _ALL_SOUND_OFF, _RESET_CONTROLLERS = 64, 7, 10, 120, 121
_MIN_NOTE_SECONDS = 0.01  # a zero-length note would sort its note-off before its note-on


@dataclass(frozen=True, eq=False)
class Piece:
    """A MIDI file as timed events, ready for either renderer.

    ``events`` holds ``(seconds, kind, channel, data1, data2)`` sorted so that at equal
    times programs and controllers come first and note-offs precede note-ons (a note
    that ends where the next one of the same pitch starts must not cut it off).
    ``end`` is the time of the last event in seconds.
    """

    path: Path
    events: tuple[tuple[float, int, int, int, int], ...]
    end: float


@dataclass(frozen=True)
class RenderResult:
    """What happened to one input: ``wav`` and ``seconds`` on success, else ``error``."""

    midi: Path
    wav: Path | None = None
    seconds: float = 0.0
    error: str | None = None


def find_soundfont(soundfont: str | os.PathLike | None = None) -> Path:
    """Return the SoundFont to use: ``soundfont``, $PIANOGAN_SOUNDFONT, Debian's, pip's.

    An explicit choice (argument or environment variable) that is missing or not a
    SoundFont is an error rather than a silent fall-through, because the user asked
    for that sound. Without one, the first Debian General MIDI font present wins (the
    best sound), then TimGM6mb.sf2 from the pretty_midi package, which pip always has.
    """
    chosen = soundfont if soundfont is not None else os.environ.get(ENV_SOUNDFONT) or None
    if chosen is not None:
        return _check_soundfont(Path(chosen))
    for path in (*DEBIAN_SOUNDFONTS, _pip_soundfont()):
        if path is not None and path.is_file():
            return _check_soundfont(path)
    raise AudioError("no SoundFont found: pass {soundfont}=FILE.sf2, set $PIANOGAN_SOUNDFONT, or install fluid-soundfont-gm", mentions=["soundfont"])


def _pip_soundfont() -> Path | None:
    """TimGM6mb.sf2 inside the installed pretty_midi package, found without importing it."""
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "TimGM6mb.sf2"


def _check_soundfont(path: Path) -> Path:
    if not path.is_file():
        raise AudioError(f"soundfont {path}: no such file")
    with path.open("rb") as f:
        head = f.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise AudioError(f"soundfont {path}: not a SoundFont 2 file")
    return path


def fluidsynth_binary() -> str | None:
    """The FluidSynth program on $PATH, or None."""
    return shutil.which("fluidsynth")


def choose_renderer(renderer: str = "auto") -> str:
    """Resolve ``auto`` to ``fluidsynth`` when installed, else ``fallback``; check it works."""
    if renderer not in RENDERERS:
        raise OptionError("renderer", f"{renderer}: choose one of {', '.join(RENDERERS)}")
    has_fluidsynth = fluidsynth_binary() is not None
    if renderer == "auto":
        renderer = "fluidsynth" if has_fluidsynth else "fallback"
    if renderer == "fluidsynth" and not has_fluidsynth:
        raise OptionError("renderer", "fluidsynth: fluidsynth is not installed (apt-get install fluidsynth)")
    if renderer == "fallback" and importlib.util.find_spec("tinysoundfont") is None:
        raise AudioError(
            "no renderer: install fluidsynth (apt-get install fluidsynth fluid-soundfont-gm) or tinysoundfont (pip install --no-deps tinysoundfont)"
        )
    return renderer


def midi_files(inputs: Iterable[str | os.PathLike]) -> tuple[list[Path], list[RenderResult]]:
    """Expand files and folders (recursively, .mid/.midi in any case) into MIDI paths.

    The search is ``inputs.find_inputs``'s, input by input, so that a folder without
    MIDI files is reported too. Returns the paths and a failed RenderResult per input
    that yields nothing, so a batch can go on with the rest.
    """
    files: list[Path] = []
    errors: list[RenderResult] = []
    for item in map(Path, inputs):
        found, missing = find_inputs([item], MIDI_SUFFIXES)
        if missing:
            errors.append(RenderResult(item, error=missing[0]))
        elif not found:
            errors.append(RenderResult(item, error=f"{item}: no .mid or .midi files in this folder"))
        files += found
    return list(dict.fromkeys(files)), errors  # a file named twice renders once


def load_piece(path: str | os.PathLike) -> Piece:
    """Read a MIDI file into timed events; one-line PianoganError if it cannot be played.

    The file is read as ``midi.load_score`` reads it (whatever its extension; times that
    would wrap and files without ticks per quarter note refused). Tracks get channels in file order (drums on channel 10), as a MIDI file has them.
    """
    path = Path(path)
    score = load_score(path).to("second")
    melodic = [c for c in range(16) if c != 9]
    events: list[tuple[float, int, int, int, int]] = []
    for number, track in enumerate(t for t in score.tracks if not t.is_drum):
        events += _track_events(track, melodic[number % len(melodic)])
    for track in (t for t in score.tracks if t.is_drum):
        events += _track_events(track, 9)
    if not any(kind == _ON for _, kind, *_ in events):
        raise AudioError(f"{path}: no notes to render")
    events.sort(key=lambda e: (e[0], e[1]))
    end = events[-1][0]
    if end > MAX_PIECE_SECONDS:
        raise AudioError(f"{path}: lasts {end:.0f} s; pieces over {MAX_PIECE_SECONDS:.0f} s are refused")
    return Piece(path, tuple(events), end)


def _track_events(track, channel: int) -> list[tuple[float, int, int, int, int]]:
    events = [(0.0, _PROGRAM, channel, track.program, 0)]
    for note in track.notes:
        start = float(note.start)
        events.append((start, _ON, channel, note.pitch, max(1, note.velocity)))
        events.append((start + max(float(note.duration), _MIN_NOTE_SECONDS), _OFF, channel, note.pitch, 0))
    events += [(float(c.time), _CONTROL, channel, c.number, c.value) for c in track.controls]
    events += [(float(b.time), _BEND, channel, min(max(b.value + 8192, 0), 16383), 0) for b in track.pitch_bends]
    return events


def render_many(
    inputs: Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    soundfont: str | os.PathLike | None = None,
    rate: int = DEFAULT_RATE,
    renderer: str = "auto",
    progress: bool = True,
) -> list[RenderResult]:
    """Render MIDI files (or folders of them) to ``out_dir/<stem>.wav``.

    A bad input becomes a RenderResult with ``error`` set and the others still render;
    problems with the whole call (renderer, SoundFont, rate) raise PianoganError.
    Results come in input order.
    """
    renderer = choose_renderer(renderer)
    font = find_soundfont(soundfont)
    check_rate(rate)
    files, results = midi_files(inputs)
    jobs: list[tuple[Piece, Path]] = []
    taken: dict[Path, Path] = {}
    for path in files:
        wav = Path(out_dir) / f"{path.stem}.wav"
        if wav in taken:
            results.append(RenderResult(path, error=f"{path}: same output {wav} as {taken[wav]}; rename one"))
            continue
        try:
            jobs.append((load_piece(path), wav))
            taken[wav] = path
        except PianoganError as error:
            results.append(RenderResult(path, error=str(error)))
    results += _render_jobs(jobs, font, rate, renderer, progress)
    order = {path: i for i, path in enumerate(files)}
    return sorted(results, key=lambda r: order.get(r.midi, -1))


def render_midi(
    midi_path: str | os.PathLike,
    wav_path: str | os.PathLike,
    soundfont: str | os.PathLike | None = None,
    rate: int = DEFAULT_RATE,
    renderer: str = "auto",
) -> RenderResult:
    """Render one MIDI file to ``wav_path``; raise PianoganError if it cannot be done."""
    renderer = choose_renderer(renderer)
    font = find_soundfont(soundfont)
    check_rate(rate)
    (result,) = _render_jobs([(load_piece(midi_path), Path(wav_path))], font, rate, renderer, progress=False)
    if result.error:
        raise AudioError(result.error)
    return result


def check_rate(rate: int) -> None:
    """A one-line error unless ``rate`` is a sample rate FluidSynth accepts."""
    if not MIN_RATE <= rate <= MAX_RATE:
        raise OptionError("rate", f"{rate}: choose a sample rate from {MIN_RATE} to {MAX_RATE} Hz")


def _render_jobs(jobs: Sequence[tuple[Piece, Path]], font: Path, rate: int, renderer: str, progress: bool) -> list[RenderResult]:
    if not jobs:
        return []
    synth = _fluidsynth_audio if renderer == "fluidsynth" else _tinysoundfont_audio
    targets = dict(jobs)
    results = []
    with tqdm(total=len(jobs), unit="file", desc="midi2wav", disable=not progress) as bar:
        for piece, audio in synth([p for p, _ in jobs], font, rate):
            results.append(_write_result(piece, audio, targets[piece], rate))
            bar.update()
    return results


def _write_result(piece: Piece, audio: np.ndarray | str, wav: Path, rate: int) -> RenderResult:
    if isinstance(audio, str):
        return RenderResult(piece.path, error=f"{piece.path}: {audio}")
    try:
        pcm = finish(audio, piece.end, rate)
    except ValueError as error:
        return RenderResult(piece.path, error=f"{piece.path}: {error}")
    try:
        write_wav(pcm, wav, rate)
    except PianoganError as error:
        return RenderResult(piece.path, error=str(error))
    return RenderResult(piece.path, wav, len(pcm) / rate)


def finish(audio: np.ndarray, end: float, rate: int) -> np.ndarray:
    """Turn float audio (frames, 2) into the int16 frames of the WAV file.

    Keeps the piece (``end`` seconds) and its tail until the sound stays SILENCE_DB
    below the peak, at most TAIL_SECONDS; fades the last FADE_SECONDS; scales the
    peak to PEAK_DBFS. Raises ValueError on silence (nothing to normalise).
    """
    first, last = round(end * rate), round((end + TAIL_SECONDS) * rate)
    audio = np.pad(audio[:last], ((0, max(0, last - len(audio))), (0, 0)))
    level = np.abs(audio).ravel()  # flat: reductions over a 2-wide last axis are slow
    peak = float(level.max())
    if peak == 0.0:
        raise ValueError("rendered silence (does the SoundFont have these instruments?)")
    loud = level[::-1] > peak * 10 ** (SILENCE_DB / 20)
    stop = (len(level) - int(np.argmax(loud)) + CHANNELS - 1) // CHANNELS  # frame after the last loud one
    audio = audio[: min(max(stop, first), last)] * np.float32(10 ** (PEAK_DBFS / 20) / peak)
    fade = min(len(audio), round(FADE_SECONDS * rate))
    audio[len(audio) - fade :] *= np.linspace(1.0, 0.0, fade, dtype=audio.dtype)[:, None]
    return np.round(audio * 32767).astype("<i2")


def write_wav(pcm: np.ndarray, path: str | os.PathLike, rate: int) -> None:
    """Write int16 frames (frames, channels) as a PCM WAV file, atomically and size-checked."""
    with atomic_path(path, check=size_is(WAV_HEADER_BYTES + pcm.nbytes)) as tmp, wave.open(str(tmp), "wb") as out:
        out.setnchannels(pcm.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.ascontiguousarray(pcm, dtype="<i2").tobytes())


def read_wav(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read a 16-bit PCM WAV as float32 in [-1, 1], shape (channels, frames), and its rate.

    Channels first, as ``IPython.display.Audio(audio, rate=rate)`` wants them.
    """
    with wave.open(str(path), "rb") as f:
        if f.getsampwidth() != 2:
            raise AudioError(f"{path}: only 16-bit PCM WAV files can be read")
        frames = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
        return (frames.reshape(-1, f.getnchannels()).T / 32768.0).astype(np.float32), f.getframerate()


def _fluidsynth_audio(pieces: Sequence[Piece], font: Path, rate: int) -> Iterator[tuple[Piece, np.ndarray | str]]:
    """Render pieces with FluidSynth: one process per batch, a batch per core at a time.

    Batches hold at most BATCH_SECONDS of music, less when there are few pieces so that
    every core gets one. At most ``processes + 1`` batches of audio are in memory at once.
    Yields each piece with its float audio (frames, 2), or an error line, in order.
    """
    processes = min(MAX_PROCESSES, cores())
    size = min(BATCH_SECONDS, sum(p.end + GAP_SECONDS for p in pieces) / processes)
    batches: list[list[Piece]] = [[]]
    seconds = 0.0
    for piece in pieces:
        if batches[-1] and seconds + piece.end > size:
            batches.append([])
            seconds = 0.0
        batches[-1].append(piece)
        seconds += piece.end + GAP_SECONDS
    with ThreadPoolExecutor(processes) as pool:
        pending: deque = deque()
        for batch in batches:
            pending.append(pool.submit(_fluidsynth_batch, batch, font, rate))
            if len(pending) > processes:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def _fluidsynth_batch(pieces: Sequence[Piece], font: Path, rate: int) -> list[tuple[Piece, np.ndarray | str]]:
    """Render pieces joined in one FluidSynth process and cut them apart.

    A failed batch is retried one piece at a time, so one bad piece cannot sink the rest.
    """
    starts = np.cumsum([0] + [math.ceil((p.end + GAP_SECONDS) * 1000) for p in pieces])
    with tempfile.TemporaryDirectory(prefix="pianogan-") as tmp:
        midi, raw = Path(tmp) / "batch.mid", Path(tmp) / "batch.raw"
        midi.write_bytes(_joined_midi(pieces, starts))
        command = [
            fluidsynth_binary() or "fluidsynth", "-ni", "-q",
            "-o", "synth.dynamic-sample-loading=1",  # load only the presets played: a third of the start-up
            "-r", str(rate), "-T", "raw", "-O", "float", "-E", "little",
            "-F", str(raw), str(font), str(midi),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        _check_font_loaded(done.stderr, font)
        if done.returncode != 0 or not raw.is_file():
            if len(pieces) > 1:
                return [result for piece in pieces for result in _fluidsynth_batch([piece], font, rate)]
            lines = (done.stderr or done.stdout).strip().splitlines()
            return [(pieces[0], f"fluidsynth failed: {lines[-1] if lines else f'exit code {done.returncode}'}")]
        audio = np.fromfile(raw, dtype="<f4").reshape(-1, CHANNELS)
    cut = [round(start * rate / 1000) for start in starts[:-1]]
    return [(p, audio[first : first + round((p.end + TAIL_SECONDS) * rate)]) for p, first in zip(pieces, cut)]


def _check_font_loaded(stderr: str, font: Path) -> None:
    """Raise when FluidSynth says it could not load ``font``: it then renders with its own
    default SoundFont, and the audio would not be what the report names."""
    failed = [line for line in stderr.splitlines() if "failed to load" in line.lower() and "soundfont" in line.lower()]
    if failed:
        raise AudioError(f"soundfont {font}: FluidSynth cannot load it ({failed[0].strip()})")


def _joined_midi(pieces: Sequence[Piece], starts: np.ndarray) -> bytes:
    """One format-0 MIDI file playing ``pieces`` from ``starts`` (ms), with resets between.

    At 60 BPM and 1,000 ticks per quarter a tick is one millisecond, so piece k starts
    exactly at sample ``starts[k] * rate / 1000``. Half a gap before each piece every
    channel in use is silenced and reset (controllers, volume, pan; each piece sets its
    programs), so no state of one piece leaks into the next; a last reset marks the end
    of the final tail. Unused channels get no events: a program change on the drum
    channel would make FluidSynth load the drum kit.
    """
    channels = sorted({channel for piece in pieces for _, _, channel, _, _ in piece.events})
    timed: list[tuple[int, int, int, int, int]] = []
    for piece, start in zip(pieces, starts):
        reset = max(0, int(start) - round(GAP_SECONDS * 500))
        for channel in channels:  # each piece sets its own programs at its time 0
            timed += [
                (reset, _CONTROL, channel, _ALL_SOUND_OFF, 0),
                (reset, _CONTROL, channel, _RESET_CONTROLLERS, 0),
                (reset, _CONTROL, channel, _VOLUME, 100),
                (reset, _CONTROL, channel, _PAN, 64),
            ]
        timed += [(int(start) + round(t * 1000), kind, ch, a, b) for t, kind, ch, a, b in piece.events]
    timed.append((int(starts[-1]), _CONTROL, 0, _RESET_CONTROLLERS, 0))
    track = bytearray(b"\x00\xff\x51\x03" + (1_000_000).to_bytes(3, "big"))  # 1 s per quarter
    now = 0
    for tick, kind, channel, a, b in timed:  # already in time order: pieces follow each other
        data = bytes([a]) if kind == _PROGRAM else bytes([a & 0x7F, a >> 7]) if kind == _BEND else bytes([a, b])
        track += _varlen(tick - now) + bytes([_STATUS[kind] | channel]) + data
        now = tick
    track += b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, _TICKS_PER_QUARTER) + b"MTrk" + struct.pack(">I", len(track)) + track


def _varlen(value: int) -> bytes:
    """MIDI variable-length quantity: 7 bits per byte, high bit set on all but the last."""
    out = [value & 0x7F]
    while value := value >> 7:
        out.append(0x80 | value & 0x7F)
    return bytes(reversed(out))


def _tinysoundfont_audio(pieces: Sequence[Piece], font: Path, rate: int) -> Iterator[tuple[Piece, np.ndarray | str]]:
    """Render pieces with TinySoundFont, loading the SoundFont once for all of them."""
    import tinysoundfont

    synth = tinysoundfont.Synth(samplerate=rate)
    try:
        synth.sfload(str(font))
    except RuntimeError:
        raise AudioError(f"soundfont {font}: TinySoundFont cannot load it") from None
    resets = [(0.0, kind, channel, a, b) for channel in range(16) for kind, a, b in (
        (_CONTROL, _RESET_CONTROLLERS, 0), (_CONTROL, _VOLUME, 100), (_CONTROL, _PAN, 64), (_PROGRAM, 0, 0)
    )]  # fmt: skip
    for piece in pieces:
        synth.sounds_off()
        audio = np.zeros((round((piece.end + TAIL_SECONDS) * rate), CHANNELS), np.float32)
        done = 0
        for seconds, kind, channel, a, b in [*resets, *_sustained(piece.events)]:
            frame = round(seconds * rate)
            if frame > done:
                synth.generate_simple(frame - done, buffer=memoryview(audio[done:frame]))
                done = frame
            _send(synth, kind, channel, a, b)
        synth.generate_simple(len(audio) - done, buffer=memoryview(audio[done:]))
        yield piece, audio


def _sustained(events: Iterable[tuple[float, int, int, int, int]]) -> Iterator[tuple[float, int, int, int, int]]:
    """The events with the sustain pedal (controller 64) turned into later note-offs.

    TinySoundFont ignores the pedal, so a key released while the pedal is down is
    released here when the pedal comes up, unless it was struck again meanwhile.
    """
    pedal_down: set[int] = set()
    ringing: set[tuple[int, int]] = set()  # (channel, key) released under the pedal
    for event in events:
        seconds, kind, channel, a, b = event
        if kind == _CONTROL and a == _SUSTAIN:
            if b >= 64:
                pedal_down.add(channel)
            elif channel in pedal_down:
                pedal_down.discard(channel)
                for c, key in sorted(k for k in ringing if k[0] == channel):
                    ringing.discard((c, key))
                    yield seconds, _OFF, c, key, 0
        elif kind == _OFF and channel in pedal_down:
            ringing.add((channel, a))
        else:
            if kind == _ON:
                ringing.discard((channel, a))
            yield event


def _send(synth, kind: int, channel: int, a: int, b: int) -> None:
    """Play one event on a tinysoundfont.Synth."""
    if kind == _ON:
        synth.noteon(channel, a, b)
    elif kind == _OFF:
        synth.noteoff(channel, a)
    elif kind == _CONTROL:
        synth.control_change(channel, a, b)
    elif kind == _BEND:
        synth.pitchbend(channel, a)
    else:
        try:
            synth.program_change(channel, a, channel == 9)
        except Exception:  # a preset the SoundFont lacks: the track stays silent, as in FluidSynth
            pass


class FluidSynth:
    """midi2audio's ``FluidSynth`` API on top of :func:`render_midi`.

    Code written for midi2audio (``FluidSynth(sound_font, sample_rate).midi_to_audio(
    midi, wav)``) keeps working, with pianogan's SoundFont search, trimmed tail,
    normalisation and the pip fallback when FluidSynth is not installed.
    """

    def __init__(self, sound_font: str | os.PathLike | None = None, sample_rate: int = DEFAULT_RATE):
        self.sound_font = sound_font
        self.sample_rate = sample_rate

    def midi_to_audio(self, midi_file: str | os.PathLike, audio_file: str | os.PathLike) -> Path:
        """Render ``midi_file`` to the WAV file ``audio_file``; return its path."""
        if Path(audio_file).suffix.lower() != ".wav":
            raise AudioError(f"{audio_file}: only .wav output is supported")
        wav = render_midi(midi_file, audio_file, self.sound_font, self.sample_rate).wav
        assert wav is not None  # render_midi raises instead of returning a failure
        return wav
