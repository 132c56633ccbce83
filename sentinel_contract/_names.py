"""Tool names as both zones accept them: MCP's rule (specification 2025-11-25, "Tool names").

1 to 128 characters of ASCII letters, digits, ``_``, ``-`` and ``.``. The
interceptor refuses any other name before it looks anything up, decides or
audits; the tool server refuses it before its guard. Every tool a project or
the tool server defines must fit it too, or it cannot be called.

It must never accept a name it would not be safe to echo: a refusal names the
rule, never the name.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = ["MAX_TOOL_NAME", "TOOL_NAME_RULE", "is_tool_name"]

MAX_TOOL_NAME: Final = 128
TOOL_NAME_RULE: Final = "1-128 characters: letters, digits and _ - ."
_TOOL_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,128}")


def is_tool_name(value: Any) -> bool:
    """True for a string that follows the tool-name rule (the length is checked before the pattern)."""
    return isinstance(value, str) and len(value) <= MAX_TOOL_NAME and _TOOL_NAME.fullmatch(value) is not None
