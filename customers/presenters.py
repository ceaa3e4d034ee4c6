"""How customer and contact values reach a viewer: masked (138****5678, zh***@example.com) unless
they may see them in full, hidden fields dropped, custom fields filtered the same way. The API
serializers, pages and history all present through here."""

from crm.masking import mask_email, mask_phone
from customers.models import CustomField, CustomFieldType
from staff.fieldperms import hidden_fields

# Output keys that show another field: hidden with it.
DERIVED = {"owner_name": "owner"}
MASKERS = {"mobile": mask_phone, "phone": mask_phone, "email": mask_email}
CUSTOM_MASKERS = {CustomFieldType.PHONE: mask_phone, CustomFieldType.EMAIL: mask_email}


class Presenter:
    """Per request and record type: the user's hidden fields and the custom field types, loaded
    once (two queries at most, whatever the page size)."""

    def __init__(self, user, target):
        self.user = user
        self.target = target
        self.hidden = hidden_fields(user, target)
        self._custom_types = None

    @property
    def custom_types(self):
        if self._custom_types is None:
            self._custom_types = dict(CustomField.objects.filter(target=self.target).values_list("key", "type"))
        return self._custom_types

    def custom_fields(self, values, *, full):
        shown = {}
        for key, value in (values or {}).items():
            if f"cf.{key}" in self.hidden:
                continue
            if key not in self.custom_types:
                continue  # the definition was deleted: its type (phone? e-mail?) is unknown
            masker = CUSTOM_MASKERS.get(self.custom_types[key])
            shown[key] = masker(value) if (masker and not full and isinstance(value, str)) else value
        return shown

    def record(self, data, *, full):
        """``data``: the serialized record (a dict), changed in place and returned."""
        for name in list(data):
            if name in self.hidden or DERIVED.get(name) in self.hidden:
                del data[name]
            elif name in MASKERS and not full and data[name]:
                data[name] = MASKERS[name](data[name])
        if "custom_fields" in data:
            data["custom_fields"] = self.custom_fields(data["custom_fields"], full=full)
        return data


def present_history_value(field, value, *, full, presenter=None):
    if field in MASKERS and not full and value:
        return MASKERS[field](value)
    if field == "custom_fields" and presenter is not None:
        return presenter.custom_fields(value, full=full)
    return value
