"""Reads of customers and contacts. Every read starts from ``visible_to(user)`` (data scope plus
team members); lists get their related rows in a fixed number of queries."""

import re
from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.search import TrigramWordSimilarity
from django.db.models import Case, Exists, FloatField, OuterRef, Prefetch, Q, Value, When
from django.db.models.functions import Cast, Greatest
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Contact, Customer, CustomerLevel, CustomerMerge, CustomerTeamMember, Tag
from staff import teams
from staff.fieldperms import hidden_fields
from staff.scope import get_for_user, subordinates_subquery

FULL_CONTACT_PERMISSION = "customers.view_full_contact"


def _member_exists(user, prefix=""):
    rows = CustomerTeamMember.objects.active().filter(
        content_object=OuterRef(f"{prefix}pk"), user_id=user.pk, permission__codename="view_customer"
    )
    return Exists(rows)


# Joined for pages, which show their names; the API shows lookups as ids and needs the owner only.
# Each join costs every query its planning (a first page: ~3 ms to plan 6 tables, 0.4 ms for 2).
LOOKUPS = ("level", "source", "industry", "owner", "department")


def customer_list(*, user, lookups=True):
    """The customers ``user`` may see, ready for a list: lookups joined (``lookups=False``: the
    owner only, for the API), tags prefetched, and ``viewer_is_member`` (whether the user is on
    its team) for masking — a fixed number of queries whatever the page size."""
    return _for_display(Customer.objects.visible_to(user), user=user, lookups=lookups)


def _for_display(queryset, *, user, lookups):
    return (
        queryset.select_related(*(LOOKUPS if lookups else ("owner",)))
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
        .annotate(viewer_is_member=_member_exists(user))
    )


def tag_names():
    """A customer's tag names as one value of its row (an array, in ``customer_list``'s tag order:
    by name), for rows read with ``values_list`` (exports), where the prefetch does not apply."""
    return ArraySubquery(Tag.objects.filter(customers=OuterRef("pk")).order_by("name").values("name"))


def customer_get_for_user(*, user, pk, lookups=True):
    """One customer the user may see, or 404 — the same for missing, deleted and out of scope.
    (``get_for_user`` applies the scope: once, not again over ``customer_list``'s.)"""
    return get_for_user(_for_display(Customer.objects.all(), user=user, lookups=lookups), user=user, pk=pk)


def customer_recycle_bin(*, user):
    """Deleted customers the user could see, most recently deleted first."""
    return (
        Customer.objects.recycle_bin_visible_to(user)
        .select_related("level", "source", "industry", "owner", "department", "deleted_by")
        .prefetch_related("tags")
        .annotate(viewer_is_member=_member_exists(user))
    )


