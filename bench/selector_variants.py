"""Any quality bench run with one variant of the selector's lexical side or encoder patched
in, to measure an idea on every set before building it (session 13, issue #13).

    python bench/selector_variants.py --stemmer snowball bench/public_quality.py \
        --tools PATH/tools.jsonl --queries PATH/queries.jsonl --limit 2000
    python bench/selector_variants.py --idf-power 1.5 bench/select_quality.py --queries FILE --terse
    python bench/selector_variants.py --english-rarity 0.5 [--bounds 6.5 3.5] bench/...
    python bench/selector_variants.py --float32-encoder bench/public_quality.py ...

- `--stemmer snowball`: the lexical index's and the request's words stemmed by Snowball's
  English stemmer (PyStemmer, as PostgreSQL's `english` configuration) in place of
  text.stem's light suffix stripper ("calculate" and "calculator" meet; synonyms rebuilt).
- `--stemmer both`: the light stems as they are, and beside each plain word's light stem its
  Snowball stem as a term of its own ("~calcul"), in the index and the request alike: a
  word's other forms match at the weight of one term, its own form at two
  (`--snowball-weight W`: the request's Snowball terms weigh W).
- `--idf-power P`: each term's BM25 IDF raised to the power P (P > 1 favours a request's rare
  cue over its generic words: "lobbying" over "company information").
- `--english-rarity G`: a request term's lexical weight multiplied by 1 + G x how rare its
  word is in English (data/token_frequencies.txt, the encoder pooling's table: 1 at Zipf
  `--bounds` HI or more, 1 + G at LO or less or when the word is no whole piece), so that a
  place or a common noun ("New York", "UK", "shops") weighs less than a rare cue ("TAF",
  "flashcards") that the catalog holds as rarely.
- `--project-generic A`: the request's vector less A x its projection on the mean direction
  of the shipped generic requests (their chatty register), renormalised, before it is
  compared with the catalog (the gate's generic cosine too).
- `--extra-generic FILE`: more generic requests (one a line, # comments) appended to the
  shipped ones (the calibration's negatives and the nearest-neighbour test's).
- `--term-centrality P`: a request term's lexical weight multiplied by (c / c_max)^P, where c
  is the cosine of its word's contextual token states (the encoder's, before pooling) with the
  pooled request vector, and c_max the request's most central word's: a word the request's
  meaning rests on keeps its weight, an incidental one ("UK" in "job openings in the UK",
  "company" in "lobbying by a company") weighs less (session 14).
- `--templates DOC QUERY`: every catalog text embedded as DOC with the text in place of `{}`
  ("Use this tool to: {}"), every request and generic request as QUERY ("{} Which tool?"):
  the symmetric encoder given the asymmetry of a tool's text and a request (session 14; the
  embeddings are kept in a temporary TOOLCATALOG_HOME, as their vectors differ).
- `--name-words-share S`: a word found in the names of more than a share S of the catalog's
  tools ("tool" in 35 of MetaTool's 199: FinanceTool, BookTool) is left out of each name
  where the encoder reads it (the name field, and "name: description"), unless it is the
  name's only word (session 14).
- `--calibration NAME=VALUE`: a constant of selection/calibrate.py set to VALUE (repeatable:
  `--calibration DESCRIPTION_QUANTILE=0.99 --calibration DESCRIPTION_SLACK=0.15` is the
  descriptions' margin before session 16); the calibration is computed afresh, not read from
  the file a run of the shipped constants kept (session 16, `abstain13`).
- `--nearest-generic-only`: the everyday-neighbourhood test (gate.everyday) judges only a
  request whose nearest neighbour is a generic request, as before session 16 (no allowance).
- `--float32-encoder`: the numpy float32 encoder (minilm.py) in place of the int8 ONNX one
  (slow: for a quality ceiling only; keep a separate TOOLCATALOG_HOME, as its vectors differ).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
from wrapped import add_bench_arguments, run_bench


def snowball() -> None:
    import Stemmer

    from toolcatalog.selection import plainness, tokenizer

    english = Stemmer.Stemmer("english")

    def stem(word: str) -> str:
        if len(word) <= 3 or not word.isalpha():
            return word
        return str(english.stemWord(word))

    setattr(tokenizer, "stem", stem)  # noqa: B010
    setattr(plainness, "stem", stem)  # noqa: B010
    setattr(tokenizer, "_SYNONYM", tokenizer._build_synonyms())  # noqa: B010
    tokenizer.chunk_terms.cache_clear()


def both_stems(weight: float) -> None:
    from functools import lru_cache

    import Stemmer

    from toolcatalog.selection import hosts, text, tokenizer

    english = Stemmer.Stemmer("english")
    light = tokenizer.chunk_terms.__wrapped__

    def terms(chunk: str) -> tuple[str, ...]:
        out = light(chunk)
        word = chunk.strip(".:-+_~#@").lower()
        if len(out) == 1 and len(word) > 3 and word.isalpha() and out[0] == tokenizer.stem(word):
            other = str(english.stemWord(word))
            if other != out[0]:
                return (out[0], "~" + other)
        return out

    cached = lru_cache(maxsize=65536)(terms)
    for module in (tokenizer, hosts, text):  # each calls chunk_terms by its own name
        setattr(module, "chunk_terms", cached)  # noqa: B010
    setattr(text, "_request_chunk_terms", text.REQUEST_TERMS.memoised(terms))  # noqa: B010
    text.clear_caches()
    if weight != 1.0:
        from toolcatalog.selection import retrieve

        weigh = retrieve.weigh_acronyms

        def weighed(index: Any, request: str, terms: dict[str, float]) -> None:
            weigh(index, request, terms)
            for term in [t for t in terms if t.startswith("~")]:
                terms[term] *= weight

        setattr(retrieve, "weigh_acronyms", weighed)  # noqa: B010


def idf_power(power: float) -> None:
    from toolcatalog.selection import bm25

    class Numpy:
        """numpy, but for the log1p that makes BM25's IDF."""

        def __getattr__(self, name: str) -> Any:
            return getattr(np, name)

        def log1p(self, x: Any) -> Any:
            return np.log1p(x) ** power

    setattr(bm25, "np", Numpy())  # noqa: B010


