"""The cosine scan every semantic select pays: the request's vector against every distinct text
vector of the catalog. It is memory-bound (10,000 generated tools: 50,448 x 384 float32, 77 MB
read per request): `np.einsum` takes 4.4-6.0 ms of CPU for it on this project's 2-core VM (a
BLAS `@` is no faster on one thread and wakes OpenBLAS's threads, which spin after the call and
take the second core from the next request's encoding).

So a large catalog is scanned in two passes that give the same answers:
- `approximate`: the matrix in int8 on two levels (codes, then the codes of what they leave
  out, each with one scale per row), multiplied with the request quantised the same way by
  ONNX Runtime's MatMulInteger on a one-thread session that packed the matrix once: 2.2-2.5 ms
  for the same matrix (scaling included), with a bound on how far any cosine may be off
  (about 1e-4, derived below);
- `exact`: float32 cosines (einsum over the chosen rows: bit for bit what the full scan gives
  them) for the few tools that bound leaves in doubt (retrieve.fuse decides which).
Catalogs under INT8_MIN_ROWS distinct texts (the starter's 1,900: 0.1 ms) and any catalog
without onnxruntime are scanned exactly in one pass (`approximate` then answers with a bound
of 0).

The bound: write a row m = m' + r (m' what the two levels hold, r the rest) and the request
q = q' + f likewise; the computed q'.m' differs from q.m by q'.r + f.m' + f.r, at most
|q'| |r| + |f| |m'| + |f| |r| (Cauchy-Schwarz, every norm known: per row at build, per request
at scan), plus the float32 rounding of the exact dot product (at most d 2^-24 |q| |m|).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from toolcatalog.selection.encoders.onnx import onnx_available

Vector = npt.NDArray[np.float32]
Floats = npt.NDArray[np.float64]
Rows = npt.NDArray[np.int64]
# Below this many rows the exact scan (~2 ms of CPU at 20,000) costs no more than the int8
# pass and settling the tools in doubt: 6,608 terse tools (13,216 rows) measured alike both
# ways, select CPU p50 7.5 ms; at 50,448 rows the int8 pass is 2.2-2.5 ms against 5.2-5.4.
INT8_MIN_ROWS = 20_000
# The request's codes are unsigned and at most 127: -63..63 is sent as 1..127. On x86 without
# VNNI (AVX2: this project's VM), MLAS multiplies uint8 by int8 with VPMADDUBSW, which
# saturates the sum of two adjacent products at 32,767: codes up to 255 (-127..127 sent as
# 1..255) put cosines off by up to 0.02, 200 times the bound below (test_cosine_scan). Two
# products of at most 127 x 127 cannot saturate.
_ZERO_POINT = 64
_QUERY_TOP = 63
_BUILD_ROWS = 4096
# The session computes in float32: the scale products and the four-term sum of each cosine
# (terms of magnitude at most 1) round by a few units of 2^-24 (6e-8) each.
_FLOAT_SLACK = 2e-6


class CosineScan:
    """Dot products of a request's vector with each row of `vectors` (unit rows: cosines).
    Thread-safe."""

    def __init__(self, vectors: Vector, use_int8: bool | None = None) -> None:
        """`use_int8`: force (True) or forbid (False) the int8 pass; by default it is used
        for INT8_MIN_ROWS rows or more when onnxruntime is installed."""
        self.rows = len(vectors)
        self._matrix: Vector = np.ascontiguousarray(vectors)
        if use_int8 is None:
            use_int8 = self.rows >= INT8_MIN_ROWS and onnx_available()
        self._int8 = _Int8Product(self._matrix) if use_int8 and self.rows else None

    @property
    def matrix(self) -> Vector:
        """The rows scanned (read only: a later index reuses them)."""
        return self._matrix

    @property
    def approximates(self) -> bool:
        """Whether `approximate` answers with the int8 pass (a bound above 0)."""
        return self._int8 is not None

    def exact(self, query: Vector, rows: Rows | None = None) -> Vector:
        """Exact cosines of every row, or of `rows` (the same bits either way)."""
        matrix = self._matrix if rows is None else self._matrix[rows]
        out: Vector = np.einsum("ij,j->i", matrix, query)
        return out

    def approximate(self, query: Vector) -> tuple[Vector, float]:
        """Every row's cosine, and a bound no cosine is off by more (0 when exact)."""
        if self._int8 is None:
            return self.exact(query), 0.0
        return self._int8(query)


