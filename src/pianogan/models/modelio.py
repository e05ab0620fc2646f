"""Load a trained generator safely and check that it makes piano rolls.

Keras is imported here, lazily, so that commands which never touch a model start fast.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from pianogan.errors import ModelError
from pianogan.roll import N_PITCHES


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration of the block.

    TensorFlow's native libraries log a few lines on import (oneDNN notices) before its
    logging is initialised, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them; they would
    clutter every command's output. Python-level errors still propagate as exceptions.
    """
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr (some embedded interpreters): nothing to hide
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_keras():
    """Import Keras (TensorFlow backend by default) quietly and return the module.

    Also imports ``pianogan.models.architectures``, whose registered custom layers a saved generator
    may use; ``safe_mode`` loading only accepts classes that are registered.

    Then it moves every object created so far out of the garbage collector's reach
    (``gc.freeze``): the import leaves ~370,000 long-lived objects, and the collections
    that follow, the ones at interpreter exit included, would walk them again. That
    costs about 1 s of CPU in a 4 s ``pianogan generate`` on 2 cores.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _native_stderr_silenced():
        import keras

        import pianogan.models.architectures  # noqa: F401  (registers the custom layers)
    gc.freeze()
    return keras


def load_generator(path: str | os.PathLike):
    """Load a generator saved with ``model.save('x.keras')``; check its shapes.

    Loading uses ``safe_mode=True`` (no arbitrary code from the file, e.g. lambdas) and
    ``compile=False`` (sampling needs no optimizer), after ``check_archive``. A generator must map latents
    ``(None, latent_dim)`` to rolls ``(None, 106, W, 1)``; anything else, or a file that
    is missing or not a Keras model, is a one-line ModelError naming the file.
    """
    path = Path(path)
    if path.is_dir():
        raise ModelError(f"{path}: is a folder, not a .keras model file")
    if not path.is_file():
        raise ModelError(f"{path}: no such model file (train one with `pianogan train`, or pass {{model}} or set PIANOGAN_MODEL)", mentions=["model"])
    check_archive(path)
    keras = import_keras()
    try:
        model = keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as error:  # Keras raises ValueError, OSError, TypeError, zip errors...
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(f"{path}: not a loadable Keras model ({reason[:200]})") from None
    check_generator(model, path)
    return model


# A generator's config.json is about 30 KB and its weights a few MB (60 MB for the seed
# architecture); Keras parses the whole config in memory, so a larger one is refused unread.
MAX_MEMBER_BYTES = {"config.json": 4 << 20, "metadata.json": 1 << 20}
MAX_ARCHIVE_BYTES = 1 << 30


def check_archive(path: Path) -> None:
    """Refuse, from the zip directory alone, a file that is no ``.keras`` archive or whose
    members would expand beyond what any generator needs (a 5 MB file can hold a 1 GiB
    config.json)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info.file_size for info in archive.infolist()}
    except (OSError, zipfile.BadZipFile, ValueError) as error:
        raise ModelError(f"{path}: not a loadable Keras model (not a .keras archive: {error})") from None
    if "config.json" not in members:
        raise ModelError(f"{path}: not a loadable Keras model (no config.json in the archive)")
    for name, limit in MAX_MEMBER_BYTES.items():
        if members.get(name, 0) > limit:
            raise ModelError(f"{path}: {name} holds {members[name]:,} bytes, more than the {limit:,} a generator needs; refused unread")
    if sum(members.values()) > MAX_ARCHIVE_BYTES:
        raise ModelError(
            f"{path}: the archive expands to {sum(members.values()):,} bytes, more than the {MAX_ARCHIVE_BYTES:,} a generator needs; refused unread"
        )


def check_generator(model, path: str | os.PathLike) -> None:
    """Raise a one-line ModelError unless ``model`` maps (None, d) to (None, 106, W, 1)."""
    try:
        inputs, outputs = tuple(model.input_shape), tuple(model.output_shape)
    except (AttributeError, ValueError, TypeError):
        raise ModelError(f"{path}: the model has no single input and output (is it a generator?)") from None
    if len(inputs) != 2 or inputs[0] is not None or not inputs[1]:
        raise ModelError(f"{path}: generator input must be (None, latent_dim), got {inputs}")
    if len(outputs) != 4 or outputs[0] is not None or outputs[1] != N_PITCHES or not outputs[2] or outputs[3] != 1:
        raise ModelError(f"{path}: generator output must be (None, {N_PITCHES}, W, 1), got {outputs}")


FACTS = "pianogan.json"  # what training knew about its data, stored inside the .keras archive
MAX_FACTS_BYTES = 1 << 20


def write_facts(path: str | os.PathLike, facts: dict) -> None:
    """Store ``facts`` (JSON) in a saved ``.keras`` archive as ``pianogan.json``, in place of
    any it holds.

    Keras ignores members it does not know, so the model loads as before, and the facts
    (the key distribution of the training data, how keys were handled, the dataset's
    fingerprint) travel with the file wherever it is copied. An archive that holds facts
    already is written anew without them (atomically: a reader sees the old file or the
    new one), since a zip member cannot be replaced in place.
    """
    path = Path(path)
    with zipfile.ZipFile(path) as archive:
        holds_facts = FACTS in archive.namelist()
    if not holds_facts:
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr(FACTS, json.dumps(facts, indent=1))
        return
    from pianogan.io.atomic import atomic_path, complete_zip

    with atomic_path(path, check=complete_zip) as tmp:
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(tmp, "w") as target:
            for info in source.infolist():
                if info.filename != FACTS:
                    target.writestr(info, source.read(info))
            target.writestr(FACTS, json.dumps(facts, indent=1))


def read_facts(path: str | os.PathLike) -> dict:
    """The facts ``write_facts`` stored in a model file; empty for models saved without them.

    Read without loading the model: the member's size is checked before it is read, and
    anything unreadable counts as no facts (the model itself is checked when loaded).
    """
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(FACTS)
            if info.file_size > MAX_FACTS_BYTES:
                return {}
            facts = json.loads(archive.read(info))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return {}
    return facts if isinstance(facts, dict) else {}


def key_distribution(facts: dict) -> list[float] | None:
    """The training data's share of each of the 24 keys, from a key-normalised model's
    ``facts``: its pieces are written in one key and moved to keys drawn from it
    (``keys.choose_keys``). None for a model that writes its keys itself."""
    return facts.get("key_distribution") if facts.get("key_mode") == "normalise" else None


def key_registers(facts: dict) -> dict | None:
    """Where the training windows of each key sit on the keyboard (``keys.key_registers``),
    from a key-normalised model's ``facts``; None for a model trained before they were
    stored, or one that writes its keys itself, whose keys are drawn without them."""
    registers = facts.get("key_registers") if facts.get("key_mode") == "normalise" else None
    if not isinstance(registers, dict):
        return None
    try:
        means, covariance = (np.asarray(registers.get(name), dtype=float) for name in ("means", "covariance"))
    except (TypeError, ValueError):
        return None
    usable = (
        means.shape == (24, 2)
        and covariance.shape == (2, 2)
        and np.isfinite(means).all()
        and np.isfinite(covariance).all()
        and np.allclose(covariance, covariance.T)
        and np.linalg.eigvalsh(covariance).min() > 0
    )
    return registers if usable else None  # facts not as training writes them are left unused
