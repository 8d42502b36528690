"""The return-reason tree as data: fixtures/returns/reasons.json, checked when loaded.

`load_reason_tree` is idempotent (update_or_create by code) and works with a migration's
historical model or the live one. Nodes the file no longer names are left alone (admins may have
added them); a changed fixture ships as another migration that calls the loader again.
"""
import json
from pathlib import Path

from django.conf import settings

from .models import CODE_PATTERN, MAX_LEVEL

FIXTURE = Path(settings.BASE_DIR) / "fixtures" / "returns" / "reasons.json"
NODE_KEYS = {"code", "name_zh", "name_en", "platform_codes", "requires_text", "is_active", "keywords",
             "children"}


class ReasonTreeInvalid(ValueError):
    pass


def read_reason_tree(path: Path = FIXTURE) -> list[dict]:
    """The file's nodes flattened in load order (parents first), checked; raises ReasonTreeInvalid."""
    import re

    data = json.loads(Path(path).read_text(encoding="utf-8"))
    flat, seen, problems = [], set(), []

    def walk(nodes, parent_code, level):
        for position, node in enumerate(nodes):
            code = node.get("code", "")
            unknown = set(node) - NODE_KEYS
            if unknown:
                problems.append(f"{code}: unknown keys {sorted(unknown)}")
            if not re.match(CODE_PATTERN, code):
                problems.append(f"{code!r}: bad code")
            if code in seen:
                problems.append(f"{code}: duplicate code")
            seen.add(code)
            if level > MAX_LEVEL:
                problems.append(f"{code}: deeper than {MAX_LEVEL} levels")
            if parent_code and not code.startswith(parent_code + "."):
                problems.append(f"{code}: must start with its parent's code {parent_code}.")
            if not node.get("name_zh") or not node.get("name_en"):
                problems.append(f"{code}: both names are required")
            children = node.get("children") or []
            is_other = code.rsplit(".", 1)[-1] == "other"
            if is_other and (children or not node.get("requires_text")):
                problems.append(f"{code}: an “other” node must be a leaf that requires text")
            if node.get("requires_text") and children:
                problems.append(f"{code}: only leaves may require text")
            if level == 1 and not children:
                problems.append(f"{code}: a category needs reasons")
            keywords = node.get("keywords", [])
            if not isinstance(keywords, list) or not all(isinstance(k, str) and k.strip() for k in keywords):
                problems.append(f"{code}: keywords must be a list of words")
            elif keywords and children:
                problems.append(f"{code}: only leaves carry keywords")
            if not isinstance(node.get("platform_codes", {}), dict):
                problems.append(f"{code}: platform_codes must be an object")
            flat.append({"code": code, "parent": parent_code, "level": level, "position": position,
                         "name_zh": node.get("name_zh", ""), "name_en": node.get("name_en", ""),
                         "platform_codes": node.get("platform_codes", {}),
                         "keywords": node.get("keywords", []) if isinstance(node.get("keywords"), list) else [],
                         "requires_text": bool(node.get("requires_text")), "is_active": node.get("is_active", True)})
            walk(children, code, level + 1)

    walk(data.get("nodes", []), None, 1)
    categories = [n for n in flat if n["level"] == 1]
    for category in categories:
        if not any(n["code"] == f"{category['code']}.other" for n in flat):
            problems.append(f"{category['code']}: every category needs an “other” leaf")
    if problems:
        raise ReasonTreeInvalid("; ".join(problems))
    return flat


def load_reason_tree(ReasonNode, path: Path = FIXTURE) -> int:
    nodes = read_reason_tree(path)
    # An early migration's historical model lacks fields added later (keywords): load what it has.
    fields = {field.name for field in ReasonNode._meta.get_fields()}
    by_code = {}
    for node in nodes:
        values = {key: value for key, value in node.items() if key in fields or key in ("parent", "code")}
        parent_code = values.pop("parent")
        code = values.pop("code")
        values["parent"] = by_code[parent_code] if parent_code else None
        by_code[code], _created = ReasonNode.objects.update_or_create(code=code, defaults=values)
    return len(nodes)
