"""LLM tie-break: when the top tools score within the tie margin, an Ollama or OpenAI-compatible
chat endpoint may pick one of them. It sees the request and the tied candidates' profiles and
must answer `{"choice": <number or tool name>, "justification": "..."}`; anything else (a
timeout, an HTTP error, prose, a tool that was not offered) leaves the deterministic order."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from toolcatalog.config import Settings

log = logging.getLogger(__name__)

Protocol = Literal["ollama", "openai"]

SYSTEM_PROMPT = (
    "You pick the single best tool for an operations request among tied candidates. Answer "
    'with one JSON object and nothing else: {"choice": <candidate number or tool name>, '
    '"justification": "<one sentence>"}. The choice must be one of the candidates.'
)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class TiedCandidate:
    tool: str
    capability: str
    pattern: str
    description: str
    time_ms: float | None
    cost: float | None
    accuracy: float
    completeness: float
    complexity: float
    production_safe: bool


Asked = Literal["picked", "invalid", "timeout", "error", "skipped"]


@dataclass(frozen=True, slots=True)
class TieOutcome:
    """`choice` indexes the tied candidates, None when the deterministic order stands;
    `asked` is how the LLM answered (None when it was not asked; `skipped` when the circuit
    breaker kept it from being asked), for the metrics."""

    choice: int | None
    method: Literal["deterministic", "llm"]
    justification: str
    asked: Asked | None = None


def endpoint(url: str) -> tuple[Protocol, str]:
    """The protocol and full URL: `.../api/chat` is Ollama, `.../chat/completions` is
    OpenAI-compatible; a bare base URL means Ollama's `/api/chat`, one ending `/v1` OpenAI's."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith("/chat/completions"):
        return "openai", url
    if path.endswith("/api/chat"):
        return "ollama", url
    if path.endswith("/v1"):
        return "openai", urlunsplit(parts._replace(path=path + "/chat/completions"))
    return "ollama", urlunsplit(parts._replace(path=path + "/api/chat"))


def _prompt(request: str, tied: Sequence[TiedCandidate]) -> str:
    lines = [f"Request: {request}", "", "Candidates:"]
    for n, c in enumerate(tied, start=1):
        time = "unknown" if c.time_ms is None else f"{c.time_ms:g} ms"
        cost = "unknown" if c.cost is None else f"{c.cost:g}"
        lines.append(
            f"{n}. tool={c.tool} capability={c.capability} pattern={c.pattern}: "
            f"{c.description} (time {time}, cost {cost}, accuracy {c.accuracy:g}, "
            f"completeness {c.completeness:g}, complexity {c.complexity:g}, "
            f"production_safe {str(c.production_safe).lower()})"
        )
    return "\n".join(lines)


def _body(protocol: Protocol, model: str, request: str, tied: Sequence[TiedCandidate]) -> Any:
    messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": _prompt(request, tied)},
    ]
    if protocol == "ollama":
        return {
            "model": model,
            "messages": messages,
            "stream": False,
            "format": "json",
            "options": {"temperature": 0},
        }
    return {
        "model": model,
        "messages": messages,
        "temperature": 0,
        "response_format": {"type": "json_object"},
    }


def _content(protocol: Protocol, payload: Any) -> str:
    if protocol == "ollama":
        content = payload["message"]["content"]
    else:
        content = payload["choices"][0]["message"]["content"]
    if not isinstance(content, str):
        raise TypeError("message content is not text")
    return content


def parse_answer(content: str, tied: Sequence[TiedCandidate]) -> tuple[int, str]:
    """The chosen index and justification; raises ValueError for anything but the strict form
    (a ```json fence around it is tolerated, as models add one even when told not to)."""
    text = content.strip()
    if fenced := _FENCE.match(text):
        text = fenced.group(1)
    answer = json.loads(text)
    if not isinstance(answer, dict) or "choice" not in answer:
        raise ValueError("the answer is not an object with a 'choice'")
    choice, justification = answer["choice"], answer.get("justification", "")
    if not isinstance(justification, str):
        raise ValueError("'justification' is not text")
    if isinstance(choice, int) and not isinstance(choice, bool) and 1 <= choice <= len(tied):
        return choice - 1, justification
    if isinstance(choice, str):
        names = [c.tool for c in tied]
        if choice.strip() in names:
            return names.index(choice.strip()), justification
        if choice.strip().isdigit() and 1 <= int(choice) <= len(tied):
            return int(choice) - 1, justification
    raise ValueError(f"choice {choice!r} is not one of the tied candidates")


async def break_tie(settings: Settings, request: str, tied: Sequence[TiedCandidate]) -> TieOutcome:
    """Ask the configured LLM to pick among `tied` (in deterministic order); never raises."""
    keep = "the deterministic order stands"
    if not settings.llm_url:
        return TieOutcome(None, "deterministic", "tie within the margin; no LLM is configured")
    protocol, url = endpoint(settings.llm_url)
    headers = {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
    body = _body(protocol, settings.llm_model, request, tied)
    try:
        async with httpx.AsyncClient(timeout=settings.llm_timeout_s) as client:
            response = await asyncio.wait_for(
                client.post(url, json=body, headers=headers), settings.llm_timeout_s
            )
        response.raise_for_status()
        index, justification = parse_answer(_content(protocol, response.json()), tied)
    except (TimeoutError, httpx.TimeoutException):
        log.info("LLM tie-break timed out after %ss", settings.llm_timeout_s)
        return TieOutcome(None, "deterministic", f"LLM timed out; {keep}", "timeout")
    except httpx.HTTPError as exc:
        log.info("LLM tie-break failed: %s", exc)
        why = f"LLM unreachable or failed ({exc}); {keep}"
        return TieOutcome(None, "deterministic", why, "error")
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        log.info("LLM tie-break answer refused: %s", exc)
        return TieOutcome(None, "deterministic", f"LLM answer refused ({exc}); {keep}", "invalid")
    return TieOutcome(index, "llm", justification or "chosen by the LLM", "picked")
