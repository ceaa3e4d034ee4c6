"""Server-rendered customer pages: the list (filters, saved views, search, sorting, bulk actions),
create/edit forms, the 360 page (details, contacts, team, timeline) and the recycle bin.

Pages only translate between HTTP and the domain: reads come from ``customers.selectors`` (scope,
masking decisions), writes go through ``customers.services`` (validation, permissions on rows and
fields, history, audit). A rule found here is a bug."""

import datetime
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from analytics.models import Lifecycle
from crm import regions
from crm.errors import ConflictError, DomainError
from customers import selectors, services
from customers.custom_fields import PREFIX, definitions
from customers.filters import CustomerFilterSet
from customers.forms import ContactForm, CustomerForm
from customers.models import (
    Customer,
    CustomerKind,
    CustomerLevel,
    CustomFieldTarget,
    CustomFieldType,
    DealStatus,
    Industry,
    Source,
    Tag,
)
from customers.presenters import CUSTOM_MASKERS, MASKERS, Presenter, custom_display, readable_history
from staff.fieldperms import hidden_fields
from staff.models import Department
from staff.selectors import user_list
from staff.teams import TeamAccess

PAGE_SIZES = (20, 50, 100)
# Column key → order_by fields (nulls last either way) and the direction a first click sorts in.
SORTS = {
    "name": (("name",), "asc"),
    "level": (("level__priority", "level__code"), "asc"),
    "owner": (("owner__display_name", "owner__username"), "asc"),
    "last_follow_up": (("last_follow_up_at",), "desc"),
    "next_follow_up": (("next_follow_up_at",), "asc"),
    "created": (("created_at",), "desc"),
    "updated": (("updated_at",), "desc"),
    # The customer profile (analytics app); customers without one sort last either way.
    "churn_risk": (("profile__churn_risk",), "desc"),
    "predicted_value": (("profile__predicted_value",), "desc"),
    "lifecycle": (("profile__lifecycle",), "asc"),
}
DEFAULT_SORT = "-updated"
# Offsets beyond this many pages are not served (an absurd page number would overflow SQL's
# OFFSET); narrowing the filters is the way deeper.
MAX_PAGE = 10_000
# List parameters that are not filters (kept out of saved views and of "is this view active").
NON_FILTER_PARAMS = {"page", "per_page", "sort"}
# Filters that take several values (saved as lists, like the API's saved views).
MULTI_PARAMS = {
    "level", "source", "industry", "tags", "tags_all", "owner", "department", "lifecycle", "recency", "frequency",
    "monetary",
}  # fmt: skip
MASKABLE = set(MASKERS)
MASKABLE_CUSTOM_TYPES = set(CUSTOM_MASKERS)
# Customers one bulk request may act on (a page holds at most 100).
BULK_LIMIT = services.TRANSFER_BATCH_LIMIT

# Later apps add panels to the 360 page (open deals, contracts…): callables (request, customer) ->
# {"template": ..., **context} or None, rendered in order above the timeline. Registered from the
# app's AppConfig.ready(); each reads through its own selectors (scope included).
DETAIL_PANELS = {}


def _is_htmx(request):
    return request.headers.get("HX-Request") == "true"


def _next_url(request, default):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _error_messages(error):
    """Flat, user-facing messages of a ValidationError or DomainError."""
    if isinstance(error, DomainError):
        texts = [str(error.message)]
        for value in error.fields.values():
            if isinstance(value, dict):
                value = [message for messages_ in value.values() for message in messages_]
            texts.extend(str(message) for message in value)
        return list(dict.fromkeys(texts))
    if hasattr(error, "message_dict"):
        texts = []
        for value in error.message_dict.values():
            for message in value:
                texts.extend(message.values() if isinstance(message, dict) else [message])
        return [str(text) for text in texts]
    return [str(message) for message in error.messages]


# --- forms: POST → the services' data shape, and Bootstrap rendering ------------------------------


def _is_multi(field):
    return isinstance(field, forms.MultipleChoiceField)


