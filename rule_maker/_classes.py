"""The five security classes and the classification record every classifier returns.

Pure data: it must never import a classifier, the network or the policy engine.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class SecurityClass(str, enum.Enum):
    SAFE_READ = "SAFE_READ"
    SENSITIVE_READ = "SENSITIVE_READ"
    UNTRUSTED_READ = "UNTRUSTED_READ"
    CONSEQUENTIAL_WRITE = "CONSEQUENTIAL_WRITE"
    INTERNAL_WRITE = "INTERNAL_WRITE"

    @property
    def is_write(self) -> bool:
        return self in (SecurityClass.CONSEQUENTIAL_WRITE, SecurityClass.INTERNAL_WRITE)


# One sentence per class; the LLM prompt and the docs use the same wording.
CLASS_DEFINITIONS: dict[SecurityClass, str] = {
    SecurityClass.SAFE_READ: "read-only; returns public or low-value data with no private content and no free text written by third parties (date, time, prices, directory names)",
    SecurityClass.SENSITIVE_READ: "read-only; returns the user's private data that was not written by outsiders (contacts, balances, credentials, profile, the user's own sent or draft messages)",
    SecurityClass.UNTRUSTED_READ: "read-only; returns free text that third parties can write (received emails and messages, web pages, shared files, calendar invitations, reviews): a prompt-injection vector",
    SecurityClass.CONSEQUENTIAL_WRITE: "has a side effect others can see or that cannot be undone: sends, shares, publishes, pays, invites, grants access, books, deletes",
    SecurityClass.INTERNAL_WRITE: "changes only the user's own, unshared state and can be undone (create or append to a private file, a note, a draft)",
}

# Below this confidence a result is flagged for human review rather than trusted silently.
REVIEW_THRESHOLD = 0.6


@dataclass(frozen=True, slots=True)
class Classification:
    tool: str
    security_class: SecurityClass
    confidence: float
    rationale: str
    source: str = "offline"  # "offline", "llm" or "offline-fallback"
    flagged: bool = False  # set when two classifiers disagree, whatever the confidence

    @property
    def needs_review(self) -> bool:
        return self.flagged or self.confidence < REVIEW_THRESHOLD

    def as_fields(self) -> dict[str, object]:
        """The fields added to a tool definition in a classified catalogue."""
        return {
            "class": self.security_class.value,
            "confidence": round(self.confidence, 3),
            "rationale": self.rationale,
            "needs_review": self.needs_review,
            "classified_by": self.source,
        }
