"""A starting policy drafted from a classified catalogue.

The policy is data in Sentinel's policy language (``sentinel_policy``), and
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

A tool flagged ``needs_review`` is drafted as the riskier of its class and its
``alternative_class`` (``RISK_ORDER``): a doubt, or a tool description that
talked the LLM into a harmless class, never makes the draft more lenient. The
rules that treat such a tool by its drafted class name it and come first, since
``class`` conditions match the catalogue's class. Names are checked against the
tool-name rule before they become tool patterns, and everything written into a
comment is escaped, so no text of the catalogue can end a comment line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from rule_maker._catalogue import name_problems, printable
from rule_maker._classification import REVIEW_THRESHOLD, riskiest
from rule_maker._errors import PolicyGenerationError
from rule_maker._features import extract
from rule_maker._lexicon import DESTRUCTIVE_VERBS
from sentinel_policy import PolicyError, SecurityClass, compile_policy

UNTRUSTED_TAG = "untrusted"
MODES = ("balanced", "strict")


_CLASSES = frozenset(c.value for c in SecurityClass)
# Classes the balanced draft treats alike: a review that moves a tool within a group changes nothing.
_TREATMENT = {"SAFE_READ": "trusted read", "SENSITIVE_READ": "trusted read", "UNTRUSTED_READ": "untrusted read",
              "CONSEQUENTIAL_WRITE": "consequential write", "INTERNAL_WRITE": "internal write"}


def _class_of(tool: Mapping[str, Any], key: str = "class") -> str | None:
    value = tool.get(key)
    return value if isinstance(value, str) and value in _CLASSES else None


def drafted_class(tool: Mapping[str, Any]) -> str | None:
    """The class the draft treats ``tool`` as: its class, or for a tool to review the riskier of
    its class and its ``alternative_class``; None for a tool without a valid class."""
    cls, alternative = _class_of(tool), _class_of(tool, "alternative_class")
    if cls is None or alternative is None or tool.get("needs_review") is not True:
        return cls
    return riskiest((SecurityClass(cls), SecurityClass(alternative))).value


def _classes(tools: Sequence[Mapping[str, Any]], *, drafted: bool) -> dict[str, list[str]]:
    """Tool names by class: the catalogue's (what ``class`` conditions match) or the drafted one."""
    by_class: dict[str, list[str]] = {c.value: [] for c in SecurityClass}
    for tool in tools:
        cls = drafted_class(tool) if drafted else _class_of(tool)
        if cls is not None:
            by_class[cls].append(str(tool["name"]))
    return by_class


def destructive_tools(tools: Sequence[Mapping[str, Any]]) -> list[str]:
    """Tools drafted as consequential writes whose verb destroys or takes away (from the tool's own words)."""
    found = []
    for tool in tools:
        if drafted_class(tool) != SecurityClass.CONSEQUENTIAL_WRITE.value:
            continue
        f = extract(tool)
        verbs = {f.verb, *f.description_verbs[:1]}
        if verbs & DESTRUCTIVE_VERBS:
            found.append(str(tool["name"]))
    return found


