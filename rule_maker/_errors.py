"""The one error root of rule_maker.

    RuleMakerError (code)
     +-- CatalogueError      code "catalogue_invalid": a tool list that cannot be read
     +-- ClassifierError     code "llm_unavailable" / "llm_bad_answer": the LLM endpoint failed
     +-- PolicyGenerationError  code "policy_invalid": a generated policy the engine refuses

It must never carry secrets (API keys) in its message.
"""

from __future__ import annotations


class RuleMakerError(Exception):
    """Root of every rule_maker error; ``code`` is machine-readable."""

    code = "rule_maker_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class CatalogueError(RuleMakerError):
    code = "catalogue_invalid"


class ClassifierError(RuleMakerError):
    code = "llm_unavailable"


class PolicyGenerationError(RuleMakerError):
    code = "policy_invalid"
