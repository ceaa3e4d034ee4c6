"""Uploaded files: what they really are (by their bytes, not their name), the refusals that keep a
hostile or broken file out (size, format, macros, zip bombs, formulas), and streamed reading of
their rows with every cell's meaning kept (numbers as the exact digits, dates from Excel serials
or text, full-width digits, stray spaces) — or flagged when it cannot be kept."""

import codecs
import csv
import datetime
import io
import re
import zipfile
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from openpyxl.cell.read_only import EMPTY_CELL
from openpyxl.reader.excel import ExcelReader
from openpyxl.utils.cell import coordinate_to_tuple, range_boundaries
from openpyxl.utils.datetime import from_excel
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import FORMULA_TAG, INLINE_STRING, WorkSheetParser
from openpyxl.xml.constants import SHEET_MAIN_NS

MAX_BYTES = 20 * 1024 * 1024  # SPEC §2.3: files over 20 MB are refused
MAX_ROWS = 200_000  # SPEC §2.3: more data rows than this are refused
# A zip member inflating more than this many times its compressed size is a zip bomb. Real
# worksheets compress 5–20×; very repetitive ones reach ~100×; bombs 1,000× and more.
MAX_ZIP_RATIO = 200
# Members smaller than this are never ratio-checked (tiny XML parts compress oddly).
ZIP_RATIO_MIN_BYTES = 1024 * 1024
# The whole archive may not inflate past this (a 20 MB sheet of text inflates to ~200 MB at most).
MAX_UNCOMPRESSED_BYTES = 500 * 1024 * 1024
MAX_COLUMNS = 200
EXCEL_SERIAL_MAX = 2_958_465  # 9999-12-31
FLOAT_EXACT_LIMIT = 2**53  # integers above this are not all representable as a float

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls / encrypted Office files


class FileRefused(Exception):
    """The file is refused as a whole; ``message`` says why (in the user's language)."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


@dataclass
class Inspected:
    file_format: str  # "xlsx" | "csv"
    encoding: str = ""  # csv: "utf-8-sig" | "utf-8" | "gb18030"
    row_hint: int | None = None  # data rows, when cheaply known


def inspect(fileobj, name):
    """What ``fileobj`` (seekable, binary) holds, or FileRefused. Checks the size, then the bytes:
    a zip with the parts of a workbook and no macros and no bomb → xlsx; text in UTF-8 (BOM or
    not) or GB18030/GBK → csv. The extension must agree with the content."""
    fileobj.seek(0, io.SEEK_END)
    size = fileobj.tell()
    fileobj.seek(0)
    if size > MAX_BYTES:
        raise FileRefused(_("文件超过 20 MB，请拆分后分批导入。"))
    if size == 0:
        raise FileRefused(_("文件是空的。"))
    head = fileobj.read(8)
    fileobj.seek(0)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension in ("xlsm", "xltm", "xlsb"):
        raise FileRefused(_("不接受启用宏的文件（.xlsm），请另存为 .xlsx 后再上传。"))
    if head.startswith(OLE_MAGIC):
        raise FileRefused(_("不支持旧版 Excel (.xls) 或加密的文件，请另存为 .xlsx 或 CSV 后再上传。"))
    if head.startswith(ZIP_MAGIC):
        if extension != "xlsx":
            raise FileRefused(_("文件内容是 Excel 工作簿，但扩展名不是 .xlsx。"))
        _check_workbook_archive(fileobj)
        return Inspected("xlsx", row_hint=_xlsx_row_hint(fileobj))
    if extension == "xlsx":
        raise FileRefused(_("不是有效的 .xlsx 文件（可能已损坏，或只是改了扩展名）。"))
    if extension != "csv":
        raise FileRefused(_("只支持 .xlsx 和 .csv 文件。"))
    encoding = detect_encoding(fileobj)
    return Inspected("csv", encoding=encoding)


# <dimension ref="A1:O100001"/> near the top of a worksheet part (Excel always writes it).
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)\"")
DIMENSION_SCAN_BYTES = 64 * 1024


_TEXT_TAG = f"{{{SHEET_MAIN_NS}}}t"
_RUN_TAG = f"{{{SHEET_MAIN_NS}}}r"


def _inline_text(element):
    """The text of an inline string (<is>): its own <t>, then each rich-text run's <t>; phonetic
    runs (<rPh>) left out — what openpyxl's ``Text.from_tree(element).content`` gives."""
    plain, runs = None, []
    for child in element:
        if child.tag == _TEXT_TAG:
            plain = child.text
        elif child.tag == _RUN_TAG:
            text = child.findtext(_TEXT_TAG)
            if text is not None:
                runs.append(text)
    return "".join(runs) if plain is None else plain + "".join(runs)