def _strict(tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    by_class = _classes(tools, drafted=True)  # every rule names its tool: the drafted class is used directly
    static = {name: "ALLOW" for names in by_class.values() for name in names}
    taint: list[dict[str, Any]] = [{"type": "ADD_TAINT", "tool": t, "tag": UNTRUSTED_TAG} for t in by_class["UNTRUSTED_READ"]]
    taint += [{"type": "CHECK_TAINT", "tool": t, "forbidden_tags": [UNTRUSTED_TAG]} for t in by_class["CONSEQUENTIAL_WRITE"]]
    return {"staticRules": dict(sorted(static.items())), "taintRules": taint}


def _upgraded(tools: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Tools to review whose drafted class is treated differently from their catalogue class, by drafted class."""
    found: dict[str, list[str]] = {c.value: [] for c in SecurityClass}
    for tool in tools:
        cls, drafted = _class_of(tool), drafted_class(tool)
        if cls is not None and drafted is not None and _TREATMENT[drafted] != _TREATMENT[cls]:
            found[drafted].append(str(tool["name"]))
    return found


def _review_rules(upgraded: Mapping[str, list[str]], destructive: Sequence[str], flow_effect: str) -> list[dict[str, Any]]:
    """Rules that treat each upgraded tool as its drafted class; they name the tools and come first,
    so the class rules after them (which match the catalogue's class) never decide those tools."""
    rules: list[dict[str, Any]] = []
    why = "needs review: drafted as the riskier of its candidate classes until a person checks it (see the header)"
    if names := upgraded["CONSEQUENTIAL_WRITE"]:
        rules.append({
            "name": "review-as-consequential-no-destination-from-untrusted-content",
            "description": why,
            "effect": flow_effect,
            "when": {"tool": names, "flows_from_untrusted": True},
            "reason": "an argument value came from untrusted content (possible prompt injection)",
        })
        if held := [n for n in names if n in destructive]:
            rules.append({
                "name": "review-as-consequential-destructive-after-untrusted-needs-approval",
                "description": why,
                "effect": "require_approval",
                "when": {"tool": held, "taint": [UNTRUSTED_TAG]},
                "reason": "destructive action after the session read untrusted content",
            })
        rules.append({"name": "review-as-consequential-writes", "description": why, "effect": "allow",
                      "when": {"tool": names}, "reason": "write with no sign of injected intent"})
    if names := upgraded["INTERNAL_WRITE"]:
        rules.append({"name": "review-as-internal-writes", "description": why, "effect": "allow",
                      "when": {"tool": names}, "reason": "write with no sign of injected intent"})
    if names := upgraded["UNTRUSTED_READ"]:
        rules.append({
            "name": "review-as-untrusted-reads-taint-the-session",
            "description": why + "; taintRules marks its output as untrusted text for the data-flow checks too",
            "effect": "allow",
            "when": {"tool": names},
            "add_tags": [UNTRUSTED_TAG],
            "reason": "read of possibly untrusted content; the session is now tainted",
        })
    return rules


def _balanced(tools: Sequence[Mapping[str, Any]], flow_effect: str) -> dict[str, Any]:
    upgraded = _upgraded(tools)
    moved = {name for names in upgraded.values() for name in names}
    # A class rule is drafted for the tools it will decide: the upgraded ones are decided before it.
    by_class = {cls: [n for n in names if n not in moved] for cls, names in _classes(tools, drafted=False).items()}
    all_destructive = destructive_tools(tools)
    rules = _review_rules(upgraded, all_destructive, flow_effect)
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
        # account number travels in a message body just as well (measured: rule_maker/docs/README.md,
        # "The drafted policy").
        rules.append({
            "name": "no-destination-from-untrusted-content",
            "description": "An address, link or account number that reached the agent only through untrusted text "
            "is what an injection asks the agent to send to; values also seen in trusted context are exempt.",
            "effect": flow_effect,
            "when": {"class": "CONSEQUENTIAL_WRITE", "flows_from_untrusted": True},
            "reason": "an argument value came from untrusted content (possible prompt injection)",
        })
        destructive = [name for name in all_destructive if name not in moved]
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
    policies: dict[str, Any] = {"default": "deny", "rules": rules}
    if upgraded["UNTRUSTED_READ"]:
        # The engine takes a tool's output as untrusted text by its class or an ADD_TAINT rule; without this,
        # a tool the catalogue calls a trusted read would vouch for the values in its output.
        policies["taintRules"] = [{"type": "ADD_TAINT", "tool": t, "tag": UNTRUSTED_TAG} for t in upgraded["UNTRUSTED_READ"]]
    return policies


def generate_policy(tools: Sequence[Mapping[str, Any]], *, mode: str = "balanced", flow_effect: str = "deny") -> dict[str, Any]:
    """The ``policies`` object for a classified catalogue, checked by the policy engine.

    ``flow_effect``: what happens to a consequential write carrying a value from
    untrusted content: "deny", or "require_approval" where a person reviews them.
    """
    if mode not in MODES:
        raise PolicyGenerationError(f"unknown mode {mode!r} (one of {', '.join(MODES)})", code="usage")
    if flow_effect not in ("deny", "require_approval"):
        raise PolicyGenerationError(f"flow_effect must be deny or require_approval, not {flow_effect!r}", code="usage")
    if problems := name_problems(tools):
        # A name becomes a tool pattern (fnmatch) and a comment: only names the tool server accepts.
        raise PolicyGenerationError("; ".join(problems), code="catalogue_invalid")
    policies = _strict(tools) if mode == "strict" else _balanced(tools, flow_effect)
    check_policy(policies, tools)
    return policies


def check_policy(policies: Mapping[str, Any], tools: Sequence[Mapping[str, Any]]) -> None:
    try:
        compile_policy(policies, tools)
    except PolicyError as exc:
        raise PolicyGenerationError("the policy engine refuses the draft: " + "; ".join(exc.problems)) from exc


def _review_note(tool: Mapping[str, Any]) -> str:
    """One header line on a tool to review: why, its candidate classes, and what the draft treats it as."""
    reason = tool.get("review_reason")
    if not isinstance(reason, str) or not reason:  # a catalogue from before review_reason existed
        confidence = tool.get("confidence")
        if isinstance(confidence, (int, float)) and confidence < REVIEW_THRESHOLD:
            reason = f"low confidence ({confidence:.2f})"
        else:
            reason = "flagged: two classifiers disagree"
    candidates = [c for c in dict.fromkeys((_class_of(tool), _class_of(tool, "alternative_class"))) if c is not None]
    return f"{tool['name']}: {reason}; candidates {' or '.join(candidates)}; drafted as {drafted_class(tool)}"


def _comment(text: str) -> str:
    """One comment line: nothing in ``text`` can end it (line breaks and other control characters are escaped)."""
    return "# " + printable(text)


def policy_yaml(policies: Mapping[str, Any], tools: Sequence[Mapping[str, Any]]) -> str:
    """The draft as a YAML file with ``policies`` at the top, and a header to review."""
    counts = Counter(str(t.get("class", "unclassified")) for t in tools)
    unclassified = [str(t["name"]) for t in tools if _class_of(t) is None]
    review = [_review_note(t) for t in tools if t.get("needs_review") and _class_of(t) is not None]
    lines = [
        "Starting policy drafted by `sentinel tools draft` from the tools' security classes.",
        "Review it before use: it is a draft, not a verdict.",
        "classes: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
    ]
    if review:
        lines.append("needs review: check the class, fix it in the catalogue and set needs_review to false, then draft again.")
        lines.append("Until then each is drafted as the riskier of its candidate classes:")
        lines += ["  " + note for note in review]
    if unclassified:
        lines.append("no class, so denied by default: " + ", ".join(unclassified))
    body = str(yaml.safe_dump({"policies": dict(policies)}, sort_keys=False, width=120, allow_unicode=True))
    return "\n".join(_comment(line) for line in lines) + "\n" + body
