"""Training under JAX and PyTorch beside TensorFlow, and on two devices or in two processes.

Keras picks its backend once per process, so each run under another backend is a
``pianogan train`` in a subprocess with its own ``KERAS_BACKEND`` (and, for TensorFlow on
two devices, its CPU split in two before TensorFlow starts); this process (TensorFlow,
one device) trains the TensorFlow references and reads what the others wrote. PyTorch is
an extra that ``make test`` does not install: its tests skip without it.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import prepare_chord_dataset

from pianogan.cli import main
from pianogan.models import modelio
from pianogan.training import runlog

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_JAX = importlib.util.find_spec("jax") is not None
BACKENDS = [
    pytest.param("jax", marks=pytest.mark.skipif(not HAS_JAX, reason="JAX not installed (pip install 'pianogan[jax]')")),
    pytest.param("torch", marks=pytest.mark.skipif(not HAS_TORCH, reason="PyTorch not installed (pip install 'pianogan[torch]'); make test leaves it out")),
]
needs_jax = pytest.mark.skipif(not HAS_JAX, reason="JAX not installed (pip install 'pianogan[jax]')")
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch not installed (pip install 'pianogan[torch]'); make test leaves it out")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return prepare_chord_dataset(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module", autouse=True)
def jax_compilation_cache(tmp_path_factory):
    """One persistent compilation cache for this module's JAX processes, so a training step
    that one process compiled (half a minute on 2 cores) the next one loads: a resumed run
    is the same program as the run it continues."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path_factory.mktemp("jax_cache")))
        patch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
        patch.setenv("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
        yield


def _env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("KERAS_BACKEND", "XLA_FLAGS")}
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "3", **extra}


