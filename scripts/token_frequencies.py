"""Writes src/toolcatalog/selection/data/token_frequencies.txt: how often each word piece of
the encoder's vocabulary occurs in English, from the `wordfreq` package's word frequencies
(code Apache-2.0, data CC-BY-SA 4.0; see NOTICE). The encoder's pooling weighs a token by
it (encoders/pooling.py); the runtime reads the file and never needs wordfreq.

    pip install wordfreq==3.1.1 && python scripts/token_frequencies.py

Each word of wordfreq's large English list is split into the encoder's word pieces (its own
tokeniser: punctuation apart, greedy longest-match pieces), and each piece is credited with
the word's frequency, once per occurrence: a piece's frequency is how often it occurs in
English text tokenised so ("##s" through every plural, "##ctl" through the few words that
hold it). Pure-digit pieces are looked up in wordfreq directly (its list folds digits into
zeros), and a punctuation mark is as common as the commonest word (wordfreq counts words
only). A line is `piece<TAB>zipf`: log10 of the frequency per billion pieces (wordfreq's
Zipf scale, 7.7 for "the"), two decimals; a piece that never occurs is left out.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path

import wordfreq

from toolcatalog.selection.encoders.minilm import WordPieceTokenizer, _is_punctuation, model_dir

OUT = Path(__file__).parents[1] / "src/toolcatalog/selection/data/token_frequencies.txt"


def piece_frequencies(tokenizer: WordPieceTokenizer) -> dict[str, float]:
    """Each vocabulary piece's share of all pieces of English text (sums to 1)."""
    words = wordfreq.get_frequency_dict("en", "large")
    names = {i: w for w, i in tokenizer.vocab.items()}
    counts: dict[str, float] = defaultdict(float)
    for word, frequency in words.items():
        for part in tokenizer.basic(word):
            if part.isdigit():
                continue  # wordfreq folds digits into zeros; digit pieces are looked up below
            for piece in tokenizer.wordpieces(part):
                if piece != tokenizer.unk:
                    counts[names[piece]] += frequency
    for piece in tokenizer.vocab:
        digits = piece.removeprefix("##")
        if digits.isdigit() and not piece.startswith("##"):
            counts[piece] += wordfreq.word_frequency(digits, "en", "large")
    total = sum(counts.values())
    shares = {piece: count / total for piece, count in counts.items() if count > 0}
    # wordfreq counts words, not marks: a mark (",", "?", "(") is given the commonest word's
    # share, about as often as English text has one (a comma is ~5 % of tokens).
    commonest = max(shares.values())
    for piece in tokenizer.vocab:
        if not piece.startswith("[") and all(_is_punctuation(c) for c in piece.removeprefix("##")):
            shares[piece] = commonest
    return shares


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    tokenizer = WordPieceTokenizer(model_dir() / "vocab.txt")
    shares = piece_frequencies(tokenizer)
    lines = [
        "# How often each word piece of all-MiniLM-L6-v2's vocabulary occurs in English text, on",
        "# wordfreq's Zipf scale (log10 of occurrences per billion pieces); absent: never seen.",
        f"# Made by scripts/token_frequencies.py from wordfreq {version('wordfreq')}, by Robyn",
        "# Speer (https://github.com/rspeer/wordfreq), whose data is licensed CC BY-SA 4.0: this",
        "# table is shared under the same licence (its sources are credited in NOTICE).",
    ]
    for piece in sorted(shares, key=lambda p: tokenizer.vocab[p]):
        lines.append(f"{piece}\t{math.log10(shares[piece] * 1e9):.2f}")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(shares)} of {len(tokenizer.vocab)} pieces written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
