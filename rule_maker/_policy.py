"""A starting policy drafted from a classified catalogue.

The policy is data in Sentinel's policy language (``interceptor.policy``), and
every draft is compiled by the engine before it is returned, so a draft that
the interceptor would refuse is never written. It must never allow a tool that
has no class (those fall to the default: deny), never read traces or labels,
and never name values of any particular deployment.

Modes:
- ``balanced`` (extended language): reads are allowed and untrusted reads taint
  the session; a consequential write is denied when one of its argument values
  (an address, a link, an account number) came from untrusted output and was
  not seen in trusted context; a destructive write (delete, remove, revoke...)
  after untrusted content needs approval; other writes are allowed.
- ``strict`` (the original staticRules/taintRules only, for interceptors that
  predate the extended language): every consequential write is blocked once
  the session has read untrusted content.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import yaml  # type: ignore[import-untyped]

from rule_maker._classes import SecurityClass
from rule_maker._errors import PolicyGenerationError
from rule_maker._features import extract
from rule_maker._lexicon import DESTRUCTIVE_VERBS

UNTRUSTED_TAG = "untrusted"
MODES = ("balanced", "strict")


def _classes(tools: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    by_class: dict[str, list[str]] = {c.value: [] for c in SecurityClass}
    for tool in tools:
        cls = tool.get("class")
        if cls in by_class:
            by_class[cls].append(str(tool["name"]))
    return by_class


def destructive_tools(tools: Sequence[Mapping[str, Any]]) -> list[str]:
    """Consequential writes whose verb destroys or takes away (from the tool's own words)."""
    found = []
    for tool in tools:
        if tool.get("class") != SecurityClass.CONSEQUENTIAL_WRITE.value:
            continue
        f = extract(tool)
        verbs = {f.verb, *f.description_verbs[:1]}
        if verbs & DESTRUCTIVE_VERBS:
            found.append(str(tool["name"]))
    return found


def _strict(by_class: Mapping[str, list[str]]) -> dict[str, Any]:
    static = {name: "ALLOW" for names in by_class.values() for name in names}
    taint: list[dict[str, Any]] = [{"type": "ADD_TAINT", "tool": t, "tag": UNTRUSTED_TAG} for t in by_class["UNTRUSTED_READ"]]
    taint += [{"type": "CHECK_TAINT", "tool": t, "forbidden_tags": [UNTRUSTED_TAG]} for t in by_class["CONSEQUENTIAL_WRITE"]]
    return {"staticRules": dict(sorted(static.items())), "taintRules": taint}


def _balanced(tools: Sequence[Mapping[str, Any]], by_class: Mapping[str, list[str]], flow_effect: str) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    if by_class["UNTRUSTED_READ"]:
        rules.append({
            "name": "untrusted-reads-taint-the-session",
            "description": "Text from these tools can carry injected instructions; the session remembers it read some.",
            "effect": "allow",
            "when": {"class": "UNTRUSTED_READ"},
            "add_tags": [UNTRUSTED_TAG],
            "reason": "read of untrusted content; the session is now tainted",
        })
    reads = [c for c in ("SAFE_READ", "SENSITIVE_READ") if by_class[c]]
    if reads:
        rules.append({"name": "trusted-reads", "effect": "allow", "when": {"class": reads}, "reason": "read-only tool"})
    if by_class["CONSEQUENTIAL_WRITE"]:
        # Every argument is checked, not only recipient-like ones: an injected link or
        # account number travels in a message body just as well (measured: checking
        # only destination parameters let 25% of the slack attacks through).
        rules.append({
            "name": "no-destination-from-untrusted-content",
            "description": "An address, link or account number that reached the agent only through untrusted text "
            "is what an injection asks the agent to send to; values also seen in trusted context are exempt.",
            "effect": flow_effect,
            "when": {"class": "CONSEQUENTIAL_WRITE", "flows_from_untrusted": True},
            "reason": "an argument value came from untrusted content (possible prompt injection)",
        })
        destructive = destructive_tools(tools)
        if destructive:
            rules.append({
                "name": "destructive-after-untrusted-needs-approval",
                "description": "Deleting or revoking cannot be undone and needs no attacker value, so data-flow cannot see it.",
                "effect": "require_approval",
                "when": {"tool": destructive, "taint": [UNTRUSTED_TAG]},
                "reason": "destructive action after the session read untrusted content",
            })
    writes = [c for c in ("CONSEQUENTIAL_WRITE", "INTERNAL_WRITE") if by_class[c]]
    if writes:
        rules.append({"name": "writes", "effect": "allow", "when": {"class": writes}, "reason": "write with no sign of injected intent"})
    return {"default": "deny", "rules": rules}


def generate_policy(tools: Sequence[Mapping[str, Any]], *, mode: str = "balanced", flow_effect: str = "deny") -> dict[str, Any]:
    """The ``policies`` object for a classified catalogue, checked by the policy engine.

    ``flow_effect``: what happens to a consequential write carrying a value from
    untrusted content: "deny", or "require_approval" where a person reviews them.
    """
    if mode not in MODES:
        raise PolicyGenerationError(f"unknown mode {mode!r} (one of {', '.join(MODES)})", code="usage")
    if flow_effect not in ("deny", "require_approval"):
        raise PolicyGenerationError(f"flow_effect must be deny or require_approval, not {flow_effect!r}", code="usage")
    by_class = _classes(tools)
    policies = _strict(by_class) if mode == "strict" else _balanced(tools, by_class, flow_effect)
    check_policy(policies, tools)
    return policies


def check_policy(policies: Mapping[str, Any], tools: Sequence[Mapping[str, Any]]) -> None:
    from interceptor.policy import PolicyError, compile_policy

    try:
        compile_policy(policies, tools)
    except PolicyError as exc:
        raise PolicyGenerationError("the policy engine refuses the draft: " + "; ".join(exc.problems)) from exc


def policy_yaml(policies: Mapping[str, Any], tools: Sequence[Mapping[str, Any]]) -> str:
    """The draft as a YAML file with ``policies`` at the top, and a header to review."""
    counts = Counter(str(t.get("class", "unclassified")) for t in tools)
    unclassified = [str(t["name"]) for t in tools if t.get("class") not in {c.value for c in SecurityClass}]
    review = [str(t["name"]) for t in tools if t.get("needs_review")]
    lines = [
        "# Starting policy drafted by `python -m rule_maker policy` from the tools' security classes.",
        "# Review it before use: it is a draft, not a verdict.",
        "# classes: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
    ]
    if review:
        lines.append("# classified with low confidence (check their class): " + ", ".join(review))
    if unclassified:
        lines.append("# no class, so denied by default: " + ", ".join(unclassified))
    body = str(yaml.safe_dump({"policies": dict(policies)}, sort_keys=False, width=120, allow_unicode=True))
    return "\n".join(lines) + "\n" + body
