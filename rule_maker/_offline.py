"""The offline classifier: weighted evidence from a tool's name, description and parameters.

Deterministic and local: it must never touch the network, read the clock, or know
any particular catalogue (no tool names, no suite word lists; see ``_lexicon``).

It decides in two steps, each a small sum of weighted evidence:
1. read or write, from the verb of the name (or of the description) and from
   parameters that carry content (body) or a query;
2. for a write, consequential or internal (verbs that reach others, people,
   money, credentials in the parameters, side effects named in the description);
   for a read, whose data it returns: the head noun of the name (what the verb
   acts on) weighs most, then its modifiers (``sent`` emails are the user's own),
   the container it reads from, then words of the description and parameters.
Confidence is the product of the two steps' margins (winner / (winner + runner-up)).

A name is the cheapest thing to lie with: when the name's verb reads but the
description, a second verb of the name or the parameters say the tool acts
(``show_price(to_account, amount)``: "Transfers money"), the riskier reading
wins, the tool is flagged for review and the read class is kept as the
alternative. Every result carries an alternative class (the runner-up of the
less certain step), which the policy drafter uses for a tool to review.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from rule_maker._classification import Classification
from rule_maker._features import ToolFeatures, extract
from rule_maker._lexicon import (
    ACTION_PARAMS,
    COMMUNICATION_OBJECTS,
    CONSEQUENTIAL_HINTS,
    CONSEQUENTIAL_OBJECTS,
    CONSEQUENTIAL_PARAMS,
    CONSEQUENTIAL_VERBS,
    CONTAINER_HEADS,
    CONTENT_PARAMS,
    INFO_HEADS,
    NAME_CONJUNCTIONS,
    PERSON_OBJECTS,
    PERSON_WORDS,
    PUBLIC_ENTITIES,
    QUERY_PARAMS,
    READ_VERBS,
    RECEIVED,
    SAFE_OBJECTS,
    SELF_AUTHORED,
    SENSITIVE_OBJECTS,
    UNTRUSTED_OBJECTS,
    WRITE_VERBS,
)
from sentinel_policy import SecurityClass

_S, _N, _U = SecurityClass.SAFE_READ, SecurityClass.SENSITIVE_READ, SecurityClass.UNTRUSTED_READ
_C, _I = SecurityClass.CONSEQUENTIAL_WRITE, SecurityClass.INTERNAL_WRITE
_WRITE_ORDER = (_C.value, _I.value)
_READ_ORDER = (_U.value, _N.value, _S.value)
# Prepositions that introduce a lookup key (by_id, by_name) rather than a container (in_channel).
_KEY_PREPOSITIONS = ("by", "with", "for", "per")


@dataclass
class _Evidence:
    scores: dict[str, float] = field(default_factory=dict)
    reasons: list[tuple[float, str]] = field(default_factory=list)

    def add(self, key: str, weight: float, why: str) -> None:
        self.scores[key] = self.scores.get(key, 0.0) + weight
        self.reasons.append((weight, why))

    def margin(self, key: str) -> float:
        """The winner's weight against the strongest alternative: 0.5 is a tie, 1.0 no doubt."""
        mine = self.scores.get(key, 0.0)
        rival = max((v for k, v in self.scores.items() if k != key), default=0.0)
        return mine / (mine + rival) if mine + rival else 0.5

    def best(self, cautious_first: tuple[str, ...]) -> str:
        """The highest score; a tie goes to the more cautious answer (a write, untrusted, consequential)."""
        return max(cautious_first, key=lambda k: self.scores.get(k, 0.0))

    def runner_up(self, cautious_first: tuple[str, ...], winner: str) -> str:
        return self.best(tuple(k for k in cautious_first if k != winner))

    def top_reasons(self, n: int = 3) -> list[str]:
        ordered = sorted(self.reasons, key=lambda r: -r[0])
        seen: list[str] = []
        for _, why in ordered:
            if why not in seen:
                seen.append(why)
        return seen[:n]


def _object_class(word: str) -> SecurityClass | None:
    if word in UNTRUSTED_OBJECTS:
        return _U
    if word in SENSITIVE_OBJECTS:
        return _N
    if word in SAFE_OBJECTS:
        return _S
    return None


@dataclass(frozen=True, slots=True)
class _Conflict:
    """Evidence that a tool whose name reads acts: the acting verb (if one was said) and why."""

    verb: str | None
    why: str
    weight: float


