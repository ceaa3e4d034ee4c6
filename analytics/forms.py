import json

from django import forms
from django.utils.translation import gettext_lazy as _

from analytics.models import AnalyticsSettings


class AnalyticsSettingsForm(forms.ModelForm):
    """The settings page. ``tag_rules`` is edited as JSON; services.tag_rules_validate checks it."""

    tag_rules = forms.CharField(
        label=_("自动标签规则"),
        widget=forms.Textarea(attrs={"rows": 6, "class": "form-control font-monospace"}),
        help_text=_(
            '每条规则：{"tag": 标签, "field": 字段, "op": 比较符, "value": 值}。字段：recency、frequency、'
            "monetary、lifecycle、churn_risk、predicted_value、clv、purchase_count、purchase_total；"
            "比较符：> >= < <= == !=。"
        ),
    )

    class Meta:
        model = AnalyticsSettings
        fields = [
            "recency_days_step",
            "frequency_step",
            "monetary_step",
            "scoring_mode",
            "clv_horizon_years",
            "clv_discount_rate",
            "churn_model_min_labelled",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["tag_rules"] = json.dumps(self.instance.tag_rules, ensure_ascii=False, indent=1)
        for name, field in self.fields.items():
            if name != "tag_rules":
                css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
                field.widget.attrs.setdefault("class", css)

    def clean_tag_rules(self):
        try:
            return json.loads(self.cleaned_data["tag_rules"])
        except ValueError:
            raise forms.ValidationError(_("自动标签规则不是有效的 JSON。")) from None