def _form_data(form, post, *, keep_if_blank=()):
    """The request's values in the services' shape: built-in names, ``tags`` as a list,
    ``cf_<key>`` folded into ``custom_fields`` (multi-choice as lists). Disabled (read-only)
    fields are not sent, so the stored value stays; so are fields in ``keep_if_blank`` (masked
    numbers the user did not retype)."""
    data, custom = {}, {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        if _is_multi(field):
            value = post.getlist(name)
        elif isinstance(field.widget, forms.CheckboxInput):
            value = name in post and post.get(name) not in ("", "false", "0", "off")
        else:
            value = post.get(name, "")
            if name in keep_if_blank and not value.strip():
                continue
            if isinstance(field, forms.ModelChoiceField) and value == "":
                value = None
        if name.startswith(PREFIX):
            custom[name[len(PREFIX) :]] = value
        else:
            data[name] = value
    if custom:
        data["custom_fields"] = custom
    return data


def _masked_names(form, *, full):
    """Fields whose stored value this user sees masked: shown blank (with the masked value as a
    hint) and kept unless retyped, so an edit form never reveals a full number."""
    if full:
        return set()
    names = {name for name in MASKABLE if name in form.fields}
    for definition in getattr(form, "custom_definitions", []):
        name = PREFIX + definition.key
        if definition.type in MASKABLE_CUSTOM_TYPES and name in form.fields:
            names.add(name)
    return names


def _region_choices(items):
    """(code, name) pairs from ``crm.regions`` (tuples, or dicts/objects with code and name)."""
    choices = []
    for item in items or []:
        if isinstance(item, tuple | list):
            code, name = item[0], item[1]
        elif isinstance(item, dict):
            code, name = item["code"], item["name"]
        else:
            code, name = item.code, item.name
        choices.append((str(code), str(name)))
    return choices


def _region_children(code):
    if not code:
        return []
    try:
        return _region_choices(regions.children(code))
    except (KeyError, LookupError, ValueError):
        return []


def _use_region_selects(form):
    """Province → city → district as cascading selects (htmx loads the next level's options)."""
    if "province" not in form.fields:
        return
    url = reverse("customers:regions")
    levels = [
        ("province", _("请选择省份"), _region_choices(regions.provinces()), "city"),
        ("city", _("请选择城市"), _region_children(form["province"].value()), "district"),
        ("district", _("请选择区县"), _region_children(form["city"].value()), None),
    ]
    for name, placeholder, choices, child in levels:
        if name not in form.fields:
            continue
        field = form.fields[name]
        attrs = {"class": "form-select"}
        if child and child in form.fields:
            attrs.update({"hx-get": url, "hx-target": f"#id_{child}", "hx-trigger": "change", "hx-swap": "innerHTML"})
        field.widget = forms.Select(choices=[("", placeholder), *choices], attrs=attrs)


def _prepare_form(form, *, masked=(), placeholders=None):
    """Bootstrap touches the shared forms leave to pages: datetime-local values, tag checkboxes,
    region selects, ``is-invalid`` on fields with errors, masked values as placeholders."""
    if "tags" in form.fields and not isinstance(form.fields["tags"].widget, forms.CheckboxSelectMultiple):
        field = form.fields["tags"]
        field.widget = forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"})
        field.widget.choices = field.choices
    _use_region_selects(form)
    for name in masked:
        # Never the stored value: a disabled (read-only) field renders its initial value even on
        # a re-rendered, bound form.
        form.initial[name] = ""
        # Validation may already have built the BoundField and cached its initial value.
        form[name].__dict__["initial"] = ""
        widget = form.fields[name].widget
        hint = (placeholders or {}).get(name)
        if hint:
            widget.attrs["placeholder"] = hint
        form.fields[name].help_text = _("已脱敏显示；留空则保持原值，输入新值则替换。")
    if form.is_bound:
        for name in form.errors:
            if name in form.fields:
                widget = form.fields[name].widget
                widget.attrs["class"] = (widget.attrs.get("class", "") + " is-invalid").strip()
    return form


def _field_kind(field):
    widget = field.widget
    if isinstance(widget, forms.CheckboxSelectMultiple):
        return "checkboxes"
    if isinstance(widget, forms.CheckboxInput):
        return "checkbox"
    return "input"


CUSTOMER_SECTIONS = [
    (_("基本信息"), ["name", "kind", "credit_code", "level", "source", "industry", "tags"]),
    (_("联系方式"), ["mobile", "phone", "email", "website"]),
    (_("地址"), ["province", "city", "district", "address"]),
    (_("跟进与备注"), ["next_follow_up_at", "remark"]),
]
WIDE_FIELDS = {"tags", "address", "remark"}


def _sections(form, layout):
    """The form's fields grouped for the template: [(title, [(bound field, kind, wide)])], custom
    fields last."""

    def entry(name):
        field = form.fields[name]
        wide = name in WIDE_FIELDS or isinstance(field.widget, forms.Textarea | forms.CheckboxSelectMultiple)
        return {"field": form[name], "kind": _field_kind(field), "wide": wide}

    sections = []
    placed = set()
    for title, names in layout:
        present = [name for name in names if name in form.fields]
        placed.update(present)
        if present:
            sections.append({"title": title, "fields": [entry(name) for name in present]})
    custom = [name for name in form.fields if name.startswith(PREFIX)]
    rest = [name for name in form.fields if name not in placed and not name.startswith(PREFIX)]
    if rest:
        sections.append({"title": _("其他"), "fields": [entry(name) for name in rest]})
    if custom:
        sections.append({"title": _("自定义字段"), "fields": [entry(name) for name in custom]})
    return sections


def _bind_masked_as_typed(form, post, masked):
    """A form re-rendered after an error shows what the user typed in masked fields — never the
    stored full value the service merged in for validation."""
    if not masked or not form.is_bound:
        return form
    data = form.data.copy()
    for name in masked:
        data[name] = post.get(name, "")
    form.data = data
    return form


# --- list -----------------------------------------------------------------------------------------


def _ordered(queryset, sort, hidden=frozenset()):
    key = sort.lstrip("-")
    if key not in SORTS or SORTS[key][0][0].split("__")[0] in hidden:  # no sorting by a hidden field
        if "search_rank" in queryset.query.annotations:
            return queryset.order_by("-search_rank", "-id"), ""
        sort, key = DEFAULT_SORT, DEFAULT_SORT.lstrip("-")
    descending = sort.startswith("-")
    fields, _default = SORTS[key]
    order = [F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True) for name in fields]
    return queryset.order_by(*order, "-id" if descending else "id"), sort


def _sort_links(current):
    links = {}
    for key, (_fields, default) in SORTS.items():
        if current == key:
            links[key] = {"param": f"-{key}", "direction": "asc"}
        elif current == f"-{key}":
            links[key] = {"param": key, "direction": "desc"}
        else:
            links[key] = {"param": key if default == "asc" else f"-{key}", "direction": None}
    return links


def _page_params(request):
    try:
        page = min(max(1, int(request.GET.get("page", 1))), MAX_PAGE)
    except ValueError:
        page = 1
    try:
        per_page = int(request.GET.get("per_page", PAGE_SIZES[0]))
    except ValueError:
        per_page = PAGE_SIZES[0]
    return page, per_page if per_page in PAGE_SIZES else PAGE_SIZES[0]


def _filter_params(querydict):
    """The filters of a query string as a saved view's ``params`` ({name: value or [values]})."""
    params = {}
    for name in sorted(querydict):
        if name in NON_FILTER_PARAMS:
            continue
        values = [value for value in querydict.getlist(name) if value.strip()]
        if not values:
            continue
        params[name] = values if name in MULTI_PARAMS or len(values) > 1 else values[0]
    return params


