"""The one place the importer asks "which existing customers is this row?" — through the
duplicate service every other write uses (``customers.duplicates``)."""

from dataclasses import dataclass

from django.db.models import Q

from customers.models import Customer


@dataclass(frozen=True)
class Match:
    customer_id: int
    reasons: tuple = ()


def match_existing(rows):
    """{index in ``rows``: [Match, …]} for rows that match existing customers company-wide (owned
    or in the pool, whoever's scope). ``rows``: dicts with name, kind, mobile, email, credit_code
    (cleaned values)."""
    try:
        from customers.duplicates import find_duplicates_many
    except ImportError:
        return _exact_matches(rows)
    found = find_duplicates_many(rows=rows, limit_per_row=10)
    return {
        index: [Match(match.customer_id, tuple(getattr(match, "reasons", ()) or ())) for match in matches]
        for index, matches in found.items()
        if matches
    }


def _exact_matches(rows):
    """Stand-in until customers.duplicates lands: exact name, mobile, e-mail or credit code."""
    wanted = {"name": set(), "mobile": set(), "email": set(), "credit_code": set()}
    for row in rows:
        for key, values in wanted.items():
            if row.get(key):
                values.add(row[key])
    query = Q()
    for key, values in wanted.items():
        if values:
            query |= Q(**{f"{key}__in": list(values)})
    if not query:
        return {}
    index = {}
    for pk, *values in (
        Customer.objects.alive().filter(query).values_list("pk", "name", "mobile", "email", "credit_code")
    ):
        for key, value in zip(("name", "mobile", "email", "credit_code"), values, strict=True):
            if value:
                index.setdefault((key, value), []).append(pk)
    result = {}
    for position, row in enumerate(rows):
        matches = {}
        for key in ("name", "mobile", "email", "credit_code"):
            for pk in index.get((key, row.get(key)), []) if row.get(key) else []:
                matches.setdefault(pk, []).append(key)
        if matches:
            result[position] = [Match(pk, tuple(reasons)) for pk, reasons in sorted(matches.items())]
    return result