def english_rarity(gain: float, high: float, low: float) -> None:
    from toolcatalog.selection import retrieve
    from toolcatalog.selection.encoders.pooling import TOKEN_FREQUENCIES
    from toolcatalog.selection.text import request_tokens

    zipf: dict[str, float] = {}
    for line in TOKEN_FREQUENCIES.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#") and "\t" in line:
            piece, value = line.split("\t")
            zipf[piece] = float(value)
    weigh = retrieve.weigh_acronyms

    def weighed(index: Any, text: str, terms: dict[str, float]) -> None:
        weigh(index, text, terms)
        factors: dict[str, float] = {}
        for raw in re.findall(r"[A-Za-z][A-Za-z0-9_-]*", text):
            word = raw.lower()
            rare = min(max((high - zipf.get(word, low)) / (high - low), 0.0), 1.0)
            for term in request_tokens(word):
                if term in terms:
                    factors[term] = max(factors.get(term, 0.0), 1.0 + gain * rare)
        for term, factor in factors.items():
            terms[term] *= factor

    setattr(retrieve, "weigh_acronyms", weighed)  # noqa: B010


def project_generic(share: float) -> None:
    from toolcatalog.selection.calibrate import generic_requests
    from toolcatalog.selection.encoders import minilm, onnx

    direction: list[Any] = []

    def projected(encode: Any) -> Any:
        def encode_query(self: Any, text: str) -> Any:
            query = encode(self, text)
            if not direction:
                mean = self.encode(list(generic_requests())).mean(axis=0)
                direction.append(mean / np.linalg.norm(mean))
            axis = direction[0]
            out = query - share * float(query @ axis) * axis
            return (out / np.linalg.norm(out)).astype(query.dtype)

        return encode_query

    for cls in (minilm.MiniLMEncoder, onnx.OnnxMiniLMEncoder):
        setattr(cls, "encode_query", projected(cls.encode_query))  # noqa: B010


