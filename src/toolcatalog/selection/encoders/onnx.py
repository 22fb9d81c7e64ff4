"""all-MiniLM-L6-v2 on ONNX Runtime with int8 weights: the encoder semantic retrieval uses
when `onnxruntime` is installed (the `embeddings` extra).

The ONNX graph is built here, at load time, from the same packaged safetensors weights the
numpy reference (minilm.py) reads: nothing is downloaded and no exported model file is
shipped. The six transformer layers become ONNX operators (opset 17, and ONNX Runtime's own
MultiHeadAttention and Gelu); their weight matrices are then quantised to int8 per output
channel by ONNX Runtime's dynamic quantiser. Tokenising, the embedding layer and the weighted
mean pooling stay in numpy (minilm.py, pooling.py).

Measured on this project's 2-core VM, one request of ~12 tokens on one thread: p50 2.3 ms /
p95 3.4 ms, against 6-8 ms for the float32 numpy encoder; cosine with the float32 embedding
0.994 on average (0.990 at worst) over the dev requests, and the same selection quality
(bench/select_quality.py). Building and quantising the graph takes 0.7-3.4 s (busy 2-core
VM), so the quantised graph is kept under TOOLCATALOG_HOME/models, named by a digest of the
weight files, onnxruntime's version and GRAPH_VERSION: a later process reads it in ~0.05 s.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from toolcatalog.files import replace_atomically
from toolcatalog.selection.encoders.minilm import Array, MiniLMEncoder, _layer_norm, model_dir

log = logging.getLogger(__name__)

# Bump when build_model or quantize changes what they make: cached graphs are then rebuilt.
GRAPH_VERSION = 2
OPSET = 17  # LayerNormalization is a standard operator from 17 on
CONTRIB = "com.microsoft"  # ONNX Runtime's own operators (MultiHeadAttention, Gelu)
# Catalog texts are embedded on this many threads (at most one per core), FILL_SLICE at a time.
FILL_THREADS = 2
FILL_SLICE = 16
# The text whose vector names the encoder's numeric path (numeric_path): words of every kind
# the int8 products see, long enough that a kernel's difference shows (~0.01 in cosine).
PROBE = "restart the nginx service on web2 when its disk usage passes 90 % of /var/log"
PROBE_DECIMALS = 4


def onnx_available() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class _Graph:
    """Accumulates nodes and named weights; every name is unique (ONNX graphs are SSA)."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes: list[Any] = []
        self.weights: list[Any] = []
        self._count = 0

    def weight(self, name: str, value: Array | np.ndarray[Any, Any]) -> str:
        self.weights.append(self.numpy_helper.from_array(np.ascontiguousarray(value), "w." + name))
        return "w." + name

    def op(self, kind: str, inputs: list[str], outputs: int = 1, **attrs: Any) -> list[str]:
        self._count += 1
        names = [f"{kind.lower()}.{self._count}.{i}" for i in range(outputs)]
        self.nodes.append(self.helper.make_node(kind, inputs, names, **attrs))
        return names

    def one(self, kind: str, inputs: list[str], **attrs: Any) -> str:
        return self.op(kind, inputs, **attrs)[0]


def build_model(encoder: MiniLMEncoder) -> Any:
    """The transformer layers of `encoder` as an ONNX ModelProto: inputs `x` (n, length,
    hidden), the embedding layer's output, and `mask` (n, length) int32, 1 for tokens and 0
    for padding; output `hidden` (n, length, hidden).

    Attention and GELU are ONNX Runtime's fused operators: one MultiHeadAttention per layer
    in place of 13 standard ones (split heads, scores, softmax, merge), one Gelu in place of
    five. The same vectors bit for bit as the standard graph of GRAPH_VERSION 1 (9,129
    catalog texts and 250 requests; a padded batch too), in 3-8 % less time per request
    (1 thread, 3-25 tokens, thread CPU; docs/performance.md, session 8)."""
    from onnx import TensorProto, checker, helper

    g = _Graph()
    hidden, heads = encoder.hidden, encoder.heads
    split = g.weight("split", np.array([hidden] * 3, dtype=np.int64))

    def dense(x: str, w: Array, b: Array, name: str) -> str:
        return g.one("Add", [g.one("MatMul", [x, g.weight(name, w)]), g.weight(name + ".b", b)])

    def norm(x: str, pair: tuple[Array, Array], name: str) -> str:
        w, b = g.weight(name, pair[0]), g.weight(name + ".b", pair[1])
        return g.one("LayerNormalization", [x, w, b], axis=-1, epsilon=encoder.eps)

    x = "x"
    for i, layer in enumerate(encoder.layers):
        p = f"layer{i}."
        q, k, v = g.op("Split", [dense(x, layer.qkv, layer.qkv_bias, p + "qkv"), split], 3, axis=-1)
        # Scaled by 1 / sqrt(head size) (its default); a masked key's score is lowered by
        # 10,000, which leaves it no weight after the softmax, as -1e9 did.
        context = g.one(
            "MultiHeadAttention", [q, k, v, "", "mask"], domain=CONTRIB, num_heads=heads
        )
        attended = g.one("Add", [dense(context, layer.out, layer.out_bias, p + "out"), x])
        x = norm(attended, layer.norm1, p + "norm1")
        # GELU, exact (erf) form: 0.5 * u * (1 + erf(u / sqrt 2))
        gelu = g.one("Gelu", [dense(x, layer.up, layer.up_bias, p + "up")], domain=CONTRIB)
        x = norm(
            g.one("Add", [dense(gelu, layer.down, layer.down_bias, p + "down"), x]),
            layer.norm2,
            p + "norm2",
        )
    g.nodes.append(helper.make_node("Identity", [x], ["hidden"]))
    graph = helper.make_graph(
        g.nodes,
        "all-minilm-l6-v2",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", "length", hidden]),
            helper.make_tensor_value_info("mask", TensorProto.INT32, ["n", "length"]),
        ],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["n", "length", hidden])],
        g.weights,
    )
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid(CONTRIB, 1)]
    model = helper.make_model(graph, opset_imports=opsets)
    checker.check_model(model)
    return model