def _params_query(params):
    return urlencode(params, doseq=True)


def _present_customer(presenter, user, customer):
    full = selectors.sees_full_contact(user=user, customer=customer)
    data = {
        "name": customer.name,
        "kind": customer.get_kind_display(),
        "mobile": customer.mobile,
        "phone": customer.phone,
        "email": customer.email,
        "level": customer.level,
        "tags": list(customer.tags.all()),
        "owner": customer.owner,
        "department": customer.department,
        "deal_status": customer.deal_status,
        "last_follow_up_at": customer.last_follow_up_at,
        "next_follow_up_at": customer.next_follow_up_at,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        # The customer profile (analytics app), joined by the list's queryset; None until computed.
        "profile": getattr(customer, "profile", None),
    }
    return {"pk": customer.pk, "masked": not full, **presenter.record(data, full=full)}


def _filter_panel(filterset, user, hidden):
    """What the filters panel offers (options loaded once) and what is selected now."""
    data = filterset.form.data

    def selected(name):
        return set(data.getlist(name)) if hasattr(data, "getlist") else set()

    def options(rows, name):
        chosen = selected(name)
        return [{"value": str(row.pk), "label": str(row), "checked": str(row.pk) in chosen, "row": row} for row in rows]

    custom = []
    for definition in filterset.custom_definitions:
        if f"cf.{definition.key}" in hidden:
            continue
        name = PREFIX + definition.key
        entry = {"definition": definition, "name": name, "type": definition.type}
        if definition.type in (CustomFieldType.NUMBER, CustomFieldType.DATE):
            entry["min"] = data.get(f"{name}_min", "")
            entry["max"] = data.get(f"{name}_max", "")
        else:
            entry["value"] = data.get(name, "")
        custom.append(entry)

    panel = {
        "levels": options(CustomerLevel.objects.all(), "level"),
        "sources": options(Source.objects.all(), "source"),
        "industries": options(Industry.objects.all(), "industry"),
        "tags": options(Tag.objects.all(), "tags"),
        "tags_all": options(Tag.objects.all(), "tags_all"),
        "owners": options(user_list().filter(is_active=True), "owner"),
        "departments": options(Department.objects.all(), "department"),
        "kinds": [(value, label) for value, label in CustomerKind.choices],
        "deal_statuses": [(value, label) for value, label in DealStatus.choices],
        "provinces": _region_choices(regions.provinces()),
        "lifecycles": [
            {"value": value, "label": label, "checked": value in selected("lifecycle")}
            for value, label in Lifecycle.choices
        ],
        "custom": custom,
        "values": {
            name: data.get(name, "")
            for name in [
                "kind",
                "deal_status",
                "province",
                "created_after",
                "created_before",
                "last_follow_up_after",
                "last_follow_up_before",
                "next_follow_up_after",
                "next_follow_up_before",
                "churn_risk_gt",
            ]
        },  # fmt: skip
        "hidden": hidden,
    }
    active = _filter_params(data) if hasattr(data, "getlist") else {}
    panel["active_count"] = len([name for name in active if name not in ("q", "view")])
    return panel


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_GET
def customer_list(request):
    user = request.user
    filterset = CustomerFilterSet(request.GET, queryset=selectors.customer_list(user=user), request=request, user=user)
    queryset = filterset.qs
    count, capped = selectors.capped_count(queryset)
    queryset = queryset.select_related("profile")
    queryset, sort = _ordered(queryset, request.GET.get("sort", ""), hidden_fields(user, "customer"))
    page, per_page = _page_params(request)
    offset = (page - 1) * per_page
    # One row more than the page tells whether there is a next page without counting the scope.
    customers = list(queryset[offset : offset + per_page + 1])
    has_next = len(customers) > per_page
    presenter = Presenter(user, "customer")
    rows = [_present_customer(presenter, user, customer) for customer in customers[:per_page]]

    current = _filter_params(request.GET)
    saved_views = [
        {"view": view, "query": _params_query(view.params), "active": bool(current) and view.params == current}
        for view in selectors.saved_view_list(user=user)
    ]
    builtin = [
        {**view, "query": _params_query({"view": view["key"]}), "active": current == {"view": view["key"]}}
        for view in selectors.builtin_views()
    ]
    context = {
        "active_nav": "customers",
        "rows": rows,
        "hidden": presenter.hidden,
        "count": count,
        "capped": capped,
        "page": page,
        "per_page": per_page,
        "page_sizes": PAGE_SIZES,
        "has_next": has_next,
        "has_previous": page > 1,
        "first_row": offset + 1 if rows else 0,
        "last_row": offset + len(rows),
        "sort": sort,
        "sort_links": _sort_links(sort),
        "default_sort": DEFAULT_SORT,
        "q": request.GET.get("q", ""),
        "view_key": request.GET.get("view", ""),
        "builtin_views": builtin,
        "saved_views": saved_views,
        "all_active": not current,
        "current_query": _params_query(current),
        "can_save_view": bool(current) and not any(view["active"] for view in saved_views),
        "filter_errors": filterset.form.errors if filterset.is_bound else {},
        "panel": _filter_panel(filterset, user, presenter.hidden),
        "can_add": user.has_perm("customers.add_customer"),
        "can_transfer": user.has_perm("customers.transfer_customer"),
        "can_tag": user.has_perm("customers.change_customer"),
        "can_delete": user.has_perm("customers.delete_customer"),
        "transfer_targets": user_list().filter(is_active=True).select_related(None),
        "all_tags": Tag.objects.all(),
    }
    return render(request, "customers/list.html", context)


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_POST
def customer_bulk(request):
    """Bulk actions of the list: transfer (转移), add a tag, delete to the recycle bin."""
    user = request.user
    back = _next_url(request, reverse("customers:list"))
    action = request.POST.get("action", "")
    try:
        ids = sorted({int(value) for value in request.POST.getlist("ids")})
    except ValueError:
        ids = []
    if not ids:
        messages.error(request, _("请先选择客户。"))
        return redirect(back)
    if len(ids) > BULK_LIMIT:
        messages.error(request, _("一次最多操作 %(n)s 个客户。") % {"n": BULK_LIMIT})
        return redirect(back)
    required = {
        "transfer": "customers.transfer_customer",
        "tag": "customers.change_customer",
        "delete": "customers.delete_customer",
    }.get(action)
    if required is None:
        messages.error(request, _("未知的操作。"))
        return redirect(back)
    if not user.has_perm(required):
        raise PermissionDenied
    customers = list(selectors.customer_list(user=user).filter(pk__in=ids))
    if len(customers) != len(ids):
        messages.error(request, _("部分客户不存在或您无权操作。"))
        return redirect(back)
    try:
        if action == "transfer":
            done = _bulk_transfer(request, customers)
            messages.success(request, ngettext("已转移 %(n)s 个客户", "已转移 %(n)s 个客户", done) % {"n": done})
        elif action == "tag":
            tag, done = _bulk_tag(request, customers)
            messages.success(request, _("已为 %(n)s 个客户添加标签「%(tag)s」") % {"n": done, "tag": tag.name})
        else:
            done = _bulk_delete(request, customers)
            messages.success(
                request, ngettext("已删除 %(n)s 个客户到回收站", "已删除 %(n)s 个客户到回收站", done) % {"n": done}
            )
    except (ValidationError, DomainError) as error:
        for text in _error_messages(error):
            messages.error(request, text)
    return redirect(back)


