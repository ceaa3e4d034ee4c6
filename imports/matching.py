"""The one place the importer asks "which existing customers is this row?" — through the
duplicate service every other write uses (``customers.duplicates``)."""

from dataclasses import dataclass

from django.db import connection

from customers.duplicates import find_duplicates_many


@dataclass(frozen=True)
class Match:
    customer_id: int
    reasons: tuple = ()


def match_existing(rows):
    """{index in ``rows``: [Match, …]} for rows that match existing customers company-wide (owned
    or in the pool, whoever's scope). ``rows``: dicts with name, kind, mobile, email, credit_code
    (cleaned values); at most customers.duplicates.MANY_MAX_ROWS of them."""
    with connection.cursor() as cursor:
        # customers.duplicates reads current_setting('pg_trgm.similarity_threshold'), which exists
        # only once pg_trgm's library is loaded in this session: a fresh connection (a worker's
        # first task) would fail. Any pg_trgm function loads it. (Reported to the duplicates' owner.)
        cursor.execute("SELECT similarity('', '')")
    found = find_duplicates_many(rows=rows, limit_per_row=10)
    return {
        index: [Match(match.customer_id, tuple(reason["field"] for reason in match.reasons)) for match in matches]
        for index, matches in found.items()
        if matches
    }
