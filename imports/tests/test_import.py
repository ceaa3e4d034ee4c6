import datetime

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from audit.models import AuditEvent
from customers.models import Contact, Customer, CustomerLevel
from customers.tests.factories import CustomerFactory, IndustryFactory, SourceFactory, TagFactory, make_customer
from imports import services
from imports.models import ImportStatus
from imports.tests.helpers import commit, csv_file, errors_of, upload_and_validate, with_exact_numbers, xlsx, xlsx_bytes

pytestmark = pytest.mark.django_db

CODE = "91310115MA1K4AB1XK"
DIGIT_CODE = 913100007109375816  # a valid all-digit credit code, stored as a number


@pytest.fixture
def lists():
    return {
        "source": SourceFactory(name="展会"),
        "industry": IndustryFactory(name="制造业"),
        "tag": TagFactory(name="重点"),
    }


def test_a_file_with_known_bad_rows_lists_every_error_by_row_and_column(org, lists):
    # given: rows 2, 4 and 8 are good; the others each break something
    rows = [
        [
            "上海云帆科技有限公司",
            "企业",
            CODE,
            "13800138000",
            "a@example.com",
            "A",
            "展会",
            "制造业",
            "重点",
            "上海市",
            "市辖区",
            "",
        ],
        ["", "企业", "", "", "", "", "", "", "", "", "", "没有名称"],  # row 3
        ["北京明远贸易有限公司", "个人", "", "138 0013 8001", "", "B", "", "", "", "", "", ""],  # row 4
        ["坏手机公司", "企业", "", "12345", "not-an-email", "Z", "电视", "", "不存在", "", "", ""],  # row 5
        ["上海云帆科技有限公司", "", "", "", "", "", "", "", "", "", "", ""],  # row 6: same name as row 2
        ["错代码公司", "公司", "91310115MA1K4AB1X0", "", "", "", "", "", "", "火星", "", ""],  # row 7
        ["广州天府物流有限公司", "", "", "", "", "", "", "", "", "广东", "广州", ""],  # row 8
        ["重复手机公司", "", "", "13800138000", "", "", "", "", "", "", "", ""],  # row 9: mobile of row 2
    ]
    job = upload_and_validate(org.east_rep, xlsx(rows))

    assert job.status == ImportStatus.VALIDATED
    assert job.counts == {"rows": 8, "valid": 3, "invalid": 5, "duplicates": 0, "ambiguous": 0}
    assert errors_of(job) == [
        (3, "客户名称", "该字段是必填项。"),
        (5, "手机", "请输入有效的中国大陆手机号码（11位，以1开头）。"),
        (5, "邮箱", "请输入有效的电子邮箱地址。"),
        (5, "等级", "等级「Z」不存在。"),
        (5, "来源", "来源「电视」不存在。"),
        (5, "标签", "标签「不存在」不存在。"),
        (6, "客户名称", "与文件第 2 行重复。"),
        (7, "类型", "类型应为：企业、个人。"),
        (7, "统一社会信用代码", "请输入有效的统一社会信用代码（18位数字或大写字母，最后一位校验码须正确）。"),
        (7, "省份", "省份「火星」不存在。"),
        (9, "手机", "与文件第 2 行重复。"),
    ]
    assert not Customer.objects.exists()  # a preview writes nothing