def _bulk_transfer(request, customers):
    to_owner = user_list().filter(pk=_int_or_none(request.POST.get("to_owner")), is_active=True).first()
    if to_owner is None:
        raise ValidationError({"to_owner": [_("请选择接收人。")]})
    return services.customer_transfer(
        user=request.user,
        customers=customers,
        to_owner=to_owner,
        reason=request.POST.get("reason", ""),
        request=request,
        options={name: request.POST.get(name) == "on" for name in ("opportunities", "tasks", "contracts")},
    )


def _bulk_tag(request, customers):
    tag = Tag.objects.filter(pk=_int_or_none(request.POST.get("tag"))).first()
    if tag is None:
        raise ValidationError({"tag": [_("请选择标签。")]})
    return tag, services.customer_tag_add(user=request.user, customers=customers, tag=tag)


def _bulk_delete(request, customers):
    return services.customer_delete_many(user=request.user, customers=customers, request=request)


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_POST
def saved_view_save(request):
    """ "保存当前筛选": the list's current filters under a name of the user's choosing."""
    params = _filter_params(QueryDict(request.POST.get("params", "")))
    back = reverse("customers:list") + ("?" + _params_query(params) if params else "")
    if not params:
        messages.error(request, _("请先设置筛选条件。"))
        return redirect(back)
    try:
        view = services.saved_view_create(user=request.user, name=request.POST.get("name", ""), params=params)
    except ValidationError as error:
        for text in _error_messages(error):
            messages.error(request, text)
    else:
        messages.success(request, _("已保存视图「%(name)s」") % {"name": view.name})
    return redirect(back)


@login_required
@require_POST
def saved_view_remove(request, view_pk):
    view = selectors.saved_view_list(user=request.user).filter(pk=view_pk).first()
    if view is None:
        raise Http404
    services.saved_view_delete(user=request.user, view=view)
    messages.success(request, _("已删除视图「%(name)s」") % {"name": view.name})
    return redirect("customers:list")


# --- recycle bin ----------------------------------------------------------------------------------


@login_required
@permission_required(["customers.view_customer", "customers.delete_customer"], raise_exception=True)
@require_GET
def recycle_bin(request):
    page, per_page = _page_params(request)
    offset = (page - 1) * per_page
    queryset = selectors.customer_recycle_bin(user=request.user).order_by("-deleted_at", "-id")
    rows = list(queryset[offset : offset + per_page + 1])
    context = {
        "active_nav": "customers",
        "rows": rows[:per_page],
        "page": page,
        "has_next": len(rows) > per_page,
        "has_previous": page > 1,
        "recycle_days": settings.CUSTOMER_RECYCLE_BIN_DAYS,
    }
    return render(request, "customers/recycle_bin.html", context)


@login_required
@permission_required(["customers.view_customer", "customers.delete_customer"], raise_exception=True)
@require_POST
def customer_restore(request, pk):
    customer = selectors.customer_recycle_bin_get(user=request.user, pk=pk)
    try:
        services.customer_restore(user=request.user, customer=customer, request=request)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("customers:recycle_bin")
    messages.success(request, _("已恢复客户「%(name)s」") % {"name": customer.name})
    return redirect("customers:recycle_bin")


# --- create and edit ------------------------------------------------------------------------------


def _render_customer_form(request, form, *, customer=None, version=None, conflict=None, duplicates=None, status=200):
    context = {
        "active_nav": "customers",
        "form": form,
        "sections": _sections(form, CUSTOMER_SECTIONS),
        "customer": customer,
        "version": version,
        "conflict": conflict,
        # 客户查重: the candidates a save hit, and whether the user may save anyway.
        "duplicates": duplicates.extra.get("candidates", []) if duplicates else None,
        "can_force": bool(duplicates and duplicates.extra.get("can_force")),
        "can_merge": customer is not None
        and request.user.has_perms(["customers.change_customer", "customers.delete_customer"]),
    }
    return render(request, "customers/form.html", context, status=status)


def _domain_error_on_form(form, error):
    """A DomainError's field messages shown next to their fields (custom fields under cf_)."""
    form.is_valid()
    for name, value in error.fields.items():
        if name == "custom_fields" and isinstance(value, dict):
            for key, texts in value.items():
                target = PREFIX + key if PREFIX + key in form.fields else None
                form.add_error(target, texts)
        else:
            form.add_error(name if name in form.fields else None, value)
    if not error.fields:
        form.add_error(None, str(error.message))


