"""Workbooks the app writes: the import template, the error sheet of an import, and the cells of
an export (neutralised so a spreadsheet never runs them as formulas)."""

import io
import re

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from imports import files
from imports.columns import columns_for

BAD_FILL = PatternFill("solid", fgColor="FFC7CE")
BAD_FONT = Font(color="9C0006")
HEADER_FONT = Font(bold=True)
REQUIRED_FONT = Font(bold=True, color="C00000")
TEMPLATE_DATA_ROWS = 5000  # rows the drop-downs cover in the template (beyond: still accepted, no list)
TEXT_FORMAT = "@"

# SPEC §2.3 / OWASP CSV injection: a cell starting with one of these is run by spreadsheets.
DANGEROUS_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """A text cell made inert: prefixed with an apostrophe when it starts with = + - @ tab or CR
    (the spreadsheet then shows it as text). Other values unchanged."""
    if isinstance(value, str) and value.startswith(DANGEROUS_STARTS):
        return "'" + value
    return value


# A line of a row joined by newlines that starts like DANGEROUS_STARTS: maybe a cell to neutralise.
_MAYBE_DANGEROUS = re.compile("(?:^|\n)[" + re.escape("".join(DANGEROUS_STARTS)) + "]")


def neutralise_row(values):
    """``neutralise`` over a row (a list, changed in place and returned). The usual row of text,
    with no cell to change, is found so in one scan of the whole row."""
    try:
        if not _MAYBE_DANGEROUS.search("\n".join(values)):
            return values
    except TypeError:  # not all text
        pass
    values[:] = map(neutralise, values)
    return values


def template(user, target):
    """The import template (.xlsx bytes): the user's columns, ``*`` on required ones, one example
    row, drop-downs from a hidden options sheet, text format on identifier columns (so Excel keeps
    18-digit codes and leading zeros)."""
    columns = columns_for(user, target)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("客户") if target == "customer" else _("联系人")
    options = workbook.create_sheet("options")
    options.sheet_state = "hidden"
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        cell = sheet.cell(row=1, column=index, value=column.header)
        cell.font = REQUIRED_FONT if column.required else HEADER_FONT
        if column.required:
            cell.comment = Comment(_("必填"), "CRM")
        example = sheet.cell(row=2, column=index, value=column.example or None)
        example.font = Font(italic=True, color="808080")
        sheet.column_dimensions[letter].width = max(12, min(40, len(column.header) * 2 + 4))
        if column.kind in (files.IDENTIFIER, files.TEXT):
            for row in range(2, 200):
                sheet.cell(row=row, column=index).number_format = TEXT_FORMAT
        if column.choices:
            for position, choice in enumerate(column.choices, start=1):
                options.cell(row=position, column=index, value=choice)
            reference = f"{quote_sheetname(options.title)}!${letter}$1:${letter}${len(column.choices)}"
            validation = DataValidation(type="list", formula1=reference, allow_blank=True)
            validation.error = _("请从下拉列表中选择。")
            validation.errorTitle = column.label
            validation.showErrorMessage = True
            validation.add(f"{letter}2:{letter}{TEMPLATE_DATA_ROWS}")
            sheet.add_data_validation(validation)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


class ErrorSheet:
    """The rows of an upload that have errors, as the user wrote them, the bad cells highlighted
    and the reasons in a 错误原因 column — so they fix and upload this sheet again. Filled while
    the preview reads the upload (``add``: each bad row as read, with its problems), so the upload
    is not read a second time; write-only, so memory stays flat."""

    def __init__(self, header):
        self.positions = {text: index for index, text in enumerate(header)}
        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(_("错误数据"))
        self.rows = 0
        heading = []
        for text in [*header, _("错误原因")]:
            cell = WriteOnlyCell(self.sheet, value=text)
            cell.font = HEADER_FONT
            heading.append(cell)
        self.sheet.append(heading)

    def add(self, values, problems):
        """One bad row: ``values`` its cells as read (files.Row.cells), ``problems`` [(column
        header or "", message)]."""
        bad = {self.positions[column] for column, _message in problems if column in self.positions}
        cells = []
        for index, value in enumerate(values):
            cell = WriteOnlyCell(self.sheet, value=_plain(value))
            if index in bad:
                cell.fill = BAD_FILL
                cell.font = BAD_FONT
            cells.append(cell)
        reasons = "；".join(f"{column}：{message}" if column else message for column, message in problems)
        cells.append(WriteOnlyCell(self.sheet, value=reasons))
        self.sheet.append(cells)
        self.rows += 1

    def content(self):
        buffer = io.BytesIO()
        self.workbook.save(buffer)
        return buffer.getvalue()


def _plain(value):
    """A cell of the user's upload written back as data, never as a formula."""
    if isinstance(value, str) and value.startswith("="):
        return "'" + value
    return value
