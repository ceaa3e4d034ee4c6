"""The form that validates a deal's fields — used by the services for every write (web pages,
API, demo data), so each rule lives in one place."""

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, Source
from opportunities.models import Opportunity, Stage, StageKind

CREATE_FIELDS = ["customer", "title", "amount", "stage", "probability", "expected_close_date", "source", "remark"]
UPDATE_FIELDS = ["title", "amount", "probability", "expected_close_date", "source", "remark"]


class OpportunityForm(forms.ModelForm):
    """``user`` limits the customer to those the user sees; on create the stage must be an open
    (or won) stage — a deal is lost or invalid only by a move, which asks for the reason."""

    class Meta:
        model = Opportunity
        fields = CREATE_FIELDS
        widgets = {
            "expected_close_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "remark": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user=None, creating=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if creating:
            self.fields["customer"].queryset = Customer.objects.visible_to(user).only("pk", "name")
            self.fields["customer"].error_messages["invalid_choice"] = _("客户不存在或无权访问。")
            self.fields["stage"].queryset = Stage.objects.filter(
                kind__in=[StageKind.OPEN, StageKind.WON]
            ).select_related("group")
        else:
            for name in ("customer", "stage"):
                self.fields.pop(name, None)
        self.fields["probability"].required = False
        self.fields["probability"].help_text = _("留空则使用阶段的默认赢率。")
        self.fields["source"].queryset = Source.objects.filter(is_active=True)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")

    def clean_title(self):
        title = (self.cleaned_data.get("title") or "").strip()
        if not title:
            raise forms.ValidationError(_("请填写商机名称。"))
        return title
