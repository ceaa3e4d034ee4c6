"""The forms that validate products and contracts — used by the services for every write (web
pages, API, renewals, drafts from deals), so each rule lives in one place. The web page renders
``ContractForm`` for the header; its lines are posted as parallel lists (``line_product`` …) and
validated one by one with ``ContractLineForm``."""

from decimal import Decimal

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from contracts.models import Contract, Product
from customers.models import Contact, Customer
from opportunities.models import Opportunity
from staff.models import User

HEADER_FIELDS = ["customer", "opportunity", "title", "signed_date", "start_date", "end_date", "signatory", "remark"]
LINE_FIELDS = ["product", "quantity", "unit_price", "discount_rate"]
# Lines one contract may carry (a long quote is a few hundred; the web form stays usable).
MAX_LINES = 500
# The largest amount a money column holds (14 digits, 2 after the point).
MAX_MONEY = Decimal("999999999999.99")


def _styled(form):
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        elif not isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-control")


class ProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ["code", "name", "category", "unit", "price", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _styled(self)

    def validate_unique(self):
        pass  # the code's uniqueness: product_create / product_update (one message, races included)

    def clean_code(self):
        code = (self.cleaned_data.get("code") or "").strip()
        if not code:
            raise forms.ValidationError(_("请填写产品编码。"))
        return code

    def clean_name(self):
        name = (self.cleaned_data.get("name") or "").strip()
        if not name:
            raise forms.ValidationError(_("请填写产品名称。"))
        return name


class ContractForm(forms.ModelForm):
    """The contract's header. ``user`` limits customer, deal and signatory to what the user sees;
    the deal must be the customer's, the signatory one of its contacts, the end not before the
    start. ``owner`` (optional) is checked by the service (a different owner needs the transfer
    permission)."""

    owner = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, label=_("负责人"), help_text=_("留空则为自己。")
    )

    class Meta:
        model = Contract
        fields = HEADER_FIELDS
        widgets = {
            "signed_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "start_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "end_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "remark": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        not_found = _("对象不存在或无权访问。")
        self.fields["customer"].queryset = Customer.objects.visible_to(user).only("pk", "name")
        self.fields["customer"].error_messages["invalid_choice"] = _("客户不存在或无权访问。")
        self.fields["opportunity"].queryset = Opportunity.objects.visible_to(user).only("pk", "title", "customer_id")
        self.fields["opportunity"].error_messages["invalid_choice"] = _("商机不存在或无权访问。")
        self.fields["signatory"].queryset = Contact.objects.visible_to(user).only("pk", "name", "customer_id")
        self.fields["signatory"].error_messages["invalid_choice"] = not_found
        # Active staff; a contract's current owner stays valid after they are deactivated.
        current_owner = getattr(self.instance, "owner_id", None)
        self.fields["owner"].queryset = User.objects.filter(Q(is_active=True) | Q(pk=current_owner))
        self.fields["owner"].error_messages["invalid_choice"] = _("该员工不存在或已停用。")
        self._narrow_choices()
        _styled(self)

    def chosen_customer_id(self):
        """The customer this form is about (posted, initial or the contract's), or None."""
        if self.is_bound:
            raw = self.data.get("customer")
        else:
            raw = self.initial.get("customer") or getattr(self.instance, "customer_id", None)
        raw = getattr(raw, "pk", raw)
        return int(raw) if raw is not None and str(raw).isdigit() else None

    def _narrow_choices(self):
        """The deal and signatory pickers offer only the chosen customer's deals and contacts (the
        page reloads them when the customer changes); validation still runs on every row the user
        sees, so a wrong pick gets the clear "not this customer's" message."""
        customer_id = self.chosen_customer_id()
        for name in ("opportunity", "signatory"):
            field = self.fields[name]
            rows = field.queryset.filter(customer_id=customer_id) if customer_id else field.queryset.none()
            field.widget.choices = [
                ("", field.empty_label),
                *((row.pk, str(row)) for row in rows.order_by("-pk")[:200]),
            ]

    def clean_title(self):
        title = (self.cleaned_data.get("title") or "").strip()
        if not title:
            raise forms.ValidationError(_("请填写合同名称。"))
        return title

    def clean(self):
        data = super().clean()
        customer, opportunity, signatory = data.get("customer"), data.get("opportunity"), data.get("signatory")
        if customer is not None and opportunity is not None and opportunity.customer_id != customer.pk:
            self.add_error("opportunity", _("商机不属于该客户。"))
        if customer is not None and signatory is not None and signatory.customer_id != customer.pk:
            self.add_error("signatory", _("签约人须是该客户的联系人。"))
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", _("结束日期不能早于开始日期。"))
        return data


class ContractLineForm(forms.Form):
    """One line: product, quantity (> 0), unit price (default: the product's list price),
    discount rate (0–1, the fraction taken off: 0.10 = 九折). Inactive products are refused unless
    listed in ``allowed_inactive`` (already on the contract, or on the one being renewed)."""

    product = forms.ModelChoiceField(queryset=Product.objects.all(), label=_("产品"))
    quantity = forms.DecimalField(
        label=_("数量"), max_digits=14, decimal_places=2, min_value=Decimal("0.01"), max_value=MAX_MONEY
    )
    unit_price = forms.DecimalField(
        label=_("单价（元）"), max_digits=14, decimal_places=2, min_value=0, max_value=MAX_MONEY, required=False
    )
    discount_rate = forms.DecimalField(
        label=_("折扣率"), max_digits=5, decimal_places=4, min_value=0, max_value=1, required=False
    )

    def __init__(self, *args, allowed_inactive=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.allowed_inactive = set(allowed_inactive)
        self.fields["product"].error_messages["invalid_choice"] = _("产品不存在。")

    def clean_product(self):
        product = self.cleaned_data["product"]
        if not product.active and product.pk not in self.allowed_inactive:
            raise forms.ValidationError(_("产品「%(name)s」已停用。") % {"name": product.name})
        return product