class _WorkSheetParser(WorkSheetParser):
    """openpyxl's worksheet parser, inline-string cells read without building openpyxl's rich-text
    objects (a Text and its runs per cell: ~40% of reading a file written by openpyxl's write-only
    mode, where every string is inline). The same cell as openpyxl's parse_cell otherwise."""

    def parse_cell(self, element):
        if element.get("t") != "inlineStr" or self.rich_text or element.find(FORMULA_TAG) is not None:
            return super().parse_cell(element)
        coordinate = element.get("r")
        style_id = element.get("s", 0)
        if style_id:
            style_id = int(style_id)
        if coordinate:
            row, column = coordinate_to_tuple(coordinate)
            self.col_counter = column
        else:
            self.col_counter += 1
            row, column = self.row_counter, self.col_counter
        value, data_type = None, "inlineStr"
        child = element.find(INLINE_STRING)
        if child is not None:
            value, data_type = _inline_text(child), "s"
        return {"row": row, "column": column, "value": value, "data_type": data_type, "style_id": style_id}


class _ReadOnlySheet(ReadOnlyWorksheet):
    """openpyxl's read-only worksheet, sized from a <dimension> in the head of its XML, its rows
    read with _WorkSheetParser. openpyxl looks for the dimension with a parser that, when there is
    none (files written by openpyxl's write-only mode — our own exports among them), reads the
    whole sheet: ~5 s at 100,000 rows, at every opening."""

    def _get_size(self):
        with self._get_source() as source:
            match = _DIMENSION.search(source.read(DIMENSION_SCAN_BYTES))
        if match:
            self._min_column, self._min_row, self._max_column, self._max_row = range_boundaries(match.group(1).decode())

    def _cells_by_row(self, min_col, min_row, max_col, max_row, values_only=False):
        """openpyxl's ReadOnlyWorksheet._cells_by_row (3.1), with _WorkSheetParser."""
        filler = None if values_only else EMPTY_CELL
        max_col = max_col or self.max_column
        max_row = max_row or self.max_row
        empty_row = []
        if max_col is not None:
            empty_row = (filler,) * (max_col + 1 - min_col)
        counter = min_row
        idx = 1
        with self._get_source() as src:
            parser = _WorkSheetParser(
                src,
                self._shared_strings,
                data_only=self.parent.data_only,
                epoch=self.parent.epoch,
                date_formats=self.parent._date_formats,
                timedelta_formats=self.parent._timedelta_formats,
            )
            for idx, row in parser.parse():
                if max_row is not None and idx > max_row:
                    break
                for _ in range(counter, idx):  # some rows are missing
                    counter += 1
                    yield empty_row
                if counter <= idx:
                    yield self._get_row(row, min_col, max_col, values_only)
                    counter += 1
        if max_row is not None and max_row < idx:
            for _ in range(counter, max_row + 1):
                yield empty_row


class _Reader(ExcelReader):
    """load_workbook(read_only=True) keeping the first worksheet only, as a _ReadOnlySheet."""

    def read_worksheets(self):
        for sheet, rel in self.parser.find_sheets():
            if rel.target not in self.valid_files or "chartsheet" in rel.Type:
                continue
            worksheet = _ReadOnlySheet(self.wb, sheet.name, rel.target, self.shared_strings)
            worksheet.sheet_state = sheet.state
            self.wb._sheets.append(worksheet)
            return


