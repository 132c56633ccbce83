"""Features of one tool definition: the words of its name, description and parameter schema.

Pure and deterministic: it must never do I/O or depend on anything but its input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rule_maker._lexicon import (
    CONSEQUENTIAL_VERBS,
    PREPOSITIONS,
    READ_VERBS,
    SAFE_OBJECTS,
    SENSITIVE_OBJECTS,
    UNTRUSTED_OBJECTS,
    WRITE_VERBS,
)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD = re.compile(r"[a-z]+")
# Plurals that a bare "strip the s" would mangle.
_KEEP = frozenset("address access news status bus class process alias business analysis canvas series species this is was has does".split())
_AUXILIARIES = frozenset("is are was were be been has have had will would can could may might must should".split())
_VERB_FORMS = {"searches": "search", "fetches": "fetch", "reschedules": "reschedule", "does": "do"}


def normalise(word: str) -> str:
    """Lower-case singular form (emails -> email, replies -> reply, searches -> search)."""
    word = word.lower()
    if word in _VERB_FORMS:
        return _VERB_FORMS[word]
    if len(word) <= 3 or word in _KEEP or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Normalised words of a name (snake, kebab, camel case) or a sentence."""
    text = _CAMEL.sub(" ", text)
    return [normalise(w) for w in _WORD.findall(text.lower())]


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    words: tuple[str, ...]
    types: frozenset[str]
    description: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ToolFeatures:
    name: str
    verb: str | None  # the verb of the name, or of the description when the name has none
    verb_from: str  # "name", "description" or "none"
    head: str | None  # the object the verb acts on (get_users_in_channel -> user)
    modifiers: tuple[str, ...]  # other words of the object phrase (sent_emails -> sent)
    context: tuple[str, ...]  # name words after a preposition (get_users_in_channel -> channel)
    preposition: str | None  # the preposition that opened the context (in, by, from...)
    description: tuple[str, ...]
    description_verbs: tuple[str, ...]  # verbs that open a sentence of the description
    parameters: tuple[Parameter, ...] = field(default_factory=tuple)
    name_words: tuple[str, ...] = ()  # every word of the name, in order

    @property
    def parameter_words(self) -> frozenset[str]:
        return frozenset(w for p in self.parameters for w in p.words)


def _is_verb(word: str) -> bool:
    return word in READ_VERBS or word in WRITE_VERBS or word in CONSEQUENTIAL_VERBS


def _is_object(word: str) -> bool:
    return word in UNTRUSTED_OBJECTS or word in SENSITIVE_OBJECTS or word in SAFE_OBJECTS


def _schema_types(schema: Mapping[str, Any]) -> frozenset[str]:
    found: set[str] = set()
    kind = schema.get("type")
    if isinstance(kind, str):
        found.add(kind)
    elif isinstance(kind, list):
        found.update(k for k in kind if isinstance(k, str))
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, ()) or ():
            if isinstance(option, Mapping):
                found |= _schema_types(option)
    found.discard("null")
    return frozenset(found)


def _parameters(schema: Any) -> tuple[Parameter, ...]:
    if not isinstance(schema, Mapping):
        return ()
    props = schema.get("properties")
    if not isinstance(props, Mapping):
        return ()
    result = []
    for pname, pschema in props.items():
        pschema = pschema if isinstance(pschema, Mapping) else {}
        desc = pschema.get("description")
        result.append(
            Parameter(
                name=str(pname),
                words=tuple(words(str(pname))),
                types=_schema_types(pschema),
                description=tuple(words(desc)) if isinstance(desc, str) else (),
            )
        )
    return tuple(result)


def _sentence_verbs(description: str) -> tuple[str, ...]:
    """The first word of each sentence when it is a known verb (Returns, Sends, It also sends)."""
    found = []
    for sentence in re.split(r"[.\n]+", description):
        ws = words(sentence)
        # "It also sends ...", "This will send ..." open with a subject; skip it.
        # An adverb may lead too ("Recursively erases ..."), but "reply" and "apply" are verbs.
        while ws and (ws[0] in ("it", "this", "also", "will", "then", "the", "tool", "function", "we", "you", "can", "and")
                      or (ws[0].endswith("ly") and not _is_verb(ws[0]))):
            ws = ws[1:]
        # "Transfers are listed newest first": a word before an auxiliary is the subject, not a verb.
        if ws and _is_verb(ws[0]) and not (len(ws) > 1 and ws[1] in _AUXILIARIES):
            found.append(ws[0])
    return tuple(found)


def extract(tool: Mapping[str, Any]) -> ToolFeatures:
    """Features of a tool definition ``{name, description, parameters | input_schema | inputSchema}``."""
    name = str(tool.get("name", ""))
    description = str(tool.get("description") or "")
    schema = tool.get("parameters", tool.get("input_schema", tool.get("inputSchema")))
    name_words = words(name)
    description_verbs = _sentence_verbs(description)

    verb: str | None = None
    verb_from = "none"
    rest = name_words
    # The verb usually leads (send_email); a product prefix may come first (slack_post_message).
    for index, word in enumerate(name_words[:3]):
        if _is_verb(word):
            verb, verb_from, rest = word, "name", name_words[index + 1 :]
            break
        if _is_object(word):
            break  # user_email_list: a known object leads, so "email" is not the verb
    if verb is None:
        # "Messages the user has sent." opens with a noun: words that name objects are not taken as verbs here.
        plain = [v for v in description_verbs if not _is_object(v)]
        if plain:
            verb, verb_from = plain[0], "description"

    phrase: list[str] = []
    context: list[str] = []
    preposition: str | None = None
    for index, word in enumerate(rest):
        if word in PREPOSITIONS:
            preposition = word
            context = [w for w in rest[index + 1 :] if w not in PREPOSITIONS]
            break
        phrase.append(word)
    head = phrase[-1] if phrase else None
    if head is None and context:
        head, context = context[-1], context[:-1]
    return ToolFeatures(
        name=name,
        verb=verb,
        verb_from=verb_from,
        head=head,
        modifiers=tuple(phrase[:-1]),
        context=tuple(context),
        preposition=preposition,
        description=tuple(words(description)),
        description_verbs=description_verbs,
        parameters=_parameters(schema),
        name_words=tuple(name_words),
    )