@login_required
@permission_required("customers.add_customer", raise_exception=True)
def customer_create(request):
    user = request.user
    if request.method == "POST":
        layout = CustomerForm(user=user)
        try:
            customer = services.customer_create(
                user=user, data=_form_data(layout, request.POST), force=request.POST.get("force") == "1"
            )
        except services.FormValidationError as error:
            form = error.form
        except ConflictError as error:  # duplicates (客户查重)
            form = CustomerForm(data=request.POST, user=user)
            form.is_valid()
            return _render_customer_form(request, _prepare_form(form), duplicates=error, status=409)
        except DomainError as error:
            form = CustomerForm(data=request.POST, user=user)
            _domain_error_on_form(form, error)
        except ValidationError as error:
            form = CustomerForm(data=request.POST, user=user)
            form.is_valid()
            form.add_error(None, _error_messages(error))
        else:
            messages.success(request, _("已保存"))
            return redirect("customers:detail", pk=customer.pk)
        return _render_customer_form(request, _prepare_form(form), status=400)
    return _render_customer_form(request, _prepare_form(CustomerForm(user=user)))


@login_required
@permission_required("customers.change_customer", raise_exception=True)
def customer_edit(request, pk):
    user = request.user
    customer = selectors.customer_get_for_user(user=user, pk=pk)
    if not selectors.customer_editable(user=user, customer=customer):
        raise PermissionDenied
    full = selectors.sees_full_contact(user=user, customer=customer)
    layout = CustomerForm(instance=customer, user=user)
    hints = _masked_hints(Presenter(user, "customer"), customer, _masked_names(layout, full=full))
    masked = set(hints)  # only fields with a stored value have something to hide
    if request.method == "POST":
        version = request.POST.get("version", "")
        try:
            services.customer_update(
                user=user,
                customer=customer,
                version=version,
                data=_form_data(layout, request.POST, keep_if_blank=masked),
                force=request.POST.get("force") == "1",
            )
        except ConflictError as error:
            form = CustomerForm(data=request.POST, instance=customer, user=user)
            form = _prepare_form(form, masked=masked, placeholders=hints)
            if error.code == "duplicate":
                return _render_customer_form(
                    request, form, customer=customer, version=version, duplicates=error, status=409
                )
            return _render_customer_form(request, form, customer=customer, version=version, conflict=error, status=409)
        except services.FormValidationError as error:
            form = _bind_masked_as_typed(error.form, request.POST, masked)
        except DomainError as error:
            form = CustomerForm(data=request.POST, instance=customer, user=user)
            _domain_error_on_form(form, error)
        except ValidationError as error:
            form = CustomerForm(data=request.POST, instance=customer, user=user)
            form.is_valid()
            form.add_error(None, _error_messages(error))
        else:
            messages.success(request, _("已保存"))
            return redirect("customers:detail", pk=customer.pk)
        form = _prepare_form(form, masked=masked, placeholders=hints)
        return _render_customer_form(request, form, customer=customer, version=version, status=400)
    for name in masked:
        layout.initial[name] = ""
    form = _prepare_form(layout, masked=masked, placeholders=hints)
    return _render_customer_form(request, form, customer=customer, version=customer.version)


def _masked_hints(presenter, record, masked):
    """The masked values to show as placeholders of masked inputs."""
    data = {name: getattr(record, name) for name in MASKABLE if name in masked}
    data["custom_fields"] = {
        name[len(PREFIX) :]: (record.custom_fields or {}).get(name[len(PREFIX) :])
        for name in masked
        if name.startswith(PREFIX)
    }
    shown = presenter.record(data, full=False)
    hints = {name: value for name, value in shown.items() if name in MASKABLE and value}
    for key, value in (shown.get("custom_fields") or {}).items():
        if value:
            hints[PREFIX + key] = value
    return hints


@login_required
@permission_required("customers.delete_customer", raise_exception=True)
@require_POST
def customer_remove(request, pk):
    customer = selectors.customer_get_for_user(user=request.user, pk=pk)
    try:
        services.customer_delete(user=request.user, customer=customer, request=request)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("customers:detail", pk=pk)
    messages.success(request, _("已删除客户「%(name)s」到回收站") % {"name": customer.name})
    return redirect("customers:list")


# --- the 360 page ---------------------------------------------------------------------------------

DETAIL_FIELDS = [
    "kind", "credit_code", "level", "tags", "industry", "source", "owner", "department", "deal_status",
    "region", "address", "website", "next_follow_up_at", "last_follow_up_at", "remark", "created_by",
    "created_at", "updated_at",
]  # fmt: skip


def _region_label(province, city, district):
    if not (province or city or district):
        return ""
    try:
        return regions.region_label(province, city, district)
    except (KeyError, LookupError, ValueError):
        return " ".join(code for code in (province, city, district) if code)