def extra_generic(path: Path) -> None:
    from toolcatalog.selection import calibrate, semantic

    lines = path.read_text(encoding="utf-8").splitlines()
    extra = tuple(t.strip() for t in lines if t.strip() and not t.startswith("#"))
    shipped = calibrate.generic_requests()

    def generic_requests() -> tuple[str, ...]:
        return shipped + extra

    setattr(calibrate, "generic_requests", generic_requests)  # noqa: B010
    setattr(semantic, "generic_requests", generic_requests)  # noqa: B010


def term_centrality(power: float) -> None:
    import tempfile

    from semantic_ceiling import hidden_states

    from toolcatalog.selection import retrieve
    from toolcatalog.selection.encoders.onnx import load_fast_encoder
    from toolcatalog.selection.text import request_tokens

    with tempfile.TemporaryDirectory(prefix="centrality-") as tmp:
        encoder: Any = load_fast_encoder(cache_dir=Path(tmp))
    weigh = retrieve.weigh_acronyms

    def centrality(text: str) -> dict[str, float]:
        words = encoder.tokenizer.basic(text)
        ids = encoder.tokenizer.encode(text)
        hidden = hidden_states(encoder, ids)
        pooled = encoder.encode_query(text)
        out: dict[str, float] = {}
        at_piece = 1
        for word in words:
            pieces = len(encoder.tokenizer.wordpieces(word))
            if at_piece + pieces > len(ids) - 1:
                break  # cut at the encoder's length
            state = hidden[at_piece : at_piece + pieces].mean(axis=0)
            at_piece += pieces
            cosine = float(state @ pooled / max(float(np.linalg.norm(state)), 1e-9))
            for term in request_tokens(word):
                out[term] = max(out.get(term, -1.0), cosine)
        return out

    def weighed(index: Any, text: str, terms: dict[str, float]) -> None:
        weigh(index, text, terms)
        known = {t: c for t, c in centrality(text).items() if t in terms}
        top = max(known.values(), default=0.0)
        for term, cosine in known.items():
            terms[term] *= min(max(cosine / top, 0.0), 1.0) ** power if top > 0 else 1.0

    setattr(retrieve, "weigh_acronyms", weighed)  # noqa: B010


