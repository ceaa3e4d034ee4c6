"""Page forms: they parse and render; the rules live in activities.services."""

from django import forms
from django.utils.translation import gettext_lazy as _

from activities.models import FollowUpType, TaskPriority

LOCAL_INPUT = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs={"class": "form-control", **(attrs or {})}, format="%Y-%m-%dT%H:%M")


class QuickFollowUpForm(forms.Form):
    """跟进 from the 360 page: pick the type, save — two taps on a phone; the rest is optional."""

    type = forms.ChoiceField(
        label=_("跟进方式"), choices=FollowUpType.choices, initial=FollowUpType.CALL, widget=forms.RadioSelect
    )
    content = forms.CharField(
        label=_("跟进内容"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control", "placeholder": _("聊了什么（可不填）")}),
    )
    next_follow_up_at = forms.DateTimeField(
        label=_("下次跟进时间"), required=False, input_formats=LOCAL_INPUT, widget=LocalDateTimeInput()
    )
    create_task = forms.BooleanField(
        label=_("加入我的待办"),
        required=False,
        initial=True,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    latitude = forms.DecimalField(required=False, widget=forms.HiddenInput)
    longitude = forms.DecimalField(required=False, widget=forms.HiddenInput)


class TaskForm(forms.Form):
    title = forms.CharField(label=_("标题"), max_length=200, widget=forms.TextInput(attrs={"class": "form-control"}))
    due_at = forms.DateTimeField(label=_("截止时间"), input_formats=LOCAL_INPUT, widget=LocalDateTimeInput())
    priority = forms.ChoiceField(
        label=_("优先级"),
        choices=TaskPriority.choices,
        initial=TaskPriority.NORMAL,
        widget=forms.Select(attrs={"class": "form-select"}),
    )
