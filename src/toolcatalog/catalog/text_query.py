"""PostgreSQL's English full-text parsing, in Python: `lexemes(text)` is what
`to_tsvector('english', text)` holds (lexeme -> positions), `parse_query(q)` what
`websearch_to_tsquery('english', q)` makes, so the in-memory search (search_index.py) matches
and ranks as the database's did without asking it. `search_text(tool)` and
`field_texts(tool)` are the documents a tool is searched as.

The database's default parser is a state machine with two dozen token types; this follows it
for everything a catalog's texts hold (words, hyphenated words with their parts, numbers,
versions, file paths, host names, URLs, e-mail addresses; XML tags skipped). Measured against
PostgreSQL on the starter catalog (tests/catalog/test_search_index.py keeps it so)."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

from toolcatalog.model.tool import Tool

# PostgreSQL's tsearch_data/english.stop: removed, though each still takes a position.
_STOP_LIST = """
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she
her hers herself it its itself they them their theirs themselves what which who whom this that
these those am is are was were be been being have has had having do does did doing a an the and
but if or because as until while of at by for with about against between into through during
before after above below to from up down in out on off over under again further then once here
there when where why how all any both each few more most other some such no nor not only own
same so than too very s t can will just don should now
"""
STOPWORDS = frozenset(_STOP_LIST.split())

_STEMMER = Stemmer.Stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str | None:
    """The english_stem dictionary: lowercased, None for a stopword, else its Snowball stem."""
    lower = word.lower()
    return None if lower in STOPWORDS else str(_STEMMER.stemWord(lower))


_PART = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_HOST = rf"(?:{_PART}\.)+[A-Za-z]{{2,}}(?![A-Za-z0-9])"
_WORD = r"[^\W_]*[^\W\d_][^\W_]*"
# One token at a time, the first alternative that matches at a position winning (the order
# is the database parser's preference where two could).
_TOKEN = re.compile(
    r"(?P<skip></?[A-Za-z][^<>\s]*>|&[A-Za-z]+;)"
    rf"|(?P<url>(?:[A-Za-z]+://)?(?P<host>{_HOST}(?::\d+)?)(?P<path>/[\w/.\-~:;%+@]*[\w/\-~;%+@]))"
    rf"|(?P<email>[\w.+-]+@{_HOST})"
    r"|(?P<proto>[A-Za-z]+://)"
    r"|(?P<sfloat>\d+(?:\.\d+)?[eE][-+]?\d+(?![\w.]))"
    r"|-?(?P<version>\d+(?:\.\d+){2,})"
    r"|(?P<float>[-+]?\d+\.\d+)"
    r"|(?P<file>(?:/(?:[\w.~][\w.\-~]*[\w~-]|[\w~]))+"
    r"|[A-Za-z0-9.]*[A-Za-z0-9](?:/[\w.~](?:[\w.\-~]*[\w~])?)+)"
    rf"|(?P<hostname>{_HOST}(?::\d+)?)"
    r"|(?P<dotted>[A-Za-z][\w~]*(?:\.[\w~]*[\w~])+)"
    rf"|(?P<hword>{_WORD}(?:-{_WORD})+)"
    r"|(?P<int>[-+]\d+)"
    r"|(?P<word>[^\W_]+)"
)


def _word_lexemes(word: str) -> list[str | None]:
    """One plain word: numword (letters and digits) kept as is, else stemmed; None: a
    stopword (it takes a position all the same)."""
    if any(c.isdigit() for c in word):
        return [word.lower()]
    return [stem(word)]


def _hword_lexemes(hword: str) -> list[str | None]:
    """A hyphenated word, then each of its parts, each at its own position."""
    whole = hword.lower()
    if not any(c.isdigit() for c in hword):
        whole = _STEMMER.stemWord(whole)  # the whole is stemmed but never a stopword
    out: list[str | None] = [whole]
    for part in hword.split("-"):
        out += _word_lexemes(part)
    return out


_PUNCTUATION = ".,;:!?()[]{}\"'"


def tokens(text: str) -> tuple[str | None, ...]:
    """The lexemes of `text` in order, one per position (None: a stopword's position)."""
    # No token spans white space, so a chunk's lexemes are its own: those of the chunks
    # seen lately are looked up (a catalog's texts repeat their words: a whole read of
    # 20,000 generated tools spent ~0.7 s of CPU on this walk, 3.5 s at 100,000).
    out: list[str | None] = []
    known = _chunk_lexemes.get
    for chunk in text.split():
        found = known(chunk)
        if found is None:
            found = _lexemes_of_chunk(chunk)
            if len(_chunk_lexemes) >= _CHUNKS_MAX:
                _chunk_lexemes.clear()  # bounded; the frequent ones come back at once
            _chunk_lexemes[chunk] = found
        out += found
    return tuple(out)


# Chunks of text (no white space) seen lately -> their lexemes. One dict: its get and set
# are atomic under the GIL, so the threads that make lexemes (a whole read's, a write's plan
# beside the loop) need no lock. At most ~8 MiB (chunks and their tuples).
_chunk_lexemes: dict[str, tuple[str | None, ...]] = {}
_CHUNKS_MAX = 1 << 15


def _lexemes_of_chunk(chunk: str) -> tuple[str | None, ...]:
    out: list[str | None] = []
    # Most chunks are a plain word (with punctuation around it), the rest go through the
    # token expression (10x cheaper than scanning the whole text).
    core = chunk.strip(_PUNCTUATION)
    if core.isalnum():
        out.append(_plain(core))
    elif "_" in core and core.replace("_", "").isalnum():
        out += [_plain(part) for part in core.split("_") if part]
    elif core:
        _chunk_tokens(chunk, out)
    # Interned: 100,000 tools hold the same few thousand lexemes once each.
    return tuple(None if t is None else sys.intern(t) for t in out)


def _plain(word: str) -> str | None:
    """A run of letters and digits: a word (stemmed), a number, or a numword (as is)."""
    if word.isalpha():
        return stem(word)
    return word if word.isdigit() else word.lower()


def _chunk_tokens(chunk: str, out: list[str | None]) -> None:
    after_hword = -1  # where the last hyphenated word ended: its "-2" is a part, "2"
    for m in _TOKEN.finditer(chunk):
        kind = m.lastgroup
        token = m.group()
        if kind == "version":
            out.append(m["version"])
        elif kind == "url":
            out += [token.lower().split("://", 1)[-1], m["host"].lower(), m["path"].lower()]
        elif kind in ("skip", "proto"):
            continue
        elif kind == "hword":
            out += _hword_lexemes(token)
            after_hword = m.end()
            continue
        elif kind in ("int", "float") and m.start() == after_hword and token[0] == "-":
            out.append(token[1:])
        elif kind == "word":
            out += _word_lexemes(token)
        else:
            out.append(token.lower())
        after_hword = -1


def lexemes(text: str) -> dict[str, tuple[int, ...]]:
    """`to_tsvector('english', text)`: each lexeme with its positions (1-based, ascending)."""
    found: dict[str, list[int]] = {}
    for position, lexeme in enumerate(tokens(text), start=1):
        if lexeme is not None:
            found.setdefault(lexeme, []).append(min(position, 16383))
    return {k: tuple(dict.fromkeys(v))[:256] for k, v in found.items()}


# ---------------------------------------------------------------------------- documents


def search_text(tool: Tool) -> str:
    """The text full-text search indexes: names, descriptions, capabilities, examples, tags."""
    return "\n".join(search_parts(tool))


def search_parts(tool: Tool) -> list[str]:
    """The pieces of `search_text`, in order: no token spans two of them, so its `tokens`
    are theirs, one after the other."""
    parts = [tool.name.replace("_", " "), tool.display_name or "", tool.description]
    parts += tool.tags
    for cap in tool.capabilities:
        parts += [cap.name.replace("_", " "), cap.description]
        for pat in cap.patterns:
            parts += [pat.name.replace("_", " "), pat.description, *pat.typical_use_cases]
    parts += tool.examples
    return [p for p in parts if p]


# The fields a search may be restricted to (model/listing.py, SEARCH_FIELDS), in the order
# their texts are joined; `tool_name` is `name`.
FIELD_ORDER = ("name", "description", "category", "platform", "tags", "examples", "capabilities")


def field_texts(tool: Tool) -> tuple[str, ...]:
    """The text of each field of FIELD_ORDER. A search restricted to some fields matches the
    chosen ones joined by spaces (the database's `concat_ws(' ', ...)` of these texts; words
    never span a space, so each field's lexemes can be made once and joined)."""
    return (
        f"{tool.name.replace('_', ' ')} {tool.display_name or ''}",
        tool.description,
        tool.category.replace("_", " "),
        tool.platform.value,
        " ".join(tool.tags),
        " ".join(tool.examples),
        " ".join(f"{c.name.replace('_', ' ')} {c.description}" for c in tool.capabilities),
    )


# ------------------------------------------------------------------------------ queries


@dataclass(frozen=True, slots=True)
class Phrase:
    """Lexemes at fixed distances: `steps[i]` is (lexeme, distance from the previous one);
    one step is a single lexeme."""

    steps: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Phrase | Not | And | Or

_OPERATOR_CHARS = "!&|()<"


def _operand(text: str) -> Phrase | None:
    """A query word or quoted text as PostgreSQL parses it: its lexemes joined by their
    distances (stopwords in between widen them); None when only stopwords."""
    steps: list[tuple[str, int]] = []
    last = 0
    for position, lexeme in enumerate(tokens(text), start=1):
        if lexeme is None:
            continue
        steps.append((lexeme, position - last if steps else 0))
        last = position
    return Phrase(tuple(steps)) if steps else None


def _split(query: str) -> list[tuple[str, str]]:
    """websearch_to_tsquery's scanner: ("val", text), ("not", ""), ("or", ""); an AND is
    implied between operands."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(query)
    waiting_operand = True
    while i < n:
        c = query[i]
        if waiting_operand:
            if c == "-":
                out.append(("not", ""))
                i += 1
            elif c == '"':
                end = query.find('"', i + 1)
                end = n if end < 0 else end
                out.append(("val", query[i + 1 : end]))
                i = end + 1
                waiting_operand = False
            elif c in _OPERATOR_CHARS or c.isspace():
                i += 1
            else:
                j = i
                while j < n and not query[j].isspace() and query[j] not in _OPERATOR_CHARS + '"':
                    j += 1
                out.append(("val", query[i:j]))
                i = j
                waiting_operand = False
        elif c.isspace() or c in _OPERATOR_CHARS:
            i += 1
        elif _is_or(query, i):
            out.append(("or", ""))
            i += 2
            waiting_operand = True
        else:
            out.append(("and", ""))
            waiting_operand = True
    return out


def _is_or(query: str, i: int) -> bool:
    if query[i : i + 2].lower() != "or":
        return False
    rest = query[i + 2 :]
    if not rest or rest[0] in "-_" or rest[0].isalnum():
        return False
    return bool(rest.strip())


def parse_query(query: str) -> Node | None:
    """`websearch_to_tsquery('english', query)`: words AND-ed, "quoted text" a phrase, `or`
    between terms, `-` before one to exclude it. None when nothing is left (only stopwords):
    such a query matches no tool, as in the database."""
    groups: list[list[Node]] = [[]]
    negate = False
    for kind, text in _split(query):
        if kind == "not":
            negate = not negate
        elif kind == "or":
            groups.append([])
        elif kind == "val":
            found = _operand(text)
            if found is not None:
                groups[-1].append(Not(found) if negate else found)
            negate = False
    ors: list[Node] = []
    for group in groups:
        if len(group) == 1:
            ors.append(group[0])
        elif group:
            ors.append(And(tuple(group)))
    if not ors:
        return None
    return ors[0] if len(ors) == 1 else Or(tuple(ors))


def query_lexemes(node: Node) -> list[str]:
    """Every lexeme of the query (negated ones too), unique, in byte order: ts_rank's items."""
    found: set[str] = set()

    def walk(n: Node) -> None:
        if isinstance(n, Phrase):
            found.update(lex for lex, _ in n.steps)
        elif isinstance(n, Not):
            walk(n.child)
        else:
            for child in n.children:
                walk(child)

    walk(node)
    return sorted(found, key=lambda s: s.encode())