def templates(doc: str, query: str) -> None:
    import atexit
    import os
    import shutil
    import tempfile

    from toolcatalog.selection.calibrate import generic_requests
    from toolcatalog.selection.encoders import onnx

    home = tempfile.mkdtemp(prefix="templates-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["TOOLCATALOG_HOME"] = home
    generic = frozenset(generic_requests())
    encode, encode_query = onnx.OnnxMiniLMEncoder.encode, onnx.OnnxMiniLMEncoder.encode_query

    def framed(self: Any, texts: Any, batch_size: int | None = None) -> Any:
        texts = [(query if t in generic else doc).format(t) for t in texts]
        return encode(self, texts, batch_size)

    def framed_query(self: Any, text: str) -> Any:
        return encode_query(self, query.format(text))

    setattr(onnx.OnnxMiniLMEncoder, "encode", framed)  # noqa: B010
    setattr(onnx.OnnxMiniLMEncoder, "encode_query", framed_query)  # noqa: B010


def name_words_share(share: float) -> None:
    from collections import Counter

    from toolcatalog.selection import semantic

    frequent: set[str] = set()
    texts, build = semantic.tool_texts, semantic.SemanticIndex.__init__

    def title(tool: Any) -> str:
        return str(tool.display_name or tool.name.replace("_", " "))

    def index(self: Any, tools: Any, previous: Any = None) -> None:
        counts = Counter(w for tool in tools for w in set(title(tool).lower().split()))
        frequent.clear()
        frequent.update(w for w, n in counts.items() if n > share * len(tools))
        build(self, tools, previous)

    def tool_texts(tool: Any) -> Any:
        words = title(tool).split()
        kept = [w for w in words if w.lower() not in frequent]
        if not kept or len(kept) == len(words):
            return texts(tool)
        return texts(tool.model_copy(update={"display_name": " ".join(kept)}))

    setattr(semantic.SemanticIndex, "__init__", index)  # noqa: B010
    setattr(semantic, "tool_texts", tool_texts)  # noqa: B010


def float32_encoder() -> None:
    from toolcatalog.selection import semantic_engine
    from toolcatalog.selection.encoders.minilm import MiniLMEncoder

    def load(folder: Path | None = None, cache_dir: Path | None = None) -> MiniLMEncoder:
        return MiniLMEncoder(folder)

    setattr(semantic_engine, "load_fast_encoder", load)  # noqa: B010


def calibration_constants(settings: list[str]) -> None:
    from toolcatalog.selection import calibrate, semantic

    for setting in settings:
        name, _, value = setting.partition("=")
        if not name.isupper() or not isinstance(getattr(calibrate, name, None), float):
            raise SystemExit(f"--calibration: {name} is no float constant of calibrate.py")
        setattr(calibrate, name, float(value))
    # The kept calibration's key digests calibrate.py's text, not the patched constants.
    setattr(semantic, "read_calibration", lambda *_args: None)  # noqa: B010
    setattr(semantic, "write_calibration", lambda *_args: None)  # noqa: B010


def nearest_generic_only() -> None:
    from toolcatalog.selection.calibrate import Calibration

    setattr(Calibration, "everyday_allowance", property(lambda _self: 0.0))  # noqa: B010


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stemmer", choices=["light", "snowball", "both"], default="light")
    parser.add_argument("--snowball-weight", type=float, default=1.0, help="with both")
    parser.add_argument("--idf-power", type=float, default=1.0)
    parser.add_argument("--english-rarity", type=float, default=0.0, help="gain G")
    parser.add_argument("--bounds", type=float, nargs=2, default=(6.5, 3.5), help="HI LO")
    parser.add_argument("--project-generic", type=float, default=0.0, help="share A")
    parser.add_argument("--extra-generic", type=Path, help="more generic requests (a file)")
    parser.add_argument("--term-centrality", type=float, default=0.0, help="power P")
    parser.add_argument("--templates", nargs=2, metavar=("DOC", "QUERY"))
    parser.add_argument("--name-words-share", type=float, default=0.0, help="share S")
    parser.add_argument("--calibration", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--nearest-generic-only", action="store_true")
    parser.add_argument("--float32-encoder", action="store_true")
    add_bench_arguments(parser)
    args = parser.parse_args()
    if args.bounds[0] <= args.bounds[1]:
        parser.error("--bounds: HI must be above LO")
    if args.stemmer == "snowball":
        snowball()
    elif args.stemmer == "both":
        both_stems(args.snowball_weight)
    if args.idf_power != 1.0:
        idf_power(args.idf_power)
    if args.english_rarity:
        english_rarity(args.english_rarity, *args.bounds)
    if args.project_generic:
        project_generic(args.project_generic)
    if args.extra_generic is not None:
        extra_generic(args.extra_generic)
    if args.term_centrality:
        term_centrality(args.term_centrality)
    if args.templates:
        templates(*args.templates)
    if args.name_words_share:
        name_words_share(args.name_words_share)
    if args.calibration:
        calibration_constants(args.calibration)
    if args.nearest_generic_only:
        nearest_generic_only()
    if args.float32_encoder:
        float32_encoder()
    run_bench(args.bench, args.args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
