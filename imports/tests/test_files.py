"""Each refusal (nothing written, a clear message) and the reading of cells."""

import datetime
import io
import zipfile

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from crm.errors import DomainError
from customers.models import Customer
from imports import files, services
from imports.files import DATE, IDENTIFIER, NUMBER, TEXT, to_cell
from imports.models import ImportJob, ImportStatus
from imports.tests.helpers import csv_file, upload_and_validate, xlsx, xlsx_bytes


def refused(user, uploaded):
    with pytest.raises(DomainError) as caught:
        services.import_upload(user=user, target="customer", uploaded=uploaded)
    assert caught.value.code == "file_refused"
    assert not ImportJob.objects.exists()
    return str(caught.value.message)


def rezip(data, *, add=None, replace=None):
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            content = source.read(member.filename)
            if replace and member.filename in replace:
                content = replace[member.filename](content)
            target.writestr(member, content)
        for name, content in (add or {}).items():
            target.writestr(name, content)
    return out.getvalue()


@pytest.mark.django_db
class TestRefusals:
    def test_over_20_mb(self, org):
        big = SimpleUploadedFile("大.csv", b"\xe5\xae\xa2\n" + b"a" * files.MAX_BYTES)
        assert "20 MB" in refused(org.east_rep, big)

    def test_over_200000_rows(self, org):
        text = "客户名称\n" + "".join(f"客户{i}\n" for i in range(files.MAX_ROWS + 1))
        job = upload_and_validate(org.east_rep, csv_file(text))
        assert job.status == ImportStatus.REFUSED
        assert "200,000" in job.message
        assert not job.row_errors.exists()

    def test_an_xlsx_declaring_too_many_rows_is_refused_at_upload(self, org):
        data = rezip(
            xlsx_bytes([["甲"]], header=["客户名称"]),
            replace={"xl/worksheets/sheet1.xml": lambda c: c.replace(b'ref="A1:A2"', b'ref="A1:A300000"')},
        )
        assert "200,000" in refused(org.east_rep, SimpleUploadedFile("a.xlsx", data))

    def test_text_renamed_to_xlsx(self, org):
        assert "不是有效的 .xlsx" in refused(org.east_rep, csv_file("客户名称\n甲\n", name="a.xlsx"))

    def test_a_zip_that_is_not_a_workbook(self, org):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("hello.txt", "hi")
        assert "缺少工作簿" in refused(org.east_rep, SimpleUploadedFile("a.xlsx", out.getvalue()))

    def test_binary_as_csv(self, org):
        assert "编码" in refused(org.east_rep, SimpleUploadedFile("a.csv", bytes(range(128, 256)) * 10))

    def test_legacy_xls(self, org):
        data = files.OLE_MAGIC + b"\0" * 512
        assert ".xls" in refused(org.east_rep, SimpleUploadedFile("a.xls", data))

    def test_xlsm_by_name(self, org):
        assert "宏" in refused(org.east_rep, SimpleUploadedFile("a.xlsm", xlsx_bytes([["甲"]])))

    def test_macros_inside_a_file_named_xlsx(self, org):
        data = rezip(xlsx_bytes([["甲"]]), add={"xl/vbaProject.bin": b"\0" * 100})
        assert "宏" in refused(org.east_rep, SimpleUploadedFile("a.xlsx", data))

    def test_macro_content_type(self, org):
        data = rezip(
            xlsx_bytes([["甲"]]),
            replace={"[Content_Types].xml": lambda c: c.replace(b"sheet.main+xml", b"sheet.macroEnabled.main+xml")},
        )
        assert "宏" in refused(org.east_rep, SimpleUploadedFile("a.xlsx", data))

    def test_zip_bomb(self, org):
        # 100 MB of zeros compresses to ~100 KB: judged from the central directory, never inflated.
        data = rezip(xlsx_bytes([["甲"]]), add={"xl/media/bomb.bin": b"\0" * (100 * 1024 * 1024)})
        assert len(data) < 1024 * 1024
        assert "压缩炸弹" in refused(org.east_rep, SimpleUploadedFile("a.xlsx", data))

    def test_formulas_in_xlsx_cells(self, org):
        job = upload_and_validate(
            org.east_rep, xlsx([["甲公司"], ['=HYPERLINK("http://x","点我")']], header=["客户名称"])
        )
        assert job.status == ImportStatus.REFUSED
        assert "第 3 行「客户名称」列包含公式" in job.message
        assert not Customer.objects.exists()

    def test_csv_cells_beginning_with_equals(self, org):
        job = upload_and_validate(org.east_rep, csv_file("客户名称,备注\n甲公司,\n乙公司,=1+2\n"))
        assert job.status == ImportStatus.REFUSED
        assert "第 3 行「备注」列包含公式" in job.message
        with pytest.raises(DomainError):
            services.import_commit_start(user=org.east_rep, job=job, policy="skip")

    def test_a_file_without_the_required_column(self, org):
        assert "缺少必填列：客户名称" in refused(org.east_rep, csv_file("手机\n13800138000\n"))


