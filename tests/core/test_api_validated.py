"""apps.core.api.validated: a serializer built once per thread and language validates like a new one."""
import threading

import pytest
from django.utils import translation
from rest_framework import serializers

from apps.core.api import validated


class Named(serializers.Serializer):
    name = serializers.CharField(max_length=3)
    count = serializers.IntegerField(min_value=1)

    def validate_name(self, value):
        if value not in self.context["allowed"]:
            raise serializers.ValidationError(f"{value} is not allowed", code="not_allowed")
        return value


def errors_of(data, **context):
    with pytest.raises(serializers.ValidationError) as raised:
        validated(Named, data, **context)
    return {field: [(str(e), e.code) for e in errors] for field, errors in raised.value.detail.items()}


def test_returns_the_validated_data_a_new_serializer_would():
    data = {"name": "abc", "count": "2"}
    fresh = Named(data=data, context={"allowed": {"abc"}})
    assert fresh.is_valid()
    assert validated(Named, data, allowed={"abc"}) == fresh.validated_data == {"name": "abc", "count": 2}


def test_each_call_sees_its_own_context():
    assert validated(Named, {"name": "abc", "count": 1}, allowed={"abc"})["name"] == "abc"
    assert errors_of({"name": "abc", "count": 1}, allowed={"xyz"}) == {"name": [("abc is not allowed", "not_allowed")]}
    assert validated(Named, {"name": "xyz", "count": 1}, allowed={"xyz"})["name"] == "xyz"


def test_errors_are_the_same_as_a_new_serializers():
    data = {"name": "abcd", "count": 0}
    fresh = Named(data=data, context={"allowed": set()})
    assert not fresh.is_valid()
    expected = {field: [(str(e), e.code) for e in errors] for field, errors in fresh.errors.items()}
    assert errors_of(data, allowed=set()) == expected
    assert set(expected) == {"name", "count"}


def test_length_and_range_messages_follow_the_language_of_each_call():
    """DRF formats these messages once per field instance; one serializer for both languages
    would answer in whichever language asked first."""
    data = {"name": "abcd", "count": 0}
    with translation.override("zh-hans"):
        chinese = errors_of(data, allowed=set())
    with translation.override("en"):
        english = errors_of(data, allowed=set())
    with translation.override("zh-hans"):
        assert errors_of(data, allowed=set()) == chinese
    assert english["name"] == [("Ensure this field has no more than 3 characters.", "max_length")]
    assert english["count"] == [("Ensure this value is greater than or equal to 1.", "min_value")]
    assert chinese["name"][0][1] == "max_length" and chinese["name"][0][0] != english["name"][0][0]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese["name"][0][0] + chinese["count"][0][0])


def test_threads_validate_with_their_own_context_at_the_same_time():
    """Each thread has its own serializer: a context set by one never reaches the other's call."""
    barrier = threading.Barrier(2)
    outcomes = {}

    class Waiting(Named):
        def validate_name(self, value):
            barrier.wait(timeout=5)  # both calls are inside validation, each with its context set
            return super().validate_name(value)

    def run(name):
        try:
            outcomes[name] = validated(Waiting, {"name": name, "count": 1}, allowed={name})
        except serializers.ValidationError as exc:
            outcomes[name] = exc.detail

    threads = [threading.Thread(target=run, args=(name,)) for name in ("abc", "xyz")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert outcomes == {"abc": {"name": "abc", "count": 1}, "xyz": {"name": "xyz", "count": 1}}


class Shown(serializers.Serializer):
    code = serializers.CharField(source="shop.code")
    total = serializers.DecimalField(max_digits=10, decimal_places=2)


class _Shop:
    def __init__(self, code):
        self.code = code


class _Order:
    def __init__(self, code, total):
        self.shop, self.total = _Shop(code), total


def test_represented_answers_what_a_new_serializer_would_for_each_instance():
    from decimal import Decimal

    from apps.core.api import represented

    first, second = _Order("dy-a", Decimal("12.5")), _Order("yz-b", Decimal("3"))
    assert represented(Shown, first) == Shown(first).data == {"code": "dy-a", "total": "12.50"}
    assert represented(Shown, second) == Shown(second).data == {"code": "yz-b", "total": "3.00"}
