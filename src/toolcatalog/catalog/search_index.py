"""Full-text search from memory: the tools matching a websearch query (text_query.py), ranked
as PostgreSQL's `ts_rank` ranked `to_tsvector('english', search_text)`, without a database
round trip.

Each served tool holds its text's lexemes in order (`CachedTool.terms`, made once with its
encoded body; one code point a lexeme, lexicon.py), so a version's tools are the truth for
what matches. `Postings` maps a lexeme
to the names of the tools that hold it: it only finds candidates, each then checked against
its own terms, so it may name more than match. It is shared by successive versions and only
grows (a changed tool's new lexemes are added; a lexeme it lost stays until the next whole
read): an update costs the changed tool, never the catalog.

A search restricted to some fields (`fields=`) matches those fields' texts joined
(text_query.field_texts) as the database's `to_tsvector` of them did: `FieldTerms` makes each
tool's field lexemes on the first such search and keeps them while the tool is unchanged."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from operator import itemgetter

from toolcatalog.catalog.lexicon import LEXICON, Terms
from toolcatalog.catalog.ranked import Ranked
from toolcatalog.catalog.term_codes import Codes
from toolcatalog.catalog.text_query import (
    FIELD_ORDER,
    And,
    Node,
    Not,
    Or,
    Phrase,
    field_texts,
    parse_query,
    query_lexemes,
    tokens,
)
from toolcatalog.catalog.ts_rank import MAXENTRYPOS, rank_and, rank_or
from toolcatalog.model.tool import Tool


class Postings:
    """lexeme -> names of the tools that hold (or held) it. Grows only; see the module doc."""

    def __init__(self) -> None:
        # A lexeme of one tool (most of them: numbers, rare words) maps to its name, the
        # others to a list of names: a set each cost 1.78 KiB a generated tool, these 0.23
        # (10,000 tools, tracemalloc).
        self._names: dict[str, str | list[str]] = {}

    def add(self, name: str, terms: Terms, before: Terms = "") -> None:
        """Post `name` under its `terms`' lexemes; `before`: the terms it was posted with
        (the tool's previous version), whose lexemes are not posted again. A lexeme the tool
        lost and took again is posted twice (`names` answers a set)."""
        held = self._names
        lexeme_of = LEXICON.lexeme
        for char in set(terms).difference(before):
            lexeme = lexeme_of(char)
            if lexeme is None:
                continue
            found = held.get(lexeme)
            if found is None:
                held[lexeme] = name
            elif isinstance(found, list):
                found.append(name)
            elif found != name:
                held[lexeme] = [found, name]

    @classmethod
    def of(cls, entries: Iterable[tuple[str, Terms]]) -> Postings:
        postings = cls()
        for name, terms in entries:
            postings.add(name, terms)
        return postings

    def names(self, lexeme: str) -> Sequence[str]:
        """The names posted under `lexeme` (a name may come twice). Another version's update
        may append to the list meanwhile: a name it adds is only one more candidate."""
        found = self._names.get(lexeme, ())
        return (found,) if isinstance(found, str) else found


class FieldTerms:
    """name -> (tool, the lexemes of each of its fields in FIELD_ORDER), made when a search
    restricted to fields first asks for the tool (the starter catalog's 203 tools: ~15 ms)
    and made again only for a tool that is another object (changed) since. Shared by
    successive versions, as Postings."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[Tool, tuple[Terms, ...]]] = {}

    def of(self, name: str, tool: Tool) -> tuple[Terms, ...]:
        kept = self._kept.get(name)
        if kept is None or kept[0] is not tool:
            kept = (tool, tuple(LEXICON.encode(tokens(text)) for text in field_texts(tool)))
            self._kept[name] = kept
        return kept[1]


def field_slots(fields: Iterable[str]) -> tuple[int, ...]:
    """The positions in FIELD_ORDER of the fields named (`tool_name` is `name`), in order."""
    chosen = {"name" if f == "tool_name" else f for f in fields}
    return tuple(i for i, f in enumerate(FIELD_ORDER) if f in chosen)


# Fields whose every lexeme is in the whole search text too, so Postings finds the candidates.
_IN_SEARCH_TEXT = frozenset(
    field_slots(("name", "description", "tags", "examples", "capabilities"))
)


def postings_cover(slots: Iterable[int]) -> bool:
    """Whether every lexeme of these fields is posted (category and platform are not)."""
    return _IN_SEARCH_TEXT.issuperset(slots)


# Going through a posted name costs ~0.08 us, checking a candidate against its terms ~10-40.
_CHECKED_INSTEAD = 256
# A query's candidates, as a share of the catalog, past which TermCodes answers it: 1 in 32.
_CHECKED_PER_SCAN = 32
# A lexeme posted for more than this share of the catalog (1 in 4) is common (see _surely_broad).
_COMMON = 4


def _candidates(node: Node, postings: Postings) -> frozenset[str] | None:
    """Names that may match `node`; None: any tool may (a query that is only exclusions)."""
    if isinstance(node, Phrase):
        return _common([postings.names(lex) for lex, _ in node.steps])
    if isinstance(node, Not):
        return None
    found = [_candidates(child, postings) for child in node.children]
    if isinstance(node, And):
        known = [c for c in found if c is not None]
        return _common(known) if known else None
    if any(c is None for c in found):
        return None
    return frozenset().union(*(c for c in found if c is not None))


def _common(collections: Sequence[Collection[str]]) -> frozenset[str]:
    """Names that may be in every one of `collections`: a set of the shortest, kept only
    where the others have them (each gone through once; a list is never made a set). An
    other far longer than the names kept is not gone through: checking those few names
    against their own terms, as `search` does with every candidate, costs less."""
    shortest, *others = sorted(collections, key=len)
    found = frozenset(shortest)
    for other in others:
        if len(other) > _CHECKED_INSTEAD * len(found):
            break  # and so are the longer ones after it
        found = found.intersection(other)
    return found


def _positions(terms: Terms, wanted: Iterable[str]) -> dict[str, list[int]]:
    """Where each wanted lexeme stands in `terms` (1-based), found by str.find: a C scan per
    occurrence, ~10x a Python loop over a tool's ~150-300 positions."""
    found: dict[str, list[int]] = {}
    find = terms.find
    char_of = LEXICON.char
    for lexeme in wanted:
        char = char_of(lexeme)
        if char is None:
            continue  # no terms hold it
        at: list[int] = []
        i = find(char)
        while i >= 0:
            at.append(i + 1)
            i = find(char, i + 1)
        if at:
            found[lexeme] = at
    if len(terms) >= MAXENTRYPOS:  # positions past 16,383 count as 16,383
        found = {k: [min(p, MAXENTRYPOS - 1) for p in v] for k, v in found.items()}
    return found


def _matches(node: Node, pos: Mapping[str, list[int]]) -> bool:
    if isinstance(node, Phrase):
        (first, _), *rest = node.steps
        ends = set(pos.get(first, ()))
        for lexeme, distance in rest:
            ends = {p for p in pos.get(lexeme, ()) if p - distance in ends}
        return bool(ends)
    if isinstance(node, Not):
        return not _matches(node.child, pos)
    if isinstance(node, And):
        return all(_matches(child, pos) for child in node.children)
    return any(_matches(child, pos) for child in node.children)


def _rank(node: Node, items: list[str], pos: Mapping[str, list[int]]) -> float:
    """ts_rank(vector, query) with the default weights and normalisation (tsrank.c)."""
    # tsrank.c's calc_rank: an AND or phrase at the top ranks by proximity (two lexemes or more)
    top_and = isinstance(node, And) or (isinstance(node, Phrase) and len(node.steps) > 1)
    if top_and and len(items) >= 2:
        return _rank_near(items, pos)
    return rank_or(items, [len(pos.get(lexeme, ())) for lexeme in items])


def _rank_near(items: list[str], pos: Mapping[str, list[int]]) -> float:
    """calc_rank_and's answer, by the query lexemes' distances only: tools of one template
    share it (remembered by ts_rank.rank_and)."""
    here = [tuple(pos.get(lexeme, ())) for lexeme in items]
    first = min(p[0] for p in here if p)
    return rank_and(tuple(tuple(q - first for q in p) for p in here))


def search(
    query: str,
    terms_of: Mapping[str, Terms],
    postings: Postings | None,
    every: Iterable[str],
    codes: Callable[[], Codes] | None = None,
) -> Ranked:
    """Every tool of `terms_of` matching `query`, best first as the database orders them
    (rank descending, then name descending), with its rank. `every`: all names, for a query
    that only excludes or when there are no `postings` of these terms. `codes`: gives every
    tool's terms as codes (term_codes.py; asked only for words joined by AND or by OR, or a
    phrase, that many tools may match), which answer it with numpy but for their stale
    names."""
    node = parse_query(query)
    if node is None:
        return Ranked.of([])
    items = query_lexemes(node)
    shape = _shape(node) if codes is not None else None
    if (
        shape is not None
        and postings is not None
        and _surely_broad(shape, items, postings, terms_of)
    ):
        candidates = None  # most tools: no need to know which
    else:
        candidates = None if postings is None else _candidates(node, postings)
    if codes is not None and shape is not None and _broad(candidates, terms_of):
        from_codes = _from_codes(node, shape, items, terms_of, codes())
        if from_codes is not None:
            return from_codes
        if postings is not None:  # a RARE lexeme: its few tools, one by one
            candidates = _candidates(node, postings)
    names = every if candidates is None else _in_order(candidates, every)
    return Ranked.of(_best_first(_ranked_each(node, items, terms_of, names)))


def _ranked_each(
    node: Node, items: list[str], terms_of: Mapping[str, Terms], names: Iterable[str]
) -> list[tuple[float, str]]:
    """The tools of `names` matching `node`, each checked against its own terms, unsorted."""
    if _all_of(node):
        return _ranked_all_of(items, terms_of, names)
    found = []
    for name in names:
        terms = terms_of.get(name)
        if terms is None:
            continue  # a tool of another version
        pos = _positions(terms, items)
        if _matches(node, pos):
            found.append((_rank(node, items, pos), name))
    return found


def _from_codes(
    node: Node, shape: str, items: list[str], terms_of: Mapping[str, Terms], kept: Codes
) -> Ranked | None:
    """`node` (of `shape`) answered from the codes, the tools they cannot answer (stale, and
    for a phrase those of capped positions) checked one by one and merged in; None when a
    lexeme is RARE in the codes."""
    codes, apart = kept.codes, kept.stale
    if shape == _ALL:
        found = codes.ranked_all_of(items, leave_out=apart)
    elif shape == _ANY:
        found = codes.ranked_any_of(items, leave_out=apart)
    else:
        assert isinstance(node, Phrase)
        found = codes.ranked_phrase(node.steps, items, leave_out=apart)
        apart = apart.union(codes.capped)
    if found is None:
        return None
    return found.merged(_ranked_each(node, items, terms_of, [n for n in apart if n in terms_of]))


def _surely_broad(
    shape: str, items: list[str], postings: Postings, terms_of: Mapping[str, Terms]
) -> bool:
    """Whether a query of `shape` surely goes to the codes: each of `items` (one of them,
    for words joined by OR) is posted for more than a quarter of the catalog. Then the
    intersection or union of their postings is not made (100,000 generated tools,
    "generated tool": ~12 ms of sets made and intersected, to learn that every tool may
    match)."""
    size = len(terms_of)
    common = [len(postings.names(lexeme)) * _COMMON > size for lexeme in items]
    return any(common) if shape == _ANY else all(common)


def _broad(candidates: Collection[str] | None, terms_of: Mapping[str, Terms]) -> bool:
    """Whether the codes' scans of the whole catalog (~1-2 ms a lexeme at 20,000 tools) cost
    less than checking the candidates one by one (~2-7 us each)."""
    return candidates is None or len(candidates) * _CHECKED_PER_SCAN > len(terms_of)


def _best_first(found: list[tuple[float, str]]) -> list[tuple[float, str]]:
    """(rank, name) descending: names are unique, so by name then stably by rank; each a
    float or str key, not a tuple compared item by item (100,000 ties: 0.18 s in cProfile)."""
    found.sort(key=itemgetter(1), reverse=True)
    found.sort(key=itemgetter(0), reverse=True)
    return found


def _in_order(candidates: frozenset[str], every: Iterable[str]) -> Iterable[str]:
    """The candidates, in `every`'s order when they are most of it: the version's tools in
    the order they were made, whose terms lie near each other in memory (a set's order is
    the hashes': 100,000 tools, 0.92 -> 0.73 s of a broad query's checks)."""
    if isinstance(every, Collection) and len(candidates) * 4 > len(every):
        return filter(candidates.__contains__, every)
    return candidates


# The queries TermCodes answers: words joined by AND (or one word), by OR, and a phrase.
_ALL, _ANY, _PHRASE = "all", "any", "phrase"


def _shape(node: Node) -> str | None:
    """Which of the codes' queries `node` is, or None (the per-tool path answers it)."""
    if _all_of(node):
        return _ALL
    if isinstance(node, Or) and all(
        isinstance(child, Phrase) and len(child.steps) == 1 for child in node.children
    ):
        return _ANY
    return _PHRASE if isinstance(node, Phrase) else None


def _all_of(node: Node) -> bool:
    """Whether `node` asks for every one of some single lexemes (one word, or words joined
    by AND, as most searches are): a tool matches when it holds them all."""
    if isinstance(node, Phrase):
        return len(node.steps) == 1
    return isinstance(node, And) and all(
        isinstance(child, Phrase) and len(child.steps) == 1 for child in node.children
    )


def _ranked_all_of(
    items: list[str], terms_of: Mapping[str, Terms], names: Iterable[str]
) -> list[tuple[float, str]]:
    """search's loop for an `_all_of` query, as `_matches` and `_rank` answer it without
    their walks of the query: one lexeme needs only its count (tuple.count, one C scan),
    several their positions."""
    found: list[tuple[float, str]] = []
    get = terms_of.get
    if len(items) == 1:
        char = LEXICON.char(items[0])
        if char is None:
            return found  # no terms hold it
        for name in names:
            terms = get(name)
            count = 0 if terms is None else terms.count(char)
            if count:
                found.append((rank_or(items, (count,)), name))
        return found
    wanted = len(items)
    for name in names:
        terms = get(name)
        if terms is None:
            continue  # a tool of another version
        pos = _positions(terms, items)
        if len(pos) == wanted:
            found.append((_rank_near(items, pos), name))
    return found