def _name_reads_but_acts(f: ToolFeatures) -> list[_Conflict]:
    """What contradicts a read verb in the name; empty when the name does not read or nothing does."""
    if f.verb_from != "name" or f.verb not in READ_VERBS:
        return []
    found: list[_Conflict] = []
    # A second action joined onto the name: check_and_transfer, get_status_then_wipe_disk.
    words = list(f.name_words)
    for index, word in enumerate(words[:-1]):
        after = words[index + 1]
        if word in NAME_CONJUNCTIONS and after in CONSEQUENTIAL_VERBS and not _object_class(after):
            found.append(_Conflict(after, f"the name reads ('{f.verb}') but also says '{after}'", 2.0))
            break
    # What the description says it does ("Transfers money ...", "Executes the given command").
    acting = [v for v in f.description_verbs if v in CONSEQUENTIAL_VERBS and not _object_class(v)]
    if acting:
        found.append(_Conflict(acting[0], f"the name reads ('{f.verb}') but the description says '{acting[0]}'", 2.0))
    # Parameters no read needs: a recipient, a command, a password, a destination account (to_account).
    for p in f.parameters:
        to_something = len(p.words) > 1 and p.words[0] == "to" and bool(set(p.words[1:]) & (CONSEQUENTIAL_OBJECTS | PERSON_WORDS))
        if set(p.words) & ACTION_PARAMS or to_something:
            found.append(_Conflict(None, f"the name reads ('{f.verb}') but it takes '{p.name}' (a recipient, command, secret or destination)", 1.5))
            break
    return found


def _kind(f: ToolFeatures, conflicts: list[_Conflict]) -> _Evidence:
    ev = _Evidence({"read": 0.5, "write": 0.5})  # priors
    weight = 3.0 if f.verb_from == "name" else 2.0
    if f.verb in READ_VERBS:
        ev.add("read", weight, f"verb '{f.verb}' reads")
    elif f.verb in CONSEQUENTIAL_VERBS:
        ev.add("write", weight, f"verb '{f.verb}' acts")
    elif f.verb in WRITE_VERBS:
        ev.add("write", weight, f"verb '{f.verb}' changes state")
    for p in f.parameters:
        if set(p.words) & CONTENT_PARAMS:
            ev.add("write", 1.0, f"parameter '{p.name}' carries content")
        if set(p.words) & QUERY_PARAMS:
            ev.add("read", 1.0, f"parameter '{p.name}' is a query")
    if not f.parameters and f.verb is None:
        ev.add("read", 0.5, "no parameters")
    for conflict in conflicts:
        ev.add("write", conflict.weight, conflict.why)
    return ev


def _write_class(f: ToolFeatures) -> _Evidence:
    ev = _Evidence({_C.value: 0.0, _I.value: 1.0})  # a write is internal until something reaches out
    if f.verb in CONSEQUENTIAL_VERBS:
        ev.add(_C.value, 3.0, f"'{f.verb}' reaches others or cannot be undone")
    elif f.verb in WRITE_VERBS:
        ev.add(_I.value, 2.0, f"'{f.verb}' edits the user's own state")
    if f.head in PERSON_OBJECTS:
        ev.add(_C.value, 2.0, f"acts on a {f.head}, another person")
    if f.head in CONSEQUENTIAL_OBJECTS or set(f.modifiers) & CONSEQUENTIAL_OBJECTS:
        ev.add(_C.value, 2.0, "acts on money, credentials or access")
    if f.head in COMMUNICATION_OBJECTS:
        ev.add(_C.value, 3.0, f"writes a {f.head} that others read")
    reaching = [p.name for p in f.parameters if set(p.words) & (PERSON_WORDS | CONSEQUENTIAL_PARAMS | ACTION_PARAMS)]
    for name in reaching[:2]:
        ev.add(_C.value, 1.5, f"parameter '{name}' names a recipient, money, access or a command")
    # The description's first verb counts too when the name's verb is a different one (update_notes:
    # "Deletes the account"); when it only repeats the name's verb it is no news.
    said = f.description_verbs if f.verb_from == "name" else f.description_verbs[1:]
    side_verbs = [v for v in said if v in CONSEQUENTIAL_VERBS and v != f.verb and not _object_class(v)]
    if side_verbs:
        ev.add(_C.value, 2.0, f"description: it also does '{side_verbs[0]}'")
    hinted: dict[str, str] = {}  # one hint prefix counts once, shown by the first word it matched
    for word in f.description:
        for prefix in CONSEQUENTIAL_HINTS:
            if word.startswith(prefix):
                hinted.setdefault(prefix, word)
    for word in list(hinted.values())[:3]:
        ev.add(_C.value, 1.0, f"description mentions '{word}'")
    return ev


