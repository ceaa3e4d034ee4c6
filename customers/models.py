"""Customers (客户), their contacts, and the lists an admin configures: levels, tags, sources,
industries and custom fields."""

import re

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from crm.fields import CnMobileField, CnPhoneField, CreditCodeField
from crm.models import TimeStampedModel
from staff.scope import OwnedModel, ScopedQuerySet, any_of, scope_arms, scope_filter
from staff.teams import TeamAccess, TeamMemberBase, team_member_q

color_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("颜色格式应为 #RRGGBB。"))


class CustomerLevel(models.Model):
    code = models.CharField(_("代码"), max_length=10, unique=True)
    name = models.CharField(_("名称"), max_length=30)
    color = models.CharField(_("颜色"), max_length=7, validators=[color_validator], default="#6c757d")
    priority = models.PositiveSmallIntegerField(_("优先级"), default=1, help_text=_("数字越小越重要。"))

    class Meta:
        verbose_name = _("客户等级")
        verbose_name_plural = _("客户等级")
        ordering = ["priority", "code"]

    def __str__(self):
        return f"{self.code} {self.name}"


class Tag(models.Model):
    name = models.CharField(_("名称"), max_length=30, unique=True)
    color = models.CharField(_("颜色"), max_length=7, validators=[color_validator], default="#0d6efd")

    class Meta:
        verbose_name = _("标签")
        verbose_name_plural = _("标签")
        ordering = ["name"]

    def __str__(self):
        return self.name


class _NamedOption(models.Model):
    name = models.CharField(_("名称"), max_length=50, unique=True)
    order = models.PositiveSmallIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        abstract = True
        ordering = ["order", "name"]

    def __str__(self):
        return self.name


class Source(_NamedOption):
    class Meta(_NamedOption.Meta):
        verbose_name = _("客户来源")
        verbose_name_plural = _("客户来源")


class Industry(_NamedOption):
    class Meta(_NamedOption.Meta):
        verbose_name = _("行业")
        verbose_name_plural = _("行业")


class CustomFieldTarget(models.TextChoices):
    CUSTOMER = "customer", _("客户")
    CONTACT = "contact", _("联系人")


class CustomFieldType(models.TextChoices):
    TEXT = "text", _("文本")
    NUMBER = "number", _("数字")
    DATE = "date", _("日期")
    CHOICE = "choice", _("单选")
    MULTI_CHOICE = "multi_choice", _("多选")
    BOOLEAN = "boolean", _("是/否")
    PHONE = "phone", _("电话")
    EMAIL = "email", _("邮箱")


CHOICE_TYPES = (CustomFieldType.CHOICE, CustomFieldType.MULTI_CHOICE)
key_validator = RegexValidator(r"^[a-z][a-z0-9_]{0,39}$", _("字段标识只能包含小写字母、数字和下划线，并以字母开头。"))


class CustomField(models.Model):
    """A field an admin adds to customers or contacts (字段配置). Values live in the record's
    ``custom_fields`` JSON under ``key``; ``customers.custom_fields`` validates them with the same
    form fields the built-in fields use."""

    target = models.CharField(_("对象"), max_length=16, choices=CustomFieldTarget.choices)
    key = models.CharField(_("字段标识"), max_length=40, validators=[key_validator])
    label = models.CharField(_("显示名称"), max_length=50)
    type = models.CharField(_("类型"), max_length=16, choices=CustomFieldType.choices, default=CustomFieldType.TEXT)
    required = models.BooleanField(_("必填"), default=False)
    choices = models.JSONField(_("选项"), default=list, blank=True, help_text=_("单选/多选的选项列表。"))
    regex = models.CharField(_("校验正则"), max_length=200, blank=True, help_text=_("仅文本类型；整段匹配。"))
    help_text = models.CharField(_("说明"), max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("自定义字段")
        verbose_name_plural = _("自定义字段")
        ordering = ["target", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["target", "key"], name="custom_field_unique_key_per_target")]

    def __str__(self):
        return f"{self.get_target_display()}: {self.label}"

    def clean(self):
        errors = {}
        if self.type in CHOICE_TYPES:
            if (
                not isinstance(self.choices, list)
                or not self.choices
                or not all(isinstance(choice, str) and choice.strip() for choice in self.choices)
            ):
                errors["choices"] = _("单选/多选字段需要至少一个文本选项。")
            elif len(set(self.choices)) != len(self.choices):
                errors["choices"] = _("选项不能重复。")
        if self.regex:
            if self.type != CustomFieldType.TEXT:
                errors["regex"] = _("只有文本字段可以设置校验正则。")
            else:
                try:
                    re.compile(self.regex)
                except re.error:
                    errors["regex"] = _("正则表达式无效。")
        model = Customer if self.target == CustomFieldTarget.CUSTOMER else Contact
        if self.pk and self.key:
            stored = CustomField.objects.filter(pk=self.pk).values_list("type", "key").first()
            if stored and stored[0] != self.type and model.objects.filter(custom_fields__has_key=stored[1]).exists():
                # Stored values of the old type would no longer validate or compare (a text
                # value cast to a number fails every range filter).
                errors["type"] = _("已有记录填写了该字段，不能修改类型。")
        if self.key and self.key in {field.name for field in model._meta.get_fields()}:
            errors["key"] = _("字段标识与系统字段重名。")
        if errors:
            raise ValidationError(errors)


