"""The one error the contract raises.

    ContractError(code)
        code is machine-readable and safe to show to the caller; the message
        never contains key material or the token itself.
"""

from __future__ import annotations


class ContractError(Exception):
    """A token or payload failed a check of the signed-call contract."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"ContractError({self.code!r}, {self.message!r})"