def load_workbook(fileobj, read_only=True, data_only=False):
    """The workbook of an .xlsx, read-only, with its first worksheet (``worksheets[0]``)."""
    reader = _Reader(fileobj, read_only=read_only, data_only=data_only)
    reader.read()
    return reader.wb


def _check_workbook_archive(fileobj):
    try:
        archive = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise FileRefused(_("不是有效的 .xlsx 文件（压缩包已损坏）。")) from None
    with archive:
        # The central directory tells each member's sizes before anything is inflated.
        members = archive.infolist()
        names = {member.filename for member in members}
        if any(name.lower().endswith("vbaproject.bin") for name in names):
            raise FileRefused(_("不接受包含宏的文件，请另存为不含宏的 .xlsx 后再上传。"))
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise FileRefused(_("不是有效的 .xlsx 文件（缺少工作簿内容）。"))
        total = 0
        for member in members:
            if member.flag_bits & 0x1:
                raise FileRefused(_("不支持加密的文件。"))
            total += member.file_size
            if member.file_size > ZIP_RATIO_MIN_BYTES and (
                member.compress_size == 0 or member.file_size / member.compress_size > MAX_ZIP_RATIO
            ):
                raise FileRefused(_("文件解压后异常膨胀（疑似压缩炸弹），已拒绝。"))
        if total > MAX_UNCOMPRESSED_BYTES:
            raise FileRefused(_("文件解压后异常膨胀（疑似压缩炸弹），已拒绝。"))
        content_types = archive.read("[Content_Types].xml")
        if b"macroEnabled" in content_types:
            raise FileRefused(_("不接受启用宏的文件（.xlsm），请另存为 .xlsx 后再上传。"))
    fileobj.seek(0)


def _xlsx_row_hint(fileobj):
    """The first sheet's declared dimension (data rows), or None when the file does not say."""
    try:
        workbook = load_workbook(fileobj, read_only=True, data_only=False)
        try:
            sheet = workbook.worksheets[0]
            max_row = sheet.max_row
        finally:
            workbook.close()
    except Exception:  # noqa: BLE001 - any parse failure means "not a workbook we can read"
        raise FileRefused(_("不是有效的 .xlsx 文件（无法读取工作表）。")) from None
    finally:
        fileobj.seek(0)
    return max(max_row - 1, 0) if max_row else None


def detect_encoding(fileobj):
    """UTF-8 with BOM, UTF-8, or GB18030 (a superset of GBK, what Excel on Chinese Windows writes);
    anything else is refused. Decodes incrementally, so a 20 MB file is not held twice."""
    fileobj.seek(0)
    head = fileobj.read(3)
    fileobj.seek(0)
    if head == codecs.BOM_UTF8:
        candidates = ["utf-8-sig"]
    else:
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            while chunk := fileobj.read(1024 * 1024):
                text = decoder.decode(chunk)
                if "\x00" in text:
                    raise FileRefused(_("不是文本文件，无法作为 CSV 读取。"))
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        finally:
            fileobj.seek(0)
        return encoding
    raise FileRefused(_("无法识别 CSV 文件的编码，请保存为 UTF-8 或 GBK 编码。"))


# --- cells ------------------------------------------------------------------------------------

# Field kinds decide how a raw cell becomes text.
TEXT, IDENTIFIER, NUMBER, DATE, DATETIME, BOOLEAN = "text", "identifier", "number", "date", "datetime", "boolean"

FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
# Full-width ASCII (！ to ～) and the ideographic space, for identifiers (phone, e-mail, codes).
FULL_WIDTH_ASCII = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
SPACES = " \t\r\n\u3000\u00a0\ufeff"


@dataclass
class Cell:
    """A cell as text for the form (``value``), or ``error`` when it cannot be read exactly."""

    value: str = ""
    error: str = ""