def customer_recycle_bin_get(*, user, pk):
    try:
        return customer_recycle_bin(user=user).get(pk=pk)
    except (Customer.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def customer_editable(*, user, customer):
    return Customer.objects.editable_by(user).filter(pk=customer.pk).exists()


def customer_team_manageable(*, user, customer):
    """Whether ``user`` may add or remove the customer's team members (owner or a manager whose
    data scope holds it; not a team member)."""
    return Customer.objects.alive().managed_by(user).filter(pk=customer.pk).exists()


def customer_manageable(*, user, customer):
    """Whether ``user`` may transfer, delete or restore the customer (data scope, not team)."""
    return Customer.objects.managed_by(user).filter(pk=customer.pk).exists()


# --- masking ------------------------------------------------------------------------------------


def _sees_every_contact_in_full(user):
    """The viewer's own part of ``sees_full_contact``, the same for every customer."""
    if user.is_superuser and not settings.CONTACT_REVEAL_REQUIRED:
        return True
    return not settings.CONTACT_REVEAL_REQUIRED and user.has_perm(FULL_CONTACT_PERMISSION)


def sees_full_contact(*, user, customer):
    """Owner and team members see phone numbers and e-mails in full. Holders of "view full
    contact details" see them masked like everyone else and reveal them one customer at a time
    (audit-logged) — unless CONTACT_REVEAL_REQUIRED is off, when they see them in full."""
    if user.is_superuser and not settings.CONTACT_REVEAL_REQUIRED:
        return True
    if customer.owner_id == user.pk:
        return True
    member = getattr(customer, "viewer_is_member", None)
    if member is None:
        member = teams.is_team_member(CustomerTeamMember, customer, user)
    return bool(member) or _sees_every_contact_in_full(user)


def full_contact_rule(*, user):
    """``sees_full_contact`` for many customers of one viewer (exports): a function of the
    customer's ``owner_id`` and its ``viewer_is_member`` annotation (``customer_list`` and
    ``contact_list`` select it), the viewer's own part decided once — no query per row."""
    if _sees_every_contact_in_full(user):
        return lambda owner_id, viewer_is_member: True
    pk = user.pk
    return lambda owner_id, viewer_is_member: owner_id == pk or bool(viewer_is_member)


def contact_sees_full(*, user, contact):
    customer = contact.customer
    member = getattr(contact, "viewer_is_member", None)
    if member is not None:
        customer.viewer_is_member = member
    return sees_full_contact(user=user, customer=customer)


def can_reveal(*, user, customer):
    """Who may press "查看完整号码" on a customer they can see (those who already see full values
    may too; it is logged all the same)."""
    return user.has_perm(FULL_CONTACT_PERMISSION) or sees_full_contact(user=user, customer=customer)


# --- search -------------------------------------------------------------------------------------

DIGITS = re.compile(r"\d")
SEARCH_MAX_LENGTH = 100


def search_term(q):
    """The query as searched: trimmed, lower-cased, and a phone number typed with spaces or
    dashes ("138-0013 8000") reduced to its digits."""
    q = " ".join((q or "").split())[:SEARCH_MAX_LENGTH].lower()
    compact = re.sub(r"[\s\-()+]", "", q)
    if len(compact) >= 4 and compact.isdigit():
        return compact
    return q


# Besides names, the search column holds these fields; a user for whom one is hidden searches
# names only (else a search would confirm the hidden value).
SEARCHED_FIELDS = {"credit_code", "email", "mobile", "phone"}


def search_q(term, *, names_only=False):
    """Rows whose search column holds ``term`` — every branch answered by the trigram index:
    three or more characters as a substring (LIKE '%term%'); two characters as one of the stored
    two-character words (LIKE '% 华为 %'); and names within a typo of a 3+ character term (word
    similarity). ``names_only``: the customer's name only (no index for two characters)."""
    if names_only:
        query = Q(name__icontains=term)
        if len(term) >= 3:
            query |= Q(name__trigram_word_similar=term)
        return query
    if len(term) == 2 and " " not in term:
        return Q(search_text__contains=f" {term} ")
    query = Q(search_text__contains=term)
    if len(term) >= 3 and not term.isdigit():
        query |= Q(name__trigram_word_similar=term)
    return query


def customer_search_for(user, queryset, q):
    """``customer_search`` as ``user`` may search: names only when one of the searched fields
    (numbers, e-mail, credit code) is hidden from them — a match would reveal the value."""
    names_only = bool(user and hidden_fields(user, "customer") & SEARCHED_FIELDS)
    return customer_search(queryset, q, names_only=names_only)


def customer_search(queryset, q, *, names_only=False):
    """Customers matching ``q`` in name, contact names, phone digits, e-mail or credit code, or a
    name close to it despite a typo; annotated with ``search_rank`` (exact name > name prefix >
    name substring > elsewhere, plus trigram similarity) for ordering."""
    term = search_term(q)
    if not term:
        return queryset
    similarity = TrigramWordSimilarity(term, "name")
    rank = Case(
        When(name__iexact=term, then=Value(4.0)),
        When(name__istartswith=term, then=Value(3.0)),
        When(name__icontains=term, then=Value(2.0)),
        When(search_text__contains=term, then=Value(1.0)),
        default=Value(0.0),
        output_field=FloatField(),
    )
    return queryset.filter(search_q(term, names_only=names_only)).annotate(
        search_rank=Cast(rank + Greatest(similarity, Value(0.0)), FloatField())
    )


def capped_count(queryset, limit=None, *, arms=None):
    """(count, capped): exact up to ``limit`` rows (LIST_COUNT_LIMIT), then (limit, True) — a
    bounded scan instead of counting a whole 500,000-row scope on every page load.

    ``arms``: conditions whose OR the queryset already applies (``Customer.objects.scope_arms``).
    The rows are then counted arm by arm, each arm without the rows of the arms before it, as one
    UNION ALL: each part is an index-only scan on its own index, where the OR of the scope could
    only be a bitmap scan that reads every row's page (a department manager's first page: 10,001
    pages, ~20–80 ms; arm by arm ~2 ms). The answer is the same rows."""
    limit = limit or settings.LIST_COUNT_LIMIT
    # Only the key: the list's annotations (a per-row EXISTS) and joins cost nothing here.
    rows = queryset.order_by().values("pk")
    if arms and len(arms) > 1:
        parts = [rows.filter(part) for part in disjoint(arms)]
        rows = parts[0].union(*parts[1:], all=True)
    return cap(rows[: limit + 1].count(), limit)


def cap(count, limit=None):
    """(count, capped) of a list of ``count`` rows, as ``capped_count`` answers it."""
    limit = limit or settings.LIST_COUNT_LIMIT
    return (limit, True) if count > limit else (count, False)


def disjoint(arms):
    """Each arm without the rows of the arms before it: the same rows as their OR, each once."""
    parts = []
    for index, arm in enumerate(arms):
        part = arm
        for earlier in arms[:index]:
            part &= ~earlier
        parts.append(part)
    return parts


def customer_scope_arms(*, user):
    """The rules of the user's customer scope (``CustomerQuerySet.scope_arms``), for counting and
    paging a list of ``customer_list(user=user)`` rule by rule. None: the "all" scope."""
    return Customer.objects.scope_arms(user)


def customer_capped_count(queryset, *, user, limit=None):
    """``capped_count`` of a list of customers read through ``customer_list(user=user)``."""
    return capped_count(queryset, limit, arms=customer_scope_arms(user=user))


class PagedByRule:
    """A list of ``customer_list`` (scoped, filtered) whose pages are found rule by rule: a slice
    ``[offset:stop]`` of it (ordered) reads the first ``stop`` rows of each scope rule by that
    rule's own index (``customer_dept_recent``, ``customer_owner_recent``, …), then the page
    among those. With the scope's OR the page was one walk of the whole table's newest rows,
    filtered row by row, or a bitmap scan and sort of every match (a department manager's list
    with 3 filters: 80–170 ms on a loaded machine; rule by rule ~22 ms). The same rows: a page of
    the union is among each rule's first ``stop`` rows. ``order_by`` and ``filter`` (a cursor's
    position) pass through, as cursor pagination uses them; anything else reads the queryset."""

    def __init__(self, queryset, arms):
        self.queryset = queryset
        self.arms = arms

    def __getattr__(self, name):
        return getattr(self.queryset, name)

    def order_by(self, *fields):
        return PagedByRule(self.queryset.order_by(*fields), self.arms)

    def filter(self, *args, **kwargs):
        return PagedByRule(self.queryset.filter(*args, **kwargs), self.arms)

    def __getitem__(self, key):
        if not isinstance(key, slice) or key.stop is None:
            return self.queryset[key]
        firsts = [self.queryset.filter(part).values("pk")[: key.stop] for part in disjoint(self.arms)]
        return self.queryset.filter(pk__in=firsts[0].union(*firsts[1:], all=True))[key]


# --- saved views (视图) --------------------------------------------------------------------------


def _start_of_today():
    return timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)


