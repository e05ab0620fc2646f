"""A generator as plain NumPy: exported once from Keras, then run without TensorFlow.

Importing TensorFlow and loading a ``.keras`` file costs 7-14 s on a 2-core machine, far
more than sampling a piece (0.22 GFLOP). ``export`` walks a saved generator's layer graph
and writes it, with its weights, to ``X.npz`` beside ``X.keras``; ``load`` runs that file
with NumPy alone, in float32 and in the same order of operations as Keras's layers, so
the rolls equal the Keras model's (``tests/test_portable.py`` checks the shipped model).

The runner is generic over the layer graph: any functional or sequential model made of
the layer types in ``OPS`` exports, whatever its wiring. A layer type it does not know
(a new custom layer, say) makes ``export`` fail with a one-line error naming it, and a
missing or out-of-date export makes ``load`` return None: callers then use Keras.

Why NumPy rather than ONNX: onnxruntime and a Keras-3-to-ONNX converter would add two
dependencies with their own version constraints (tf2onnx pins an old protobuf that
TensorFlow 2.21 conflicts with), and onnxruntime alone imports in about as long as a
whole NumPy run of the generator. The file is ``numpy.savez``: arrays and one JSON graph,
loaded with ``allow_pickle=False``, so reading it runs no code.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pianogan.errors import ModelError
from pianogan.roll import LOWEST_PITCH, N_PITCHES, PIANO_ROWS

FORMAT = "pianogan-numpy-graph-1"
SUFFIX = ".npz"
CHECK_LATENTS = 64  # latents on which an export is compared with Keras before it is written
CHECK_TOLERANCE = 1e-4  # largest difference in probability accepted from that comparison
BATCH = 32
# BLAS threads per call. One is 3-6x faster than two on a shared 2-core machine (measured:
# 3 ms against 18 ms per piece while another job trains): two threads spin against the
# other processes, and a generator call is too small to gain from splitting.
THREADS = 1


class UnsupportedModel(ModelError):
    """The model uses something the NumPy runner does not implement; use Keras instead."""


def portable_path(model_path: str | os.PathLike) -> Path:
    """Where the NumPy export of ``X.keras`` lives: ``X.npz`` beside it, links followed.

    Following links keeps the export beside the real file: in a checkout the package's
    ``data/generator.keras`` links to ``models/generator.keras``, whose export is
    ``models/generator.npz``, and writing it must not replace the package's link.
    """
    return Path(model_path).resolve().with_suffix(SUFFIX)


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 of a file: ties an export to the exact ``.keras`` file it came from."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- operations ------------------------------------------------------------------------

Op = Callable[[dict, dict, list], np.ndarray]  # (config, weights, inputs) -> output


def _activation(name) -> Callable[[np.ndarray], np.ndarray]:
    """A Keras activation by its serialised name; anything else is unsupported."""
    if isinstance(name, dict):  # Keras serialises built-in activations as strings
        name = name.get("config", {}).get("name") if name.get("module") == "keras.activations" else None
    functions = {
        None: lambda x: x,
        "linear": lambda x: x,
        "relu": lambda x: np.maximum(x, np.float32(0)),
        "sigmoid": _sigmoid,
        "tanh": np.tanh,
        "leaky_relu": lambda x: np.maximum(x, np.float32(0.2) * x),
        "softplus": lambda x: np.logaddexp(np.float32(0), x),
    }
    if name not in functions:
        raise UnsupportedModel(f"activation {name!r} is not implemented in NumPy")
    return functions[name]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function in float32, without overflow for large negative inputs."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(np.float32)


def _matmul(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``x @ kernel`` over the last axis, as one 2-D product (NumPy's stacked matmul is ~10x slower)."""
    return np.matmul(x.reshape(-1, x.shape[-1]), kernel).reshape(*x.shape[:-1], kernel.shape[-1])


