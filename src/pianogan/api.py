"""The Python API: load a generator once, then sample, steer, morph and invert pieces.

    import pianogan
    g = pianogan.load_generator()            # the shipped model, NumPy runtime when exported
    a, b = g.sample(2, seed=7)               # the pieces `pianogan generate --seed 7` writes
    a.to_midi("a.mid"); b.in_key("A minor").at_bpm(96).to_wav("b.wav")
    row = g.interpolate(a, b, n=5)           # five pieces morphing from a to b
    found = g.invert("song.mid")             # the piece nearest to the song's first window
    found.iou, found.piece, g.variations(found.piece, n=4)

``pianogan generate`` and ``pianogan serve`` call these same methods. Nothing here
imports TensorFlow unless the model has no NumPy export (``pianogan export``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pianogan.compose import generate
from pianogan.compose.piece import Piece, move_to_key
from pianogan.errors import ModelError, OptionError, PianoganError, ShapeError
from pianogan.io.midi import OUTPUT_QPM
from pianogan.models import modelio, sampling
from pianogan.music import keys

RUNTIMES = ("auto", "numpy", "keras")


@dataclass(frozen=True)
class Found:
    """What ``Generator.invert`` found: the upload's window, the nearest piece and their IoU."""

    target: Piece
    piece: Piece
    iou: float
    evaluations: int

    def _repr_html_(self) -> str:
        """The upload's window and the nearest piece, each with its roll and player."""
        import html

        return (
            f"<div><b>{html.escape(self.target.origin.get('name', 'music'))}</b>, its first window:{self.target._repr_html_()}"
            f"<b>nearest piece, IoU {self.iou:.3f}</b>:{self.piece._repr_html_()}</div>"
        )