def _view_mine(queryset, user):
    return queryset.filter(owner_id=user.pk)


def _view_subordinates(queryset, user):
    return queryset.filter(owner_id__in=subordinates_subquery(user))


def _view_today(queryset, user):
    return queryset.filter(next_follow_up_at__lt=_start_of_today() + timedelta(days=1))


def not_followed_up_q(days, *, now=None):
    """The rule of ``not_followed_up_for`` as a condition (for counts of several thresholds in one
    statement, ``Count(filter=...)``)."""
    days = min(max(int(days), 0), 36_500)  # timedelta overflows on absurd input
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return Q(last_follow_up_at__lt=cutoff) | Q(last_follow_up_at__isnull=True, created_at__lt=cutoff)


def not_followed_up_for(queryset, days):
    """Customers without a follow-up for ``days`` days (never followed up: created that long ago)."""
    return queryset.filter(not_followed_up_q(days))


def _view_stale(queryset, user):
    return not_followed_up_for(queryset, 30)


def _view_key(queryset, user):
    top = CustomerLevel.objects.order_by("priority", "code").values("priority")[:1]
    return queryset.filter(level__priority=top)


BUILTIN_VIEWS = {
    "mine": (_view_mine, "我的客户"),
    "subordinates": (_view_subordinates, "下属的客户"),
    "today": (_view_today, "今日需联系"),
    "stale30": (_view_stale, "30天未跟进"),
    "key": (_view_key, "重点客户"),
}


def builtin_views():
    return [{"key": key, "name": _(label)} for key, (_fn, label) in BUILTIN_VIEWS.items()]