def test_numbers_in_cells_keep_their_digits_and_unreadable_ones_are_flagged(org):
    rows = [
        ["整数代码公司", "", DIGIT_CODE, 13800138000, "", "", "", "", "", "", "", 12],
        ["浮点手机公司", "", "", 13800138001.0, "", "", "", "", "", "", "", ""],
        ["丢位代码公司", "", 9.1310000710937504e17, "", "", "", "", "", "", "", "", ""],
        ["小数备注公司", "", "", "", "", "", "", "", "", "", "", 3.5],
        ["全角手机公司", "", "", "１３８００１３８００２ ", "", "", "", "", "", "", "", "  留空格  "],
    ]
    # openpyxl (like Excel) writes a float for a number this long; another program may write the
    # exact integer literal, which openpyxl reads back as an int.
    data = with_exact_numbers(xlsx_bytes(rows), {"<v>9.131000071093759e+17</v>": f"<v>{DIGIT_CODE}</v>"})
    job = upload_and_validate(org.east_rep, SimpleUploadedFile("客户.xlsx", data))
    assert [(row, column) for row, column, _m in errors_of(job)] == [(4, "统一社会信用代码"), (5, "备注")]
    assert "无法确保完整准确" in errors_of(job)[0][2]

    job = commit(org.east_rep, job, "create")
    stored = dict(Customer.objects.values_list("name", "credit_code"))
    assert stored["整数代码公司"] == str(DIGIT_CODE)
    mobiles = dict(Customer.objects.values_list("name", "mobile"))
    assert mobiles == {"整数代码公司": "13800138000", "浮点手机公司": "13800138001", "全角手机公司": "13800138002"}
    assert Customer.objects.get(name="全角手机公司").remark == "留空格"
    assert Customer.objects.get(name="整数代码公司").remark == "12"


def test_gb18030_csv_imports_without_choosing_the_encoding(org):
    text = "客户名称,手机,备注\r\n深圳腾云科技有限公司,13800138000,老客户介绍\r\n𠮷野家餐饮有限公司,,生僻字\r\n"
    job = upload_and_validate(org.east_rep, csv_file(text, encoding="gb18030"))
    assert (job.encoding, job.counts["valid"]) == ("gb18030", 2)
    commit(org.east_rep, job, "skip")
    assert set(Customer.objects.values_list("name", "remark")) == {
        ("深圳腾云科技有限公司", "老客户介绍"),
        ("𠮷野家餐饮有限公司", "生僻字"),
    }


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_encodings(org, encoding):
    job = upload_and_validate(org.east_rep, csv_file("客户名称\r\n杭州西湖茶业有限公司\r\n", encoding=encoding))
    assert job.counts["valid"] == 1
    assert job.encoding == {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "gbk": "gb18030"}[encoding]


def test_dates_from_excel_serials_and_text(org):
    header = ["客户名称", "下次联系时间"]
    rows = [
        ["序列日期公司", 46023.5],  # 2026-01-01 12:00
        ["文本日期公司", "2026年2月3日 9:30"],
        ["日期单元格公司", datetime.datetime(2026, 3, 4, 8, 0)],  # noqa: DTZ001 - a cell's wall-clock value
        ["坏日期公司", "明天"],
    ]
    job = upload_and_validate(org.east_rep, xlsx(rows, header=header))
    assert errors_of(job) == [(5, "下次联系时间", "输入一个有效的日期/时间。")]
    commit(org.east_rep, job, "create")
    got = {
        name: moment.astimezone(datetime.UTC)
        for name, moment in Customer.objects.values_list("name", "next_follow_up_at")
    }
    shanghai = datetime.timezone(datetime.timedelta(hours=8))
    assert got["序列日期公司"] == datetime.datetime(2026, 1, 1, 12, 0, tzinfo=shanghai)
    assert got["文本日期公司"] == datetime.datetime(2026, 2, 3, 9, 30, tzinfo=shanghai)
    assert got["日期单元格公司"] == datetime.datetime(2026, 3, 4, 8, 0, tzinfo=shanghai)


def test_skip_policy_rerun_creates_no_duplicates(org, lists):
    rows = [
        ["上海云帆科技有限公司", "", CODE, "13800138000", "", "", "", "", "重点", "", "", ""],
        ["北京明远贸易有限公司", "", "", "13800138001", "", "", "", "", "", "", "", ""],
    ]
    first = commit(org.east_rep, upload_and_validate(org.east_rep, xlsx(rows)), "skip")
    assert (first.status, first.counts["created"]) == (ImportStatus.COMMITTED, 2)
    customer = Customer.objects.get(name="上海云帆科技有限公司")
    assert [tag.name for tag in customer.tags.all()] == ["重点"]
    assert customer.owner == org.east_rep and customer.department == org.east_rep.department
    assert "yunfan" not in customer.search_text and "上海云帆科技有限公司" in customer.search_text
    assert customer.history.count() == 1

    again = upload_and_validate(org.east_rep, xlsx(rows))
    assert again.counts["duplicates"] == 2
    again = commit(org.east_rep, again, "skip")
    assert (again.counts["created"], again.counts["skipped"]) == (0, 2)
    assert Customer.objects.count() == 2


