"""The one home of vcsmatch's exceptions.

Every error a caller can act on is a ``VcsmatchError``; each also subclasses the built-in it
resembles, so ``except ValueError`` keeps working for code that does not know vcsmatch::

    VcsmatchError
    ├── CatalogueError (ValueError)        a record in a catalogue file is wrong
    ├── ImportFailed (ValueError)          an import was refused; carries the full report
    ├── DataError (ValueError)             a row of a people/ratings file is wrong (has line)
    ├── UnknownCodeError (KeyError)        a need/strength/activity code not in the taxonomy
    ├── PostcodeError (ValueError)         a postcode is malformed or unknown
    ├── NotFittedError (sklearn's)         a model used before ``fit``
    ├── ModelLoadError (ValueError)        a saved model is missing, truncated or tampered with
    └── NotFoundError (KeyError)           a service, model or key that does not exist

Messages name the record and the field, never a person's feature values.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError


class VcsmatchError(Exception):
    """Base class of every error vcsmatch raises on purpose."""


class CatalogueError(VcsmatchError, ValueError):
    """A catalogue record is invalid: names the record id, the field and the reason."""

    def __init__(self, record_id: str | None, field: str, reason: str) -> None:
        self.record_id = record_id
        self.field = field
        self.reason = reason
        super().__init__(f"record {record_id or '?'}: field {field!r}: {reason}")


class ImportFailed(VcsmatchError, ValueError):
    """An import was refused as a whole; ``report`` lists every rejected record."""

    def __init__(self, message: str, report: object) -> None:
        self.report = report
        super().__init__(message)


class DataError(VcsmatchError, ValueError):
    """A row of a people, ratings or recommendations file is invalid.

    ``line`` is the 1-based line number in the file (the header is line 1).
    """

    def __init__(self, source: str, line: int | None, field: str, reason: str) -> None:
        self.source = source
        self.line = line
        self.field = field
        self.reason = reason
        where = f"{source} line {line}" if line is not None else source
        super().__init__(f"{where}: field {field!r}: {reason}")


class UnknownCodeError(VcsmatchError, KeyError):
    """A code that is not in the taxonomy."""

    def __init__(self, kind: str, code: str) -> None:
        self.kind = kind
        self.code = code
        super().__init__(f"unknown {kind} code {code!r}")

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0])


class PostcodeError(VcsmatchError, ValueError):
    """A postcode that is malformed or not in the postcode data.

    The postcode itself is named: it is what the caller typed and needs to correct. Callers
    that handle personal data (the API) must not echo this message into logs.
    """

    def __init__(self, postcode: str, reason: str) -> None:
        self.postcode = postcode
        self.reason = reason
        super().__init__(f"postcode {postcode!r}: {reason}")


class NotFittedError(VcsmatchError, _SklearnNotFittedError):
    """A model or transformer used before ``fit``."""


class ModelLoadError(VcsmatchError, ValueError):
    """A saved model that cannot be trusted: missing, truncated, tampered with or too new."""


class NotFoundError(VcsmatchError, KeyError):
    """A service, model version or key that does not exist."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "not found"