def apply_view(queryset, user, key):
    view = BUILTIN_VIEWS.get(key)
    return view[0](queryset, user) if view else queryset


def saved_view_list(*, user, target="customer"):
    return user.saved_views.filter(target=target)


# --- history and timeline -----------------------------------------------------------------------

HISTORY_HIDDEN = {"search_text", "updated_at", "version", "deleted_by"}


def customer_history(*, user, customer, limit=200):
    """The customer's changes, newest first: who, when, and per field old → new, with the same
    masking and hidden fields as the record itself. Three queries whatever the length: the rows,
    their tag snapshots, and the viewer's field rules."""
    from customers.presenters import Presenter, present_history_value

    presenter = Presenter(user, "customer")
    hidden = presenter.hidden | HISTORY_HIDDEN
    full = sees_full_contact(user=user, customer=customer)
    records = list(
        customer.history.select_related("history_user").order_by("-history_date", "-history_id")[: limit + 1]
    )
    tags_of = {record.history_id: [] for record in records}
    tag_rows = Customer.objects.tag_history_model().objects.filter(history_id__in=list(tags_of))
    for history_id, tag_id in tag_rows.order_by("tag_id").values_list("history_id", "tag_id"):
        tags_of[history_id].append(tag_id)
    entries = []
    for index, record in enumerate(records[:limit]):
        previous = records[index + 1] if index + 1 < len(records) else None
        changes = []
        if previous is not None:
            delta = record.diff_against(previous, excluded_fields=["tags"], foreign_keys_are_objs=False)
            raw = [(change.field, change.old, change.new) for change in delta.changes]
            if tags_of[record.history_id] != tags_of[previous.history_id]:
                raw.append(("tags", tags_of[previous.history_id], tags_of[record.history_id]))
            for field, old, new in raw:
                if field in hidden:
                    continue
                old = present_history_value(field, old, full=full, presenter=presenter)
                new = present_history_value(field, new, full=full, presenter=presenter)
                if old == new:  # e.g. only a hidden custom field changed
                    continue
                label = str(Customer._meta.get_field(field).verbose_name)
                changes.append({"field": field, "label": label, "old": old, "new": new})
        entries.append(
            {
                "id": record.history_id,
                "at": record.history_date,
                "user": record.history_user_id,
                "user_name": str(record.history_user) if record.history_user else "",
                "type": {"+": "created", "~": "changed", "-": "deleted"}[record.history_type],
                "reason": record.history_change_reason or "",
                "changes": changes,
            }
        )
    return entries


# Later apps add timeline sources: callables (user=, customer=) -> [entries with "at"].
TIMELINE_SOURCES = {}


def customer_timeline(*, user, customer):
    """One chronological timeline (newest first): field changes now; follow-ups, deals, contracts
    and payments join as their apps register sources."""
    entries = [{"kind": "history", **entry} for entry in customer_history(user=user, customer=customer)]
    for source in TIMELINE_SOURCES.values():
        entries.extend(source(user=user, customer=customer))
    return sorted(entries, key=lambda entry: entry["at"], reverse=True)


def customer_team_members(*, customer):
    return teams.team_members_of(CustomerTeamMember, customer)


# --- contacts -----------------------------------------------------------------------------------


def contact_list(*, user):
    return _contacts_for_display(Contact.objects.visible_to(user), user=user)


def _contacts_for_display(queryset, *, user):
    return queryset.select_related("customer").annotate(viewer_is_member=_member_exists(user, prefix="customer__"))


def contact_get_for_user(*, user, pk):
    # get_for_user applies the scope: once, not again over contact_list's.
    return get_for_user(_contacts_for_display(Contact.objects.all(), user=user), user=user, pk=pk)


def contacts_of(*, user, customer):
    return contact_list(user=user).filter(customer=customer)


# --- duplicates (客户查重) ------------------------------------------------------------------------

DUPLICATE_REASON_LABELS = {
    "name": "客户名称相似",
    "mobile": "手机相同",
    "email": "邮箱相同",
    "credit_code": "统一社会信用代码相同",
    "contact_mobile": "联系人手机相同",
    "contact_email": "联系人邮箱相同",
}