@dataclass
class Row:
    number: int  # the row as Excel shows it
    cells: list = field(default_factory=list)  # raw values, as read
    formula_column: int | None = None
    error_column: int | None = None


def clean_text(text, kind):
    if not text.isascii():  # the tables map full-width characters only (most cells have none)
        text = text.translate(FULL_WIDTH_DIGITS)
        if kind in (IDENTIFIER, NUMBER, DATE, DATETIME, BOOLEAN):
            text = text.translate(FULL_WIDTH_ASCII)
    return text.strip(SPACES)


DATE_TEXT = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]+(\d{1,2})[:：时](\d{1,2})(?:[:：分](\d{1,2})秒?)?)?$"
)
DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def _text_date(text, kind):
    """ "2026/1/5", "2026年1月5日", "20260105", "2026-01-05 14:30" → ISO; other text unchanged (the
    form then reports it)."""
    match = DATE_TEXT.match(text) or DATE_COMPACT.match(text)
    if not match:
        return text
    parts = [int(part) if part else 0 for part in match.groups()]
    year, month, day = parts[:3]
    hour, minute, second = (parts[3:] + [0, 0, 0])[:3]
    try:
        moment = datetime.datetime(year, month, day, hour, minute, second)  # noqa: DTZ001 - a wall-clock value
    except ValueError:
        return text
    if kind == DATE:
        return moment.date().isoformat()
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def to_cell(raw, kind):
    """One raw value (openpyxl: str/int/float/bool/datetime/None; CSV: str) as form text.

    - int: exact digits. float: integral and below 2**53 → its digits; otherwise, for a number
      field, its shortest round-trip decimal; for anything else it is flagged (an 18-digit code
      typed as a number has already lost digits in Excel — never guessed back).
    - dates: datetime/date cells, Excel serial numbers in date fields, and text dates.
    - text: full-width digits normalised (and full-width letters in identifiers), spaces trimmed."""
    if raw is None:
        return Cell()
    if isinstance(raw, bool):
        if kind == BOOLEAN:
            return Cell("true" if raw else "false")
        return Cell(_("是") if raw else _("否"))
    if isinstance(raw, datetime.datetime | datetime.date | datetime.time):
        if kind == DATE and isinstance(raw, datetime.date):
            day = raw.date() if isinstance(raw, datetime.datetime) else raw
            return Cell(day.isoformat())
        if kind == DATETIME and isinstance(raw, datetime.date):
            moment = raw if isinstance(raw, datetime.datetime) else datetime.datetime.combine(raw, datetime.time())
            return Cell(moment.strftime("%Y-%m-%d %H:%M:%S"))
        return Cell(error=_("单元格是日期/时间格式，该列应为文本，请将该列设为文本格式。"))
    if isinstance(raw, int):
        if kind in (DATE, DATETIME):
            return _serial_date(raw, kind)
        return Cell(str(raw))
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            return Cell(error=_("无法识别的数字。"))
        if kind in (DATE, DATETIME):
            return _serial_date(raw, kind)
        if raw.is_integer() and abs(raw) < FLOAT_EXACT_LIMIT:
            return Cell(str(int(raw)))
        if kind == NUMBER and abs(raw) < FLOAT_EXACT_LIMIT:
            return Cell(repr(raw))
        return Cell(error=_("该单元格以数字形式存储，无法确保完整准确（可能已丢失位数），请将该列设为文本后重新填写。"))
    text = clean_text(str(raw), kind)
    if kind in (DATE, DATETIME):
        text = _text_date(text, kind)
    return Cell(text)


def _serial_date(number, kind):
    if not 0 < number < EXCEL_SERIAL_MAX:
        return Cell(error=_("无法识别的日期。"))
    if kind == DATE and float(number) != int(number):
        return Cell(error=_("日期不应包含时间。"))
    moment = from_excel(number)
    if kind == DATE:
        return Cell(moment.date().isoformat())
    return Cell(moment.strftime("%Y-%m-%d %H:%M:%S"))


