"""rule_maker: classify agent tools into security classes and draft a starting policy.

The offline classifier is the default and needs neither network nor GPU; an LLM
classifier is used only when configured, and falls back to the offline one.
Importing the package stays light: the LLM client (httpx), the policy drafter
(yaml) and the config-store push load on first use. The security classes are the
policy engine's (``sentinel_policy.SecurityClass``), re-exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rule_maker._catalogue import annotate, dump_tools, load_tools, parse_tools
from rule_maker._classification import REVIEW_THRESHOLD, Classification
from rule_maker._errors import (
    CatalogueError,
    ClassifierError,
    PolicyGenerationError,
    RuleMakerError,
)
from rule_maker._offline import OfflineClassifier
from sentinel_policy import CLASS_DEFINITIONS, SecurityClass

if TYPE_CHECKING:
    from rule_maker._cli import (
        CLASSIFY_HELP,
        DRAFT_HELP,
        add_classify_arguments,
        add_draft_arguments,
        classify_command,
        classify_tools,
        draft_command,
    )
    from rule_maker._llm import LLMClassifier, LLMSettings
    from rule_maker._policy import generate_policy, policy_yaml
    from rule_maker._push import push_tools

__all__ = [
    "CLASSIFY_HELP",
    "CLASS_DEFINITIONS",
    "DRAFT_HELP",
    "REVIEW_THRESHOLD",
    "CatalogueError",
    "Classification",
    "ClassifierError",
    "LLMClassifier",
    "LLMSettings",
    "OfflineClassifier",
    "PolicyGenerationError",
    "RuleMakerError",
    "SecurityClass",
    "add_classify_arguments",
    "add_draft_arguments",
    "annotate",
    "classify_command",
    "classify_tools",
    "draft_command",
    "dump_tools",
    "generate_policy",
    "load_tools",
    "parse_tools",
    "policy_yaml",
    "push_tools",
]

_LAZY = {
    "CLASSIFY_HELP": "rule_maker._cli",
    "DRAFT_HELP": "rule_maker._cli",
    "add_classify_arguments": "rule_maker._cli",
    "add_draft_arguments": "rule_maker._cli",
    "classify_command": "rule_maker._cli",
    "draft_command": "rule_maker._cli",
    "LLMClassifier": "rule_maker._llm",
    "LLMSettings": "rule_maker._llm",
    "classify_tools": "rule_maker._cli",
    "generate_policy": "rule_maker._policy",
    "policy_yaml": "rule_maker._policy",
    "push_tools": "rule_maker._push",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rule_maker' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
