"""rule_maker: classify agent tools into security classes and draft a starting policy.

The offline classifier is the default and needs neither network nor GPU; an LLM
classifier is used only when configured, and falls back to the offline one.
"""

from rule_maker._classes import CLASS_DEFINITIONS, REVIEW_THRESHOLD, Classification, SecurityClass
from rule_maker._errors import CatalogueError, ClassifierError, PolicyGenerationError, RuleMakerError
from rule_maker._offline import OfflineClassifier

__all__ = [
    "CLASS_DEFINITIONS",
    "REVIEW_THRESHOLD",
    "CatalogueError",
    "Classification",
    "ClassifierError",
    "OfflineClassifier",
    "PolicyGenerationError",
    "RuleMakerError",
    "SecurityClass",
]
