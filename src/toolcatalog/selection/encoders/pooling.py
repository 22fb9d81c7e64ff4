"""Token weights for the encoder's mean pooling: a word piece that is rare in English text
counts for more in a text's vector than a common one ("the", "for", ",").

The weights come from data/token_frequencies.txt (made by scripts/token_frequencies.py from
wordfreq's English word frequencies), fixed and shipped with the package: a text's vector
stays a function of its text alone, so embeddings are cached by text and a reload embeds only
new texts. A catalog's own IDF would weigh its boilerplate ("plugin", "tool") lower still, but
would change every vector whenever a tool is added.

A piece whose Zipf frequency is COMMON_ZIPF or more weighs 1, one at RARE_ZIPF or less (or
never seen) 1 + RARE_GAIN, linearly between; [CLS] and [SEP] weigh 1. Chosen on four catalogs
at once (MetaTool, the starter catalog with and without examples, manual pages; session 9 in
docs/performance.md): gains of 0.3-0.5 and bounds 6.5-7.5 / 2.5-4 moved MetaTool by 0-0.5
points of top-1 and no other set by more than a request or two, but some of them answered one
more out-of-scope request on the manual pages ("draft a thank you note to my landlord" ->
git_notes); these bounds lose none. Larger gains (2-8) and smooth inverse frequency
(a / (a + p)) lost on MetaTool and the starter dev set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]

TOKEN_FREQUENCIES = Path(__file__).parents[1] / "data" / "token_frequencies.txt"
COMMON_ZIPF = 6.5  # the ~40 commonest words ("the", "to", "is", "with"), punctuation: weight 1
RARE_ZIPF = 3.5  # about three times in a million pieces, or rarer: weight 1 + RARE_GAIN
RARE_GAIN = 0.5
# Names the pooling in the encoder's name, and so in every cache of its vectors: change it
# whenever the table, the bounds or the gain change, so kept embeddings are recomputed.
POOLING = "rare-words-1"


def read_zipf(vocab: dict[str, int], path: Path = TOKEN_FREQUENCIES) -> Array:
    """Each vocabulary id's Zipf frequency (log10 per billion pieces; 0 for a piece the table
    does not list). Raises ValueError naming the line when the table does not fit `vocab`."""
    zipf = np.zeros(len(vocab), dtype=np.float32)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line or line.startswith("#"):
            continue
        piece, _, value = line.partition("\t")
        index = vocab.get(piece)
        try:
            zipf_value = float(value)
        except ValueError:
            index = None
        if index is None:
            raise ValueError(f"{path}:{number}: {line!r} is not a piece of this vocabulary")
        zipf[index] = zipf_value
    return zipf


def token_weights(vocab: dict[str, int], path: Path = TOKEN_FREQUENCIES) -> Array:
    """The pooling weight of each vocabulary id, indexable by token ids."""
    rarity = (COMMON_ZIPF - read_zipf(vocab, path)) / (COMMON_ZIPF - RARE_ZIPF)
    weights: Array = (1.0 + RARE_GAIN * np.clip(rarity, 0.0, 1.0)).astype(np.float32)
    for special in ("[CLS]", "[SEP]"):
        weights[vocab[special]] = 1.0
    return weights
