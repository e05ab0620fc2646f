"""A piece of music from the generator, and everything a person does with one.

The command line, the web app and the Python API all hand pieces around as this one
type: a roll with the latents that made it, where it came from, the transposition it
was moved by and the tempo it plays at. Its methods write MIDI, WAV and pictures through
the same functions the batch commands use, and ``_repr_html_`` shows the roll with an
audio player when a notebook displays a piece.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pianogan.errors import AudioError, PianoganError
from pianogan.io.midi import OUTPUT_QPM, check_qpm, roll_notes, roll_to_score, write_midi
from pianogan.io.png import write_png
from pianogan.music.keys import estimate_keys, key_name, parse_key, transposition_to_key
from pianogan.roll import COLUMNS_PER_QUARTER, DEFAULT_VELOCITY, check_roll, transpose, transpose_on_piano

NOTEBOOK_RATE = 22050  # inline audio: mono at half the CD rate keeps a 37.5 s piece under 2 MB


@dataclass
class Piece:
    """One generated piece: its roll, the latent of each window, and where it came from.

    ``origin`` is ``{"seed": s, "index": k}`` for a sample, ``{"from_seed": a,
    "to_seed": b, "t": t}`` for a step of an interpolation, ``{"latent": ...}`` for a
    piece made from a given latent, and ``{"inverted": name, "iou": x}`` for the
    nearest piece to someone's music.
    """

    roll: np.ndarray  # bool (106, length)
    latents: np.ndarray  # float64 (windows, latent_dim)
    origin: dict = field(default_factory=dict)
    transposition: int = 0  # semitones the piece was moved by to reach its key
    bpm: float = OUTPUT_QPM  # quarter notes per minute when played; four columns per quarter

    @property
    def key(self) -> str:
        """The piece's key as the key estimator hears it ('A minor')."""
        return key_name(int(estimate_keys(self.roll)))

    @property
    def notes(self) -> int:
        return len(roll_notes(self.roll)[0])

    @property
    def lit_share(self) -> float:
        return float(self.roll.mean())

    @property
    def seconds_per_column(self) -> float:
        return 60.0 / self.bpm / COLUMNS_PER_QUARTER

    @property
    def seconds(self) -> float:
        return self.roll.shape[1] * self.seconds_per_column

    # --- new pieces from this one --------------------------------------------------

    def transpose(self, semitones: int) -> Piece:
        """The piece moved up (positive) or down by ``semitones``; notes pushed off the roll are lost."""
        return dataclasses.replace(self, roll=transpose(self.roll, int(semitones)), transposition=self.transposition + int(semitones))

    def in_key(self, key: str | int | None) -> Piece:
        """The piece moved the nearer way to ``key`` ('A minor', or an index 0..23; None: as it is)."""
        return move_to_key(self, parse_key(key) if isinstance(key, str) else key)

    def at_bpm(self, bpm: float) -> Piece:
        """The same notes played at another tempo."""
        return dataclasses.replace(self, bpm=check_qpm(bpm, "bpm"))

    # --- files ---------------------------------------------------------------------

    def midi_bytes(self, velocity: int = DEFAULT_VELOCITY) -> bytes:
        """The piece as a standard MIDI file at its tempo (what ``to_midi`` writes)."""
        return roll_to_score(check_roll(self.roll), velocity, self.bpm).dumps_midi()

    def to_midi(self, path: str | os.PathLike, velocity: int = DEFAULT_VELOCITY) -> Path:
        """Write the piece as MIDI at its tempo, every note at ``velocity``; returns the path."""
        write_midi(check_roll(self.roll), path, velocity, self.bpm)
        return Path(path)

    def to_png(self, path: str | os.PathLike) -> Path:
        """Write the roll in the training PNG format (106 rows, low notes on top)."""
        write_png(self.roll, path)
        return Path(path)

    def to_wav(self, path: str | os.PathLike, velocity: int = DEFAULT_VELOCITY, soundfont: str | os.PathLike | None = None, rate: int = 44100) -> Path:
        """Render the piece to a WAV file with the SoundFont, as ``pianogan midi2wav`` does."""
        from pianogan.io import audio

        if not self.roll.any():
            raise AudioError("a silent piece has no audio")
        with tempfile.TemporaryDirectory(prefix="pianogan-") as tmp:
            midi = self.to_midi(Path(tmp) / "piece.mid", velocity)
            audio.render_midi(midi, path, soundfont, rate)
        return Path(path)

    def wav_bytes(self, velocity: int = DEFAULT_VELOCITY, soundfont: str | os.PathLike | None = None, rate: int = 44100, mono: bool = False) -> bytes:
        """The rendered audio as the bytes of a WAV file (mono halves the size)."""
        from pianogan.io import audio

        with tempfile.TemporaryDirectory(prefix="pianogan-") as tmp:
            wav = self.to_wav(Path(tmp) / "piece.wav", velocity, soundfont, rate)
            if not mono:
                return wav.read_bytes()
            samples, rate = audio.read_wav(wav)
            pcm = np.round(samples.mean(axis=0) * 32767).astype("<i2")[:, None]
            audio.write_wav(pcm, Path(tmp) / "mono.wav", rate)
            return (Path(tmp) / "mono.wav").read_bytes()

    # --- pictures ------------------------------------------------------------------

    def picture(self):
        """The roll as people read it, a PIL image (high notes on top), as on the listening page."""
        from pianogan.compose import page

        return page.picture(self.roll)

    def plot(self, ax=None, title: str | None = None):
        """Draw the roll with matplotlib (seconds at the piece's tempo, bars); returns the Axes."""
        from pianogan.roll import plot_roll

        return plot_roll(self.roll, ax=ax, seconds_per_column=self.seconds_per_column, title=title)

    def describe(self) -> str:
        """One line of facts: length, notes, key, tempo."""
        return f"{self.seconds:.1f} s at {self.bpm:g} BPM, {self.notes} notes, {self.key}"

    def lead_sheet(self) -> str:
        """The piece bar by bar: chord, bass on each beat, texture and melody (``pianogan describe``)."""
        from pianogan.evaluation.describe import describe

        return describe(self.roll)

    def _repr_html_(self) -> str:
        """The roll picture and an audio player, for Jupyter (all inline: no files, no network)."""
        buffer = io.BytesIO()
        self.picture().save(buffer, format="PNG")
        image = base64.b64encode(buffer.getvalue()).decode()
        try:
            sound = base64.b64encode(self.wav_bytes(rate=NOTEBOOK_RATE, mono=True)).decode()
            player = f'<audio controls preload="auto" src="data:audio/wav;base64,{sound}"></audio>'
        except PianoganError as error:  # no renderer or SoundFont, or a silent piece
            player = f"<em>no audio: {html.escape(str(error))}</em>"
        return (
            f'<div class="pianogan-piece"><div>{html.escape(self.describe())}</div>'
            f'<img src="data:image/png;base64,{image}" alt="piano roll: time to the right, high notes on top">'
            f"<div>{player}</div></div>"
        )


def move_to_key(piece: Piece, key: int | None) -> Piece:
    """``piece`` moved the nearer way to ``key``'s scale, kept on the piano (None: as it is);
    see ``keys.transposition_to_key``. A piece too wide for any move to keep on the piano
    has its stray notes folded back by octaves (``roll.transpose_on_piano``)."""
    if key is None or not piece.roll.any():
        return piece
    semitones = transposition_to_key(piece.roll, key)
    return dataclasses.replace(piece, roll=transpose_on_piano(piece.roll, semitones), transposition=piece.transposition + semitones)
