"""The seed's reads that pick tools by a value (search by a part of a text, the list's `name=`,
tools by platform, category or capability) answer from indexes made once a catalog version
(catalog/substrings.py, the filter index), not from a walk of every tool per distinct value:
many distinct values, hostile ones among them, answer exactly as the walk the seed did."""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import quote

import httpx

from builders import tool_doc

from .support import Keys, create

SEED = "/opsconductor/api/v1/tools"
SEARCH_FIELDS = ("tool_name", "description", "category", "platform")

# Texts whose lowercase is longer or shorter than they are, or that only match lowered.
DISPLAY = ["İstanbul Probe", "STRASSE check", "Disk Usage", "ǅemal", None, "K-Kelvin K", ""]
DESCRIPTIONS = [
    "Checks disk usage on a node.",
    "Lists \uff30\uff32\uff2f\uff23 (full-width PROC) fast.",
    "Rotates logs; İ and ß and ẞ.",
    "Finds DNS records for a host name.",
    "A tool.",
]
PLATFORMS = ["linux", "windows", "kubernetes", "cloud"]
CATEGORIES = ["system", "network", "disk_tools", "logs"]
CAPABILITIES = ["process_list", "disk_usage", "log_search"]


def _docs(rng: random.Random) -> list[dict[str, Any]]:
    docs = []
    for i in range(36):
        name = f"{rng.choice(['disk', 'log', 'net', 'proc'])}_{rng.choice(['probe', 'tool'])}_{i}"
        display = DISPLAY[i % len(DISPLAY)]
        doc = tool_doc(
            name,
            description=f"{rng.choice(DESCRIPTIONS)} Number {i}.",
            platform=PLATFORMS[i % len(PLATFORMS)],
            category=CATEGORIES[(i // 2) % len(CATEGORIES)],
            enabled=i % 5 != 0,
            status="deprecated" if i % 7 == 0 else "active",
        )
        doc["capabilities"][0]["name"] = CAPABILITIES[i % len(CAPABILITIES)]
        if display is not None:
            doc["display_name"] = display
        docs.append(doc)
    return docs


def _text(doc: dict[str, Any], field: str) -> str:
    """The seed's text of a search field (api/routes/seed_reads.py before the indexes)."""
    if field == "tool_name":
        return f"{doc['name']} {doc.get('display_name') or ''}"
    return str(doc[field])


def _needles(rng: random.Random, docs: list[dict[str, Any]]) -> list[str]:
    """Parts of the tools' texts (some upper-cased), and made-up and hostile values."""
    texts = [_text(d, f) for d in docs for f in SEARCH_FIELDS]
    found = {"k", "K", "i̇", "ss", "ß", "e.", ". n", "_", " ", "%", "\\", "'", '"', "\t"}
    for _ in range(30):
        text = rng.choice(texts)
        at = rng.randrange(len(text))
        part = text[at : at + rng.randint(1, 9)]
        found.add(part.upper() if rng.random() < 0.3 else part)
    alphabet = "abcdeiklnoprstuİßẞ_ .-0123456789"
    for _ in range(30):
        found.add("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))))
    return sorted(n for n in found if n.strip() or n == " ")


async def test_many_distinct_values_answer_as_a_walk_of_every_tool(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    rng = random.Random(1919)
    docs = _docs(rng)
    for doc in docs:
        await create(client, keys, doc["name"], **{k: v for k, v in doc.items() if k != "name"})
    by_name = sorted(docs, key=lambda d: d["name"])

    def names(found: list[dict[str, Any]]) -> list[str]:
        return [t["tool_name"] for t in found]

    for needle in _needles(rng, docs):
        low = needle.lower()
        fields = rng.sample(SEARCH_FIELDS, rng.randint(1, 4))
        r = await client.get(f"{SEED}/search/query", params={"q": needle, "fields": fields})
        assert r.status_code == 200, (needle, r.text)
        walked = [d["name"] for d in by_name if any(low in _text(d, f).lower() for f in fields)]
        assert names(r.json()["results"]) == walked, (needle, fields)

        r = await client.get(SEED, params={"name": needle, "page_size": 100})
        assert r.status_code == 200, (needle, r.text)
        listed = [
            d["name"]
            for d in by_name
            if low in d["name"] or low in (d.get("display_name") or "").lower()
        ]
        assert names(r.json()["tools"]) == listed, needle
        assert r.json()["total"] == len(listed)

        if "/" in needle or needle in (".", ".."):
            continue  # not one path segment
        value = quote(needle, safe="")
        for route, field in (("platform", "platform"), ("category", "category")):
            r = await client.get(f"{SEED}/{route}/{value}")
            assert r.status_code == 200, (needle, r.text)
            assert names(r.json()["tools"]) == [d["name"] for d in by_name if d[field] == needle]

    for value in [*PLATFORMS, *CATEGORIES, "LINUX", "linux ", "disk"]:
        for route in ("platform", "category"):
            r = await client.get(f"{SEED}/{route}/{quote(value, safe='')}")
            assert names(r.json()["tools"]) == [d["name"] for d in by_name if d[route] == value]
    for capability in [*CAPABILITIES, "Disk_Usage", "nothing_here"]:
        r = await client.get(f"{SEED}/capabilities/{capability}/tools")
        assert r.status_code == 200, r.text
        offered = [
            d["name"]
            for d in by_name
            if d["enabled"] and d["status"] == "active"
            and d["capabilities"][0]["name"] == capability
        ]  # fmt: skip
        assert names(r.json()["tools"]) == offered, capability


async def test_a_write_shows_in_the_next_search_and_name_list(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    # The texts are made once a catalog version: a write makes a new version, read anew.
    await create(client, keys, "alpha_probe", display_name="First Probe")
    assert (await client.get(f"{SEED}/search/query", params={"q": "second"})).json()["total"] == 0
    assert (await client.get(SEED, params={"name": "second"})).json()["total"] == 0
    await create(client, keys, "beta_probe", display_name="Second Probe")
    found = (await client.get(f"{SEED}/search/query", params={"q": "second"})).json()
    assert [t["tool_name"] for t in found["results"]] == ["beta_probe"]
    listed = (await client.get(SEED, params={"name": "SECOND"})).json()
    assert [t["tool_name"] for t in listed["tools"]] == ["beta_probe"]
