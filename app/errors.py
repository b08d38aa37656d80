"""Errors people can read.

Every failure a person can cause or meet (a damaged bundle, a wrong key, a full disk, a foreign
file) is raised as a :class:`KitError` whose message id is English source text marked for
translation. The CLI and the UI print ``error.message()``: one translated line, never a traceback.
"""

from __future__ import annotations

from app.i18n import fill, translate


class KitError(Exception):
    """Base of all expected failures. ``msgid`` is translatable English with ``{named}`` fields."""

    exit_code = 2
    code = "error"

    def __init__(self, msgid: str, **params: object) -> None:
        self.msgid = msgid
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str | None = None) -> str:
        text = translate(self.msgid, lang)
        try:
            return fill(text, self.params, lang)
        except (KeyError, IndexError, ValueError):
            return self.msgid.format(**self.params)

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message("en")


class UserInputError(KitError):
    """The person asked for something that cannot be done as asked (bad path, bad value)."""

    code = "bad_input"


class NotFoundError(UserInputError):
    code = "not_found"


class ValidationError(UserInputError):
    code = "invalid"


class StoreError(KitError):
    """The local store is damaged, locked, or from a newer kit."""

    exit_code = 3
    code = "store"


class IntegrityError(KitError):
    """Data failed an integrity check (hash, signature, chain)."""

    exit_code = 4
    code = "integrity"


class CryptoError(IntegrityError):
    code = "crypto"


class TrustError(IntegrityError):
    code = "trust"


class BundleError(IntegrityError):
    code = "bundle"


class DiskFullError(KitError):
    exit_code = 5
    code = "disk_full"


class Cancelled(KitError):
    exit_code = 130
    code = "cancelled"

    def __init__(self) -> None:
        super().__init__("Cancelled. Nothing was changed.")