class CustomerKind(models.TextChoices):
    COMPANY = "company", _("企业")
    PERSON = "person", _("个人")


class DealStatus(models.TextChoices):
    NONE = "none", _("未成交")
    WON = "won", _("已成交")


class CustomerQuerySet(ScopedQuerySet):
    """Customers a user may see: their data scope over owner/department, plus the customers they
    are an active team member of; never those in the recycle bin (see ``in_recycle_bin``) and
    never those without an owner — they are in a public pool (公海), seen only through the pool's
    own list (``pool.selectors``), contact details hidden until claimed. Unscoped lookups
    (``alive()``: the duplicate check, the recycle bin's rule) still find them."""

    def alive(self):
        return self.filter(deleted_at__isnull=True)

    def in_recycle_bin(self):
        return self.filter(deleted_at__isnull=False)

    def scope_q(self, user, *, prefix=""):
        """The scope rule, for customers or — with ``prefix="customer__"`` — for rows that belong
        to a customer (contacts, tasks); the only place the rule lives. Customers in a pool (no
        owner) are in nobody's scope."""
        return self._owned_or_shared_q(user, prefix=prefix) & Q(**{f"{prefix}owner__isnull": False})

    def carried_scope_q(self, user):
        """The same rule for rows that carry a copy of their customer's ``owner`` and
        ``department`` (follow-ups, profiles: ``customers.models.CarriedFromCustomer``, kept by
        triggers): the data scope and the pool read the row's own columns and indexes, the team
        members its ``customer_id``; and never a row of a customer in the recycle bin (one
        anti-join on the small index of binned customers). So a department's follow-ups of a
        month are one index range, not every follow-up of the month joined to its customer."""
        arms = self._carried_arms(user)
        return any_of(arms) & self._carried_live_q()

    def carried_scope_arms(self, user):
        """``carried_scope_q`` as a list of conditions whose union is the same rows, each one
        index's range (the department's rows, the owner's, the team members' customers'): for an
        aggregate that reads each from a covering index and unions them (``activities``' 跟进分析)."""
        arms = self._carried_arms(user)
        live = self._carried_live_q()
        return [live] if arms is None else [arm & live for arm in arms]

    def _carried_arms(self, user):
        owned = scope_arms(user)
        if owned is None:  # the "all" scope
            return None
        return [*owned, team_member_q(CustomerTeamMember, user, prefix="customer__")]

    def _carried_live_q(self):
        binned = self.model.objects.filter(pk=OuterRef("customer_id"), deleted_at__isnull=False)
        return Q(owner__isnull=False) & ~Exists(binned)

    def _owned_or_shared_q(self, user, *, prefix=""):
        owned = scope_filter(user, owner_field=f"{prefix}owner", department_field=f"{prefix}department")
        if not owned:  # Q(): the "all" scope. (Q() | x would narrow it to x.)
            return owned
        return owned | team_member_q(CustomerTeamMember, user, prefix=prefix)

    def visible_to(self, user):
        return self.alive().filter(self.scope_q(user))

    def scope_arms(self, user):
        """``scope_q`` as a list of conditions whose OR it is (None: every row, the "all" scope) —
        the data-scope rules the user holds, then the team-member rule. For counting a visible
        list rule by rule, each by its own index (``selectors.capped_count``); the same rule."""
        owned = scope_arms(user)
        if owned is None:
            return None
        owned_not_pooled = Q(owner__isnull=False)
        return [arm & owned_not_pooled for arm in [*owned, team_member_q(CustomerTeamMember, user)]]

    def recycle_bin_visible_to(self, user):
        """Deleted customers the user could see before they were deleted (to restore them); a
        customer deleted while in a pool is found by the "all" scope."""
        return self.in_recycle_bin().filter(self._owned_or_shared_q(user))

    def editable_q(self, user):
        """The rows ``user`` may change: within their data scope, or shared with them read-write;
        a read-only team member may not. (Model permissions are checked by the callers.)"""
        owned = scope_filter(user)
        if owned:  # not the "all" scope
            owned |= team_member_q(CustomerTeamMember, user, access=TeamAccess.WRITE)
        return owned

    def editable_by(self, user):
        return self.alive().filter(self.editable_q(user))

    def tag_history_model(self):
        return CUSTOMER_HISTORY.m2m_models[Customer._meta.get_field("tags")]

    def managed_by(self, user):
        """The rows ``user`` manages through their data scope (owner, or a manager above): they
        may transfer, delete, restore and share them. Team members — even read-write ones — may
        not."""
        return self.filter(scope_filter(user))