@pytest.mark.parametrize(
    ("raw", "kind", "value", "flagged"),
    [
        (13800138000, IDENTIFIER, "13800138000", False),
        (13800138000.0, IDENTIFIER, "13800138000", False),
        (913100007109375816, IDENTIFIER, "913100007109375816", False),  # an int is exact
        (9.131000071093759e17, IDENTIFIER, "", True),  # beyond 2**53 as a float: digits lost
        (1.5, TEXT, "", True),
        (1.5, NUMBER, "1.5", False),
        (12000.25, NUMBER, "12000.25", False),
        (45292, DATE, "2024-01-01", False),  # an Excel serial in a date column
        (45292.5, DATE, "", True),  # a time where only a date belongs
        ("2024/1/5", DATE, "2024-01-05", False),
        ("2024年1月5日", DATE, "2024-01-05", False),
        ("20240105", DATE, "2024-01-05", False),
        (datetime.datetime(2024, 1, 5, 0, 0), DATE, "2024-01-05", False),  # noqa: DTZ001
        (datetime.datetime(2024, 1, 5, 0, 0), TEXT, "", True),  # noqa: DTZ001 - a date where text belongs
        ("１３８００１３８０００", IDENTIFIER, "13800138000", False),
        ("ｉｎｆｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", IDENTIFIER, "info@example.com", False),
        ("华为技术（上海）有限公司 ", TEXT, "华为技术（上海）有限公司", False),  # brackets kept, spaces trimmed
        ("第１分公司\u3000", TEXT, "第1分公司", False),
        (None, TEXT, "", False),
        (float("nan"), NUMBER, "", True),
    ],
)
def test_to_cell(raw, kind, value, flagged):
    cell = to_cell(raw, kind)
    assert (cell.value, bool(cell.error)) == (value, flagged)


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("客户名称\n甲".encode(), "utf-8"),
        (b"\xef\xbb\xbf" + "客户名称\n甲".encode(), "utf-8-sig"),
        ("客户名称\n甲".encode("gbk"), "gb18030"),
        ("客户名称\n𠮷".encode("gb18030"), "gb18030"),
    ],
)
def test_detect_encoding(data, encoding):
    assert files.detect_encoding(io.BytesIO(data)) == encoding


def _inline_sheet(rows_xml):
    """An .xlsx whose first sheet's <sheetData> is ``rows_xml`` (strings inline, as openpyxl's
    write-only mode and other producers write them)."""
    workbook = Workbook(write_only=True)
    workbook.create_sheet("客户").append(["x"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = rezip(buffer.getvalue())
    source = zipfile.ZipFile(io.BytesIO(data))
    sheet = source.read("xl/worksheets/sheet1.xml").decode()
    start, end = sheet.index("<sheetData>"), sheet.index("</sheetData>") + len("</sheetData>")
    sheet = sheet[:start] + f"<sheetData>{rows_xml}</sheetData>" + sheet[end:]
    return rezip(data, replace={"xl/worksheets/sheet1.xml": lambda _content: sheet.encode()})


def test_inline_strings_are_read_as_openpyxl_reads_them():
    data = _inline_sheet(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>客户名称</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t xml:space="preserve"> 备注 </t></is></c></row>'
        '<row r="3"><c r="A3" t="inlineStr"><is><r><rPr><b/></rPr><t>华为</t></r><r><t>技术</t></r>'
        '<rPh sb="0" eb="1"><t>hua</t></rPh></is></c><c r="B3" t="inlineStr"><is><t>甲</t><r><t>乙</t></r></is></c>'
        '<c r="C3" t="inlineStr"><is><t/></is></c></row>'
        '<row><c t="inlineStr"><is><t>无坐标</t></is></c><c t="inlineStr"><f>1+1</f><is><t>2</t></is></c></row>'
    )
    header, rows = files.iter_rows(io.BytesIO(data), files.Inspected("xlsx"))
    expected = openpyxl.load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    expected_rows = [[cell.value for cell in row] for row in expected.iter_rows()]
    read = list(rows)
    assert header == ["客户名称", "备注"] == [text.strip() for text in expected_rows[0]]
    assert [(row.number, row.cells, row.formula_column) for row in read] == [
        (3, ["华为技术", "甲乙"], None),
        (4, ["无坐标", "=1+1"], 1),
    ]
    assert [row.cells for row in read] == [values[:2] for values in expected_rows[2:]]


# ASCII, the spaces clean_text strips, full-width digits, letters and signs, and a CJK character.
CELL_CHARACTERS = "a1 .-@\t\n\u3000\u00a0\ufeff０９ＡＺ＠～！企"


@settings(max_examples=500, deadline=None, derandomize=True)
@given(
    text=st.text(st.sampled_from(CELL_CHARACTERS), max_size=12) | st.text(max_size=12),
    kind=st.sampled_from([files.TEXT, files.IDENTIFIER, files.NUMBER, files.DATE, files.DATETIME, files.BOOLEAN]),
)
def test_clean_text_is_the_translation_then_the_strip(text, kind):
    expected = text.translate(files.FULL_WIDTH_DIGITS)
    if kind != files.TEXT:
        expected = expected.translate(files.FULL_WIDTH_ASCII)
    assert files.clean_text(text, kind) == expected.strip(files.SPACES)
