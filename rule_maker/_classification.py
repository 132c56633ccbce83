"""The classification record every classifier returns, and how a doubt about a class is resolved.

The classes themselves are the policy engine's (``sentinel_policy.SecurityClass``,
with their definitions): what rule_maker classifies into is exactly what a
policy's ``class`` conditions match. Pure data: it must never import a
classifier or the network.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sentinel_policy import SecurityClass

# Most dangerous first. When a tool's class is in doubt, the drafted policy treats it as the
# first of its candidate classes here, so a doubt never makes the draft more lenient.
RISK_ORDER: tuple[SecurityClass, ...] = (
    SecurityClass.CONSEQUENTIAL_WRITE,
    SecurityClass.INTERNAL_WRITE,
    SecurityClass.UNTRUSTED_READ,
    SecurityClass.SENSITIVE_READ,
    SecurityClass.SAFE_READ,
)


def riskiest(classes: Iterable[SecurityClass]) -> SecurityClass:
    """The most dangerous of ``classes`` (see RISK_ORDER)."""
    return min(classes, key=RISK_ORDER.index)


# Below this confidence a result is flagged for human review rather than trusted silently.
REVIEW_THRESHOLD = 0.6


@dataclass(frozen=True, slots=True)
class Classification:
    tool: str
    security_class: SecurityClass
    confidence: float
    rationale: str
    source: str = "offline"  # "offline", "llm" or "offline-fallback"
    flagged: bool = False  # set when two classifiers (or two kinds of evidence) disagree, whatever the confidence
    alternative: SecurityClass | None = None  # the class it may be instead: the other answer, or the runner-up
    flag_reason: str = ""  # why it is flagged ("the LLM says SAFE_READ, the offline classifier says ...")

    @property
    def needs_review(self) -> bool:
        return self.flagged or self.confidence < REVIEW_THRESHOLD

    @property
    def review_reason(self) -> str:
        """Why a person should check the class: a disagreement, or low confidence; "" when neither."""
        if self.flagged:
            return self.flag_reason or "two classifiers disagree"
        if self.confidence < REVIEW_THRESHOLD:
            return f"low confidence ({self.confidence:.2f})"
        return ""

    def as_fields(self) -> dict[str, object]:
        """The fields added to a tool definition in a classified catalogue; a tool to review also gets
        ``review_reason`` and, when known, ``alternative_class`` (the policy drafter reads both)."""
        fields: dict[str, object] = {
            "class": self.security_class.value,
            "confidence": round(self.confidence, 3),
            "rationale": self.rationale,
            "needs_review": self.needs_review,
            "classified_by": self.source,
        }
        if self.needs_review:
            fields["review_reason"] = self.review_reason
            if self.alternative is not None and self.alternative is not self.security_class:
                fields["alternative_class"] = self.alternative.value
        return fields
