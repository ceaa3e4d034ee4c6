"""Products, contracts (合同) with their lines, payment plans (回款计划), payments (回款), invoice
titles (开票信息) and invoices (发票).

Money is ``Decimal`` to the fen everywhere; a contract's ``total`` and each line's ``subtotal`` are
computed by the services, never taken from the client. ``paid_amount`` and ``invoiced_amount``
are kept by the payment and invoice services in the same transaction as the row they sum, so
lists and reports read them without a join."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from crm.models import TimeStampedModel
from staff.scope import OwnedModel, ScopedQuerySet, scope_arms, scope_filter

MONEY = {"max_digits": 14, "decimal_places": 2}


class Product(TimeStampedModel):
    code = models.CharField(_("产品编码"), max_length=50, unique=True)
    name = models.CharField(_("产品名称"), max_length=200)
    category = models.CharField(_("产品分类"), max_length=50, blank=True, db_index=True)
    unit = models.CharField(_("单位"), max_length=20, blank=True)
    price = models.DecimalField(_("标准价格（元）"), **MONEY, default=0, validators=[MinValueValidator(0)])
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("产品")
        verbose_name_plural = _("产品")
        ordering = ["code"]
        constraints = [models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative")]

    def __str__(self):
        return f"{self.code} {self.name}"


class ContractStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PENDING = "pending", _("审核中")
    APPROVED = "approved", _("已通过")
    REJECTED = "rejected", _("已拒绝")
    WITHDRAWN = "withdrawn", _("已撤回")
    ACTIVE = "active", _("执行中")
    COMPLETED = "completed", _("已完成")
    EXPIRED = "expired", _("已到期")
    TERMINATED = "terminated", _("已终止")
    VOID = "void", _("已作废")


# Approved or later: the contracts that count as sales anywhere (reports, profiles, deal status).
SALES_STATUSES = (
    ContractStatus.APPROVED,
    ContractStatus.ACTIVE,
    ContractStatus.COMPLETED,
    ContractStatus.EXPIRED,
    ContractStatus.TERMINATED,
)
# Statuses whose content may still be edited (lines, dates, amounts).
EDITABLE_STATUSES = (ContractStatus.DRAFT, ContractStatus.REJECTED, ContractStatus.WITHDRAWN)


class ContractQuerySet(ScopedQuerySet):
    """Contracts a user may see: their data scope over the contract's owner/department; never
    contracts of a customer in the recycle bin."""

    def alive(self):
        """Contracts of customers not in the recycle bin: NOT EXISTS against the binned customers
        (a small partial index), not a join on all live customers (see OpportunityQuerySet.alive)."""
        from customers.models import Customer

        return self.filter(~Exists(Customer.objects.filter(pk=OuterRef("customer_id"), deleted_at__isnull=False)))

    def visible_to(self, user):
        return self.alive().filter(self.scope_q(user))

    def scope_arms(self, user):
        """The rules whose OR is ``scope_q`` (own and subordinates' contracts, the department or
        its subtree), for counting and paging a list rule by rule, each by its own index
        (``customers.selectors.capped_count``, ``PagedByRule``); None: every contract. The
        department rule comes first: a later rule is read without the rows of the earlier ones,
        and that exclusion is cheapest on the small rule (the owner index carries department_id)."""
        arms = scope_arms(user, owner_field=self.scope_owner_field, department_field=self.scope_department_field)
        return arms if arms is None else arms[::-1]

    def sales(self):
        return self.filter(status__in=SALES_STATUSES)


class Contract(OwnedModel):
    number = models.CharField(_("合同编号"), max_length=40, unique=True)
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("客户"), on_delete=models.PROTECT, related_name="contracts"
    )
    opportunity = models.ForeignKey(
        "opportunities.Opportunity",
        verbose_name=_("商机"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contracts",
    )
    title = models.CharField(_("合同名称"), max_length=200)
    total = models.DecimalField(_("合同金额（元）"), **MONEY, default=0)
    signed_date = models.DateField(_("签约日期"), null=True, blank=True)
    start_date = models.DateField(_("开始日期"), null=True, blank=True)
    end_date = models.DateField(_("结束日期"), null=True, blank=True)
    signatory = models.ForeignKey(
        "customers.Contact",
        verbose_name=_("客户签约人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    remark = models.TextField(_("备注"), blank=True)
    status = models.CharField(
        _("状态"), max_length=12, choices=ContractStatus.choices, default=ContractStatus.DRAFT, db_index=True
    )
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    approved_at = models.DateTimeField(_("审批通过时间"), null=True, blank=True)
    voided_at = models.DateTimeField(_("作废时间"), null=True, blank=True)
    renewed_from = models.ForeignKey(
        "self", verbose_name=_("续签自"), null=True, blank=True, on_delete=models.SET_NULL, related_name="renewals"
    )
    # Sums of the confirmed payments and of the issued invoices, kept by their services.
    paid_amount = models.DecimalField(_("已回款（元）"), **MONEY, default=0)
    invoiced_amount = models.DecimalField(_("已开票（元）"), **MONEY, default=0)
    version = models.PositiveIntegerField(_("版本"), default=1)

    objects = ContractQuerySet.as_manager()

    class Meta:
        verbose_name = _("合同")
        verbose_name_plural = _("合同")
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="contract_total_not_negative"),
            models.CheckConstraint(condition=Q(paid_amount__gte=0), name="contract_paid_not_negative"),
            models.CheckConstraint(condition=Q(paid_amount__lte=F("total")), name="contract_paid_within_total"),
            models.CheckConstraint(
                condition=Q(start_date__isnull=True) | Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="contract_end_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "status"], name="contract_customer_status"),
            # The list rule by rule (ContractQuerySet.scope_arms): each rule's newest changes, and its
            # status + signing-date filters, read from its own index without the table's pages
            # (each carries the other rule's column: the list's scope condition is checked in the index).
            models.Index(
                fields=["owner", "status", "signed_date"],
                include=["updated_at", "id", "customer", "department"],
                name="contract_owner_status_signed",
            ),
            models.Index(
                fields=["department", "status", "signed_date"],
                include=["updated_at", "id", "customer", "owner"],
                name="contract_dept_status_signed",
            ),
            models.Index(
                fields=["owner", "-updated_at", "-id"], include=["customer", "department"], name="contract_owner_recent"
            ),
            models.Index(
                fields=["department", "-updated_at", "-id"], include=["customer", "owner"], name="contract_dept_recent"
            ),
            models.Index(fields=["status", "signed_date"], name="contract_status_signed"),
            models.Index(fields=["status", "end_date"], name="contract_status_end"),
            models.Index(fields=["-updated_at", "-id"], name="contract_recent"),
        ]

    def __str__(self):
        return f"{self.number} {self.title}"

    @property
    def outstanding(self):
        return self.total - self.paid_amount

    @property
    def progress(self):
        """Paid share of the total in percent (0–100, two decimals); 0 for a zero total."""
        if not self.total:
            return 0
        return round(self.paid_amount * 100 / self.total, 2)


class ContractLine(models.Model):
    contract = models.ForeignKey(Contract, verbose_name=_("合同"), on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, verbose_name=_("产品"), on_delete=models.PROTECT, related_name="lines")
    quantity = models.DecimalField(
        _("数量"), max_digits=14, decimal_places=2, validators=[MinValueValidator(0)], default=1
    )
    unit_price = models.DecimalField(_("单价（元）"), **MONEY, validators=[MinValueValidator(0)])
    # The fraction taken off the line: 0.10 = 10% off (九折).
    discount_rate = models.DecimalField(
        _("折扣率"),
        max_digits=5,
        decimal_places=4,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
    )
    subtotal = models.DecimalField(_("小计（元）"), **MONEY)
    order = models.PositiveSmallIntegerField(_("顺序"), default=0)

    class Meta:
        verbose_name = _("合同明细")
        verbose_name_plural = _("合同明细")
        ordering = ["contract", "order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(discount_rate__gte=0) & Q(discount_rate__lte=1), name="contract_line_discount_0_1"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="contract_line_quantity_not_negative"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="contract_line_price_not_negative"),
        ]
        indexes = [
            # 产品排行 (analytics.reports.products): the lines of a set of contracts summed per
            # product from the index alone, contract by contract — no visit to the line rows.
            models.Index(fields=["contract"], include=["product", "quantity", "subtotal"], name="contract_line_sold"),
        ]

    def __str__(self):
        return f"{self.contract_id}: {self.product_id} × {self.quantity}"


class ContractSequence(models.Model):
    """The last number handed out per (prefix, day). The number service increments it with
    ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` inside the creating transaction: the row lock
    serialises concurrent creators, and a rolled-back creation gives its number back — gap-free."""

    prefix = models.CharField(max_length=10)
    day = models.DateField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("合同编号序列")
        verbose_name_plural = _("合同编号序列")
        constraints = [models.UniqueConstraint(fields=["prefix", "day"], name="contract_sequence_unique_day")]

    def __str__(self):
        return f"{self.prefix}{self.day:%Y%m%d}: {self.last}"


class ThroughContractQuerySet(models.QuerySet):
    """Rows seen through their contract's scope (plans, payments, invoices): the contract's owner
    and department, which each row carries (``UnderContract``); never rows of a customer in the
    recycle bin."""

    def visible_to(self, user):
        from customers.models import Customer

        binned = Customer.objects.filter(pk=OuterRef("customer_id"), deleted_at__isnull=False)
        return self.filter(~Exists(binned)).filter(scope_filter(user))


class UnderContract(TimeStampedModel):
    """A row under a contract (instalment, payment, invoice). ``customer``, ``owner`` and
    ``department`` are its contract's, copied by the database (triggers of migration 0004)
    whatever writes either side: on every insert or update of the row, and whenever the
    contract's customer, owner or department changes. So the scope, the recycle bin and the
    owner/department filters read the row's own columns and indexes: a department's confirmed
    payments of a month are one index range, not every payment of the month joined to its
    contract (see bench/). Never set them in Python: the database overwrites them."""

    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("客户"),
        null=True,
        editable=False,
        on_delete=models.DO_NOTHING,  # a copy: the contract's own key protects the customer
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("负责人"),
        null=True,
        editable=False,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # each model indexes them with what its lists filter on
        related_name="+",
    )
    department = models.ForeignKey(
        "staff.Department",
        verbose_name=_("所属部门"),
        null=True,
        editable=False,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )

    objects = ThroughContractQuerySet.as_manager()

    class Meta:
        abstract = True


class PlanStatus(models.TextChoices):
    PENDING = "pending", _("待回款")
    PARTIAL = "partial", _("部分回款")
    PAID = "paid", _("回款完成")
    OVERDUE = "overdue", _("逾期")
    VOID = "void", _("作废")


class PaymentPlan(UnderContract):
    """One instalment (期) of a contract's payment plan; the instalments' amounts add up to the
    contract total."""

    contract = models.ForeignKey(
        Contract, verbose_name=_("合同"), on_delete=models.CASCADE, related_name="payment_plans"
    )
    number = models.PositiveSmallIntegerField(_("期次"))
    due_date = models.DateField(_("计划回款日期"))
    amount = models.DecimalField(_("计划回款金额（元）"), **MONEY, validators=[MinValueValidator(0)])
    reminder_days = models.PositiveSmallIntegerField(_("提前提醒天数"), default=3)
    paid_amount = models.DecimalField(_("已回款（元）"), **MONEY, default=0)
    status = models.CharField(_("状态"), max_length=8, choices=PlanStatus.choices, default=PlanStatus.PENDING)
    remark = models.CharField(_("备注"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("回款计划")
        verbose_name_plural = _("回款计划")
        ordering = ["contract", "number"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "number"], name="payment_plan_unique_number"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="payment_plan_amount_not_negative"),
        ]
        indexes = [
            models.Index(fields=["status", "due_date"], name="payment_plan_status_due"),
            models.Index(fields=["department", "status", "due_date"], name="payment_plan_dept_status_due"),
            models.Index(fields=["owner", "status", "due_date"], name="payment_plan_owner_status_due"),
        ]

    def __str__(self):
        return f"{self.contract_id} #{self.number}"


class PaymentMethod(models.TextChoices):
    CHEQUE = "cheque", _("支票")
    CASH = "cash", _("现金")
    WIRE = "wire", _("电汇")
    ONLINE = "online", _("网上转账")
    ALIPAY = "alipay", _("支付宝")
    WECHAT = "wechat", _("微信支付")
    OTHER = "other", _("其他")


class PaymentStatus(models.TextChoices):
    UNCONFIRMED = "unconfirmed", _("待确认")
    PENDING = "pending", _("审核中")
    CONFIRMED = "confirmed", _("已确认")
    REJECTED = "rejected", _("已拒绝")
    VOID = "void", _("已作废")


class Payment(UnderContract):
    """A payment received (回款) against an approved contract. Only confirmed payments count
    towards ``Contract.paid_amount`` and every receivable figure."""

    contract = models.ForeignKey(Contract, verbose_name=_("合同"), on_delete=models.PROTECT, related_name="payments")
    plan = models.ForeignKey(
        PaymentPlan,
        verbose_name=_("回款计划"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="payments",
    )
    amount = models.DecimalField(_("回款金额（元）"), **MONEY, validators=[MinValueValidator(0)])
    date = models.DateField(_("回款日期"))
    method = models.CharField(_("回款方式"), max_length=8, choices=PaymentMethod.choices)
    remark = models.CharField(_("备注"), max_length=200, blank=True)
    status = models.CharField(
        _("状态"), max_length=12, choices=PaymentStatus.choices, default=PaymentStatus.UNCONFIRMED
    )
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("录入人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("确认人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("回款")
        verbose_name_plural = _("回款")
        ordering = ["-date", "-id"]
        permissions = [("confirm_payment", _("可以确认回款"))]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive")]
        indexes = [
            models.Index(fields=["contract", "status"], name="payment_contract_status"),
            models.Index(fields=["status", "date"], name="payment_status_date"),
            # The scope's arms (department, owner) of the confirmed payments of a period, summed
            # from the index alone.
            models.Index(fields=["department", "status", "date"], include=["amount"], name="payment_dept_status_date"),
            models.Index(fields=["owner", "status", "date"], include=["amount"], name="payment_owner_status_date"),
        ]

    def __str__(self):
        return f"{self.contract_id}: {self.amount}"

    @property
    def confirmed(self):
        return self.status == PaymentStatus.CONFIRMED


class InvoiceTitle(TimeStampedModel):
    """A customer's invoicing details (开票信息), reused on every invoice application."""

    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("客户"), on_delete=models.CASCADE, related_name="invoice_titles"
    )
    title = models.CharField(_("发票抬头"), max_length=200)
    tax_number = models.CharField(_("纳税人识别号"), max_length=20, blank=True)
    bank = models.CharField(_("开户银行"), max_length=100, blank=True)
    account = models.CharField(_("银行账号"), max_length=50, blank=True)
    address = models.CharField(_("注册地址"), max_length=200, blank=True)
    phone = models.CharField(_("注册电话"), max_length=30, blank=True)
    is_default = models.BooleanField(_("默认"), default=False)

    class Meta:
        verbose_name = _("开票信息")
        verbose_name_plural = _("开票信息")
        ordering = ["customer", "-is_default", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(is_default=True), name="invoice_title_one_default_per_customer"
            )
        ]

    def __str__(self):
        return self.title


class InvoiceKind(models.TextChoices):
    NORMAL = "normal", _("增值税普通发票")
    SPECIAL = "special", _("增值税专用发票")


class InvoiceStatus(models.TextChoices):
    APPLIED = "applied", _("已申请")
    ISSUED = "issued", _("已开票")
    VOID = "void", _("已作废")


class Invoice(UnderContract):
    """An invoice application against a contract; ``number`` and ``issued_date`` once issued, the
    courier tracking number once sent. The title's details are copied at application time, so a
    later edit of the customer's title does not rewrite an issued invoice."""

    contract = models.ForeignKey(Contract, verbose_name=_("合同"), on_delete=models.PROTECT, related_name="invoices")
    invoice_title = models.ForeignKey(
        InvoiceTitle, verbose_name=_("开票信息"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(_("发票抬头"), max_length=200)
    tax_number = models.CharField(_("纳税人识别号"), max_length=20, blank=True)
    bank = models.CharField(_("开户银行"), max_length=100, blank=True)
    account = models.CharField(_("银行账号"), max_length=50, blank=True)
    address = models.CharField(_("注册地址"), max_length=200, blank=True)
    phone = models.CharField(_("注册电话"), max_length=30, blank=True)
    kind = models.CharField(_("发票类型"), max_length=8, choices=InvoiceKind.choices, default=InvoiceKind.NORMAL)
    amount = models.DecimalField(_("开票金额（元）"), **MONEY, validators=[MinValueValidator(0)])
    status = models.CharField(_("状态"), max_length=8, choices=InvoiceStatus.choices, default=InvoiceStatus.APPLIED)
    number = models.CharField(_("发票号码"), max_length=40, blank=True)
    issued_date = models.DateField(_("开票日期"), null=True, blank=True)
    tracking_number = models.CharField(_("快递单号"), max_length=50, blank=True)
    remark = models.CharField(_("备注"), max_length=200, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("申请人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("发票")
        verbose_name_plural = _("发票")
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="invoice_amount_positive")]
        indexes = [
            models.Index(fields=["contract", "status"], name="invoice_contract_status"),
            models.Index(fields=["department"], name="invoice_department"),
            models.Index(fields=["owner"], name="invoice_owner"),
        ]

    def __str__(self):
        return self.number or self.title