def _detail_context(request, customer, *, revealed=None):
    user = request.user
    presenter = Presenter(user, "customer")
    full = selectors.sees_full_contact(user=user, customer=customer)
    data = {
        "name": customer.name,
        "mobile": customer.mobile,
        "phone": customer.phone,
        "email": customer.email,
        "kind": customer.get_kind_display(),
        "credit_code": customer.credit_code,
        "level": customer.level,
        "tags": list(customer.tags.all()),
        "industry": customer.industry,
        "source": customer.source,
        "owner": customer.owner,
        "department": customer.department,
        "deal_status": customer.get_deal_status_display(),
        "province": customer.province,
        "city": customer.city,
        "district": customer.district,
        "address": customer.address,
        "website": customer.website,
        "next_follow_up_at": customer.next_follow_up_at,
        "last_follow_up_at": customer.last_follow_up_at,
        "remark": customer.remark,
        "created_by": customer.created_by,
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
        "custom_fields": customer.custom_fields,
    }
    shown = presenter.record(data, full=full)
    if revealed:
        for name in MASKABLE:
            if name in shown and name in revealed:
                shown[name] = revealed[name]
        shown["custom_fields"] = presenter.custom_fields(customer.custom_fields, full=True)
    labels = {field.name: field.verbose_name for field in Customer._meta.get_fields() if hasattr(field, "verbose_name")}
    labels["region"] = _("所在地区")
    if any(name in shown for name in ("province", "city", "district")):
        shown["region"] = _region_label(shown.get("province"), shown.get("city"), shown.get("district"))
    details = [
        {
            "name": name,
            "label": labels[name],
            "value": shown[name],
            "is_datetime": isinstance(shown[name], datetime.datetime),
        }
        for name in DETAIL_FIELDS
        if name in shown
    ]
    contact_values = [
        {"name": name, "label": labels[name], "value": shown[name]}
        for name in ("mobile", "phone", "email")
        if name in shown
    ]
    custom_defs = {definition.key: definition for definition in definitions(CustomFieldTarget.CUSTOMER)}
    custom = [
        {"label": definition.label, "value": custom_display(definition, shown["custom_fields"].get(key))}
        for key, definition in custom_defs.items()
        if f"cf.{key}" not in presenter.hidden
    ]

    editable = selectors.customer_editable(user=user, customer=customer)
    can_manage_team = user.has_perm("customers.change_customer") and selectors.customer_team_manageable(
        user=user, customer=customer
    )
    members = selectors.customer_team_members(customer=customer)
    member_ids = {entry["user"].pk for entry in members}
    return {
        "active_nav": "customers",
        "customer": customer,
        "shown": shown,
        "details": details,
        "contact_values": contact_values,
        "masked": not full and not revealed,
        "custom": custom,
        "can_reveal": not full and not revealed and selectors.can_reveal(user=user, customer=customer),
        "can_edit": editable and user.has_perm("customers.change_customer"),
        "can_delete": editable and user.has_perm("customers.delete_customer"),
        "contacts": _contacts(request, customer, revealed=revealed),
        "can_add_contact": editable and user.has_perm("customers.add_contact"),
        "can_change_contact": editable and user.has_perm("customers.change_contact"),
        "can_delete_contact": editable and user.has_perm("customers.delete_contact"),
        "members": members,
        "can_manage_team": can_manage_team,
        "member_choices": (
            [
                colleague
                for colleague in user_list().filter(is_active=True)
                if colleague.pk != customer.owner_id and colleague.pk not in member_ids
            ]
            if can_manage_team
            else []
        ),
        "team_accesses": TeamAccess.choices,
        "timeline": _timeline(user, customer),
        "can_merge": user.has_perms(["customers.change_customer", "customers.delete_customer"])
        and (can_manage_team or selectors.customer_team_manageable(user=user, customer=customer)),
        "panels": [panel for source in DETAIL_PANELS.values() if (panel := source(request, customer))],
    }


def _contacts(request, customer, *, revealed=None):
    user = request.user
    presenter = Presenter(user, "contact")
    full = selectors.sees_full_contact(user=user, customer=customer)
    full_values = {row["id"]: row for row in (revealed or {}).get("contacts", [])}
    rows = []
    for contact in selectors.contacts_of(user=user, customer=customer):
        data = {
            "name": contact.name,
            "title": contact.title,
            "mobile": contact.mobile,
            "email": contact.email,
            "wechat": contact.wechat,
            "birthday": contact.birthday,
            "is_primary": contact.is_primary,
            "remark": contact.remark,
        }
        shown = presenter.record(data, full=full)
        for name, value in full_values.get(contact.pk, {}).items():
            if name in shown:
                shown[name] = value
        rows.append({"pk": contact.pk, **shown})
    return {"rows": rows, "hidden": presenter.hidden}


# Historical values of these fields are ids: shown by name.
def _timeline(user, customer):
    return readable_history(selectors.customer_timeline(user=user, customer=customer))


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_GET
def customer_detail(request, pk):
    customer = selectors.customer_get_for_user(user=request.user, pk=pk)
    return render(request, "customers/detail.html", _detail_context(request, customer))


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_POST
def customer_reveal(request, pk):
    """ "查看完整号码": the full numbers (audit-logged by the service). htmx swaps them into the
    page; without JavaScript the whole page comes back with them."""
    customer = selectors.customer_get_for_user(user=request.user, pk=pk)
    try:
        revealed = services.customer_contact_reveal(user=request.user, customer=customer, request=request)
    except DomainError as error:
        if _is_htmx(request):
            return render(request, "customers/partials/_alert.html", {"message": error.message, "level": "danger"})
        raise PermissionDenied(error.message) from error
    context = _detail_context(request, customer, revealed=revealed)
    if _is_htmx(request):
        return render(request, "customers/partials/_reveal_response.html", context)
    return render(request, "customers/detail.html", context)


# --- contacts -------------------------------------------------------------------------------------

CONTACT_SECTIONS = [(_("联系人"), ["name", "title", "mobile", "email", "wechat", "birthday", "is_primary", "remark"])]


def _render_contact_form(request, form, customer, contact=None, status=200):
    context = {
        "active_nav": "customers",
        "form": form,
        "sections": _sections(form, CONTACT_SECTIONS),
        "customer": customer,
        "contact": contact,
    }
    return render(request, "customers/contact_form.html", context, status=status)


def _editable_customer(request, pk):
    customer = selectors.customer_get_for_user(user=request.user, pk=pk)
    if not selectors.customer_editable(user=request.user, customer=customer):
        raise PermissionDenied
    return customer


def _customer_contact(request, pk, contact_pk):
    contact = selectors.contact_get_for_user(user=request.user, pk=contact_pk)
    if contact.customer_id != pk:
        raise Http404
    return contact