def duplicate_candidates(*, user, matches):
    """``customers.duplicates`` matches as ``user`` may see them, in the matches' order. Within the
    user's scope: a full card (name, owner, contact details masked as the user would see them,
    primary contact, link). Outside it (撞单): only that it exists — name, owner and department or
    "in the pool", last follow-up — never contact details or an id. Three queries at most."""
    from django.urls import reverse

    from customers.presenters import Presenter

    ids = [match.customer_id for match in matches]
    if not ids:
        return []
    visible = {customer.pk: customer for customer in customer_list(user=user).filter(pk__in=ids)}
    others = {
        customer.pk: customer
        for customer in Customer.objects.alive()
        .filter(pk__in=[pk for pk in ids if pk not in visible])
        .select_related("owner", "department")
        .only("pk", "name", "kind", "last_follow_up_at", "owner__display_name", "owner__username", "department__name")
    }
    primary = {}
    if visible:
        for contact in contact_list(user=user).filter(customer_id__in=list(visible), is_primary=True):
            primary[contact.customer_id] = contact
    presenter = Presenter(user, "customer")
    contact_presenter = Presenter(user, "contact")
    candidates = []
    for match in matches:
        reasons = [
            {**reason, "label": _(DUPLICATE_REASON_LABELS.get(reason["field"], reason["field"]))}
            for reason in match.reasons
        ]
        customer = visible.get(match.customer_id) or others.get(match.customer_id)
        if customer is None:  # deleted since the check
            continue
        card = {
            "in_scope": match.customer_id in visible,
            "name": customer.name,
            "in_pool": customer.owner_id is None,
            "owner_name": str(customer.owner) if customer.owner_id else "",
            "department_name": customer.department.name if customer.department_id else "",
            "last_follow_up_at": customer.last_follow_up_at,
            "reasons": reasons,
        }
        if card["in_scope"]:
            full = sees_full_contact(user=user, customer=customer)
            shown = presenter.record(
                {"mobile": customer.mobile, "phone": customer.phone, "email": customer.email}, full=full
            )
            contact = primary.get(customer.pk)
            card.update(
                id=customer.pk,
                kind=customer.kind,
                url=reverse("customers:detail", args=[customer.pk]),
                mobile=shown.get("mobile", ""),
                phone=shown.get("phone", ""),
                email=shown.get("email", ""),
                contact_masked=not full,
                primary_contact=contact_presenter.record(
                    {"name": contact.name, "mobile": contact.mobile, "email": contact.email}, full=full
                )
                if contact
                else None,
            )
        candidates.append(card)
    return candidates


# --- merges (合并) --------------------------------------------------------------------------------


def customer_merged_history(*, user, customer, merge, limit=200):
    """The history of the customer ``merge`` brought into ``customer`` (already fetched through
    the user's scope), masked as the survivor is for this user. Works after the merged customer
    was purged from the recycle bin: its history rows are kept."""
    member = getattr(customer, "viewer_is_member", None)
    if member is None:
        member = teams.is_team_member(CustomerTeamMember, customer, user)
    stub = Customer(pk=merge.other_id, owner_id=customer.owner_id)
    stub.viewer_is_member = member
    return customer_history(user=user, customer=stub, limit=limit)


def customer_merges(*, user, customer, limit=200):
    """The customers merged into ``customer`` (in the user's scope), newest first, each with its
    own history."""
    return [
        {
            "id": merge.pk,
            "other_name": merge.other_name,
            "merged_by_name": str(merge.merged_by) if merge.merged_by else "",
            "merged_at": merge.merged_at,
            "fields_taken": merge.fields_taken,
            "moved": merge.moved,
            "history": customer_merged_history(user=user, customer=customer, merge=merge, limit=limit),
        }
        for merge in CustomerMerge.objects.filter(survivor=customer).select_related("merged_by")
    ]


def customer_merge_get(*, customer, merge_pk):
    """One merge into ``customer`` (already in the user's scope), or 404."""
    try:
        return CustomerMerge.objects.select_related("merged_by").get(survivor=customer, pk=merge_pk)
    except (CustomerMerge.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def _merge_timeline(*, user, customer):
    """Timeline lines "合并了客户「X」" with a pointer to the merged customer's history."""
    from django.urls import reverse

    return [
        {
            "kind": "merge",
            "at": merge.merged_at,
            "user_name": str(merge.merged_by) if merge.merged_by else "",
            "title": _("合并了客户「%(name)s」") % {"name": merge.other_name},
            "text": "",
            "url": reverse("customers:merged_history", args=[customer.pk, merge.pk]),
            "link_text": _("查看被合并客户的历史"),
        }
        for merge in CustomerMerge.objects.filter(survivor=customer).select_related("merged_by")
    ]


TIMELINE_SOURCES["merges"] = _merge_timeline
