"""Time ``pianogan generate`` as a user runs it: a whole command, imports and model load included.

Targets: one piece with audio in under 5 s; 100 pieces without audio in under 10 s; one
piece without audio in at most a third of the time ``python -c "import tensorflow"``
takes, measured in the same run (the model runs with its NumPy export, no TensorFlow).
Deciding the notes (``music.strays.decide_notes``: the threshold, and a margin for stray
notes) is also timed against the threshold alone and against the model's own pass over
the same 100 windows, in this process.
The same piece with Keras (a copy of the model without its export) shows what the
export saves. Uses the shipped ``models/generator.keras`` when it is there; otherwise an untrained
generator of the default architecture (same shapes and cost), with its key path
zeroed and its output bias set so that about 3% of the roll is lit in short notes (a
few hundred per piece, as in real music), because the notes drive the MIDI and audio work. Each command runs ``REPEATS`` times; the median counts.
With ``--against MODEL``, the commands without audio also run with another generator (its
NumPy export made in a temporary folder), each of its runs beside one of the model's, so
that both see the same load: how a new generator compares with an earlier one, say the
generator shipped before the bars architecture (``git show cfc3d94^:models/generator.keras``).
Those runs start in the temporary folder, where neither model finds the dataset it was
trained on: a model that records its dataset compares each piece with the training windows
when they are at hand (about a second, the same for any model), and one that does not
never does.

    python benchmarks/generate.py [--against OLD.keras]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "models" / "generator.keras"
REPEATS = 3
LIT_SHARE = 0.03


def stand_in_generator(path: Path) -> Path:
    """Save an untrained default generator that lights about LIT_SHARE of its pixels."""
    import numpy as np

    from pianogan.models.modelio import import_keras

    import_keras()
    from pianogan.models import architectures

    model = architectures.default_generator()
    key = model.get_layer("key")  # untrained, its per-pitch-class bias would hold notes for a whole window
    key.set_weights([np.zeros_like(w) for w in key.get_weights()])
    z = np.random.default_rng(0).standard_normal((32, architectures.LATENT_DIM)).astype("float32")
    p = np.clip(np.asarray(model(z, training=False)), 1e-7, 1 - 1e-7)
    logits = np.log(p / (1 - p))
    pitches = model.get_layer("pitches")
    kernel, bias = pitches.get_weights()
    pitches.set_weights([kernel, bias - np.quantile(logits, 1 - LIT_SHARE)])
    model.save(path)
    return path


def timed(argv: list[str], env: dict, python: list[str] | None = None, cwd: Path | None = None) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system, children included) of one command.

    The CPU time tells what the command costs when the machine is shared and the wall
    clock includes waiting for other people's work. ``python`` replaces ``-m pianogan``.
    """
    cpu_before = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *(python or ["-m", "pianogan", *argv])], env=env, capture_output=True, text=True, cwd=cwd)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{' '.join(python or argv)} failed:\n{done.stderr}")
    return seconds, _children_cpu() - cpu_before


def _report(label: str, runs: list[tuple[float, float]], target: float | None) -> float:
    """Print one line for a case; return its median wall-clock time."""
    median = statistics.median(wall for wall, _ in runs)
    cpu = statistics.median(cpu for _, cpu in runs)
    walls = ", ".join(f"{wall:.2f}" for wall, _ in runs)
    verdict = "" if target is None else f"; target < {target:g} s) {'ok' if median < target else 'SLOW'}"
    print(f"{label:>26}: {median:5.2f} s median wall, {cpu:.2f} s CPU (runs {walls}{verdict or ')'}")
    return median


def decoding_cost(model: Path) -> None:
    """Print the time to decide 100 windows' notes, beside the threshold alone and the model's pass."""
    import numpy as np

    from pianogan.models import portable
    from pianogan.models.modelio import load_generator
    from pianogan.models.sampling import latent_dim, probabilities
    from pianogan.music.strays import decide_notes

    generator = portable.load(model) or load_generator(model)
    latents = np.random.default_rng(0).standard_normal((100, latent_dim(generator))).astype(np.float32)

    def best(work) -> float:  # the fastest of REPEATS, in ms: the least disturbed by other work
        seconds = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            work()
            seconds.append(time.perf_counter() - start)
        return 1000 * min(seconds)

    windows = probabilities(generator, latents)
    forward, threshold, decided = best(lambda: probabilities(generator, latents)), best(lambda: windows >= 0.5), best(lambda: decide_notes(windows))
    print(
        f"{'deciding 100 windows':>26}: {decided:.1f} ms (the threshold alone {threshold:.1f} ms; the model's pass {forward:.0f} ms: +{decided / forward:.1%})"
    )


def side_by_side(model: Path, against: Path, env: dict, tmp: Path) -> None:
    """Time the commands without audio with ``model`` and ``against`` in turn, one run of each
    after the other, and print the medians' ratio."""
    baseline = tmp / "against" / "generator.keras"
    baseline.parent.mkdir()
    shutil.copy(against, baseline)
    timed(["export", str(baseline)], env)
    for label, options in (("100 pieces without audio", ["--n", "100", "--no-audio"]), ("1 piece without audio", ["--n", "1", "--no-audio"])):
        runs: dict[Path, list[tuple[float, float]]] = {model: [], baseline: []}
        for r in range(REPEATS):
            for which, path in enumerate(runs):
                runs[path].append(timed(["generate", "--model", str(path), *options, "-o", str(tmp / f"side{r}-{which}-{options[1]}")], env, cwd=tmp))
        new, old = (_report(f"{label}, {name}", runs[path], None) for name, path in (("this model", model), ("--against", baseline)))
        print(f"{label:>26}: this model takes {new / old:.2f}x the time of --against")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, help="another generator .keras to time side by side with the model")
    args = parser.parse_args()
    if args.against is not None and not args.against.is_file():
        sys.exit(f"{args.against}: no such generator file")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if SHIPPED.is_file():
            model, which = SHIPPED, f"shipped model {SHIPPED.relative_to(REPO)}"
        else:
            model = stand_in_generator(tmp / "stand_in.keras")
            which = "stand-in: untrained default architecture, 3% lit (models/generator.keras not present)"
        print(f"pianogan generate benchmark on {os.cpu_count()} CPU cores; model: {which}")
        keras_only = tmp / "keras_only.keras"  # the same model without its NumPy export beside it
        shutil.copy(model, keras_only)
        cases = [
            ("1 piece with audio", model, ["--n", "1"], 5.0),
            ("100 pieces without audio", model, ["--n", "100", "--no-audio"], 10.0),
            ("1 piece without audio", model, ["--n", "1", "--no-audio"], None),
            ("same, with Keras", keras_only, ["--n", "1", "--no-audio"], None),
        ]
        medians = {}
        for label, path, options, target in cases:
            runs = [timed(["generate", "--model", str(path), *options, "-o", str(tmp / f"run{r}")], env) for r in range(REPEATS)]
            medians[label] = _report(label, runs, target)
        decoding_cost(model)
        if args.against is not None:
            side_by_side(model, args.against, env, tmp)
        tensorflow = _report("python -c 'import tensorflow'", [timed([], env, ["-c", "import tensorflow"]) for _ in range(REPEATS)], None)
        ratio = medians["1 piece without audio"] / tensorflow
        verdict = "ok" if ratio <= 1 / 3 else "SLOW"
        print(f"{'generate --n 1 --no-audio / import tensorflow':>26}: {ratio:.3f} of the time (target <= 0.333) {verdict}")
        print(f"load average during the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