def test_update_policy_updates_the_match_and_undo_restores_it(org):
    existing = make_customer(org.east_rep, name="上海云帆科技有限公司", mobile="13800138000", remark="旧备注")
    level = CustomerLevel.objects.get(code="A")
    rows = [["上海云帆科技有限公司", "", "", "", "", "A", "", "", "", "", "", "新备注"]]
    job = commit(org.east_rep, upload_and_validate(org.east_rep, xlsx(rows)), "update")
    assert (job.counts["created"], job.counts["updated"]) == (0, 1)
    existing.refresh_from_db()
    assert (existing.remark, existing.level, existing.mobile, existing.version) == ("新备注", level, "13800138000", 2)
    assert existing.history.first().history_change_reason.startswith("导入更新")

    services.import_undo(user=org.east_rep, job=job)
    existing.refresh_from_db()
    assert (existing.remark, existing.level, existing.version) == ("旧备注", None, 3)


def test_create_policy_creates_even_duplicates(org):
    make_customer(org.east_rep, name="上海云帆科技有限公司")
    rows = [["上海云帆科技有限公司", "", "", "", "", "", "", "", "", "", "", ""]]
    job = commit(org.east_rep, upload_and_validate(org.east_rep, xlsx(rows)), "create")
    assert job.counts["created"] == 1
    assert Customer.objects.filter(name="上海云帆科技有限公司").count() == 2


def test_update_policy_leaves_customers_the_user_cannot_edit(org):
    theirs = CustomerFactory(name="华北客户有限公司", owner=org.north_rep)
    rows = [["华北客户有限公司", "", "", "", "", "", "", "", "", "", "", "改一下"]]
    job = commit(org.east_rep, upload_and_validate(org.east_rep, xlsx(rows)), "update")
    assert (job.counts["updated"], job.counts["not_editable"]) == (0, 1)
    theirs.refresh_from_db()
    assert theirs.remark == ""


def test_a_failure_mid_commit_leaves_nothing(org, monkeypatch):
    monkeypatch.setattr(services, "CHUNK_ROWS", 2)
    rows = [[f"客户{i}有限公司", "", "", "", "", "", "", "", "", "", "", ""] for i in range(6)]
    job = upload_and_validate(org.east_rep, xlsx(rows))

    def explode(job, batch_number):
        if batch_number == 1:  # after two batches were written
            raise RuntimeError("injected")

    monkeypatch.setattr(services, "_commit_hook", explode)
    job = commit(org.east_rep, job, "skip")
    assert job.status == ImportStatus.VALIDATED
    assert "未写入任何数据" in job.message
    assert not Customer.objects.exists()
    assert not Customer.history.exists()
    assert not job.items.exists()

    monkeypatch.setattr(services, "_commit_hook", lambda job, batch_number: None)
    job = commit(org.east_rep, job, "skip")
    assert (job.status, Customer.objects.count()) == (ImportStatus.COMMITTED, 6)


def test_undo_puts_created_customers_in_the_recycle_bin_unless_touched(org):
    rows = [[f"客户{i}有限公司", "", "", "", "", "", "", "", "", "", "", ""] for i in range(3)]
    job = commit(org.east_rep, upload_and_validate(org.east_rep, xlsx(rows)), "skip")
    touched = Customer.objects.get(name="客户0有限公司")
    from customers.services import customer_update

    customer_update(user=org.east_rep, customer=touched, version=touched.version, data={"remark": "改过"})
    with pytest.raises(services.ConflictError):
        services.import_undo(user=org.east_rep, job=job)
    assert Customer.objects.alive().count() == 3

    customer_update(user=org.east_rep, customer=touched, version=touched.version + 1, data={"remark": ""})
    with pytest.raises(services.ConflictError):  # a second change is still a change
        services.import_undo(user=org.east_rep, job=job)

    other = commit(org.east_rep, upload_and_validate(org.east_rep, xlsx(rows[1:])), "create")
    assert services.import_undo(user=org.east_rep, job=other) == {"removed": 2, "reverted": 0}
    assert Customer.objects.alive().count() == 3


