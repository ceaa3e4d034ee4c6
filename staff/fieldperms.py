"""Field permissions (字段权限): which fields of a record type a user may see and change.

    access = field_access(user, "customer")        # {"mobile": "hidden", "cf.budget": "readonly", ...}
    visible_fields(user, "customer", names)         # names minus hidden ones
    writable(user, "customer", "mobile")            # True / False

Serializers, forms, pages and exports all ask these functions, so a hidden field is hidden
everywhere. Only fields with a rule appear in the map; every other field is editable.
"""

from staff.models import FieldAccess, FieldPermission
from staff.scope import user_roles

_RANK = {FieldAccess.HIDDEN: 0, FieldAccess.READONLY: 1, FieldAccess.EDITABLE: 2}


def field_access(user, target):
    """{field: access} for the fields of ``target`` a rule restricts for ``user`` (one query per
    request and target: cached on the user object). Several roles: the most permissive wins, and
    a role without a rule for a field leaves it editable."""
    if user is None or not getattr(user, "is_authenticated", False) or user.is_superuser:
        return {}
    cache = user.__dict__.setdefault("_crm_field_access", {})
    if target not in cache:
        role_ids = [role.pk for role in user_roles(user)]
        rules = {}
        counts = {}
        for field, access in FieldPermission.objects.filter(role_id__in=role_ids, target=target).values_list(
            "field", "access"
        ):
            counts[field] = counts.get(field, 0) + 1
            if field not in rules or _RANK[access] > _RANK[rules[field]]:
                rules[field] = access
        # A field restricted by only some of the user's roles is editable through the others.
        cache[target] = {
            field: access for field, access in rules.items() if counts[field] == len(role_ids) or not role_ids
        }
    return cache[target]


def access_of(user, target, field):
    return field_access(user, target).get(field, FieldAccess.EDITABLE)


def is_hidden(user, target, field):
    return access_of(user, target, field) == FieldAccess.HIDDEN


def writable(user, target, field):
    return access_of(user, target, field) == FieldAccess.EDITABLE


def hidden_fields(user, target):
    return {field for field, access in field_access(user, target).items() if access == FieldAccess.HIDDEN}


def readonly_fields(user, target):
    """Fields the user may see but not change (hidden ones are not included)."""
    return {field for field, access in field_access(user, target).items() if access == FieldAccess.READONLY}
