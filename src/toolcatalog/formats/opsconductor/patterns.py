"""One seed pattern: its estimates and preference scores as our profile, its policy as ours."""

from __future__ import annotations

import re
from typing import Any

from toolcatalog.formats.opsconductor.bookkeeping import Kind
from toolcatalog.formats.opsconductor.schemas import SchemaFields
from toolcatalog.formats.opsconductor.values import (
    COMPLETENESS,
    COMPLETENESS_BAND,
    UNKNOWN_COMPLETENESS,
    keyed,
    to_float,
)
from toolcatalog.formats.problems import Loc
from toolcatalog.model.pattern import inferred_effect


class PatternFields(SchemaFields):
    def pattern(
        self, key: str, rest: dict[str, Any], seed: Loc, name_loc: Loc, ours: Loc, inherited: Any
    ) -> dict[str, Any]:
        """`rest`: the seed pattern's fields but its name (popped as they are converted)."""
        self.place(ours, seed)
        out: dict[str, Any] = {"name": self.name(key, name_loc, "pattern")}
        self.move(rest, "description", out, seed, ours)
        self.move(rest, "typical_use_cases", out, seed, ours)
        properties, required = self.inputs(rest, seed, ours)
        names: set[str] = set()
        out["profile"] = self.profile(rest, seed, ours, names, inherited)
        self.place((*ours, "policy"), (*seed, "policy"))
        policy = rest.pop("policy", None)
        out["policy"] = self.policy(policy or {}, (*seed, "policy"), ours, names)
        out["effect"] = effect = inferred_effect(out["policy"]).value
        self.note(
            seed,
            Kind.defaulted,
            f"effect {effect!r} inferred from the policy (the seed has none)",
            f"effect {effect!r}: the seed has none; read from its policy",
        )
        for name in sorted(names - set(properties)):
            properties[name] = self.implied_input(name, seed)
        if properties:
            out["inputs"] = {"type": "object", "properties": properties}
            out["inputs"].update({"required": required} if required else {})
        self.place((*ours, "inputs"), seed)
        self.move(rest, "expected_outputs", out, seed, ours, "outputs", self.outputs)
        self.keep_rest(seed, rest)
        return out

    def profile(
        self, rest: dict[str, Any], seed: Loc, ours: Loc, names: set[str], inherited: Any
    ) -> dict[str, Any]:
        here = (*ours, "profile")
        profile: dict[str, Any] = {}
        estimate = lambda v, loc: self.expression(v, loc, names, False)  # noqa: E731
        self.move(rest, "time_estimate_ms", profile, seed, here, convert=estimate)
        self.move(rest, "cost_estimate", profile, seed, here, convert=estimate)
        prefs, pref_loc = rest.pop("preference_match", None), (*seed, "preference_match")
        if prefs is not None and not isinstance(prefs, dict):
            self.problem(pref_loc, "must be a mapping of dimension to a score 0..1")
        prefs = keyed(prefs) if isinstance(prefs, dict) else {}
        if "complexity_score" in rest:
            self.move(rest, "complexity_score", profile, seed, here, "complexity", self.score)
        elif (simplicity := self.pref(prefs, "complexity", pref_loc, here)) is not None:
            profile["complexity"] = round(1.0 - simplicity, 6)
            note = f"{simplicity:g} (simplicity) -> complexity {profile['complexity']:g}"
            topic = "complexity from preference_match.complexity (a simplicity)"
            self.note((*pref_loc, "complexity"), Kind.converted, topic, note)
        if (accuracy := self.pref(prefs, "accuracy", pref_loc, here)) is not None:
            profile["accuracy"] = accuracy
        preference = self.pref(prefs, "completeness", pref_loc, here)
        label_loc: Loc = (*seed, "completeness")
        label = rest.pop("completeness", None)
        if label is None and inherited is not None:
            label, label_loc = inherited, ("defaults", "completeness")
        if label is not None:
            self.place((*here, "completeness"), label_loc)
        profile["completeness"] = self.completeness(label, preference, label_loc)
        self.move(rest, "limitations", profile, seed, here)
        self.keep_rest(pref_loc, prefs)  # speed and cost: ours come from the estimates
        return profile

    def pref(self, prefs: dict[str, Any], key: str, loc: Loc, here: Loc) -> float | None:
        if key not in prefs:
            return None
        self.place((*here, key), (*loc, key))
        return self.score(prefs.pop(key), (*loc, key))

    def completeness(self, label: Any, preference: float | None, loc: Loc) -> float:
        """See COMPLETENESS: the label's value, moved toward the preference by at most the band."""
        if label is not None and (number := to_float(label)) is not None and 0 <= number <= 1:
            return number
        value = None
        if label is not None:
            words = re.findall(r"[a-z]+", str(label).lower())
            word = next((w for w in words if w in COMPLETENESS), None)
            if word is None:
                used = "preference_match.completeness" if preference is not None else None
                used = used or f"{UNKNOWN_COMPLETENESS:g}"
                topic = "completeness label unknown"
                self.note(
                    loc, Kind.defaulted, topic, f"unknown completeness label {label!r}; used {used}"
                )
            else:
                value = COMPLETENESS[word]
                if words != [word]:
                    topic = "completeness phrase read by its first known word"
                    self.note(loc, Kind.converted, topic, f"{label!r} read as {word!r} ({value:g})")
        if value is None:
            return UNKNOWN_COMPLETENESS if preference is None else preference
        if preference is None:
            return value
        band = (max(value - COMPLETENESS_BAND, 0.0), min(value + COMPLETENESS_BAND, 1.0))
        moved = round(min(max(preference, band[0]), band[1]), 6)
        if moved != preference:
            self.note(
                loc,
                Kind.converted,
                "completeness label refined by preference_match.completeness",
                f"{label!r} with preference_match.completeness {preference:g} -> {moved:g}",
            )
        return moved

    def policy(self, value: Any, seed: Loc, ours: Loc, names: set[str]) -> dict[str, Any]:
        here = (*ours, "policy")
        if not isinstance(value, dict):
            self.problem(seed, "must be a mapping")
            return {}
        rest, policy = keyed(value), dict[str, Any]()
        if "production_safe" not in rest:
            self.note(
                seed,
                Kind.defaulted,
                "production_safe not given (seed default true, ours false)",
                "production_safe not given: the seed read that as true, ours as false",
            )
        self.move(rest, "production_safe", policy, seed, here, convert=self.boolean)
        self.move(rest, "requires_approval", policy, seed, here, convert=self.boolean)
        self.move(rest, "max_cost", policy, seed, here, convert=self.number)
        self.move(rest, "max_execution_time", policy, seed, here, "max_execution_time_ms", self.ms)
        condition = lambda v, loc: self.expression(v, loc, names, True)  # noqa: E731
        if "requires_background_if" in rest:  # then max_N_immediate stays in metadata
            self.move(rest, "requires_background_if", policy, seed, here, convert=condition)
        else:
            target = "requires_background_if"
            self.move(rest, "max_N_immediate", policy, seed, here, target, self.max_n)
            names.update(["N"] if target in policy else [])
        self.keep_rest(seed, rest)
        return policy

    def ms(self, value: Any, loc: Loc) -> int | None:
        if (seconds := self.number(value, loc)) is None:
            return None
        topic = "policy.max_execution_time seconds -> max_execution_time_ms"
        self.note(
            loc,
            Kind.converted,
            topic,
            f"{seconds:g} s -> max_execution_time_ms {round(seconds * 1000)}",
        )
        return round(seconds * 1000)

    def max_n(self, value: Any, loc: Loc) -> str | None:
        if (limit := self.number(value, loc)) is None:
            return None
        topic = "policy.max_N_immediate -> requires_background_if"
        self.note(
            loc, Kind.converted, topic, f"{limit:g} -> requires_background_if 'N > {limit:g}'"
        )
        return f"N > {limit:g}"