def test_imports_are_audited(org):
    rows = [["上海云帆科技有限公司", "", "", "", "", "", "", "", "", "", "", ""]]
    job = commit(org.east_rep, upload_and_validate(org.east_rep, xlsx(rows, name="名单.xlsx")), "skip")
    event = AuditEvent.objects.get(action="import")
    assert event.actor == org.east_rep
    assert event.data == {
        "file_name": "名单.xlsx", "target": "customer", "policy": "skip",
        "rows": 1, "created": 1, "updated": 0, "skipped": 0, "invalid": 0,
    }  # fmt: skip
    assert event.target_id == str(job.pk)


def test_hidden_fields_cannot_be_imported(org):
    from staff.models import FieldPermission

    FieldPermission.objects.create(role=org.roles["self"], target="customer", field="remark", access="hidden")
    job = upload_and_validate(org.east_rep, xlsx([["甲公司", "", "", "", "", "", "", "", "", "", "", "x"]]))
    assert errors_of(job) == []  # the column is unknown to them: ignored, and said so
    assert "备注" in job.message
    commit(org.east_rep, job, "skip")
    assert Customer.objects.get().remark == ""


def test_contacts_link_to_their_customer_by_name_mobile_or_credit_code(org):
    a = make_customer(org.east_rep, name="上海云帆科技有限公司", credit_code=CODE)
    b = make_customer(org.east_rep, name="北京明远贸易有限公司", mobile="13800138000")
    CustomerFactory(name="华北客户有限公司", owner=org.north_rep)
    header = ["所属客户*", "姓名*", "手机", "主要联系人"]
    rows = [
        ["上海云帆科技有限公司", "张伟", "13900139000", "是"],
        [CODE, "李娜", "", "否"],
        [13800138000, "王芳", "", ""],
        ["华北客户有限公司", "赵敏", "", ""],
        [str(a.pk), "刘静", "", ""],
        ["上海云帆科技有限公司", "张伟2", "13900139000", ""],
    ]
    job = upload_and_validate(org.east_rep, xlsx(rows, header=header), target="contact")
    assert errors_of(job) == [
        (5, "所属客户", "找不到客户「华北客户有限公司」（按名称、手机或信用代码），或您无权编辑它。"),
        (6, "所属客户", f"找不到客户「{a.pk}」（按名称、手机或信用代码），或您无权编辑它。"),
        (7, "手机", "与文件第 2 行重复。"),
    ]
    job = commit(org.east_rep, job, "skip")
    assert job.counts["created"] == 3
    assert set(Contact.objects.values_list("customer_id", "name", "is_primary")) == {
        (a.pk, "张伟", True),
        (a.pk, "李娜", False),
        (b.pk, "王芳", False),
    }
    again = commit(
        org.east_rep, upload_and_validate(org.east_rep, xlsx(rows[:1], header=header), target="contact"), "skip"
    )
    assert (again.counts["created"], again.counts["skipped"]) == (0, 1)
    services.import_undo(user=org.east_rep, job=job)
    assert Contact.objects.count() == 0


def test_error_sheet_marks_the_bad_cells_and_says_why(org):
    rows = [
        ["好公司", "", "", "13800138000", "", "", "", "", "", "", "", ""],
        ["坏公司", "", "", "123", "", "Z", "", "", "", "", "", ""],
    ]
    job = upload_and_validate(org.east_rep, xlsx(rows))
    sheet = load_workbook(job.error_file.open("rb")).active
    values = list(sheet.values)
    assert values[0][-1] == "错误原因"
    assert len(values) == 2  # the header and the bad row
    assert values[1][0] == "坏公司" and values[1][3] == "123"
    assert values[1][-1] == "手机：请输入有效的中国大陆手机号码（11位，以1开头）。；等级：等级「Z」不存在。"
    highlighted = [cell.column_letter for cell in sheet[2] if cell.fill.fgColor.rgb.endswith("FFC7CE")]
    assert highlighted == ["D", "F"]


