"""The one place the importer asks "which existing customers is this row?" — through the
duplicate service every other write uses (``customers.duplicates``)."""

from dataclasses import dataclass

from customers.duplicates import find_duplicates_many


@dataclass(frozen=True)
class Match:
    customer_id: int
    reasons: tuple = ()


def match_existing(rows):
    """{index in ``rows``: [Match, …]} for rows that match existing customers company-wide (owned
    or in the pool, whoever's scope). ``rows``: dicts with name, kind, mobile, email, credit_code
    (cleaned values: not normalised again); at most customers.duplicates.MANY_MAX_ROWS of them."""
    found = find_duplicates_many(rows=rows, limit_per_row=10, normalized=True)
    return {
        index: [Match(match.customer_id, tuple(reason["field"] for reason in match.reasons)) for match in matches]
        for index, matches in found.items()
        if matches
    }