def _read_class(f: ToolFeatures) -> _Evidence:
    ev = _Evidence({_S.value: 0.5, _N.value: 0.2, _U.value: 0.2})  # unknown data is taken as low-value
    head, modifiers = f.head, list(f.modifiers)
    around = set(modifiers) | set(f.context)
    if head in CONTAINER_HEADS and modifiers:
        head = modifiers.pop()  # channel_history is channel data
    public = sorted(around & PUBLIC_ENTITIES)
    if head in INFO_HEADS:
        whose = sorted(around & (PERSON_WORDS | {"personal", "account", "my"}))
        if public:
            ev.add(_S.value, 3.0, f"returns public details of a {public[0]}")
            head, modifiers = None, []
        elif whose:
            ev.add(_N.value, 3.0, f"returns personal details of a {whose[0]}")
            modifiers = [m for m in modifiers if m not in whose]
        elif modifiers:
            head = modifiers.pop()
    if head and (cls := _object_class(head)):
        if cls is _N and public:
            ev.add(_S.value, 3.0, f"returns public {head} of a {public[0]}")
        else:
            ev.add(cls.value, 3.0, f"returns {head} data")
    for word in modifiers:
        if cls := _object_class(word):
            ev.add(cls.value, 1.0, f"about {word}")
    key_lookup = f.preposition in _KEY_PREPOSITIONS
    for word in f.context:
        if cls := _object_class(word):
            ev.add(cls.value, 0.5 if key_lookup else 1.5, f"{f.preposition} {word}")
    per_class: dict[str, int] = {}
    for word in dict.fromkeys(f.description):
        if (cls := _object_class(word)) and per_class.get(cls.value, 0) < 3:
            per_class[cls.value] = per_class.get(cls.value, 0) + 1
            ev.add(cls.value, 0.4, f"description mentions {word}")
    for p in f.parameters:
        if "url" in p.words or "link" in p.words:
            ev.add(_U.value, 2.0, f"fetches the '{p.name}' it is given")
        elif "sender" in p.words or "author" in p.words:
            ev.add(_U.value, 0.5, f"parameter '{p.name}' filters by author")
    name_words = set(f.modifiers) | ({f.head} if f.head else set())
    if name_words & RECEIVED and ev.scores[_U.value] > 0.2:
        ev.add(_U.value, 1.0, f"'{sorted(name_words & RECEIVED)[0]}' items come from others")
    own = name_words & SELF_AUTHORED
    if own and ev.scores[_U.value] > 0.2:
        moved = ev.scores[_U.value] - 0.2
        ev.scores[_U.value] = 0.2
        ev.add(_N.value, moved, f"'{sorted(own)[0]}' items are the user's own, private")
    return ev


class OfflineClassifier:
    """Classifies tool definitions from their own words; the same input always gives the same answer."""

    source = "offline"

    def classify(self, tool: Mapping[str, Any]) -> Classification:
        f = extract(tool)
        conflicts = _name_reads_but_acts(f)
        kind = _kind(f, conflicts)
        acting = next((c.verb for c in conflicts if c.verb), None)
        # A read the tool's own words say acts is taken as the write it may be (the riskier reading,
        # RISK_ORDER); a parameter alone only flags it, with the write as its alternative.
        is_write = acting is not None or kind.best(("write", "read")) == "write"
        write_features = replace(f, verb=acting, verb_from="description") if conflicts else f
        detail = _write_class(write_features) if is_write else _read_class(f)
        order = _WRITE_ORDER if is_write else _READ_ORDER
        cls = SecurityClass(detail.best(order))
        kind_margin, detail_margin = kind.margin("write" if is_write else "read"), detail.margin(cls.value)
        confidence = kind_margin * detail_margin
        # The alternative: the runner-up of the less certain step.
        if conflicts or kind_margin < detail_margin:
            other = _read_class(f) if is_write else _write_class(write_features)
            alternative = SecurityClass(other.best(_READ_ORDER if is_write else _WRITE_ORDER))
        else:
            alternative = SecurityClass(detail.runner_up(order, cls.value))
        reasons = detail.top_reasons(3) or kind.top_reasons(1)
        lead = next((c for c in conflicts if c.verb), conflicts[0]) if conflicts else None
        if lead:
            reasons = [lead.why, *[r for r in reasons if r != lead.why][:2]]
        elif not any(f"'{f.verb}'" in r for r in reasons):
            reasons = kind.top_reasons(1) + reasons[:2]
        rationale = f"{'write' if is_write else 'read'}: " + "; ".join(reasons or ["no known words, default"])
        flag_reason = ""
        if lead and is_write:
            flag_reason = f"{lead.why}: classified as the riskier {cls.value}, not {alternative.value}"
        elif lead:
            flag_reason = f"{lead.why}: kept as {cls.value}, but it may be {alternative.value}"
        return Classification(f.name, cls, confidence, rationale, self.source, flagged=bool(conflicts),
                              alternative=alternative, flag_reason=flag_reason)
