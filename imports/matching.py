"""The one place the importer asks "which existing customers is this row?" — through the
duplicate service every other write uses (``customers.duplicates``)."""

import contextlib
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections

from customers.duplicates import (
    find_duplicates_many,
    find_duplicates_many_start,
    flush_name_index,
    matched_tables_written,
)


@dataclass(frozen=True)
class Match:
    customer_id: int
    reasons: tuple = ()


def prepare():
    """Before matching a whole file (see customers.duplicates.flush_name_index)."""
    flush_name_index()


@contextlib.contextmanager
def side_connection():
    """A second database connection to match on while this one writes, closed afterwards; None
    when it would not match as this one does: this transaction has written customers or
    contacts (uncommitted, so only this connection sees them). Otherwise both see the same
    committed rows — and none of what this transaction goes on to write."""
    if matched_tables_written():
        yield None
        return
    side = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        yield side
    finally:
        side.close()


def match_existing(rows):
    """{index in ``rows``: [Match, …]} for rows that match existing customers company-wide (owned
    or in the pool, whoever's scope). ``rows``: dicts with name, kind, mobile, email, credit_code
    (cleaned values: not normalised again) and optionally name_key (the name's
    normalize_company_name, when the caller has it); at most customers.duplicates.MANY_MAX_ROWS
    of them."""
    return _matches(find_duplicates_many(rows=rows, limit_per_row=10, normalized=True))


class PendingMatch:
    """match_existing sent without waiting (the caller works meanwhile; the database connection —
    ``using``, from side_connection, or the default one — is busy until ``result()``)."""

    def __init__(self, rows, *, using=None):
        self._pending = find_duplicates_many_start(rows=rows, limit_per_row=10, normalized=True, using=using)

    def result(self):
        return _matches(self._pending.result())

    def cancel(self):
        self._pending.cancel()


def _matches(found):
    return {
        index: [Match(match.customer_id, tuple(reason["field"] for reason in match.reasons)) for match in matches]
        for index, matches in found.items()
        if matches
    }