# Kept at module level too: customer_create writes its one "created" row through it, after the tags.
CUSTOMER_HISTORY = HistoricalRecords(
    excluded_fields=["search_text", "name_key", "last_follow_up_content", "updated_at"], m2m_fields=["tags"]
)


class Customer(OwnedModel):
    name = models.CharField(_("客户名称"), max_length=200)
    kind = models.CharField(_("类型"), max_length=16, choices=CustomerKind.choices, default=CustomerKind.COMPANY)
    credit_code = CreditCodeField(_("统一社会信用代码"), blank=True)
    mobile = CnMobileField(_("手机"), blank=True)
    phone = CnPhoneField(_("电话"), blank=True)
    email = models.EmailField(_("邮箱"), blank=True)
    industry = models.ForeignKey(
        Industry, verbose_name=_("行业"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source = models.ForeignKey(
        Source, verbose_name=_("来源"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    level = models.ForeignKey(
        CustomerLevel, verbose_name=_("等级"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("标签"), blank=True, related_name="customers")
    province = models.CharField(_("省份"), max_length=6, blank=True)
    city = models.CharField(_("城市"), max_length=6, blank=True)
    district = models.CharField(_("区县"), max_length=6, blank=True)
    address = models.CharField(_("详细地址"), max_length=200, blank=True)
    website = models.URLField(_("网址"), max_length=200, blank=True)
    deal_status = models.CharField(_("成交状态"), max_length=8, choices=DealStatus.choices, default=DealStatus.NONE)
    deal_at = models.DateTimeField(_("成交时间"), null=True, blank=True)
    next_follow_up_at = models.DateTimeField(_("下次联系时间"), null=True, blank=True)
    last_follow_up_at = models.DateTimeField(_("最近跟进时间"), null=True, blank=True)
    last_follow_up_content = models.TextField(_("最近跟进内容"), blank=True, editable=False)
    remark = models.TextField(_("备注"), blank=True)
    custom_fields = models.JSONField(_("自定义字段"), default=dict, blank=True)
    version = models.PositiveIntegerField(_("版本"), default=1)
    deleted_at = models.DateTimeField(_("删除时间"), null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("删除人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Name, credit code, e-mails, phone digits and contact names in one string, kept by
    # customers.services.customer_search_refresh; the one column the search box reads.
    search_text = models.TextField(editable=False, blank=True, default="")
    # The company name reduced for the duplicate check (客户查重): full-width → half-width, no
    # punctuation or spaces, no region or legal suffix; kept by the customers services.
    name_key = models.CharField(max_length=200, editable=False, blank=True, default="")

    objects = CustomerQuerySet.as_manager()
    history = CUSTOMER_HISTORY

    class Meta:
        verbose_name = _("客户")
        verbose_name_plural = _("客户")
        permissions = [
            ("transfer_customer", _("可以转移客户")),
            ("view_full_contact", _("可以查看完整联系方式")),
            ("force_duplicate_customer", _("可以强制保存疑似重复的客户")),
        ]
        indexes = [
            GinIndex(OpClass("search_text", name="gin_trgm_ops"), name="customer_search_trgm"),
            GinIndex(OpClass("name", name="gin_trgm_ops"), name="customer_name_trgm"),
            GinIndex(OpClass("custom_fields", name="jsonb_path_ops"), name="customer_custom_fields_gin"),
            # The list's default order, live rows only; per owner and per department for scoped lists.
            models.Index(
                fields=["-updated_at", "-id"], name="customer_live_recent", condition=Q(deleted_at__isnull=True)
            ),
            models.Index(fields=["owner", "-updated_at", "-id"], name="customer_owner_recent"),
            models.Index(fields=["department", "-updated_at", "-id"], name="customer_dept_recent"),
            models.Index(fields=["next_follow_up_at"], name="customer_next_follow_up"),
            # 今日需联系 within a scope's arm (the workbench's tiles, the list's "today" view): the
            # department's or owner's customers due by a time, without the company-wide range.
            models.Index(
                fields=["department", "next_follow_up_at"],
                include=["owner"],
                condition=Q(deleted_at__isnull=True, owner__isnull=False),
                name="customer_dept_next_follow_up",
            ),
            models.Index(
                fields=["owner", "next_follow_up_at"],
                condition=Q(deleted_at__isnull=True, owner__isnull=False),
                name="customer_owner_next_follow_up",
            ),
            models.Index(fields=["last_follow_up_at"], name="customer_last_follow_up"),
            # The recycle bin; its ids too, for the "customer not in the recycle bin" anti-joins of
            # deals (opportunities.models.OpportunityQuerySet.alive) without a heap visit.
            models.Index(
                fields=["deleted_at"], include=["id"], name="customer_deleted", condition=Q(deleted_at__isnull=False)
            ),
            models.Index(fields=["mobile"], name="customer_mobile", condition=~Q(mobile="")),
            models.Index(fields=["credit_code"], name="customer_credit_code", condition=~Q(credit_code="")),
            models.Index(fields=["email"], name="customer_email", condition=~Q(email="")),
            GinIndex(OpClass("name_key", name="gin_trgm_ops"), name="customer_name_key_trgm"),
            models.Index(fields=["name_key"], name="customer_name_key"),
            # The visible rows per scope rule (selectors.capped_count and PagedByRule count and
            # page a list rule by rule): a department's or an owner's live, owned customers,
            # newest first, with what the scope and the commonest filters (level, last follow-up)
            # test — a page is a backward index-only walk, a count an index-only scan; and the
            # creation time, for the "not followed up for N days" rule (selectors.not_followed_up_q).
            models.Index(
                fields=["department", "updated_at", "id"],
                include=["owner", "level", "last_follow_up_at", "created_at"],
                name="customer_visible_department",
                condition=Q(deleted_at__isnull=True, owner__isnull=False),
            ),
            models.Index(
                fields=["owner", "updated_at", "id"],
                include=["department", "level", "last_follow_up_at", "created_at"],
                name="customer_visible_owner",
                condition=Q(deleted_at__isnull=True, owner__isnull=False),
            ),
        ]

    def __str__(self):
        return self.name


class CustomerTeamMember(TeamMemberBase):
    """One guardian object permission on one customer (see staff.teams)."""

    content_object = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="team_rows")

    class Meta(TeamMemberBase.Meta):
        verbose_name = _("客户团队成员")
        verbose_name_plural = _("客户团队成员")
        indexes = [models.Index(fields=["user", "permission", "content_object"], name="customer_team_user_idx")]


class CustomerMerge(models.Model):
    """One merge (合并): the customer ``other_id`` went into ``survivor`` and is in the recycle bin.
    Its history rows (kept when the recycle bin is purged) stay readable from the survivor through
    this row; a later merge of the survivor carries the row along."""

    survivor = models.ForeignKey(
        Customer, verbose_name=_("保留的客户"), on_delete=models.CASCADE, related_name="merges"
    )
    other_id = models.BigIntegerField(_("被合并的客户"), db_index=True)
    other_name = models.CharField(_("被合并的客户名称"), max_length=200)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    merged_at = models.DateTimeField(_("合并时间"), auto_now_add=True)
    # The survivor's fields that took the other's value (names only: values stay in the history).
    fields_taken = models.JSONField(_("采用对方值的字段"), default=list, blank=True)
    # What moved, per kind: {"contacts": 2, "tags": 1, "team_members": 1, "<registered mover>": n}.
    moved = models.JSONField(_("转移的记录"), default=dict, blank=True)

    class Meta:
        verbose_name = _("客户合并记录")
        verbose_name_plural = _("客户合并记录")
        ordering = ["-merged_at", "-id"]

    def __str__(self):
        return f"{self.other_name} → {self.survivor_id}"


class ContactQuerySet(models.QuerySet):
    """Contacts are seen through their customer: the customer's scope is theirs."""

    def visible_to(self, user):
        return self.filter(customer__deleted_at__isnull=True).filter(
            Customer.objects.scope_q(user, prefix="customer__")
        )


class Contact(TimeStampedModel):
    customer = models.ForeignKey(Customer, verbose_name=_("客户"), on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("姓名"), max_length=50)
    title = models.CharField(_("职务"), max_length=50, blank=True)
    mobile = CnMobileField(_("手机"), blank=True)
    email = models.EmailField(_("邮箱"), blank=True)
    wechat = models.CharField(_("微信号"), max_length=50, blank=True)
    birthday = models.DateField(_("生日"), null=True, blank=True)
    is_primary = models.BooleanField(_("主要联系人"), default=False)
    remark = models.TextField(_("备注"), blank=True)
    custom_fields = models.JSONField(_("自定义字段"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = ContactQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("联系人")
        verbose_name_plural = _("联系人")
        ordering = ["-is_primary", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(is_primary=True), name="contact_one_primary_per_customer"
            )
        ]
        indexes = [
            models.Index(fields=["customer", "-updated_at"], name="contact_customer_recent"),
            models.Index(fields=["mobile"], name="contact_mobile", condition=~Q(mobile="")),
            models.Index(fields=["email"], name="contact_email", condition=~Q(email="")),
        ]

    def __str__(self):
        return self.name


class SavedView(TimeStampedModel):
    """A user's own saved filter on a list (我的视图): the query string of the list's filters."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("员工"), on_delete=models.CASCADE, related_name="saved_views"
    )
    target = models.CharField(_("列表"), max_length=16, choices=CustomFieldTarget.choices, default="customer")
    name = models.CharField(_("名称"), max_length=30)
    params = models.JSONField(_("筛选条件"), default=dict)

    class Meta:
        verbose_name = _("保存的视图")
        verbose_name_plural = _("保存的视图")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "target", "name"], name="saved_view_unique_name_per_user")
        ]

    def __str__(self):
        return self.name


class CarriedFromCustomer(models.Model):
    """A row of one customer that carries a copy of the customer's ``owner`` and ``department``
    (follow-ups, profiles), written by the database whatever writes either side (triggers of
    ``activities`` 0002 and ``analytics`` 0003): on every insert of the row or change of its
    customer, and whenever the customer's owner or department changes (transfer, pool claim and
    return, 离职交接, a department move). Its scope is ``Customer.objects.carried_scope_q``, read
    on these columns and their indexes (see bench/). Never set them in Python: the database
    overwrites them."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("客户负责人"),
        null=True,
        editable=False,
        on_delete=models.DO_NOTHING,  # a copy: the customer's own key protects the user
        db_constraint=False,
        db_index=False,  # each model indexes them with what its lists filter on
        related_name="+",
    )
    department = models.ForeignKey(
        "staff.Department",
        verbose_name=_("客户所属部门"),
        null=True,
        editable=False,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )

    class Meta:
        abstract = True