def _levels(values: Floats, top: int = 127) -> tuple[Floats, Floats, Floats, Floats]:
    """Two int8 levels of each row of `values` (codes -top..top): codes and scales of the row,
    codes and scales of what the first leaves out."""
    codes, scales = _level(values, top)
    rest = values - codes * scales[:, None]
    fine, fine_scales = _level(rest, top)
    return codes, scales, fine, fine_scales


def _level(values: Floats, top: int) -> tuple[Floats, Floats]:
    peak = np.abs(values).max(axis=1)
    scales = np.where(peak > 0, peak / top, 1.0)
    return np.clip(np.rint(values / scales[:, None]), -top, top), scales


class _Int8Product:
    """The matrix's rows in two int8 levels, multiplied on ONNX Runtime."""

    def __init__(self, matrix: Vector) -> None:
        from onnx import TensorProto, helper, numpy_helper

        self.size, dimensions = matrix.shape
        # (d, 2n): the codes of every row, then their second level: one pass over both.
        both = np.empty((dimensions, 2 * self.size), dtype=np.int8)
        scales, fine_scales = np.empty(self.size), np.empty(self.size)
        norms, held_norms, rest_norms = (np.empty(self.size) for _ in range(3))
        for at in range(0, self.size, _BUILD_ROWS):  # in slices: float64 copies stay small
            part = slice(at, min(at + _BUILD_ROWS, self.size))
            rows = matrix[part].astype(np.float64)
            codes, scales[part], fine, fine_scales[part] = _levels(rows)
            held = codes * scales[part, None] + fine * fine_scales[part, None]
            norms[part] = np.linalg.norm(rows, axis=1)
            held_norms[part] = np.linalg.norm(held, axis=1)
            rest_norms[part] = np.linalg.norm(rows - held, axis=1)
            both[:, part] = codes.T
            both[:, self.size + part.start : self.size + part.stop] = fine.T
        # Per request only maxima are needed: the bound is taken over every row at once.
        self.most_rest = float(rest_norms.max(initial=0.0))
        self.most_held = float(held_norms.max(initial=0.0))
        self.most_norm = float(norms.max(initial=0.0))
        column_scales = np.concatenate([scales, fine_scales]).astype(np.float32)
        # The products are scaled and summed in the session too: no pass over n in Python.
        nodes = [
            helper.make_node("MatMulInteger", ["q", "m", "zero"], ["ints"]),
            helper.make_node("Cast", ["ints"], ["floats"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["floats", "columns"], ["scaled"]),
            helper.make_node("MatMul", ["steps", "scaled"], ["halves"]),
            helper.make_node("Reshape", ["halves", "shape"], ["pair"]),
            helper.make_node("ReduceSum", ["pair", "axis"], ["s"], keepdims=0),
        ]
        graph = helper.make_graph(
            nodes,
            "cosine-scan",
            [
                helper.make_tensor_value_info("q", TensorProto.UINT8, [2, dimensions]),
                helper.make_tensor_value_info("steps", TensorProto.FLOAT, [1, 2]),
            ],
            [helper.make_tensor_value_info("s", TensorProto.FLOAT, [self.size])],
            [
                numpy_helper.from_array(both, "m"),
                numpy_helper.from_array(np.array(_ZERO_POINT, dtype=np.uint8), "zero"),
                numpy_helper.from_array(column_scales.reshape(1, -1), "columns"),
                numpy_helper.from_array(np.array([2, self.size], dtype=np.int64), "shape"),
                numpy_helper.from_array(np.array([0], dtype=np.int64), "axis"),
            ],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        self._session = _session(model.SerializeToString())
        self._rounding = dimensions * 2.0**-24 * 1.01  # float32 dot product, relative

    def __call__(self, query: Vector) -> tuple[Vector, float]:
        q = query.astype(np.float64).reshape(1, -1)
        codes, scales, fine, fine_scales = _levels(q, _QUERY_TOP)
        held = codes * scales[:, None] + fine * fine_scales[:, None]
        sent = (np.concatenate([codes, fine]) + _ZERO_POINT).astype(np.uint8)
        steps = np.array([[scales[0], fine_scales[0]]], dtype=np.float32)
        sims: Vector = self._session.run(["s"], {"q": sent, "steps": steps})[0]
        held_norm = float(np.linalg.norm(held))
        rest_norm = float(np.linalg.norm(q - held))
        off = (
            held_norm * self.most_rest
            + rest_norm * (self.most_held + self.most_rest)
            + self._rounding * float(np.linalg.norm(q)) * self.most_norm
        )
        return sims, off + _FLOAT_SLACK


def _session(model: bytes) -> Any:
    """A one-thread session (it runs on the calling thread, the GIL released), no spinning."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
