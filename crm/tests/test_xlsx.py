"""The streaming .xlsx writer: what it writes is what openpyxl (and so Excel/WPS) reads back."""

import io
import re
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from crm.xlsx import EXCEL_MAX_TEXT, XlsxWriter, safe_sheet_name

ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def written(rows, *, headers=("名称", "金额"), name="客户"):
    handle = io.BytesIO()
    with XlsxWriter(handle, sheet_name=name, headers=headers) as sheet:
        sheet.write_rows(rows)
    handle.seek(0)
    return load_workbook(handle)


def test_header_is_bold_and_frozen_and_values_keep_their_types():
    workbook = written([["甲公司 & <乙>", Decimal("12.50")], ["丙", 3], [None, ""], ["=1+1", True]])
    sheet = workbook.active
    assert sheet.title == "客户"
    assert sheet.freeze_panes == "A2"
    assert [cell.value for cell in sheet[1]] == ["名称", "金额"]
    assert all(cell.font.b for cell in sheet[1])
    assert not sheet["A2"].font.b
    assert [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)] == [
        ["甲公司 & <乙>", 12.5],
        ["丙", 3],
        [None, None],
        ["=1+1", True],  # text stays text: an inline string is never a formula
    ]
    assert sheet["A5"].data_type == "s"


def test_illegal_characters_are_dropped_and_long_text_is_cut():
    sheet = written([["a\x00b\x1fc\u0007", "x" * (EXCEL_MAX_TEXT + 10)]]).active
    assert sheet["A2"].value == "abc"
    assert len(sheet["B2"].value) == EXCEL_MAX_TEXT


def test_sheet_names_excel_refuses_are_made_safe():
    assert safe_sheet_name("a/b:c*d?e[f]g\\h") == "a_b_c_d_e_f_g_h"
    assert safe_sheet_name("长" * 40) == "长" * 31
    assert written([], name="a/b").active.title == "a_b"


def test_many_rows_stream_in_order():
    rows = [[f"客户{i}", i] for i in range(2500)]  # crosses the flush size twice
    sheet = written(rows).active
    assert sheet.max_row == 2501
    assert [sheet["A1001"].value, sheet["B2501"].value] == ["客户999", 2499]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.text(max_size=30), min_size=1, max_size=4), max_size=5))
def test_any_text_reads_back_as_written_less_what_xml_cannot_carry(rows):
    sheet = written(rows, headers=()).active
    expected = [[ILLEGAL.sub("", value) or None for value in row] for row in rows]
    actual = [[sheet.cell(row=r + 1, column=c + 1).value for c in range(len(row))] for r, row in enumerate(rows)]
    assert actual == expected
