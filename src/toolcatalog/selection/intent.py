"""What a request asks for: to look or to change something, and the action it names.

Read from the words alone, for any catalog (no per-tool rules): an action verb in its base form
("restart nginx", "can you roll back payments", "nginx needs a restart") asks for a change; the
same verb asked about ("why did nginx restart", "was it rebooted"), negated ("don't restart
it, just check"), or in a dry run ("what would a prune delete") does not. Stage A's
`intent.action` (e.g. `restart_service`) is a hint, used when the words are silent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

IntentKind = Literal["read", "change"]
IntentSource = Literal["request", "stage_a", "default"]

# Canonical action -> its surface forms in base form (multi-word phrases allowed), and whether
# the action typically loses data or service (the reasons say so; the effect is the pattern's).
_ACTIONS: dict[str, tuple[str, ...]] = {
    "restart": ("restart", "bounce", "recycle", "reset the service"),
    "reboot": ("reboot", "power cycle", "power-cycle", "hard reset"),
    "start": ("start", "bring up", "bring back up", "launch", "spin up"),
    "stop": (
        "stop", "shut down", "shutdown", "halt", "take down", "bring down", "take offline",
        "pause", "down",
    ),
    "reload": ("reload", "hup", "re-read"),
    "kill": ("kill", "killall", "pkill", "terminate", "end task", "end the process"),
    "delete": (
        "delete", "remove", "rm", "purge", "prune", "clean up", "cleanup", "clean", "clear out",
        "drop", "erase", "vacuum", "wipe", "destroy", "get rid of", "uninstall", "deregister",
    ),
    "scale": ("scale", "scale up", "scale down", "scale out", "add replicas", "autoscale"),
    "roll back": ("roll back", "rollback", "revert", "undo", "downgrade"),
    "deploy": ("deploy", "roll out", "rollout", "release", "ship", "apply", "sync", "promote"),
    "install": ("install", "reinstall", "add package"),
    "upgrade": ("upgrade", "update", "patch", "bump version"),
    "flush": ("flush", "clear", "invalidate", "empty"),
    "block": ("block", "ban", "deny", "blacklist", "blocklist", "firewall off", "null route"),
    "unblock": ("unblock", "unban", "whitelist", "allowlist", "open up", "allow"),
    "rotate": ("rotate", "roll over", "re-key", "rekey"),
    "unmount": ("unmount", "umount", "detach", "eject"),
    "mount": ("mount", "attach", "remount"),
    "renew": ("renew", "reissue", "re-issue", "refresh the certificate"),
    "set": (
        "set", "change", "configure", "adjust", "raise", "increase", "lower", "decrease", "bump",
        "tune", "edit", "modify", "enable", "disable", "turn on", "turn off", "switch", "limit",
    ),
    "create": ("create", "add", "provision", "make", "generate", "open a", "open an", "file a",
        "snapshot",
    ),
    "resize": ("resize", "extend", "grow", "shrink", "expand"),
    "reset": ("reset", "unlock", "lock", "lock out", "expire"),
    "drain": ("drain", "cordon", "uncordon", "evict", "migrate"),
    "fail over": ("fail over", "failover", "switch over", "switchover"),
    "restore": ("restore", "recover", "roll forward"),
    "format": ("format", "mkfs", "partition", "repartition", "reformat"),
    "repair": ("repair", "fix", "fsck", "rebuild", "resync"),
    "grant": ("grant", "revoke", "chmod", "chown", "give", "take away", "add to group"),
    "send": (
        "send", "post", "notify", "page", "alert", "email", "message", "acknowledge", "ack",
        "silence", "mute", "resolve", "close", "escalate", "assign", "comment on",
    ),
    "run": ("trigger", "kick off", "rerun", "re-run", "retry", "schedule"),
    "copy": ("copy", "move", "transfer", "upload", "sync to", "push", "rename", "archive"),
    "kill switch": ("evacuate", "quarantine", "isolate", "disconnect"),
}  # fmt: skip


def _words_of(text: str) -> frozenset[str]:
    return frozenset(text.split())


DESTRUCTIVE_ACTIONS = frozenset({"delete", "kill", "format", "reboot", "restore"})

# Stage A's action names (`restart_service`, `check_disk_usage`): words that mean looking.
_LOOK_WORDS = _words_of(
    "check show list get display view inspect describe status query find search look see "
    "tail read monitor watch report diagnose troubleshoot investigate analyze analyse "
    "audit count measure compare explain verify test ping trace lookup fetch info "
    "information"
)
# A clause that opens with one of these asks about the world; a polite modal with a person
# ("can you", "could we") asks for an action instead.
_WH = _words_of("why when what who whom whose where which how")
_AUX = _words_of(
    "is are was were do does did has have had am isnt arent wasnt werent doesnt didnt hasnt havent"
)
_MODAL = _words_of("can could would will should shall may might must")
_PERSON = _words_of("you we i u someone somebody")
_NEGATION = _words_of(
    "not no never without dont don't do_not shouldnt shouldn't wont won't cant can't "
    "avoid before instead"
)
# Dry runs, previews and plans look at what an action would do without doing it.
_DRY_RUN = re.compile(
    r"\b(dry[- ]?run|preview|what would|what will|simulate|--check|without (?:actually|really)"
    r"|plan (?:only|first)|would happen|impact of)\b"
)
# A mark ends a sentence only before a space or the end: the dots of "shop.example.com", the
# colon of "D:\\Shares" or ":3000" and the comma of "1,000" are inside words ("is the cert on
# shop.example.com about to expire" split at its dots left "com about to expire", a change).
_SENTENCE = re.compile(r"[.;:!?,]+(?=\s|$)|\n+")
_CLAUSE = re.compile(r"\b(?:and|but|then|or)\b")
_WORD = re.compile(r"[a-z0-9][a-z0-9'_-]*")


@dataclass(frozen=True, slots=True)
class IntentReading:
    """`kind` is what the request asks for; `action` the canonical action it names (None for
    a plain question); `evidence` the words that decided, for the reasons."""

    kind: IntentKind
    action: str | None
    source: IntentSource
    evidence: str
    # A change request's other asked actions, in the order asked ("open an incident and page
    # the on-call": action `create`, also `send`): a pattern doing them all fits best.
    also: tuple[str, ...] = ()

    @property
    def destructive(self) -> bool:
        return self.action in DESTRUCTIVE_ACTIONS

    def explain(self) -> str:
        if self.kind == "read":
            what = "a read (look, do not change)"
            if self.action:
                what += f"; it mentions {self.action!r} without asking for it"
        else:
            what = f"a change: {self.action or 'unnamed action'}"
            if self.also:
                what += f", also {', '.join(self.also)}"
        origin = {"request": "from the words", "stage_a": "from Stage A's intent.action"}
        return f"intent: {what} ({origin.get(self.source, 'default')}: {self.evidence})"


def _phrase_index() -> dict[tuple[str, ...], str]:
    index: dict[tuple[str, ...], str] = {}
    for action, phrases in _ACTIONS.items():
        for phrase in phrases:
            index.setdefault(tuple(phrase.split()), action)
    return index


_PHRASES = _phrase_index()
_LONGEST = max(len(k) for k in _PHRASES)
# Phrasal verbs take their object in the middle: "clean it up", "shut the worker down".
_PARTICLES = _words_of("up down back out off over on")
# Where an imperative may begin: the clause's start, or after words that ask politely, say
# who should act, or introduce an infinitive ("please", "can you", "we need to", "how to").
_LEAD = _words_of(
    "please pls kindly go ahead and just now quickly urgently also so ok okay hey hi then "
    "immediately asap can could would will you we i someone should must to gotta let's "
    "lets help me us need needs needed want wants wanted like i'd we'd how do "
    "time try first finally"
)
_ASKING = _words_of("need needs needed want wants do perform schedule trigger please take")
# Verbs rarely used as nouns or adjectives in ops requests: they ask for the action wherever
# they stand in a plain (not questioning, not negated) clause: "payments rollback to v41",
# "web01 reboot now".
_UNAMBIGUOUS = _words_of(
    "restart reboot rollback purge prune flush unmount umount renew rotate kill killall "
    "pkill delete uninstall reinstall drain cordon uncordon evict failover scale unblock "
    "unban decommission redeploy"
)
# A subject right before a verb whose past tense is its base form tells what was done ("someone
# set ACLs on it": a report, read as a look), unless the request addresses that subject ("can
# someone set", "please you reset"). Other verbs show their past ("someone restarted nginx").
_SUBJECTS = _words_of("i we you someone somebody they he she")
_PAST_AS_BASE = _words_of("set reset shut put cut")
_ADDRESSING = _MODAL | _words_of("please pls kindly let lets let's help to need needs")
# A word before an action that makes it a thing talked about: "the last restart", "its reboot".
_DETERMINER = _words_of(
    "the this that these those its his her their our my your last recent previous next "
    "any no every each of after since during"
)


# "run" asks for a change when what it runs is an operation of its own ("run a long SMART
# self-test tonight", "run the backup job"), not a command to look with ("run uptime on every
# minion", "run a speed test": a measurement): one of these words within RUN_REACH words
# after it.
_RUNNABLE = _words_of(
    "self-test selftest job jobs backup migration migrations playbook pipeline scrub"
)
RUN_REACH = 4
# An action named as a noun at the head of a clause and followed by "of" asks for it as an
# imperative does ("graceful reload of apache", "restart of the worker"): nothing before it, or
# up to two words that read as its modifiers (an adjective's ending, or one of _MANNER), not a
# thing it belongs to ("memory limit of the pod" names a setting).
_MANNER = _words_of("full hard soft quick fast clean cold warm safe immediate")
_ADJECTIVE = re.compile(r"(?:ful|ing|less|ous|ive|al|ic|ly|ed)$")


def _words(text: str) -> list[str]:
    return [w.strip("'") for w in _WORD.findall(text.lower().replace("\u2019", "'"))]


def _is_question(words: list[str]) -> bool:
    """A clause that asks about the world: opens with a wh-word or an auxiliary, unless a
    polite modal with a person asks for an action ("can you restart", "how do I restart")."""
    if not words:
        return False
    head = words[0]
    if head in _MODAL:
        return len(words) < 2 or words[1] not in _PERSON
    if head == "how" and len(words) > 2 and (words[1] in _MODAL | {"do", "to"}):
        return False  # "how do I restart", "how to roll back": they mean to do it
    if head == "do" and len(words) > 1 and words[1] in {"a", "an", "the"}:
        return False  # "do a rolling restart"
    if head in _WH:
        return True
    return head in _AUX or head in {"any", "anything"}


def _negated(words: list[str], at: int) -> bool:
    start = max(0, at - 3)
    for k in range(start, at):
        w = words[k]
        if (w in _NEGATION or w.endswith("n't")) and not (
            w == "not" and k and words[k - 1] == "if"
        ):
            return True
    return False


def _phrase_at(words: list[str], i: int) -> tuple[str, str] | None:
    for size in range(min(_LONGEST, len(words) - i), 0, -1):
        key = tuple(words[i : i + size])
        action = _PHRASES.get(key)
        if action is not None:
            return action, " ".join(key)
    head = words[i]
    for gap in (2, 3, 4):  # "clean it up", "shut the worker down"
        if i + gap < len(words) and words[i + gap] in _PARTICLES:
            action = _PHRASES.get((head, words[i + gap]))
            if action is not None:
                return action, f"{head} ... {words[i + gap]}"
    return None


def _reports(words: list[str], i: int, matched: str) -> bool:
    """Whether the action phrase at `i` tells what someone did: a verb whose past tense is
    its base form, right after its subject ("someone set ACLs on it", "I reset it but it is
    still locked"), not addressed to them ("can someone set ...", "please, you set ...")."""
    if i == 0 or words[i - 1] not in _SUBJECTS or matched.split()[0] not in _PAST_AS_BASE:
        return False
    return i < 2 or words[i - 2] not in _ADDRESSING


def _asks_for(words: list[str], i: int, matched: str) -> bool:
    """Whether the action phrase at `i` is asked for (imperative, infinitive, "needs a"),
    rather than named in passing."""
    before = words[i - 1] if i > 0 else None
    if _reports(words, i, matched):
        return False
    if before is None or before in _LEAD:
        return True
    if any(w in _ASKING for w in words[max(0, i - 3) : i]):  # "take an lvm snapshot"
        return True
    head = matched.split()[0]
    return head in _UNAMBIGUOUS and before not in _DETERMINER


def _named_as_noun(words: list[str], i: int, matched: str) -> bool:
    """Whether the action phrase at `i` heads its clause as a noun followed by "of"."""
    after = i + len(matched.split())
    if after >= len(words) or words[after] != "of" or i > 2 or "..." in matched:
        return False
    return all(w in _MANNER or _ADJECTIVE.search(w) for w in words[:i])


def _runs_operation(words: list[str], i: int) -> bool:
    return words[i] == "run" and any(w in _RUNNABLE for w in words[i + 1 : i + 1 + RUN_REACH])


def _find_action(words: list[str]) -> tuple[str, str] | None:
    """The first action phrase in the clause that is asked for and not negated."""
    for i in range(len(words)):
        found = _phrase_at(words, i)
        if found is None and _runs_operation(words, i):
            runs = ("run", "run ... " + next(w for w in words[i + 1 :] if w in _RUNNABLE))
            if not _negated(words, i) and _asks_for(words, i, "run"):
                return runs
            continue
        if found is None or _negated(words, i):
            continue
        if _asks_for(words, i, found[1]) or _named_as_noun(words, i, found[1]):
            return found
    return None


def _clauses(text: str) -> list[tuple[list[str], bool]]:
    """Each clause's words and whether it asks a question; a clause joined by "and"/"but"
    carries on its sentence's question ("did someone restart nginx and delete the logs")."""
    out: list[tuple[list[str], bool]] = []
    for sentence in _SENTENCE.split(text.lower()):
        asking = False
        for n, part in enumerate(_CLAUSE.split(sentence)):
            words = _words(part)
            if not words:
                continue
            asking = _is_question(words) if n == 0 else asking or _is_question(words)
            out.append((words, asking))
    return out


def read_request(text: str) -> IntentReading | None:
    """The intent the words state, or None when they state none (no action, no question).
    A change request names its strongest asked action (the first destructive one, else the
    first: "find and delete ...", "check nginx and restart it", "stop it and wipe the data"
    -> delete), the others in `also`."""
    lowered = text.lower()
    dry = _DRY_RUN.search(lowered)
    asked: IntentReading | None = None
    changes: list[tuple[str, str]] = []
    for words, asking in _clauses(text):
        found = _find_action(words)
        if found is None:
            if asking and asked is None:
                asked = IntentReading("read", None, "request", f"asks {' '.join(words[:3])!r}")
            continue
        action, matched = found
        if dry is not None:
            return IntentReading("read", action, "request", f"{dry.group(0)!r} of {matched!r}")
        if asking:
            opening = " ".join(words[:2])
            asked = asked or IntentReading(
                "read", action, "request", f"asks about {matched!r} ({opening} ...)"
            )
            continue
        if all(action != a for a, _ in changes):
            changes.append(found)
    if changes:
        first = next((k for k, (a, _) in enumerate(changes) if a in DESTRUCTIVE_ACTIONS), 0)
        action, matched = changes[first]
        also = tuple(a for k, (a, _) in enumerate(changes) if k != first)
        return IntentReading("change", action, "request", repr(matched), also)
    if asked is not None:
        return asked
    if any(w in _LOOK_WORDS for w in _words(lowered)):
        return IntentReading("read", None, "request", "asks to look, names no action")
    return None


def read_hint(action: str) -> IntentReading | None:
    """Stage A's `intent.action` (`restart_service`, `check status`) as an intent, if it says."""
    words = _words(action.replace("_", " ").replace("-", " "))
    if not words:
        return None
    if words[0] in _LOOK_WORDS or (words[0] in _WH | _AUX):
        return IntentReading("read", None, "stage_a", f"intent.action {action!r}")
    found = _find_action(words)
    if found is not None:
        return IntentReading("change", found[0], "stage_a", f"intent.action {action!r}")
    return None


def read_intent(text: str, stage_a_action: str | None = None) -> IntentReading:
    """What `text` asks for. The words decide when they say something; otherwise Stage A's
    `intent.action` does; otherwise the request is read as a look (the safe default: a change
    pattern never wins a request that did not ask for one)."""
    reading = read_request(text)
    if reading is not None:
        if reading.kind == "change" or not stage_a_action:
            return reading
        hint = read_hint(stage_a_action)
        # A plain look in the words, but Stage A names the action: the words win only when
        # they ask about it (a question or a dry run), not when they merely look.
        looks = reading.action is None and reading.evidence.startswith("asks to look")
        if hint is not None and hint.kind == "change" and looks:
            return hint
        return reading
    if stage_a_action:
        hint = read_hint(stage_a_action)
        if hint is not None:
            return hint
    return IntentReading("read", None, "default", "no action named")


def action_words(action: str) -> frozenset[str]:
    """The single words that name `action` in a pattern's text (for matching a pattern to the
    requested action): its surface forms' words and common inflections."""
    words: set[str] = set()
    for phrase in _ACTIONS.get(action, ()):
        parts = phrase.split()
        if len(parts) == 1 or parts[-1] in {"a", "an", "of", "to"}:
            words.add(parts[0])
        else:
            words.add("".join(parts))
            words.add("_".join(parts))
    words |= set(action.replace(" ", "_").split("_")) | {action.replace(" ", "")}
    out = set()
    for w in words:
        out |= {w, w + "s", w + "ed", w + "d", w + "ing", w[:-1] + "ing" if w.endswith("e") else w}
    return frozenset(out)
