"""The document types that go through approval chains, and what happens to each document when
its approval ends. A type registers once (from an AppConfig.ready) with:

- ``load(object_id)`` — the document, or None when it is gone;
- ``on_approved(document, actor)`` — the last step approved; ``actor`` approved it;
- ``on_rejected(document, actor, comment)`` — an approver rejected it;
- ``on_withdrawn(document, actor)`` — the submitter or owner withdrew it;
- ``describe(document)`` (optional) — rows of (label, value) and ``lines`` shown to approvers,
  who may approve a document outside their data scope and so only see it through the approval.

The callbacks run inside the approval service's transaction (the request row locked): a callback
that raises rolls the decision back."""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class DocumentType:
    key: str
    load: Callable
    on_approved: Callable
    on_rejected: Callable
    on_withdrawn: Callable
    describe: Callable | None = None


DOCUMENT_TYPES: dict[str, DocumentType] = {}


def register(document_type):
    existing = DOCUMENT_TYPES.get(document_type.key)
    if existing is not None and existing != document_type:
        raise ImproperlyConfigured(f"approval document type {document_type.key!r} is already registered differently")
    DOCUMENT_TYPES[document_type.key] = document_type
    return document_type


def get(key):
    try:
        return DOCUMENT_TYPES[key]
    except KeyError:
        raise ImproperlyConfigured(f"approval document type {key!r} is not registered") from None


def load_document(key, object_id):
    """The document of an approval request (None when gone)."""
    return get(key).load(object_id)


def load_document_types():
    """Register the built-in document types (contracts and payments)."""
    from contracts.services import approval

    approval.register_document_types()