def test_purge_removes_files_and_errors_after_seven_days(org):
    job = upload_and_validate(org.east_rep, xlsx([["坏公司", "", "", "123", "", "", "", "", "", "", "", ""]]))
    assert job.error_file and job.row_errors.exists()
    later = job.created_at + datetime.timedelta(days=8)
    assert services.import_purge_expired(now=later) == {"purged": 1}
    job.refresh_from_db()
    assert (job.status, bool(job.file), bool(job.error_file), job.row_errors.exists()) == (
        "expired",
        False,
        False,
        False,
    )


def test_commit_needs_the_add_permission(org):
    job = upload_and_validate(org.east_rep, xlsx([["甲公司", "", "", "", "", "", "", "", "", "", "", ""]]))
    org.east_rep.roles.clear()
    org.east_rep.user_permissions.set(Permission.objects.filter(codename__in=["add_importjob", "view_importjob"]))
    from staff.models import User

    user = User.objects.get(pk=org.east_rep.pk)
    with pytest.raises(services.DomainError):
        services.import_commit_start(user=user, job=job, policy="skip")


def test_template_has_required_marks_drop_downs_an_example_and_the_users_fields(org, lists):
    import io

    from customers.tests.factories import CustomFieldFactory
    from imports.workbooks import template
    from staff.models import FieldPermission

    CustomFieldFactory(key="grade", label="客户分级", type="choice", choices=["金", "银"], required=True)
    CustomFieldFactory(key="old", label="停用字段", is_active=False)
    FieldPermission.objects.create(role=org.roles["self"], target="customer", field="remark", access="hidden")
    book = load_workbook(io.BytesIO(template(org.east_rep, "customer")))
    sheet = book.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    assert header[0] == "客户名称*" and "客户分级*" in header and "等级" in header
    assert "备注" not in header and "停用字段" not in header
    assert sheet["A2"].value.startswith("（示例")
    lists_by_column = {
        header[ord(str(dv.sqref).split(":")[0][0]) - ord("A")]: dv.formula1
        for dv in sheet.data_validations.dataValidation
    }
    assert set(lists_by_column) == {"类型", "行业", "来源", "等级", "客户分级*"}
    options = book["options"]
    column = header.index("客户分级*") + 1
    assert [options.cell(row=r, column=column).value for r in (1, 2)] == ["金", "银"]
    assert options.sheet_state == "hidden"


def test_a_row_matching_several_customers_names_no_ids(org):
    """The matches come from the whole company: the error must not hand out the id of a
    customer outside the importer's scope."""
    mine = make_customer(org.east_rep, name="云帆科技（上海）有限公司")
    theirs = make_customer(org.north_other, check=False, name="其他公司", mobile="13800138000")
    row = ["上海云帆科技有限公司", "", "", "13800138000", "", "", "", "", "", "", "", ""]
    job = upload_and_validate(org.east_rep, xlsx([row]))
    [(_row, _column, message)] = errors_of(job)
    assert "2 条已有记录" in message
    assert f"#{theirs.pk}" not in message and str(theirs.pk) not in message.replace("2 条", "")
    assert mine.pk


def test_a_kind_cell_is_the_value_or_its_label_in_the_language_of_the_run():
    from django.utils import translation

    from imports.columns import CellError, _kind_converter

    kind = _kind_converter()
    assert [kind(text) for text in ("company", "企业", "person", "个人")] == ["company", "company", "person", "person"]
    with pytest.raises(CellError):
        kind("Company")
    with translation.override("en"):
        kind = _kind_converter()
        assert [kind("Company"), kind("Individual"), kind("person")] == ["company", "person", "person"]
        with pytest.raises(CellError, match="Company"):
            kind("企业")


def test_the_collector_runs_per_chunk_and_is_put_back_whatever_happens():
    import gc

    from imports.services import _collecting_per_chunk

    with pytest.raises(ValueError), _collecting_per_chunk() as chunk_done:
        assert not gc.isenabled()
        chunk_done()
        raise ValueError
    assert gc.isenabled()
