"""The condition language: what it refuses (with positions), and that the engine and the
Python evaluator agree, missing values included."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from pilotage.scoring.expressions import ExpressionError, parse_expression
from pilotage.scoring.model import ModelError, parse_model

TYPES = {"industry": "text", "employees": "number", "is_customer": "bool", "budget": "any"}


@pytest.mark.parametrize(
    ("text", "column", "reason"),
    [
        ("industry.upper() == 'X'", 1, "function calls are not allowed"),
        ("industry.lower == 'x'", 1, "attribute access"),
        ("employees[0] > 1", 1, "subscripts"),
        ("(lambda: 1)() == 1", 1, "function calls"),
        ("employees > 1 and __import__ == 1", 19, "names starting with '__'"),
        ("employees in {1, 2}", 14, "'in' needs a literal list"),
        ("employees in [1, employees]", 18, "holds literals only"),
        ("employees ** 2 > 4", 1, "only + - * /"),
        ("employees is None", 1, "'is' is not allowed"),
        ("[x for x in [1]] == [1]", 1, "comprehensions are not allowed"),
    ],
)
def test_forbidden_constructs_are_refused_with_their_position(text, column, reason):
    with pytest.raises(ExpressionError) as caught:
        parse_expression(text)
    assert reason in caught.value.reason
    assert (caught.value.line, caught.value.column) == (1, column)


@pytest.mark.parametrize(
    ("text", "column", "reason"),
    [
        ("employees >= 50 and and x", 21, "syntax error"),  # the second `and`
        ("industry in ['a', 'b'", 13, "'[' was never closed"),
    ],
)
def test_syntax_errors_point_at_the_problem(text, column, reason):
    with pytest.raises(ExpressionError) as caught:
        parse_expression(text)
    assert (caught.value.line, caught.value.column, caught.value.reason) == (1, column, reason)


def test_unknown_field_and_type_mixups_are_refused_with_their_position():
    expression = parse_expression("employees >= 50 and industri == 'retail'")
    with pytest.raises(ExpressionError) as caught:
        expression.check(TYPES)
    assert caught.value.column == 21
    assert "unknown field 'industri' (did you mean 'industry'?)" in caught.value.reason
    with pytest.raises(ExpressionError, match="cannot compare text with number"):
        parse_expression("industry >= 50").check(TYPES)
    with pytest.raises(ExpressionError, match="must be true or false"):
        parse_expression("employees + 1").check(TYPES)


def test_a_model_error_gives_the_file_line_and_column_inside_the_condition():
    text = (
        'name = "m"\n'  # line 1
        "[[group]]\n"
        'name = "fit"\n'
        "max = 10\n"
        "  [[group.rule]]\n"  # line 5
        "  when = \"employees >= 'x' or budget(1)\"\n"  # line 6
        "  points = 1\n"
    )
    with pytest.raises(ModelError) as caught:
        parse_model(text, origin="m.toml")
    # `  when = "` is 10 characters: the condition starts at column 11; the call at
    # expression column 21 is file column 31.
    assert caught.value.problems == [
        "m.toml:6:31: group 'fit', rule 1 (employees >= 'x' or budget(1)): "
        "function calls are not allowed"
    ]
    model = parse_model(text.replace("budget(1)", "budgett > 1"), origin="m.toml")
    with pytest.raises(ModelError) as unknown:
        model.check_fields(TYPES)
    assert unknown.value.problems == [
        "m.toml:6:31: group 'fit', rule 1 (employees >= 'x' or budgett > 1): "
        "unknown field 'budgett' (did you mean 'budget'?)"
    ]
    model = parse_model(text.replace("budget(1)", "budget > 1"), origin="m.toml")
    with pytest.raises(ModelError) as mixed:
        model.check_fields(TYPES)
    assert mixed.value.problems[0].startswith("m.toml:6:24: group 'fit', rule 1")
    assert mixed.value.problems[0].endswith("cannot compare number with text")


def test_unknown_keys_and_bad_toml_are_refused():
    with pytest.raises(ModelError, match=r"m.toml: group 'fit', rule 1: unknown key 'pionts'"):
        parse_model(
            '[[group]]\nname = "fit"\nmax = 1\n[[group.rule]]\nwhen = "employees > 1"\n'
            "pionts = 1\npoints = 1\n",
            origin="m.toml",
        )
    with pytest.raises(ModelError, match=r"^m.toml:1:\d+: "):
        parse_model("name = = 1", origin="m.toml")


CASES = [
    "employees >= 50",
    "not employees >= 50",
    "employees == None",
    "employees != None",
    "industry in ['retail', 'software']",
    "industry not in ['retail']",
    "industry in ['retail', None]",
    "employees >= 50 or industry == 'retail'",
    "employees >= 50 and industry == 'retail'",
    "10 <= employees < 100",
    "employees / 0 > 1",
    "employees * 2 - 10 > 50",
    "is_customer",
    "not is_customer",
    "budget >= 1000",
    "budget == 'high'",
    "-employees < -20",
]
ROWS = [
    {"industry": "retail", "employees": 60, "is_customer": True, "budget": "1500"},
    {"industry": "software", "employees": 10, "is_customer": False, "budget": "high"},
    {"industry": None, "employees": None, "is_customer": False, "budget": None},
    {"industry": "health", "employees": 30, "is_customer": None, "budget": "abc"},
]


@pytest.mark.parametrize("text", CASES)
def test_engine_and_python_agree_with_sql_null_logic(text):
    expression = parse_expression(text)
    expression.check(TYPES)
    frame = pd.DataFrame(ROWS).astype(
        {"industry": "object", "employees": "Float64", "is_customer": "boolean", "budget": "object"}
    )
    table = ibis.memtable(frame).cast(
        {"industry": "string", "employees": "int64", "is_customer": "boolean", "budget": "string"}
    )
    fields = {name: table[name] for name in TYPES}
    engine = (
        ibis.duckdb.connect()
        .execute(table.mutate(hit=expression.to_ibis(fields, TYPES)).select("hit"))["hit"]
        .tolist()
    )
    python = [expression.evaluate(row, TYPES) for row in ROWS]
    assert engine == python


def test_missing_values_never_match_even_negated():
    expression = parse_expression("not employees >= 50")
    assert expression.evaluate({"employees": None}, TYPES) is False
    assert parse_expression("employees == None").evaluate({"employees": None}, TYPES) is True