# --- rows -------------------------------------------------------------------------------------


def iter_rows(fileobj, inspected):
    """(header, rows): the header as a list of texts, then a generator of Row — streamed (openpyxl
    read-only for xlsx, csv.reader over an incremental decoder), so memory stays flat. Blank rows
    are skipped. Formula cells and error cells are marked on the Row, for the caller to refuse."""
    fileobj.seek(0)
    if inspected.file_format == "xlsx":
        return _iter_xlsx(fileobj)
    return _iter_csv(fileobj, inspected.encoding)


def _blank(values):
    return all(value is None or (isinstance(value, str) and not value.strip(SPACES)) for value in values)


def _iter_xlsx(fileobj):
    workbook = load_workbook(fileobj, read_only=True, data_only=False)
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows()
    header = []
    for cells in rows:
        header = [clean_text(str(cell.value), TEXT) if cell.value is not None else "" for cell in cells][:MAX_COLUMNS]
        if any(header):
            break
    while header and not header[-1]:
        header.pop()

    def generate():
        try:
            for cells in rows:
                values, formula, error = [], None, None
                number = None
                for index, cell in enumerate(cells):
                    if index >= len(header):
                        break
                    if number is None and getattr(cell, "row", None):
                        number = cell.row
                    data_type = getattr(cell, "data_type", None)
                    if data_type == "f" and formula is None:
                        formula = index
                    elif data_type == "e" and error is None:
                        error = index
                    values.append(cell.value)
                if _blank(values):
                    continue
                values += [None] * (len(header) - len(values))
                yield Row(number=number or 0, cells=values, formula_column=formula, error_column=error)
        finally:
            workbook.close()

    return header, generate()


# A row element of a worksheet part, with or without a namespace prefix (<row …>, <x:row …>, <row/>).
_ROW_TAG = re.compile(rb"[<:]row[\s>/]")


def xlsx_row_bound(fileobj):
    """At least as many as the first sheet's rows (header and blank rows included), from a byte
    scan of its XML for row elements — no cell is parsed (~20× faster than reading the rows).
    ``fileobj``: an inspected .xlsx."""
    fileobj.seek(0)
    workbook = load_workbook(fileobj, read_only=True, data_only=False)
    try:
        count, tail = 0, b""
        with workbook.worksheets[0]._get_source() as source:
            while chunk := source.read(1024 * 1024):
                data = tail + chunk
                count += len(_ROW_TAG.findall(data))
                # The last 5 bytes again with the next chunk (a tag cut in two), minus a match
                # already counted inside them.
                tail = data[-5:]
                count -= len(_ROW_TAG.findall(tail))
        return count
    finally:
        workbook.close()


def _decoded_lines(fileobj, encoding):
    """The file's text line by line (line ends kept, as csv wants), decoded incrementally; the
    file itself is left open for its owner."""
    decoder = codecs.getincrementaldecoder(encoding)()
    pending = ""
    while chunk := fileobj.read(256 * 1024):
        pending += decoder.decode(chunk)
        lines = pending.split("\n")
        pending = lines.pop()
        for line in lines:
            yield line + "\n"
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def _iter_csv(fileobj, encoding):
    reader = csv.reader(_decoded_lines(fileobj, encoding))
    header = []
    record = 0  # rows as a spreadsheet shows the file (a quoted line break stays in its row)
    for values in reader:
        record += 1
        header = [clean_text(value, TEXT) for value in values][:MAX_COLUMNS]
        if any(header):
            break
    while header and not header[-1]:
        header.pop()

    def generate():
        number = record
        for values in reader:
            number += 1
            values = values[: len(header)]
            if _blank(values):
                continue
            values += [""] * (len(header) - len(values))
            formula = next((i for i, value in enumerate(values) if value.lstrip(SPACES).startswith("=")), None)
            yield Row(number=number, cells=values, formula_column=formula)

    return header, generate()
