"""apps.core.db turns the hot statements' %s / %(name)s text into PostgreSQL's $n form once."""
import pytest

from apps.core.db import _native_placeholders


def test_positional_placeholders_are_numbered_in_order():
    assert _native_placeholders("SELECT a FROM t WHERE b = %s AND c = ANY(%s)") == (
        "SELECT a FROM t WHERE b = $1 AND c = ANY($2)", None)


def test_a_name_keeps_its_number_wherever_it_comes_back():
    assert _native_placeholders("UPDATE t SET a = %(now)s, b = %(who)s WHERE c < %(now)s") == (
        "UPDATE t SET a = $1, b = $2 WHERE c < $1", ("now", "who"))


def test_a_doubled_percent_is_a_literal_percent():
    assert _native_placeholders("SELECT %s WHERE a LIKE 'x%%'") == ("SELECT $1 WHERE a LIKE 'x%'", None)


def test_mixing_the_two_kinds_is_refused():
    with pytest.raises(ValueError):
        _native_placeholders("SELECT %s, %(a)s")
