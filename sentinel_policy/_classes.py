"""The five security classes of tools: the one definition the engine, the config and rule_maker share.

A tool's class says what its output is (trusted or written by others) and what
its call does (reads, changes the user's own state, reaches outside). The
engine matches ``class`` conditions on it and takes a tool's output as trusted
context or as untrusted text by it; rule_maker classifies tools into it. Pure
data: it must never import anything that does I/O.
"""

from __future__ import annotations

import enum


class SecurityClass(enum.StrEnum):
    SAFE_READ = "SAFE_READ"
    SENSITIVE_READ = "SENSITIVE_READ"
    UNTRUSTED_READ = "UNTRUSTED_READ"
    CONSEQUENTIAL_WRITE = "CONSEQUENTIAL_WRITE"
    INTERNAL_WRITE = "INTERNAL_WRITE"

    @property
    def is_write(self) -> bool:
        return self in (SecurityClass.CONSEQUENTIAL_WRITE, SecurityClass.INTERNAL_WRITE)

    @classmethod
    def named(cls, value: object) -> SecurityClass | None:
        """The class spelled ``value``; None for anything else, of any type (config is untrusted input)."""
        return cls.__members__.get(value) if isinstance(value, str) else None


# One sentence per class: what the class means. rule_maker's classification prompt and the docs use the
# same wording.
CLASS_DEFINITIONS: dict[SecurityClass, str] = {
    SecurityClass.SAFE_READ: "read-only; returns public or low-value data with no private content and no free text written by third parties (date, time, prices, directory names)",
    SecurityClass.SENSITIVE_READ: "read-only; returns the user's private data that was not written by outsiders (contacts, balances, credentials, profile, the user's own sent or draft messages)",
    SecurityClass.UNTRUSTED_READ: "read-only; returns free text that third parties can write (received emails and messages, web pages, shared files, calendar invitations, reviews): a prompt-injection vector",
    SecurityClass.CONSEQUENTIAL_WRITE: "has a side effect others can see or that cannot be undone: sends, shares, publishes, pays, invites, grants access, books, deletes",
    SecurityClass.INTERNAL_WRITE: "changes only the user's own, unshared state and can be undone (create or append to a private file, a note, a draft)",
}