@login_required
@permission_required("customers.add_contact", raise_exception=True)
def contact_create(request, pk):
    user = request.user
    customer = _editable_customer(request, pk)
    if request.method == "POST":
        layout = ContactForm(user=user)
        try:
            services.contact_create(user=user, customer=customer, data=_form_data(layout, request.POST))
        except services.FormValidationError as error:
            form = error.form
        except (DomainError, ValidationError) as error:
            form = ContactForm(data=request.POST, user=user)
            if isinstance(error, DomainError):
                _domain_error_on_form(form, error)
            else:
                form.is_valid()
                form.add_error(None, _error_messages(error))
        else:
            messages.success(request, _("已添加联系人"))
            return redirect(reverse("customers:detail", args=[customer.pk]) + "#contacts")
        return _render_contact_form(request, _prepare_form(form), customer, status=400)
    return _render_contact_form(request, _prepare_form(ContactForm(user=user)), customer)


@login_required
@permission_required("customers.change_contact", raise_exception=True)
def contact_edit(request, pk, contact_pk):
    user = request.user
    customer = _editable_customer(request, pk)
    contact = _customer_contact(request, pk, contact_pk)
    layout = ContactForm(instance=contact, user=user)
    masked_names = _masked_names(layout, full=selectors.contact_sees_full(user=user, contact=contact))
    hints = _masked_hints(Presenter(user, "contact"), contact, masked_names)
    masked = set(hints)  # only fields with a stored value have something to hide
    if request.method == "POST":
        try:
            services.contact_update(
                user=user, contact=contact, data=_form_data(layout, request.POST, keep_if_blank=masked)
            )
        except services.FormValidationError as error:
            form = _bind_masked_as_typed(error.form, request.POST, masked)
        except (DomainError, ValidationError) as error:
            form = ContactForm(data=request.POST, instance=contact, user=user)
            if isinstance(error, DomainError):
                _domain_error_on_form(form, error)
            else:
                form.is_valid()
                form.add_error(None, _error_messages(error))
        else:
            messages.success(request, _("已保存"))
            return redirect(reverse("customers:detail", args=[customer.pk]) + "#contacts")
        form = _prepare_form(form, masked=masked, placeholders=hints)
        return _render_contact_form(request, form, customer, contact, status=400)
    for name in masked:
        layout.initial[name] = ""
    return _render_contact_form(request, _prepare_form(layout, masked=masked, placeholders=hints), customer, contact)


@login_required
@permission_required("customers.delete_contact", raise_exception=True)
@require_POST
def contact_remove(request, pk, contact_pk):
    customer = selectors.customer_get_for_user(user=request.user, pk=pk)
    contact = _customer_contact(request, pk, contact_pk)
    try:
        services.contact_delete(user=request.user, contact=contact, request=request)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("已删除联系人「%(name)s」") % {"name": contact.name})
    return redirect(reverse("customers:detail", args=[customer.pk]) + "#contacts")


# --- team members ---------------------------------------------------------------------------------