class Generator:
    """A loaded generator and what it can make. Create it with ``load_generator``.

    ``runtime`` says which engine runs it: ``"numpy"`` (the export beside the model
    file; no TensorFlow) or ``"keras"``.
    """

    def __init__(self, model, path: Path, facts: dict, training: str | os.PathLike | None = None):
        self.model, self.path, self.facts = model, path, facts
        self.runtime = getattr(model, "runtime", "keras")
        self._training_dir, self._training = training, None

    def with_model(self, model) -> Generator:
        """The same generator (path, facts, training set) run through ``model``, e.g. a wrapper of it."""
        twin = Generator(model, self.path, self.facts, self._training_dir)
        twin._training = self._training
        return twin

    def __repr__(self) -> str:
        return f"<pianogan.Generator {self.path.name} ({self.runtime}): {self.latent_dim} numbers -> 106 x {self.width}>"

    @property
    def latent_dim(self) -> int:
        return sampling.latent_dim(self.model)

    @property
    def width(self) -> int:
        """Columns per window (300: 37.5 s at 120 BPM)."""
        return sampling.window_width(self.model)

    @property
    def key_distribution(self) -> list[float] | None:
        """The training data's share of each of the 24 keys, for a key-normalised model."""
        return modelio.key_distribution(self.facts)

    @property
    def key_registers(self) -> dict | None:
        """Where the training windows of each key sit (``keys.key_registers``), for a
        key-normalised model trained since they are stored: drawn keys are weighed by them."""
        return modelio.key_registers(self.facts)

    @property
    def training(self):
        """The training set pieces are compared with (``originality.TrainingSet``), or None when not at hand."""
        from pianogan.evaluation import originality

        if self._training is None:
            self._training = originality.for_model(self.facts, self._training_dir) or False
        return self._training or None

    def nearest_training(self, pieces: list[Piece]) -> list[dict] | None:
        """Each piece's nearest training window (IoU with transposition, source piece), or None without a training set."""
        return self.training.nearest([p.roll for p in pieces]) if self.training else None

    def latent(self, seed: int, index: int = 0) -> np.ndarray:
        """The first latent of piece ``index`` of ``seed``, as ``sample`` draws it."""
        return generate.anchors(seed, index + 1, 1, self.latent_dim)[index, 0]

    def sample(
        self,
        n: int = 4,
        seed: int = 0,
        length: int | None = None,
        threshold: float = 0.5,
        key: str | None = None,
        bpm: float = OUTPUT_QPM,
        progress: bool = False,
    ) -> list[Piece]:
        """``n`` new pieces; the same seed and options always give the same pieces.

        ``key``: a key name ('Eb major'), ``"any"`` (a key per piece, all 24 alike) or
        None (keys drawn like the training data's for a key-normalised model, else the
        keys the generator writes).
        """
        generate.check_options(n, seed, length, threshold, bpm=bpm)
        pieces = generate.sample(self.model, n=n, seed=seed, length=length, threshold=threshold, progress=progress)
        chosen = keys.choose_keys(key, [(seed, k) for k in range(n)], self.key_distribution, [p.roll for p in pieces], self.key_registers)
        return [_finish(p, k, bpm) for p, k in zip(pieces, chosen)]

    def piece(
        self,
        latent,
        length: int | None = None,
        threshold: float = 0.5,
        key: str | int | None = None,
        bpm: float = OUTPUT_QPM,
        seed: int = 0,
    ) -> Piece:
        """The piece whose first window comes from ``latent`` (a sequence of ``latent_dim`` numbers).

        A longer piece continues along seed ``seed``'s path, so ``piece(latent(s), seed=s)``
        equals ``sample(1, seed=s)[0]`` with the model's own key.
        """
        generate.check_options(1, seed, length, threshold, bpm=bpm)
        (piece,) = generate.pieces_from_latents(self.model, np.asarray(latent, dtype=np.float64)[None], seed, length, threshold)
        return _finish(piece, _key_index(key), bpm)

    def interpolate(
        self,
        a,
        b,
        n: int = 4,
        length: int | None = None,
        threshold: float = 0.5,
        key: str | int | None = None,
        bpm: float = OUTPUT_QPM,
    ) -> list[Piece]:
        """``n`` pieces morphing from ``a`` to ``b`` (spherical interpolation of latents).

        ``a`` and ``b`` are seeds (then exactly ``pianogan generate --interpolate A B``),
        Pieces or latents. The whole row shares one key so that it morphs smoothly.
        """
        if isinstance(a, (int, np.integer)) and isinstance(b, (int, np.integer)):
            generate.check_options(n, int(a), length, threshold, interpolating=True, bpm=bpm)
            pieces = generate.interpolate(self.model, int(a), int(b), n=n, length=length, threshold=threshold)
            chosen = key if isinstance(key, int) else keys.choose_keys(key, [(int(a), 0)], self.key_distribution, [pieces[0].roll], self.key_registers)[0]
            return [_finish(p, chosen, bpm) for p in pieces]
        start, end = (self._first_latent(x) for x in (a, b))
        if n < 2:
            raise OptionError("n", f"must be at least 2 for an interpolation, got {n}")
        steps = [k / (n - 1) for k in range(n)]
        latents = np.stack([generate.slerp(start, end, t) for t in steps])
        pieces = generate.pieces_from_latents(self.model, latents, 0, length, threshold)
        key = _key_index(key)
        return [_finish(_with_origin(p, {"morph": round(t, 6)}), key, bpm) for p, t in zip(pieces, steps)]

    def variations(
        self,
        of,
        n: int = 4,
        spread: float = 0.35,
        seed: int = 0,
        length: int | None = None,
        threshold: float = 0.5,
        key: str | int | None = None,
        bpm: float = OUTPUT_QPM,
    ) -> list[Piece]:
        """``n`` pieces near ``of`` (a Piece or a latent): its latent plus Gaussian noise of ``spread``."""
        if not 0 < spread <= 3:
            raise OptionError("spread", f"must lie in (0, 3], got {spread}")
        centre = self._first_latent(of)
        noise = np.random.default_rng([seed, 0x7A]).standard_normal((n, len(centre)))
        pieces = generate.pieces_from_latents(self.model, centre + spread * noise, seed, length, threshold)
        key = _key_index(key)
        return [_finish(p, key, bpm) for p in pieces]

    def invert(self, source, name: str | None = None, threshold: float = 0.5, seed: int = 0, **search) -> Found:
        """The piece nearest to the first window of ``source``: a MIDI or roll PNG path, its bytes, a roll or a Piece.

        ``search`` passes options to ``invert.nearest_latent`` (``starts``, ``generations``...).
        """
        from pianogan.compose import invert, sources

        roll, shown = sources.as_roll(source, name)
        window = sources.first_window(roll, self.width, shown)
        found = invert.nearest_latent(self.model, window, threshold=threshold, seed=seed, **search)
        piece = self.piece(found.latent, threshold=threshold)
        piece = _with_origin(piece, {"inverted": shown, "iou": round(found.iou, 6)})
        target = Piece(window, np.zeros((0, self.latent_dim)), {"name": shown})
        return Found(target, piece, found.iou, found.evaluations)

    def _first_latent(self, x) -> np.ndarray:
        if isinstance(x, Piece):
            if not len(x.latents):
                raise PianoganError("this piece has no latent (it was not made by a generator)")
            return np.asarray(x.latents[0], dtype=np.float64)
        if isinstance(x, (int, np.integer)):
            return self.latent(int(x))
        latent = np.asarray(x, dtype=np.float64)
        if latent.shape != (self.latent_dim,) or not np.isfinite(latent).all():
            raise ShapeError(f"a latent must be {self.latent_dim} finite numbers, got shape {latent.shape}")
        return latent


def _key_index(key: str | int | None) -> int | None:
    from pianogan.music.keys import parse_key

    return parse_key(key) if isinstance(key, str) else key


def _finish(piece: Piece, key: int | None, bpm: float) -> Piece:
    """The piece in ``key`` (None: as written) at ``bpm``."""
    return dataclasses.replace(move_to_key(piece, key), bpm=float(bpm))


def _with_origin(piece: Piece, extra: dict) -> Piece:
    return dataclasses.replace(piece, origin={**piece.origin, **extra})


def load_generator(path: str | os.PathLike | None = None, runtime: str = "auto", training: str | os.PathLike | None = None) -> Generator:
    """Load a generator: ``path`` (default ``$PIANOGAN_MODEL`` or the shipped one).

    ``runtime="auto"`` runs the NumPy export beside the file when it is there and was
    made from this very file (no TensorFlow import: well under a second), else Keras;
    ``"numpy"`` insists on the export, ``"keras"`` on Keras. ``training`` names a
    prepared dataset whose train split ``nearest_training`` compares pieces with (by
    default the model's own, when its facts name one that is at hand).
    """
    from pianogan.models import portable
    from pianogan.models.modelio import load_generator as load_keras
    from pianogan.models.modelio import read_facts

    if runtime not in RUNTIMES:
        raise OptionError("runtime", f"must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    path = Path(path) if path is not None else sampling.default_model_path()
    model = portable.load(path) if runtime != "keras" else None
    if model is None and runtime == "numpy":
        raise ModelError(f"{path}: no up-to-date NumPy export beside it (run `pianogan export {path}`)")
    if model is None:
        model = load_keras(path)
    return Generator(model, path, read_facts(path), training)