def _dense(config: dict, weights: dict, inputs: list) -> np.ndarray:
    y = _matmul(inputs[0], weights["kernel"])
    if config.get("use_bias", True):
        y = y + weights["bias"]
    return _activation(config.get("activation"))(y)


def _same_padding(length: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding: the output has ceil(length / stride) positions, extra padding after."""
    reach = dilation * (kernel - 1) + 1
    total = max((-(-length // stride) - 1) * stride + reach - length, 0)
    return total // 2, total - total // 2


def _conv(config: dict, weights: dict, inputs: list, spatial: int) -> np.ndarray:
    """N-D convolution (channels last) as one matrix product over gathered taps."""
    if config.get("data_format", "channels_last") != "channels_last" or config.get("groups", 1) != 1:
        raise UnsupportedModel(f"{config.get('name')}: only channels_last convolutions without groups are implemented")
    x = inputs[0]
    kernel = weights["kernel"]  # (*taps, in, out)
    taps = kernel.shape[:spatial]
    strides = _tuple(config.get("strides", 1), spatial)
    dilations = _tuple(config.get("dilation_rate", 1), spatial)
    padding = config.get("padding", "valid")
    pads = []
    for axis in range(spatial):
        length = x.shape[1 + axis]
        if padding == "same":
            pads.append(_same_padding(length, taps[axis], strides[axis], dilations[axis]))
        elif padding == "valid":
            pads.append((0, 0))
        elif padding == "causal" and spatial == 1:
            pads.append((dilations[axis] * (taps[axis] - 1), 0))
        else:
            raise UnsupportedModel(f"{config.get('name')}: padding {padding!r} is not implemented")
    x = np.pad(x, [(0, 0), *pads, (0, 0)])
    out = [(x.shape[1 + a] - dilations[a] * (taps[a] - 1) - 1) // strides[a] + 1 for a in range(spatial)]
    gathered = []
    for tap in np.ndindex(*taps):
        index = [slice(None)] + [slice(tap[a] * dilations[a], tap[a] * dilations[a] + (out[a] - 1) * strides[a] + 1, strides[a]) for a in range(spatial)]
        gathered.append(x[tuple(index)])
    columns = np.concatenate(gathered, axis=-1)  # (N, *out, taps * in), tap-major like the kernel
    y = _matmul(columns, kernel.reshape(-1, kernel.shape[-1]))
    if config.get("use_bias", True):
        y = y + weights["bias"]
    return _activation(config.get("activation"))(y)


def _conv_transpose_2d(config: dict, weights: dict, inputs: list) -> np.ndarray:
    """2-D transposed convolution (channels last): every input pixel scatters its kernel."""
    if config.get("data_format", "channels_last") != "channels_last" or _tuple(config.get("dilation_rate", 1), 2) != (1, 1):
        raise UnsupportedModel(f"{config.get('name')}: only channels_last, undilated transposed convolutions are implemented")
    if config.get("output_padding") is not None:
        raise UnsupportedModel(f"{config.get('name')}: output_padding is not implemented")
    x = inputs[0]
    kernel = weights["kernel"]  # (kh, kw, out, in)
    (kh, kw), (sh, sw) = kernel.shape[:2], _tuple(config.get("strides", 1), 2)
    n, h, w, _ = x.shape
    full = np.zeros((n, (h - 1) * sh + max(kh, sh), (w - 1) * sw + max(kw, sw), kernel.shape[2]), np.float32)
    for a in range(kh):
        for b in range(kw):
            full[:, a : a + (h - 1) * sh + 1 : sh, b : b + (w - 1) * sw + 1 : sw] += _matmul(x, kernel[a, b].T)
    if config.get("padding", "valid") == "same":
        top, left = max(kh - sh, 0) // 2, max(kw - sw, 0) // 2
        full = full[:, top : top + h * sh, left : left + w * sw]
    elif config.get("padding", "valid") != "valid":
        raise UnsupportedModel(f"{config.get('name')}: padding {config.get('padding')!r} is not implemented")
    if config.get("use_bias", True):
        full = full + weights["bias"]
    return _activation(config.get("activation"))(full)


def _batch_norm(config: dict, weights: dict, inputs: list) -> np.ndarray:
    """Inference-mode batch normalisation, computed as ``tf.nn.batch_normalization`` does."""
    x = inputs[0]
    axes = config.get("axis", -1)
    axes = [axes] if isinstance(axes, int) else list(axes)
    if len(axes) != 1 or axes[0] not in (-1, x.ndim - 1):
        raise UnsupportedModel(f"{config.get('name')}: batch normalisation over axis {axes} is not implemented")
    inverse = 1 / np.sqrt(weights["moving_variance"] + np.float32(config.get("epsilon", 1e-3)))
    if config.get("scale", True):
        inverse = inverse * weights["gamma"]
    offset = weights["beta"] if config.get("center", True) else np.float32(0)
    return x * inverse + (offset - weights["moving_mean"] * inverse)


def _leaky_relu(config: dict, weights: dict, inputs: list) -> np.ndarray:
    slope = np.float32(config.get("negative_slope", config.get("alpha", 0.3)))
    return np.maximum(inputs[0], slope * inputs[0]) if slope <= 1 else np.where(inputs[0] >= 0, inputs[0], slope * inputs[0])


def _reshape(config: dict, weights: dict, inputs: list) -> np.ndarray:
    return inputs[0].reshape((len(inputs[0]), *config["target_shape"]))


def _permute(config: dict, weights: dict, inputs: list) -> np.ndarray:
    return np.transpose(inputs[0], (0, *config["dims"]))


def _upsampling(config: dict, weights: dict, inputs: list, spatial: int) -> np.ndarray:
    if config.get("interpolation", "nearest") != "nearest" or config.get("data_format", "channels_last") != "channels_last":
        raise UnsupportedModel(f"{config.get('name')}: only nearest, channels_last upsampling is implemented")
    y = inputs[0]
    for axis, size in enumerate(_tuple(config.get("size", 2), spatial)):
        y = np.repeat(y, size, axis=1 + axis)
    return y


def _concatenate(config: dict, weights: dict, inputs: list) -> np.ndarray:
    return np.concatenate(inputs[0] if isinstance(inputs[0], list) else inputs, axis=config.get("axis", -1))


def _merge(function) -> Op:
    def op(config: dict, weights: dict, inputs: list) -> np.ndarray:
        parts = inputs[0] if isinstance(inputs[0], list) else inputs
        result = parts[0]
        for part in parts[1:]:
            result = function(result, part)
        return result

    return op


def _key_bias(config: dict, weights: dict, inputs: list) -> np.ndarray:
    """``pianogan.models.architectures.KeyBias``: add 12 pitch-class logits to every frame's 106 pitches."""
    frame_logits, pitch_class_logits = inputs[0]
    return frame_logits + _matmul(pitch_class_logits, _pitch_class_tile())[:, None, :]


def _pitch_class_tile() -> np.ndarray:
    tile = np.zeros((12, N_PITCHES), np.float32)
    tile[(LOWEST_PITCH + np.arange(N_PITCHES)) % 12, np.arange(N_PITCHES)] = 1.0
    return tile


def _bar_harmony_bias(config: dict, weights: dict, inputs: list) -> np.ndarray:
    """``pianogan.models.architectures.BarHarmonyBias``: each bar's 12 pitch-class logits on its own frames."""
    frame_logits, bar_pitch_classes = inputs[0]
    per_frame = np.repeat(bar_pitch_classes, config.get("bar", 16), axis=1)[:, : frame_logits.shape[1]]
    return frame_logits + _matmul(per_frame, _pitch_class_tile())


def _positions(config: dict, weights: dict, inputs: list) -> np.ndarray:
    """``pianogan.models.architectures.Positions``: one-hot phase channels (t mod period) after the features."""
    x, period = inputs[0], config["period"]
    phase = np.eye(period, dtype=x.dtype)[np.arange(x.shape[1]) % period]
    return np.concatenate([x, np.broadcast_to(phase, (len(x), *phase.shape))], axis=-1)


def _piano_only(config: dict, weights: dict, inputs: list) -> np.ndarray:
    """``pianogan.models.architectures.PianoOnly``: silence above the piano's top key (rows 88..105)."""
    return inputs[0] * (np.arange(N_PITCHES) < PIANO_ROWS).astype(inputs[0].dtype)


def _voice_merge(config: dict, weights: dict, inputs: list) -> np.ndarray:
    """``pianogan.models.architectures.VoiceMerge``: each pixel's most likely voice, an OR once thresholded."""
    return inputs[0].max(axis=-1, keepdims=True)


def _lead_line(config: dict, weights: dict, inputs: list) -> np.ndarray:
    """``pianogan.models.architectures.LeadLine``: a softmax over the lead's rows and a rest, 0 elsewhere."""
    logits, rest = inputs[0]
    low, high = config["low"], config["high"]
    choices = np.concatenate([logits[..., low:high], rest], axis=-1)
    choices = np.exp(choices - choices.max(axis=-1, keepdims=True))
    choices /= choices.sum(axis=-1, keepdims=True)
    return np.pad(choices[..., :-1], ((0, 0), (0, 0), (low, N_PITCHES - high)))


def _cropping_1d(config: dict, weights: dict, inputs: list) -> np.ndarray:
    start, end = _tuple(config.get("cropping", (1, 1)), 2)
    return inputs[0][:, start : inputs[0].shape[1] - end]


def _identity(config: dict, weights: dict, inputs: list) -> np.ndarray:
    return inputs[0]


OPS: dict[str, Op] = {
    "Dense": _dense,
    "Conv1D": lambda c, w, i: _conv(c, w, i, 1),
    "Conv2D": lambda c, w, i: _conv(c, w, i, 2),
    "Conv2DTranspose": _conv_transpose_2d,
    "BatchNormalization": _batch_norm,
    "LeakyReLU": _leaky_relu,
    "ReLU": lambda c, w, i: (
        np.maximum(i[0], np.float32(0)) if c.get("max_value") is None and not c.get("threshold") and not c.get("negative_slope") else _unsupported(c)
    ),
    "Activation": lambda c, w, i: _activation(c.get("activation"))(i[0]),
    "Reshape": _reshape,
    "Flatten": lambda c, w, i: i[0].reshape(len(i[0]), -1),
    "Permute": _permute,
    "UpSampling1D": lambda c, w, i: _upsampling(c, w, i, 1),
    "UpSampling2D": lambda c, w, i: _upsampling(c, w, i, 2),
    "Concatenate": _concatenate,
    "Add": _merge(np.add),
    "Multiply": _merge(np.multiply),
    "Subtract": _merge(np.subtract),
    "Maximum": _merge(np.maximum),
    "Dropout": _identity,  # inference: no dropout
    "SpatialDropout1D": _identity,
    "GaussianNoise": _identity,
    "RepeatVector": lambda c, w, i: np.repeat(i[0][:, None, :], c["n"], axis=1),
    "Cropping1D": _cropping_1d,
    "pianogan>KeyBias": _key_bias,
    "pianogan>BarHarmonyBias": _bar_harmony_bias,
    "pianogan>Positions": _positions,
    "pianogan>PianoOnly": _piano_only,
    "pianogan>VoiceMerge": _voice_merge,
    "pianogan>LeadLine": _lead_line,
}


def _unsupported(config: dict) -> np.ndarray:
    raise UnsupportedModel(f"{config.get('name')}: this configuration is not implemented in NumPy")


def _tuple(value, n: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else (int(value),) * n


# --- the graph -------------------------------------------------------------------------


def _layer_kind(layer_config: dict) -> str:
    """The key of ``OPS`` for a serialised layer: registered name for custom layers."""
    return layer_config.get("registered_name") or layer_config["class_name"]


def _tensor_refs(value):
    """Serialised call arguments -> the same structure with ``"layer:tensor"`` strings."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        layer, node, tensor = value["config"]["keras_history"]
        if node != 0:
            raise UnsupportedModel(f"layer {layer!r} is called more than once; shared layers are not implemented")
        return f"{layer}:{tensor}"
    if isinstance(value, (list, tuple)):
        return [_tensor_refs(v) for v in value]
    raise UnsupportedModel(f"a layer argument of type {type(value).__name__} is not implemented")


def graph_of(model) -> dict:
    """A Keras generator's layers in call order: kind, config and input references.

    Works from the model's serialised config (what ``.keras`` files store), so it
    covers every functional or sequential model whatever its wiring. Raises
    UnsupportedModel naming the first layer the runner could not compute.
    """
    config = model.get_config()
    layers = []
    if type(model).__name__ == "Sequential":
        previous = "input:0"
        for layer in config["layers"]:
            if layer["class_name"] == "InputLayer":
                continue
            name = layer["config"]["name"]
            layers.append({"name": name, "kind": _layer_kind(layer), "config": layer["config"], "inputs": [previous]})
            previous = f"{name}:0"
        inputs, outputs = ["input"], [previous]
    else:
        for layer in config["layers"]:
            if layer["class_name"] == "InputLayer":
                continue
            nodes = layer.get("inbound_nodes", [])
            if len(nodes) != 1:
                raise UnsupportedModel(f"layer {layer['name']!r} has {len(nodes)} call sites; exactly one is supported")
            node = nodes[0]
            if any(v is not None and k not in ("training", "mask") for k, v in node.get("kwargs", {}).items()):
                raise UnsupportedModel(f"layer {layer['name']!r} is called with keyword arguments, which are not implemented")
            layers.append({"name": layer["name"], "kind": _layer_kind(layer), "config": layer["config"], "inputs": _tensor_refs(node["args"])})
        inputs = [_single(config["input_layers"], "input")]
        outputs = [f"{_single(config['output_layers'], 'output')}:0"]
    for layer in layers:
        if layer["kind"] not in OPS:
            raise UnsupportedModel(f"layer {layer['name']!r} of type {layer['kind']} has no NumPy implementation")
    return {"inputs": inputs, "outputs": outputs, "layers": layers}


def _single(refs, what: str) -> str:
    """The layer name of a model's only input or output (``[name, 0, 0]`` or ``[[name, 0, 0]]``)."""
    if refs and isinstance(refs[0], list):
        if len(refs) != 1:
            raise UnsupportedModel(f"models with {len(refs)} {what}s are not implemented")
        refs = refs[0]
    return refs[0]


class NumpyGenerator:
    """A generator run with NumPy: ``probabilities(latents)`` like ``sampling.probabilities``.

    Has the Keras model's ``input_shape`` and ``output_shape``, so the sampling code
    treats it as the model itself. Stateless after construction, so concurrent calls are safe.
    """

    runtime = "numpy"

    def __init__(self, graph: dict, weights: dict[str, dict[str, np.ndarray]], input_shape, output_shape, source: str = ""):
        self.graph, self.weights, self.source = graph, weights, source
        self.input_shape, self.output_shape = tuple(input_shape), tuple(output_shape)
        self.name = Path(source).name if source else "numpy generator"

    def forward(self, latents: np.ndarray) -> np.ndarray:
        """The model's output for one batch, float32, shape ``(N, *output_shape[1:])``."""
        values = {f"{self.graph['inputs'][0]}:0": np.asarray(latents, dtype=np.float32)}

        def resolve(ref):
            return [resolve(r) for r in ref] if isinstance(ref, list) else values[ref]

        for layer in self.graph["layers"]:
            inputs = [resolve(ref) for ref in layer["inputs"]]
            values[f"{layer['name']}:0"] = OPS[layer["kind"]](layer["config"], self.weights.get(layer["name"], {}), inputs).astype(np.float32, copy=False)
        return values[self.graph["outputs"][0]]

    def probabilities(self, latents: np.ndarray) -> np.ndarray:
        """Probabilities ``(N, 106, W)`` float32 for latents ``(N, d)``, in batches of BATCH."""
        from threadpoolctl import threadpool_limits

        latents = np.asarray(latents, dtype=np.float32)
        with threadpool_limits(THREADS):
            parts = [self.forward(latents[start : start + BATCH])[..., 0] for start in range(0, len(latents), BATCH)]
        return np.concatenate(parts) if parts else np.zeros((0, *self.output_shape[1:3]), np.float32)


def export(model_path: str | os.PathLike, out_path: str | os.PathLike | None = None, check: int = CHECK_LATENTS) -> Path:
    """Write the NumPy export of the generator ``model_path`` (default: ``X.npz`` beside it).

    Loads the model with Keras, converts its graph and weights, and before writing runs
    both on ``check`` random latents: the export is written only when every probability
    agrees within CHECK_TOLERANCE. Raises UnsupportedModel (a ModelError) for a
    model the runner cannot compute, naming the layer.
    """
    from pianogan.io import atomic
    from pianogan.models.modelio import load_generator
    from pianogan.models.sampling import probabilities

    model_path = Path(model_path)
    out_path = portable_path(model_path) if out_path is None else Path(out_path)
    model = load_generator(model_path)
    graph = graph_of(model)
    weights = {layer.name: {w.name: np.asarray(w.numpy(), dtype=np.float32) for w in layer.weights} for layer in model.layers if layer.weights}
    input_shape, output_shape = list(model.input_shape), list(model.output_shape)
    runner = NumpyGenerator(graph, weights, input_shape, output_shape, str(model_path))
    latents = np.random.default_rng(0).standard_normal((check, input_shape[1])).astype(np.float32)
    try:
        ours = runner.probabilities(latents)
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise UnsupportedModel(f"{model_path}: the NumPy runner failed on this model ({type(error).__name__}: {error})") from None
    difference = float(np.max(np.abs(ours - probabilities(model, latents))))
    if not difference <= CHECK_TOLERANCE:
        raise UnsupportedModel(f"{model_path}: the NumPy runner differs from Keras by {difference:.2g} on random latents; not exported")
    header = {
        "format": FORMAT,
        "source_sha256": file_digest(model_path),
        "input_shape": input_shape,
        "output_shape": output_shape,
        "graph": graph,
        "checked_max_difference": difference,
    }
    arrays = {"header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}
    for layer, named in weights.items():
        for name, value in named.items():
            arrays[f"{layer}/{name}"] = value
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic.write_bytes(out_path, buffer.getvalue())
    return out_path


def load(model_path: str | os.PathLike) -> NumpyGenerator | None:
    """The NumPy export of ``model_path`` if one is beside it and was made from this very file.

    None when there is no export, when it was made from another version of the model
    file (its SHA-256 differs), or when it cannot be read: the caller then loads Keras.
    """
    model_path = Path(model_path)
    path = portable_path(model_path)
    if not path.is_file() or not model_path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(archive["header"].tobytes())
            if header.get("format") != FORMAT or header.get("source_sha256") != file_digest(model_path):
                return None
            weights: dict[str, dict[str, np.ndarray]] = {}
            for key in archive.files:
                if key != "header":
                    layer, name = key.rsplit("/", 1)
                    weights.setdefault(layer, {})[name] = archive[key]
    except (OSError, ValueError, KeyError):
        return None
    if any(layer["kind"] not in OPS for layer in header["graph"]["layers"]):
        return None  # exported by a newer pianogan with layers this one lacks
    return NumpyGenerator(header["graph"], weights, header["input_shape"], header["output_shape"], str(model_path))