def _parse_local_datetime(value):
    """A datetime-local input ("2026-05-01T18:00") as an aware time in the user's time zone."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:  # well-formed but impossible, e.g. 2026-13-45T99:99
        parsed = None
    if parsed is None:
        try:
            parsed = datetime.datetime.combine(datetime.date.fromisoformat(value), datetime.time(23, 59))
        except ValueError:
            raise ValidationError({"expires_at": [_("请输入有效的日期时间。")]}) from None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


@login_required
@permission_required("customers.change_customer", raise_exception=True)
@require_POST
def team_member_add(request, pk):
    customer = selectors.customer_get_for_user(user=request.user, pk=pk)
    back = reverse("customers:detail", args=[customer.pk]) + "#team"
    member = user_list().filter(pk=_int_or_none(request.POST.get("user")), is_active=True).first()
    access = request.POST.get("access", TeamAccess.READ)
    try:
        if member is None:
            raise ValidationError({"user": [_("请选择员工。")]})
        if access not in TeamAccess.values:
            raise ValidationError({"access": [_("请选择权限。")]})
        services.customer_team_member_set(
            user=request.user,
            customer=customer,
            member=member,
            access=TeamAccess(access),
            expires_at=_parse_local_datetime(request.POST.get("expires_at")),
            request=request,
        )
    except (ValidationError, DomainError) as error:
        for text in _error_messages(error):
            messages.error(request, text)
    else:
        messages.success(request, _("已将 %(name)s 加入团队") % {"name": member})
    return redirect(back)


@login_required
@permission_required("customers.change_customer", raise_exception=True)
@require_POST
def team_member_drop(request, pk, user_pk):
    customer = selectors.customer_get_for_user(user=request.user, pk=pk)
    member = user_list().filter(pk=user_pk).first()
    try:
        if member is None:
            raise DomainError(_("该员工不是团队成员。"), code="not_found", status=404)
        services.customer_team_member_remove(user=request.user, customer=customer, member=member, request=request)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("已将 %(name)s 移出团队") % {"name": member})
    return redirect(reverse("customers:detail", args=[customer.pk]) + "#team")


# --- region options (htmx) ------------------------------------------------------------------------


@login_required
@require_GET
def region_options(request):
    """<option>s of the next level for the cascading province → city → district selects. A new
    province also empties the district select (out of band)."""
    if "city" in request.GET:
        context = {"placeholder": _("请选择区县"), "options": _region_children(request.GET["city"])}
    else:
        context = {
            "placeholder": _("请选择城市"),
            "options": _region_children(request.GET.get("province", "")),
            "reset": {"id": "id_district", "placeholder": _("请选择区县")},
        }
    return render(request, "customers/partials/_region_options.html", context)


# --- merge (合并) ---------------------------------------------------------------------------------

MERGE_FIELDS = [
    "name", "kind", "credit_code", "mobile", "phone", "email", "level", "source", "industry",
    "province", "city", "district", "address", "website", "next_follow_up_at", "remark",
]  # fmt: skip


def _merge_display(customer, name, shown):
    """One field of one side as text, as the user may see it (masked, names for ids)."""
    if name not in shown:
        return None
    value = shown[name]
    if name in ("level", "source", "industry"):
        return str(value) if value else ""
    if name == "kind":
        return customer.get_kind_display()
    if name in ("province", "city", "district"):
        return (regions.region_name(value) or value) if value else ""
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


def _merge_rows(user, survivor, other, choices):
    """Side by side: [{name, label, survivor, other, differs, choice}] for the fields the user may
    see, custom fields last; ``choice`` defaults to the survivor, or the other where the survivor's
    value is empty."""
    presenter = Presenter(user, "customer")
    form_fields = CustomerForm(instance=survivor, user=user).fields
    sides = []
    for customer in (survivor, other):
        full = selectors.sees_full_contact(user=user, customer=customer)
        data = {name: getattr(customer, name) for name in MERGE_FIELDS}
        data["custom_fields"] = customer.custom_fields
        sides.append(presenter.record(data, full=full))
    rows = []
    for name in MERGE_FIELDS:
        if name not in form_fields or name not in sides[0]:
            continue
        left, right = (
            _merge_display(customer, name, shown) for customer, shown in zip((survivor, other), sides, strict=True)
        )
        raw_left, raw_right = getattr(survivor, name), getattr(other, name)
        rows.append(
            {
                "name": name,
                "label": form_fields[name].label,
                "survivor": left,
                "other": right,
                "differs": raw_left != raw_right,
                "editable": not form_fields[name].disabled,
                "choice": choices.get(name)
                or ("other" if raw_left in ("", None) and raw_right not in ("", None) else "survivor"),
            }
        )
    for definition in definitions(CustomFieldTarget.CUSTOMER):
        key = f"custom_fields.{definition.key}"
        form_name = PREFIX + definition.key
        if form_name not in form_fields:
            continue
        left = (survivor.custom_fields or {}).get(definition.key)
        right = (other.custom_fields or {}).get(definition.key)
        rows.append(
            {
                "name": key,
                "label": definition.label,
                "survivor": custom_display(definition, (sides[0]["custom_fields"] or {}).get(definition.key)),
                "other": custom_display(definition, (sides[1]["custom_fields"] or {}).get(definition.key)),
                "differs": left != right,
                "editable": not form_fields[form_name].disabled,
                "choice": choices.get(key)
                or ("other" if left in ("", None, []) and right not in ("", None, []) else "survivor"),
            }
        )
    return rows


@login_required
@permission_required(["customers.change_customer", "customers.delete_customer"], raise_exception=True)
def customer_merge(request, pk):
    """合并客户: pick the other customer (its duplicates are suggested), compare side by side, choose
    per differing field, merge. This customer survives; the other goes to the recycle bin."""
    user = request.user
    survivor = selectors.customer_get_for_user(user=user, pk=pk)
    other_pk = request.POST.get("other") or request.GET.get("other")
    other = selectors.customer_get_for_user(user=user, pk=other_pk) if other_pk else None
    if other is not None and other.pk == survivor.pk:
        raise Http404
    choices = {}
    error = None
    status = 200
    if request.method == "POST" and other is not None:
        choices = {
            key[len("choice:") :]: value
            for key, value in request.POST.items()
            if key.startswith("choice:") and value in ("survivor", "other")
        }
        try:
            services.customer_merge(
                user=user,
                survivor=survivor,
                other=other,
                values=services.customer_merge_values(other=other, choices=choices),
                survivor_version=request.POST.get("version"),
                other_version=request.POST.get("other_version"),
                request=request,
            )
        except (DomainError, ValidationError) as caught:
            error = "；".join(_error_messages(caught))
            status = getattr(caught, "status", 400)
        else:
            messages.success(request, _("已合并客户「%(name)s」") % {"name": other.name})
            return redirect("customers:detail", pk=survivor.pk)
    elif request.method not in ("GET", "HEAD"):
        return redirect("customers:merge", pk=survivor.pk)
    candidates = []
    search_results = []
    if other is None:
        from customers.duplicates import find_duplicates

        matches = find_duplicates(
            data={name: getattr(survivor, name) for name in services.DUPLICATE_FIELDS}, exclude_ids=[survivor.pk]
        )
        candidates = selectors.duplicate_candidates(user=user, matches=matches)
        q = request.GET.get("q", "").strip()
        if q:
            search_results = list(
                selectors.customer_search_for(user, selectors.customer_list(user=user), q)
                .exclude(pk=survivor.pk)
                .order_by("-search_rank", "-id")[:20]
            )
    context = {
        "active_nav": "customers",
        "customer": survivor,
        "other": other,
        "rows": _merge_rows(user, survivor, other, choices) if other is not None else [],
        "candidates": candidates,
        "search_results": search_results,
        "q": request.GET.get("q", ""),
        "error": error,
        "other_contacts": other.contacts.count() if other is not None else 0,
        "other_tags": list(other.tags.all()) if other is not None else [],
    }
    return render(request, "customers/merge.html", context, status=status)


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_GET
def merged_history(request, pk, merge_pk):
    """The history of a customer merged into this one (read with this customer's scope)."""
    customer = selectors.customer_get_for_user(user=request.user, pk=pk)
    merge = selectors.customer_merge_get(customer=customer, merge_pk=merge_pk)
    entries = readable_history(selectors.customer_merged_history(user=request.user, customer=customer, merge=merge))
    context = {
        "active_nav": "customers",
        "customer": customer,
        "merge": merge,
        "timeline": [{"kind": "history", **entry} for entry in entries],
    }
    return render(request, "customers/merged_history.html", context)
