"""Find the instructions a prompt injection gives, the way a gullible agent would read them.

The scripted agent is the deterministic worst case: whatever a tool's output
tells it to do, it does. This module turns text into the tool calls such an
agent would make (read a file, mail something, pay someone, delete a file,
open a link). It only recognises imperative sentences naming a concrete
target (a path with a folder, an e-mail address, an IBAN, a link), so benign
mail such as "could you send me the Q3 summary?" yields nothing.

It must never execute anything itself and never reach the network: it returns
data, and the agent decides what to call.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Instruction", "find_instructions", "texts_in"]

_PATH = r"(?P<path>[\w-]+(?:/[\w.-]+)+)"
_EMAIL = r"(?P<to>[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
# A period ends a sentence only when whitespace follows (file names and addresses keep theirs).
_SAME_SENTENCE = r"(?:[^.\n]|\.(?=\S)){0,120}?"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("read", re.compile(rf"(?i:\bread)\s+(?i:the\s+)?(?i:file\s+)?{_PATH}")),
    ("mail", re.compile(rf"(?i:\b(?:e-?mail|send|forward|mail))\b(?P<what>{_SAME_SENTENCE})\b(?i:to)\s+{_EMAIL}")),
    (
        "pay",
        re.compile(
            r"(?i:\b(?:transfer|wire|pay))\s+(?i:EUR\s*|€\s*)?(?P<amount>\d[\d,]*(?:\.\d+)?)\s*(?i:EUR\s+)?"
            r"(?i:to)\s+(?i:the\s+)?(?i:IBAN\s+|account\s+)?(?P<iban>[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{2,4}){3,8})"
        ),
    ),
    ("delete", re.compile(rf"(?i:\b(?:delete|remove))\s+(?i:the\s+)?(?i:file\s+)?{_PATH}")),
    ("open", re.compile(r"(?i:\b(?:open|visit|fetch|load))\s+(?i:the\s+)?(?i:link\s+|url\s+|page\s+)?(?P<url>https?://[^\s'\"<>]+)")),
)
_SUBJECT = re.compile(r"(?i:subject)\s*['\"“](?P<subject>[^'\"”]{1,80})['\"”]")


@dataclass(frozen=True, slots=True)
class Instruction:
    """One action an injected text asks for. ``verb``: read, mail, pay, delete, open."""

    verb: str
    target: str  # a path, an address, an IBAN (no spaces) or a link
    amount: float | None = None
    subject: str | None = None
    quote: str = ""  # the words that asked for it, for the report


def texts_in(output: str) -> list[str]:
    """The strings inside a tool's output: JSON is opened so escaped text reads as written."""
    try:
        data = json.loads(output)
    except ValueError:
        return [output]
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(data)
    return found


def find_instructions(output: str) -> list[Instruction]:
    """Every instruction in ``output``, in the order the text gives them."""
    found: list[tuple[int, int, Instruction]] = []
    for text_index, text in enumerate(texts_in(output)):
        for verb, pattern in _PATTERNS:
            for match in pattern.finditer(text):
                found.append((text_index, match.start(), _instruction(verb, match, text)))
    found.sort(key=lambda item: (item[0], item[1]))
    return [instruction for _, _, instruction in found]


def _instruction(verb: str, match: re.Match[str], text: str) -> Instruction:
    quote = match.group(0)
    if verb in ("read", "delete"):
        return Instruction(verb, match.group("path").rstrip("."), quote=quote)
    if verb == "mail":
        tail = text[match.end() : match.end() + 80]
        subject = _SUBJECT.search(tail)
        return Instruction(verb, match.group("to").rstrip("."), subject=subject.group("subject") if subject else None, quote=quote)
    if verb == "pay":
        amount = float(match.group("amount").replace(",", ""))
        return Instruction(verb, "".join(match.group("iban").split()), amount=amount, quote=quote)
    return Instruction(verb, match.group("url").rstrip(".,;"), quote=quote)