class _QuantiserAdvice(logging.Filter):
    """Drops the quantiser's informational records: it logs a generic "consider
    pre-processing" advice through the root logger. A filter, not a raised root level, so
    that no other thread's logging is silenced meanwhile."""

    def filter(self, record: logging.LogRecord) -> bool:
        path = record.pathname.replace("\\", "/")
        return record.levelno >= logging.ERROR or "onnxruntime/quantization" not in path


_ADVICE_FILTER = _QuantiserAdvice()


def quantize(model: Any) -> bytes:
    """`model` with its weight matrices in int8, one scale per output channel (dynamic
    quantisation: activations are quantised per call)."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="toolcatalog-onnx-") as folder:
        target = Path(folder) / "model.onnx"
        root = logging.getLogger()
        if _ADVICE_FILTER not in root.filters:
            root.addFilter(_ADVICE_FILTER)
        # The contrib operators' outputs have no inferred type: they are float32.
        quantize_dynamic(
            model,
            target,
            per_channel=True,
            weight_type=QuantType.QInt8,
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
        return target.read_bytes()


class OnnxMiniLMEncoder(MiniLMEncoder):
    """MiniLMEncoder whose transformer layers run on ONNX Runtime with int8 weights.

    One one-thread session, without spinning, serves both `encode` (catalog texts, embedded
    in the background on FILL_THREADS threads for a catalog's worth) and `encode_query` (one
    request, on the select's thread). Until session 7 requests ran on a two-thread session
    whose helper spun between operators: on this 2-core VM under load (~10) the helper burnt
    ~16 ms of CPU per new-request select beside the select's own ~16 ms, and the spinning
    took the cores other requests needed (starter catalog, 64 held-out requests x 2, select
    wall p50 67 ms); on one thread a select took ~12 ms of CPU in all (wall p50 17 ms). Both
    give the same vectors, bit for bit (723 requests). Measured and rejected: encoding on a
    worker thread beside the select's lexical work (the same process CPU and wall at load
    10: the worker waits for the GIL until the select blocks on it).
    Thread-safe: ONNX Runtime sessions may be run from several threads at once."""

    name = "all-minilm-l6-v2-int8"
    # Dynamic quantisation picks one activation scale per call, so a text batched with others
    # would come out slightly different (cosine 0.97-1.0) from the same text alone, and the
    # embeddings would depend on which texts happened to be missing from the cache. One text
    # per call keeps every embedding a function of its text, and costs no more here (starter
    # catalog: 8.7 s one by one, 9.5 s in batches of 32).
    batch_size = 1

    def __init__(
        self, folder: Path | None = None, cache_dir: Path | None = None, *, weighted: bool = True
    ) -> None:
        super().__init__(folder, weighted=weighted)
        model = _cached_graph(self, folder or model_dir(), cache_dir)
        self._session = _session(model)
        self._ones = np.ones((1, self.tokenizer.max_length), dtype=np.int32)  # a row's mask
        self.layers = []  # the float32 copies live on in the sessions only as int8
        # The name also names this CPU's numeric path: ONNX Runtime's int8 products differ
        # between CPUs (AVX2 saturates sums VNNI does not), and the same text's vectors by
        # up to ~0.01 in cosine, so replicas on different CPUs sharing one database keep
        # their embeddings apart (caches are kept per encoder name) instead of mixing them.
        self.name = f"{self.name}-{numeric_path(self)}"

    def _forward(self, batch: list[list[int]]) -> Array:
        if len(batch) == 1:  # every call but a padded batch's (batch_size is 1)
            return self._one(batch[0])[None]
        x, mask = self._embed(batch)
        return self._pool(self._run(x, mask), self._pool_weights(batch, mask))

    def _one(self, ids: list[int]) -> Array:
        """One text's vector: the steps of _embed, _run, _pool_weights and _pool on one row,
        the same operations in the same order (the same bits: tested), without the padded
        batch's masks, casts and copies: the numpy work around the session run 0.41 -> 0.31
        ms a request (120 dev requests x 3, thread CPU p50, load ~9; the run itself ~5 ms)."""
        at = np.array(ids)
        x = self.word[at] + self.position[: len(ids)] + self.token_type
        x = _layer_norm(x, self.embed_norm, self.eps)
        feeds = {"x": x[None], "mask": self._ones[:, : len(ids)]}
        hidden: Array = self._session.run(["hidden"], feeds)[0][0]
        if self.token_weights is None:
            weights: Array = np.ones(len(ids), dtype=np.float32)
        else:
            weights = self.token_weights[at]
        pooled = (hidden * weights[:, None]).sum(axis=0) / np.maximum(weights.sum(), 1.0)
        norm = np.sqrt(np.add.reduce(pooled * pooled))  # np.linalg.norm's own sum
        out: Array = pooled / np.maximum(norm, 1e-12)
        return out

    def _run(self, x: Array, mask: Array) -> Array:
        feeds = {"x": x, "mask": mask.astype(np.int32)}
        out: Array = self._session.run(["hidden"], feeds)[0]
        return out

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> Array:
        """Many texts (a catalog's) are shared among FILL_THREADS threads, each running the
        one-thread session: ONNX Runtime lets go of the GIL, so they scale (starter catalog:
        8.6 s on one thread, 4.4 s on two, the same vectors)."""
        workers = min(FILL_THREADS, os.cpu_count() or 1)
        if workers < 2 or len(texts) < 2 * FILL_SLICE:
            return super().encode(texts, batch_size)
        slices = [texts[at : at + FILL_SLICE] for at in range(0, len(texts), FILL_SLICE)]

        def one(part: Sequence[str]) -> Array:
            return MiniLMEncoder.encode(self, part, batch_size)

        with ThreadPoolExecutor(workers, thread_name_prefix="toolcatalog-embed") as pool:
            return np.concatenate(list(pool.map(one, slices)))

    def encode_query(self, text: str) -> Array:
        return self._one(self.tokenizer.encode(text))


def numeric_path(encoder: MiniLMEncoder) -> str:
    """A digest of PROBE's vector, rounded to PROBE_DECIMALS (-0.0 as 0.0): the same on
    every machine whose kernels compute this encoder's vectors alike, another where they
    differ beyond rounding. A value that lands by a hair on either side of a rounding step
    only costs a cache of its own."""
    vector = np.round(encoder.encode_query(PROBE), PROBE_DECIMALS) + 0.0
    return hashlib.blake2b(vector.astype("<f4").tobytes(), digest_size=4).hexdigest()


def _graph_file(folder: Path, cache_dir: Path) -> Path:
    import onnxruntime as ort

    digest = hashlib.sha256(f"{GRAPH_VERSION} {OPSET} {ort.__version__}".encode())
    for file in sorted(folder.iterdir()):
        if file.is_file():
            stat = file.stat()
            digest.update(f"|{file.name} {stat.st_size} {stat.st_mtime_ns}".encode())
    return cache_dir / f"{OnnxMiniLMEncoder.name}-{digest.hexdigest()[:16]}.onnx"


def _cached_graph(encoder: MiniLMEncoder, folder: Path, cache_dir: Path | None) -> bytes:
    """The quantised graph: read from `cache_dir` when an earlier process left it there, else
    built and written there (atomically; a cache that cannot be written is only logged)."""
    if cache_dir is None:
        return quantize(build_model(encoder))
    path = _graph_file(folder, cache_dir)
    try:
        return path.read_bytes()
    except OSError:
        pass
    model = quantize(build_model(encoder))
    try:
        replace_atomically(path, lambda out: out.write(model))
    except OSError as exc:
        log.warning("could not keep the quantised model in %s: %s", cache_dir, exc)
    return model


def _session(model: bytes) -> Any:
    """One thread per run (runs on the calling thread, the GIL released), no spinning."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # No arena of its own: its buffers go back to malloc after each run, where the idle trim
    # returns them (cosine_scan's _session says why).
    options.enable_cpu_mem_arena = False
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def load_fast_encoder(folder: Path | None = None, cache_dir: Path | None = None) -> MiniLMEncoder:
    """The int8 ONNX encoder when onnxruntime is installed (its graph kept in `cache_dir`
    when given), else the numpy float32 one. Raises ModelUnavailable when the model files
    are not installed."""
    if onnx_available():
        return OnnxMiniLMEncoder(folder, cache_dir)
    log.info("onnxruntime is not installed; semantic retrieval uses the slower numpy encoder")
    return MiniLMEncoder(folder)