def _train(dataset, run, *options: str, env: dict | None = None, wait: bool = True):
    """``pianogan train`` in a new process (a Popen when not ``wait``)."""
    command = [sys.executable, "-m", "pianogan", "train", str(dataset), "-o", str(run), "--quiet", *options]
    if not wait:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or _env())
    done = subprocess.run(command, capture_output=True, text=True, env=env or _env(), timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _state(run) -> dict[str, np.ndarray]:
    with np.load(run / "checkpoint.npz") as saved:
        return {key: saved[key] for key in saved.files}


SAMPLE = r"""
import sys
import keras
import numpy as np
from pianogan.models import modelio
generator = modelio.load_generator(sys.argv[1])
rolls = keras.ops.convert_to_numpy(generator(np.random.default_rng(0).standard_normal((3, generator.input.shape[-1])).astype("float32")))
print(rolls.shape, bool(np.isfinite(rolls).all()))
"""

# Batch 4: at batch 2 the discriminator's minibatch deviation (a std without epsilon) can
# meet a feature equal across the batch, whose gradient is NaN.
SMALL = ("--batch-size", "4", "--checkpoint-every", "2", "--sample-every", "4", "--arch", "bars", "--augment", "both")
# On the chord dataset the texture figures barely vary, so its texture gap is about 5,000
# (the largest gap between its pitches and their classes' entropy are alike in every
# window): this weight keeps it at the adversarial loss's size. Its kernel discrepancy is logged
# but left out of the loss: with G's figures tens of spreads from the data's, the kernel's
# random features turn round-off into gradient (two devices' weights 5e-3 apart after 3
# steps at weight 0.001), which says nothing about how the batch is shared.
TEXTURE = ("--texture-matching", "0.0001")
# Mode seeking reads about 30 on a young generator's rolls; at this weight it is a tenth of the adversarial loss.
MODE_SEEKING = ("--mode-seeking", "0.003")


@pytest.fixture(scope="module")
def straight_run(dataset, tmp_path_factory):
    """``straight_run(backend, steps=4)``: uninterrupted steps at batch 4 under a backend,
    trained when first asked for, with every batch-wide statistic in play (the generator's
    batch normalisation, the discriminator's minibatch deviation). Resumed runs, and runs
    on two devices or in two processes (``DEVICE_STEPS``), must train like it."""
    runs: dict[tuple[str, int], Path] = {}

    def run(backend: str, steps: int = 4):
        if (backend, steps) not in runs:
            runs[backend, steps] = tmp_path_factory.mktemp(backend) / "straight"
            _train(dataset, runs[backend, steps], "--backend", backend, "--steps", str(steps), *SMALL)
        return runs[backend, steps]

    return run


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_backend_trains_resumes_exactly_and_its_generator_samples_under_the_others(backend, dataset, straight_run, tmp_path):
    straight, resumed = straight_run(backend), tmp_path / "resumed"
    _train(dataset, resumed, "--backend", backend, "--steps", "2", *SMALL)
    _train(dataset, resumed, "--backend", backend, "--steps", "4", "--resume", *SMALL)
    a, b = _state(straight), _state(resumed)
    assert a.keys() == b.keys() and int(b["step/0"]) == 4
    assert np.isfinite(np.loadtxt(resumed / "train_log.csv", delimiter=",", skiprows=1, usecols=range(len(runlog.LOG_FIELDS)))).all()
    assert all(np.array_equal(a[key], b[key]) for key in a), [key for key in a if not np.array_equal(a[key], b[key])]
    assert json.loads((resumed / "config.json").read_text())["backend"] == backend
    assert (resumed / "samples" / "step_0000004.png").exists()

    # Under TensorFlow (this process) the generator loads and samples; so it does under the other extra, where installed.
    generator = modelio.load_generator(resumed / "generator.keras")
    rolls = np.asarray(generator(np.random.default_rng(0).standard_normal((3, generator.input.shape[-1])).astype("float32")))
    assert rolls.shape == (3, 106, 300, 1) and np.isfinite(rolls).all()
    other = {"jax": "torch", "torch": "jax"}[backend]
    if importlib.util.find_spec(other) is not None:
        done = subprocess.run(
            [sys.executable, "-c", SAMPLE, str(resumed / "generator.keras")], capture_output=True, text=True, env=_env(KERAS_BACKEND=other), timeout=600
        )
        assert done.returncode == 0 and done.stdout.split()[-1] == "True", done.stderr[-3000:]

    # Its checkpoint continues only under the backend that wrote it: a one-line error under TensorFlow.
    assert main(["train", str(dataset), "-o", str(resumed), "--steps", "6", "--resume", "--backend", "tensorflow", "--quiet"]) == 2


def _logged(run: Path) -> dict[str, np.ndarray]:
    """The figures every step of a run logs (the losses, D's outputs and the extra terms it trains with), by name."""
    with open(run / "train_log.csv", newline="") as log:
        rows = list(csv.DictReader(log))
    names = runlog.LOG_FIELDS[2:] + [name for name in runlog.TERM_FIELDS if rows[0][name]]
    return {name: np.array([float(row[name]) for row in rows]) for name in names}


# On the chord dataset G's figures lie tens of spreads from the data's, so the kernel
# discrepancy reads them through cosines of angles of tens of radians, and round-off in
# the figures moves it in its fifth digit (measured: 3.91177 against 3.91157 on two
# devices); were it read from each device's share of the batch alone, it would differ in
# the first. The texture gap, about 10,000 there, moves in its sixth digit once mode
# seeking's gradient joins it (11578.39 against 11578.55 at the third step).
RELATIVE_TOLERANCE = {"texture_kernel_gap": 1e-4, "texture_gap": 1e-4}
# JAX and PyTorch runs on several devices or processes are compared with a straight run
# after two steps. Later, round-off in the devices' shares of the batch can move a
# generated pixel across the 0.5 at which D hears it sound, and everything after with it:
# on an AVX-512 machine, JAX on two devices flipped one pixel of 127,200 at the fourth
# step (the lit share 0.00320 against 0.00319, D's loss 1.23648 against 1.23642, G's
# first Adam moments apart by more than a tenth). Two steps read every batch-wide
# statistic twice, and a batch shared wrongly between the devices moves the first step's
# figures already.
DEVICE_STEPS = 2


def _same_training(one, other) -> None:
    """Same logged figures to 1e-5, the same weights within what float round-off can move
    them in the steps taken (Adam's first updates are near ±lr (2e-4) whatever the
    gradient's size, so a gradient that rounds across zero moves a weight by up to 2 lr a
    step), and the same optimizer moments within 10% of each one's largest."""
    logs = [_logged(run) for run in (one, other)]
    assert logs[0].keys() == logs[1].keys()
    for name, figures in logs[0].items():
        tolerance = RELATIVE_TOLERANCE.get(name, 1e-5)
        assert figures.shape == logs[1][name].shape and np.allclose(figures, logs[1][name], rtol=tolerance, atol=1e-5), name
    a, b = _state(one), _state(other)
    moments = [key for key in a if "optimizer" in key and a[key].dtype.kind == "f"]
    worst = max(float(np.abs(a[key].astype(np.float64) - b[key]).max()) for key in a if key not in moments)
    assert worst < len(logs[0]["d_loss"]) * 2 * 2e-4, worst
    # Adam's moments are averages of the gradients (and their squares), so round-off moves
    # them in proportion to their size, not the learning rate's; on the chord dataset, whose
    # texture figures lie tens of spreads from G's, a gradient is a sum of large terms that
    # nearly cancel (measured: up to 6% of a moment's largest). A batch shared wrongly
    # between the devices moves them by their own size.
    for key in moments:
        assert np.allclose(a[key], b[key], rtol=0, atol=0.1 * float(np.abs(a[key]).max()) + 1e-12), key


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_figure_critic_trains_and_resumes_exactly(backend, dataset, tmp_path):
    """The critic's weights, optimizer and memory pass through each backend's step as G's
    and D's do, and so do learning rates that fall over the last two steps, the fall added
    on resume."""
    options = ("--backend", backend, *SMALL, *TEXTURE, "--figure-critic", "1", "--critic-memory", "16")
    _train(dataset, tmp_path / "straight", "--steps", "4", "--lr-decay-steps", "2", *options)
    _train(dataset, tmp_path / "resumed", "--steps", "2", *options)
    halfway = _state(tmp_path / "resumed")
    _train(dataset, tmp_path / "resumed", "--steps", "4", "--lr-decay-steps", "2", "--resume", *options)
    a, b = _state(tmp_path / "straight"), _state(tmp_path / "resumed")
    assert a.keys() == b.keys() and any(key.startswith("critic/") for key in a)
    assert all(np.allclose(a[key], b[key], atol=1e-5) for key in a), [key for key in a if not np.allclose(a[key], b[key], atol=1e-5)]
    for optimizer, rate in (("g_optimizer", 2e-4), ("d_optimizer", 2e-4), ("c_optimizer", 2e-4)):  # the last step's: half of each
        assert any(key.startswith(f"{optimizer}/") and b[key].shape == () and np.isclose(b[key], rate / 2) for key in b), optimizer
    assert not np.array_equal(halfway["critic/0"], b["critic/0"])  # it learns from step to step
    assert [bool(np.any(batch)) for batch in b["critic_memory/0"][:6]] == [True] * 4 + [False] * 2  # a batch kept each step


@needs_jax
@pytest.mark.slow
def test_two_jax_devices_keep_the_critics_memory_as_one_does(dataset, tmp_path):
    """The critic's memory holds the whole batch's figures, written by JAX's step (whose batch
    is global) on two devices as on one; the learning rates, falling, are set on both."""
    options = ("--backend", "jax", "--steps", "3", "--lr-decay-steps", "2", *SMALL, *TEXTURE, "--figure-critic", "1", "--critic-memory", "16")
    _train(dataset, tmp_path / "one", *options)
    _train(dataset, tmp_path / "two", "--devices", "2", *options, env=_env(XLA_FLAGS="--xla_force_host_platform_device_count=2"))
    _same_training(tmp_path / "one", tmp_path / "two")
    assert np.all(np.any(_state(tmp_path / "two")["critic_memory/0"][:3] != 0, axis=-1))  # every window's figures, on both devices


@needs_jax
def test_two_virtual_devices_train_like_one(dataset, straight_run, tmp_path):
    env = _env(XLA_FLAGS="--xla_force_host_platform_device_count=2")
    _train(dataset, tmp_path / "two", "--backend", "jax", "--devices", "2", "--steps", str(DEVICE_STEPS), *SMALL, env=env)
    _same_training(straight_run("jax", DEVICE_STEPS), tmp_path / "two")
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "pianogan",
            "train",
            str(dataset),
            "-o",
            str(tmp_path / "odd"),
            "--backend",
            "jax",
            "--devices",
            "2",
            "--batch-size",
            "3",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert bad.returncode == 2 and "--batch-size 3 does not split evenly over 2 devices" in bad.stderr and not (tmp_path / "odd").exists()


TWO_CPUS = r"""
import contextlib, io, json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from pianogan.cli import main
report = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    report.append([code, err.getvalue()])
print(json.dumps(report))
"""


def _on_two_cpus(*argvs: list[str]) -> list[tuple[int, str]]:
    """``pianogan ARGV`` for each argument list, one after the other, under TensorFlow in one
    new process whose CPU shows as two devices (TensorFlow starts once, not once for each):
    each one's exit code and standard error."""
    done = subprocess.run(
        [sys.executable, "-c", TWO_CPUS, json.dumps(argvs)], capture_output=True, text=True, env=_env(KERAS_BACKEND="tensorflow"), timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [(code, err) for code, err in json.loads(done.stdout.strip().splitlines()[-1])]


@pytest.mark.slow
def test_two_tensorflow_devices_train_like_one(dataset, tmp_path):
    """MirroredStrategy over two logical CPUs, with synchronized batch normalisation, the
    minibatch deviation, texture matching's batch figures (and its kernel features,
    logged), mode seeking's pairs over both replicas and falling learning rates: the
    one-device figures and weights (measured: the logs equal to their 5 decimals, the
    weights within 3e-4, the moments within 6%)."""
    options = ["--backend", "tensorflow", "--steps", "3", "--lr-decay-steps", "2", "--batch-size", "4", "--arch", "bars", "--augment", "both"]
    options += [*TEXTURE, *MODE_SEEKING, "--quiet"]
    assert main(["train", str(dataset), "-o", str(tmp_path / "one"), *options]) == 0  # this process has one device
    refused = {
        ("--batch-size", "3"): "--batch-size 3 does not split evenly over 2 devices",
        ("--arch", "seed"): "--devices 2: dropout (the seed discriminator's) would draw the same mask on every share of the batch",
        ("--figure-critic", "1", "--critic-memory", "32"): "--devices 2 under TensorFlow: --critic-memory keeps whole batches, which this step splits",
    }
    bad = ["train", str(dataset), "-o", str(tmp_path / "bad"), "--devices", "2", "--quiet"]
    (code, err), *refusals = _on_two_cpus(
        ["train", str(dataset), "-o", str(tmp_path / "two"), "--devices", "2", *options], *[bad + list(extra) for extra in refused]
    )
    assert code == 0, err[-3000:]
    _same_training(tmp_path / "one", tmp_path / "two")
    with zipfile.ZipFile(tmp_path / "two" / "generator.keras") as saved:  # loads under every backend
        assert '"synchronized": true' not in saved.read("config.json").decode()
    for message, (code, err) in zip(refused.values(), refusals):
        assert code == 2 and message in err and "Traceback" not in err, err[-3000:]
    assert not (tmp_path / "bad").exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
@needs_jax
def test_two_processes_on_localhost_train_together_and_only_the_first_writes(dataset, straight_run, tmp_path):
    cluster = ("--num-processes", "2", "--coordinator", f"127.0.0.1:{_free_port()}", "--backend", "jax")
    workers = [_train(dataset, tmp_path / f"run{i}", *cluster, "--process-id", str(i), "--steps", str(DEVICE_STEPS), *SMALL, wait=False) for i in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=900)
        assert worker.returncode == 0, err[-3000:]
    assert not (tmp_path / "run1").exists()  # process 1 trained but wrote nothing
    _same_training(straight_run("jax", DEVICE_STEPS), tmp_path / "run0")
    assert (tmp_path / "run0" / "generator.keras").exists()


@pytest.mark.slow
@needs_torch
def test_two_torch_processes_train_like_one_and_only_the_first_writes(dataset, straight_run, tmp_path):
    """Two gloo processes on localhost, the first started with our options and the second as
    torchrun starts one (its environment variables): the one-process figures and weights
    (measured at four steps: the logs equal to their 5 decimals, the weights within 1e-6)."""
    options = ("--backend", "torch", "--steps", str(DEVICE_STEPS), *SMALL)
    port = str(_free_port())
    first = _train(dataset, tmp_path / "run0", *options, "--num-processes", "2", "--process-id", "0", "--coordinator", f"127.0.0.1:{port}", wait=False)
    torchrun = _env(WORLD_SIZE="2", RANK="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
    second = _train(dataset, tmp_path / "run1", *options, env=torchrun, wait=False)
    for worker in (first, second):
        _, err = worker.communicate(timeout=900)
        assert worker.returncode == 0, err[-3000:]
    assert not (tmp_path / "run1").exists()  # process 1 trained but wrote nothing
    _same_training(straight_run("torch", DEVICE_STEPS), tmp_path / "run0")

    bad = subprocess.run(
        [sys.executable, "-m", "pianogan", "train", str(dataset), "-o", str(tmp_path / "bad"), "--backend", "torch", "--devices", "2", "--quiet"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
    )
    assert bad.returncode == 2 and "--devices 2: under --backend torch each process trains on one device" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad").exists()


@pytest.mark.slow
@needs_torch
def test_two_torch_processes_train_the_figure_critic_like_one(dataset, tmp_path):
    """The critic's batch spread and gradients are shared over the processes as D's are."""
    options = ("--backend", "torch", "--steps", str(DEVICE_STEPS), *SMALL, *TEXTURE, "--figure-critic", "1")
    _train(dataset, tmp_path / "straight", *options)
    port = str(_free_port())
    first = _train(dataset, tmp_path / "run0", *options, "--num-processes", "2", "--process-id", "0", "--coordinator", f"127.0.0.1:{port}", wait=False)
    second = _train(dataset, tmp_path / "run1", *options, env=_env(WORLD_SIZE="2", RANK="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=port), wait=False)
    for worker in (first, second):
        _, err = worker.communicate(timeout=900)
        assert worker.returncode == 0, err[-3000:]
    _same_training(tmp_path / "straight", tmp_path / "run0")
    assert "critic_loss" in _logged(tmp_path / "run0")


BEFORE_KERAS = r"""
import contextlib, io, json, sys
from pianogan.cli import main
report = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    report.append([code, err.getvalue(), "keras" in sys.modules])
print(json.dumps(report))
"""


def test_backend_and_placement_options_are_checked_before_keras_loads(dataset, tmp_path):
    jax_run = tmp_path / "jax_run"
    jax_run.mkdir()
    config = {"train": {"steps": 2}, "pianogan_version": "0.1.0", "backend": "jax"}
    (jax_run / "config.json").write_text(json.dumps(config))
    (jax_run / "train_log.csv").write_text("step,seconds\n")
    np.savez(jax_run / "checkpoint.npz", step=np.zeros(()))
    cases = {
        ("--devices", "0"): "--devices must be a whole number of at least 1 or 'all', got '0'",
        ("--devices", "two"): "--devices must be a whole number",
        ("--num-processes", "2"): "--num-processes 2 needs --coordinator HOST:PORT",
        ("--num-processes", "2", "--process-id", "2", "--coordinator", "127.0.0.1:1"): "--process-id must be at least 0 and below --num-processes 2, got 2",
        ("-o", str(jax_run), "--resume", "--backend", "tensorflow"): f"{jax_run} was trained with --backend jax, not tensorflow",
    }
    if not HAS_TORCH:
        cases["--backend", "torch"] = "--backend torch: PyTorch is not installed (pip install 'pianogan[torch]')"
    runs = [["train", str(dataset), *extra] if "-o" in extra else ["train", str(dataset), "-o", str(tmp_path / "run"), *extra] for extra in cases]
    done = subprocess.run([sys.executable, "-c", BEFORE_KERAS, json.dumps(runs)], capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for (extra, message), (code, err, heavy) in zip(cases.items(), json.loads(done.stdout)):
        assert code == 2 and err.count("\n") == 1 and message in err and not heavy, (extra, err)
    assert not (tmp_path / "run").exists()


def test_missing_devices_several_processes_or_another_backend_are_one_line_errors_in_a_tensorflow_process(dataset, tmp_path, capsys):
    assert main(["train", str(dataset), "-o", str(tmp_path / "run"), "--devices", "2", "--quiet"]) == 2
    assert "--devices 2: this machine has 1 CPU device(s)" in capsys.readouterr().err
    assert main(["train", str(dataset), "-o", str(tmp_path / "run"), "--num-processes", "2", "--coordinator", "127.0.0.1:1", "--quiet"]) == 2
    assert "--num-processes 2: training on several processes runs under --backend jax or torch, not tensorflow" in capsys.readouterr().err
    if HAS_JAX:
        assert main(["train", str(dataset), "-o", str(tmp_path / "run"), "--backend", "jax", "--quiet"]) == 2
        assert "Keras is already loaded here with tensorflow; start a new process with KERAS_BACKEND=jax" in capsys.readouterr().err
    assert not (tmp_path / "run" / "checkpoint.npz").exists()
