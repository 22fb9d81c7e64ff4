"""The ONNX graphs and sessions of the int8 cosine scan (cosine_scan.py): the first level's
MatMulInteger over every row's codes, the second level's over chosen rows, each on a one-thread
session of ONNX Runtime (imported on first use: the `embeddings` extra).

The zero points: the request's codes are at most 63 in magnitude. On x86 without VNNI (AVX2:
this project's VM until session 13), MLAS multiplies uint8 by int8 with VPMADDUBSW, which
saturates the sum of two adjacent products at 32,767: codes up to 255 put cosines off by up to
0.02, 200 times the bound (test_cosine_scan). The first level sends the request as uint8
(-63..63 as 1..127) against the rows' int8 codes (-127..127): two products of at most 127 x 127.
The second sends the rows' codes as uint8 (-127..127 as 0..254) against the request's int8
ones: at most 254 x 63.
"""

from __future__ import annotations

import functools
import mmap
from typing import Any

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

ZERO_POINT = 64
ROW_ZERO_POINT = 127


def first_level_session(codes_t: npt.NDArray[np.int8], scales: Floats) -> Any:
    """The session of the scan over `codes_t`, rows' codes transposed (dimensions x size),
    given to it as they are (contiguous: a file's whole first level), not copied into its
    model. A part of a matrix's columns is copied for it into memory mapped for the purpose
    and handed back once the session is made: ONNX Runtime keeps the buffer it is given for
    the session's life (its contract) but, having packed the codes, never reads it again
    (test_cosine_scan zeroes it), so it keeps no resident pages."""
    dimensions, size = codes_t.shape
    if codes_t.flags.c_contiguous:
        return _session(_first_level(dimensions, size, scales), {"m": _ortvalue(codes_t)})
    # Private: a shared mapping's pages (shmem) stay resident past MADV_DONTNEED.
    buffer = mmap.mmap(-1, max(codes_t.size, 1), flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    copy = np.frombuffer(buffer, dtype=np.int8, count=codes_t.size).reshape(codes_t.shape)
    copy[:] = codes_t
    session = _session(_first_level(dimensions, size, scales), {"m": _ortvalue(copy)})
    session.buffer = buffer  # its pages handed back, the mapping lives with the session
    buffer.madvise(mmap.MADV_DONTNEED)
    return session


def _ortvalue(codes: npt.NDArray[np.int8]) -> Any:
    return _ort().OrtValue.ortvalue_from_numpy(codes)


def _first_level(dimensions: int, size: int, scales: Floats) -> bytes:
    """The graph of the whole scan: s = scale * (steps . codes(q) x codes(m)), a row each;
    `m`, the rows' codes transposed (dimensions x size int8), is given to the session."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("MatMulInteger", ["q", "m", "zero"], ["ints"]),
        helper.make_node("Cast", ["ints"], ["floats"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["steps", "floats"], ["summed"]),
        helper.make_node("Mul", ["summed", "scales"], ["scaled"]),
        helper.make_node("Reshape", ["scaled", "shape"], ["s"]),
    ]
    codes = TensorProto(name="m", data_type=TensorProto.INT8, dims=[dimensions, size])
    codes.data_location = TensorProto.EXTERNAL  # given as an OrtValue (_session)
    codes.external_data.add(key="location", value="given-at-session-creation")
    graph = helper.make_graph(
        nodes,
        "cosine-scan",
        [
            helper.make_tensor_value_info("q", TensorProto.UINT8, [2, dimensions]),
            helper.make_tensor_value_info("steps", TensorProto.FLOAT, [1, 2]),
        ],
        [helper.make_tensor_value_info("s", TensorProto.FLOAT, [size])],
        [
            codes,
            numpy_helper.from_array(np.array(ZERO_POINT, dtype=np.uint8), "zero"),
            numpy_helper.from_array(scales.astype(np.float32).reshape(1, -1), "scales"),
            numpy_helper.from_array(np.array([size], dtype=np.int64), "shape"),
        ],
    )
    return _model(graph)


@functools.cache
def second_level_session(dimensions: int) -> Any:
    return _session(_second_level(dimensions))


def _second_level(dimensions: int) -> bytes:
    """The graph of the second level of chosen rows: their codes (`m`, fed with the scales)
    gathered, times the request's two levels (columns), scaled."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Gather", ["m", "rows"], ["chosen"], axis=0),
        helper.make_node("Gather", ["scales", "rows"], ["chosen_scales"], axis=0),
        helper.make_node("MatMulInteger", ["chosen", "q", "zero"], ["ints"]),
        helper.make_node("Cast", ["ints"], ["floats"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["floats", "steps"], ["summed"]),
        helper.make_node("Reshape", ["summed", "shape"], ["flat"]),
        helper.make_node("Mul", ["flat", "chosen_scales"], ["s"]),
    ]
    graph = helper.make_graph(
        nodes,
        "cosine-scan-second-level",
        [
            helper.make_tensor_value_info("rows", TensorProto.INT64, ["k"]),
            helper.make_tensor_value_info("q", TensorProto.INT8, [dimensions, 2]),
            helper.make_tensor_value_info("steps", TensorProto.FLOAT, [2, 1]),
            helper.make_tensor_value_info("m", TensorProto.UINT8, ["n", dimensions]),
            helper.make_tensor_value_info("scales", TensorProto.FLOAT, ["n"]),
        ],
        [helper.make_tensor_value_info("s", TensorProto.FLOAT, ["k"])],
        [
            numpy_helper.from_array(np.array(ROW_ZERO_POINT, dtype=np.uint8), "zero"),
            numpy_helper.from_array(np.array([-1], dtype=np.int64), "shape"),
        ],
    )
    return _model(graph)


def _model(graph: Any) -> bytes:
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    serialized: bytes = model.SerializeToString()
    return serialized


def _ort() -> Any:
    import onnxruntime as ort

    return ort


def _session(model: bytes, given: dict[str, Any] | None = None) -> Any:
    """A one-thread session (it runs on the calling thread, the GIL released), no spinning;
    `given`: initializers of the model's given as OrtValues, kept with the session."""
    ort = _ort()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # No arena of its own: ONNX Runtime's CPU arena kept each select thread's largest buffers
    # for the process's life (100,000 tools, semantic on: ~47 MiB of four select threads'
    # malloc arenas still held after the runs, the worker at 2,002-2,045 MiB); freed to malloc
    # instead, the idle trim returns them (1,943 MiB after the same runs; docs/performance.md
    # "Session 18 (mem18)").
    options.enable_cpu_mem_arena = False
    if given:
        options.add_external_initializers(list(given), list(given.values()))
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    session.given = given  # they live as long as the session
    return session
