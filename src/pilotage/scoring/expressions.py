"""The conditions of scoring rules: a small, safe expression language (scoring.md section 1).

    industry in ['retail', 'software'] and employees >= 50
    orders_count >= 2 or revenue_365d >= 1000
    not is_customer and days_since_last_interaction < 14

The text is parsed with Python's `ast` and every node is checked against an allow-list:
comparisons (`== != < <= > >=`, chained), `and`/`or`/`not`, `in`/`not in` with a literal
list, arithmetic (`+ - * /`) on numbers, field names, and string, number, boolean and
`None` literals. Anything else (attribute access, calls, subscripts, lambdas,
comprehensions, dunder names...) is refused with its position. Nothing is ever `eval`ed.

A checked expression compiles to an Ibis boolean expression (scoring runs in the engine)
and can also be evaluated on one contact's values in Python (incremental rescoring); both
follow SQL's rules for missing values: a comparison with a missing value is unknown, and an
unknown condition does not match (`not` of unknown is still unknown). `x == None` and
`x != None` test for a missing value. A division by zero gives a missing value.
"""

from __future__ import annotations

import ast
import difflib
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

# The type of a field as the language sees it. "any" is a custom attribute, whose type the
# data does not declare (a text column of a file, a JSON value in the CRM): it takes the
# type of what it is compared with (a number literal makes it a number).
FieldType = Literal["number", "text", "bool", "any"]
_ValueType = Literal["number", "text", "bool", "null", "any"]

_COMPARISONS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.In: "in",
    ast.NotIn: "not in",
}
_ARITHMETIC: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
}
_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
# What people try that the language does not have, and what to write instead.
_FORBIDDEN: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access (a.b) is not allowed: use a field name",
    ast.Call: "function calls are not allowed",
    ast.Subscript: "subscripts (a[...]) are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.IfExp: "'x if c else y' is not allowed: write two rules",
    ast.NamedExpr: "':=' is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.Dict: "dictionaries are not allowed",
    ast.Set: "sets are not allowed: use a list [...] after 'in'",
    ast.Starred: "'*' unpacking is not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
}


class ExpressionError(ValueError):
    """An expression that does not parse, uses a forbidden construct, names an unknown
    field or mixes types. `line` and `column` (1-based) point into the expression text."""

    def __init__(self, reason: str, *, text: str, line: int, column: int) -> None:
        self.reason = reason
        self.text = text
        self.line = line
        self.column = column
        super().__init__(f"{line}:{column}: {reason}")


def _error(node: ast.AST, text: str, reason: str) -> ExpressionError:
    line = getattr(node, "lineno", 1)
    column = getattr(node, "col_offset", 0) + 1
    return ExpressionError(reason, text=text, line=line, column=column)


@dataclass(frozen=True)
class Expression:
    """A parsed, allow-listed condition. `names` are the fields it reads."""

    text: str
    tree: ast.expr
    names: frozenset[str]

    def check(self, fields: Mapping[str, FieldType]) -> None:
        """Refuse unknown fields and mixed types, with the position of the problem."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name) and node.id not in fields:
                close = difflib.get_close_matches(node.id, list(fields), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise _error(node, self.text, f"unknown field {node.id!r}{hint}")
        kind = _type_of(self.tree, fields, self.text)
        if kind not in ("bool", "any", "null"):
            raise _error(
                self.tree,
                self.text,
                f"a condition must be true or false, not a {kind} (compare it: e.g. x >= 1)",
            )

    def to_ibis(
        self, fields: Mapping[str, ir.Value], types: Mapping[str, FieldType]
    ) -> ir.BooleanValue:
        """The condition as an Ibis boolean (unknown -> false)."""
        value = _Compiler(fields, types).compile(self.tree)
        if _is_any(self.tree, types):
            value = _as_bool_column(value)
        result: ir.BooleanValue = value.fill_null(False)
        return result

    def evaluate(self, values: Mapping[str, Any], types: Mapping[str, FieldType]) -> bool:
        """The condition on one contact's values (None = missing); unknown -> False."""
        return _evaluate(self.tree, values, types) is True


def parse_expression(text: str) -> Expression:
    """Parse and allow-list `text`; raises ExpressionError with the position."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("empty condition", text=str(text), line=1, column=1)
    try:
        module = ast.parse(text.strip("\n"), mode="eval")
    except SyntaxError as error:
        reason = (error.msg or "invalid syntax").replace("invalid syntax", "syntax error")
        return_line = error.lineno or 1
        return_column = error.offset or 1
        raise ExpressionError(reason, text=text, line=return_line, column=return_column) from None
    tree = module.body
    names: set[str] = set()
    _allow(tree, text, names, in_list=False)
    return Expression(text, tree, frozenset(names))


def _allow(node: ast.AST, text: str, names: set[str], *, in_list: bool) -> None:
    for kind, reason in _FORBIDDEN.items():
        if isinstance(node, kind):
            raise _error(node, text, reason)
    if isinstance(node, ast.Name):
        if node.id.startswith("__"):
            raise _error(node, text, f"names starting with '__' are not allowed ({node.id!r})")
        names.add(node.id)
        return
    if isinstance(node, ast.Constant):
        if not (node.value is None or isinstance(node.value, bool | int | float | str)):
            raise _error(node, text, f"literal {node.value!r} is not allowed")
        return
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _allow(value, text, names, in_list=False)
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.Not | ast.USub | ast.UAdd):
            raise _error(node, text, "only 'not', '-' and '+' are allowed before a value")
        _allow(node.operand, text, names, in_list=False)
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITHMETIC:
            raise _error(node, text, "only + - * / are allowed in arithmetic")
        _allow(node.left, text, names, in_list=False)
        _allow(node.right, text, names, in_list=False)
        return
    if isinstance(node, ast.Compare):
        _allow(node.left, text, names, in_list=False)
        for op, right in zip(node.ops, node.comparators, strict=True):
            if type(op) not in _COMPARISONS:
                raise _error(node, text, "'is' is not allowed: use == None or != None")
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(right, ast.List | ast.Tuple):
                    raise _error(right, text, "'in' needs a literal list, e.g. in ['a', 'b']")
                for element in right.elts:
                    if not isinstance(element, ast.Constant) and not (
                        isinstance(element, ast.UnaryOp)
                        and isinstance(element.op, ast.USub)
                        and isinstance(element.operand, ast.Constant)
                    ):
                        raise _error(element, text, "a list after 'in' holds literals only")
                    _allow(element, text, names, in_list=True)
            else:
                _allow(right, text, names, in_list=False)
        return
    if isinstance(node, ast.List | ast.Tuple):
        raise _error(node, text, "a list is only allowed after 'in' / 'not in'")
    raise _error(node, text, f"{type(node).__name__} is not allowed in a condition")


def _literal_type(value: Any) -> _ValueType:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "text"


def _describe(kind: _ValueType) -> str:
    return {"number": "number", "text": "text", "bool": "true/false", "null": "None"}.get(
        kind, kind
    )


def _type_of(node: ast.expr, fields: Mapping[str, FieldType], text: str) -> _ValueType:
    if isinstance(node, ast.Name):
        return fields[node.id]
    if isinstance(node, ast.Constant):
        return _literal_type(node.value)
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            kind = _type_of(value, fields, text)
            if kind not in ("bool", "any"):
                raise _error(value, text, f"'and'/'or' need true/false values, not {kind}")
        return "bool"
    if isinstance(node, ast.UnaryOp):
        kind = _type_of(node.operand, fields, text)
        if isinstance(node.op, ast.Not):
            if kind not in ("bool", "any"):
                raise _error(node, text, f"'not' needs a true/false value, not {kind}")
            return "bool"
        if kind not in ("number", "any"):
            raise _error(node, text, f"'-' needs a number, not {kind}")
        return "number"
    if isinstance(node, ast.BinOp):
        for side in (node.left, node.right):
            kind = _type_of(side, fields, text)
            if kind not in ("number", "any"):
                raise _error(side, text, f"arithmetic needs numbers, not {_describe(kind)}")
        return "number"
    if isinstance(node, ast.Compare):
        left = _type_of(node.left, fields, text)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            symbol = _COMPARISONS[type(op)]
            if symbol in ("in", "not in"):
                assert isinstance(right_node, ast.List | ast.Tuple)
                for element in right_node.elts:
                    kind = _type_of(element, fields, text)
                    if not _comparable(left, kind):
                        raise _error(
                            element,
                            text,
                            f"cannot compare {_describe(left)} with {_describe(kind)}",
                        )
            else:
                right = _type_of(right_node, fields, text)
                if "null" in (left, right) and symbol not in ("==", "!="):
                    raise _error(node, text, "None can only be compared with == or !=")
                if not _comparable(left, right):
                    raise _error(
                        right_node,
                        text,
                        f"cannot compare {_describe(left)} with {_describe(right)}",
                    )
                left = right
        return "bool"
    raise _error(node, text, f"{type(node).__name__} is not allowed in a condition")


def _comparable(left: _ValueType, right: _ValueType) -> bool:
    return left == right or "any" in (left, right) or "null" in (left, right)


def _is_any(node: ast.expr, types: Mapping[str, FieldType]) -> bool:
    return isinstance(node, ast.Name) and types.get(node.id) == "any"


def _as_bool_column(value: ir.Value) -> ir.Value:
    # A custom attribute used alone as a condition: true when it says so.
    text = value.cast("string").lower()
    result: ir.Value = text.isin(["true", "1", "yes", "oui"])
    return result


class _Compiler:
    """AST -> Ibis. Custom attributes ("any") are cast to the type of what they meet."""

    def __init__(self, fields: Mapping[str, ir.Value], types: Mapping[str, FieldType]) -> None:
        self.fields = fields
        self.types = types

    def compile(self, node: ast.expr, want: _ValueType | None = None) -> ir.Value:
        if isinstance(node, ast.Name):
            value = self.fields[node.id]
            if self.types.get(node.id) == "any" and want == "number":
                return value.cast("string").try_cast("float64")
            if self.types.get(node.id) == "any" and want == "text":
                return value.cast("string")
            return value
        if isinstance(node, ast.Constant):
            if node.value is None:
                return ibis.null()
            if isinstance(node.value, bool):
                return ibis.literal(node.value, type="boolean")
            if isinstance(node.value, int | float):
                return ibis.literal(float(node.value), type="float64")
            return ibis.literal(node.value, type="string")
        if isinstance(node, ast.BoolOp):
            parts = [self._condition(value) for value in node.values]
            combined = parts[0]
            for part in parts[1:]:
                combined = combined & part if isinstance(node.op, ast.And) else combined | part
            return combined
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return ~self._condition(node.operand)
            operand = self.compile(node.operand, "number")
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            left = self.compile(node.left, "number").cast("float64")
            right = self.compile(node.right, "number").cast("float64")
            symbol = _ARITHMETIC[type(node.op)]
            if symbol == "+":
                return left + right
            if symbol == "-":
                return left - right
            if symbol == "*":
                return left * right
            safe = ibis.ifelse(right == 0, ibis.null("float64"), right)
            return left / safe
        if isinstance(node, ast.Compare):
            return self._compare(node)
        raise TypeError(f"unexpected node {type(node).__name__}")  # checked by _allow

    def _condition(self, node: ast.expr) -> ir.Value:
        value = self.compile(node)
        if _is_any(node, self.types):
            return _as_bool_column(value)
        return value

    def _static_type(self, node: ast.expr) -> _ValueType:
        if isinstance(node, ast.Constant):
            return _literal_type(node.value)
        if isinstance(node, ast.Name):
            return self.types.get(node.id, "any")
        if isinstance(node, ast.BinOp) or (
            isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not)
        ):
            return "number"
        return "bool"

    def _compare(self, node: ast.Compare) -> ir.Value:
        result: ir.Value | None = None
        left_node = node.left
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            symbol = _COMPARISONS[type(op)]
            if symbol in ("in", "not in"):
                assert isinstance(right_node, ast.List | ast.Tuple)
                values = [_constant(element) for element in right_node.elts]
                kinds = {_literal_type(v) for v in values if v is not None}
                want: _ValueType | None = kinds.pop() if len(kinds) == 1 else None
                left = self.compile(left_node, want)
                present = [v for v in values if v is not None]
                if want == "number":
                    present = [float(v) for v in present]
                test: ir.Value = left.isin(present)
                if None in values:
                    test = test | left.isnull()
                else:
                    # SQL: x IN (...) with x missing is unknown, not false.
                    test = ibis.ifelse(left.isnull(), ibis.null("boolean"), test)
                part = ~test if symbol == "not in" else test
            else:
                left_type = self._static_type(left_node)
                right_type = self._static_type(right_node)
                if isinstance(right_node, ast.Constant) and right_node.value is None:
                    value = self.compile(left_node)
                    part = value.isnull() if symbol == "==" else value.notnull()
                elif isinstance(left_node, ast.Constant) and left_node.value is None:
                    value = self.compile(right_node)
                    part = value.isnull() if symbol == "==" else value.notnull()
                else:
                    left = self.compile(left_node, right_type if left_type == "any" else None)
                    right = self.compile(right_node, left_type if right_type == "any" else None)
                    if "number" in (left_type, right_type):
                        left = left.cast("float64")
                        right = right.cast("float64")
                    part = _ORDERING[symbol](left, right)
            result = part if result is None else result & part
            left_node = right_node
        assert result is not None
        return result


def _constant(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    assert isinstance(node, ast.UnaryOp)
    assert isinstance(node.operand, ast.Constant)
    value: Any = node.operand.value
    return -value


# Python evaluation on one contact, with SQL's three-valued logic (None = unknown).


def _coerce(value: Any, want: _ValueType | None) -> Any:
    if value is None or want is None:
        return value
    if want == "number":
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, int | float):
            return float(value)
        try:
            return float(str(value))
        except ValueError:
            return None
    if want == "text":
        return str(value)
    return value


def _truth(value: Any, node: ast.expr, types: Mapping[str, FieldType]) -> bool | None:
    if value is None:
        return None
    if _is_any(node, types):
        return str(value).lower() in ("true", "1", "yes", "oui")
    return bool(value)


def _evaluate(
    node: ast.expr,
    values: Mapping[str, Any],
    types: Mapping[str, FieldType],
    want: _ValueType | None = None,
) -> Any:
    if isinstance(node, ast.Name):
        value = values.get(node.id)
        if types.get(node.id) == "any":
            return _coerce(value, want)
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value
    if isinstance(node, ast.Constant):
        if isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return float(node.value)
        return node.value
    if isinstance(node, ast.BoolOp):
        parts = [_truth(_evaluate(v, values, types), v, types) for v in node.values]
        if isinstance(node.op, ast.And):
            if any(p is False for p in parts):
                return False
            return None if any(p is None for p in parts) else True
        if any(p is True for p in parts):
            return True
        return None if any(p is None for p in parts) else False
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            truth = _truth(_evaluate(node.operand, values, types), node.operand, types)
            return None if truth is None else not truth
        operand = _evaluate(node.operand, values, types, "number")
        if operand is None:
            return None
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left = _evaluate(node.left, values, types, "number")
        right = _evaluate(node.right, values, types, "number")
        if left is None or right is None:
            return None
        symbol = _ARITHMETIC[type(node.op)]
        if symbol == "/":
            return None if right == 0 else left / right
        return {"+": operator.add, "-": operator.sub, "*": operator.mul}[symbol](left, right)
    if isinstance(node, ast.Compare):
        return _evaluate_compare(node, values, types)
    raise TypeError(f"unexpected node {type(node).__name__}")


def _evaluate_compare(
    node: ast.Compare, values: Mapping[str, Any], types: Mapping[str, FieldType]
) -> bool | None:
    result: bool | None = True
    left_node = node.left
    compiler = _Compiler({}, types)
    for op, right_node in zip(node.ops, node.comparators, strict=True):
        symbol = _COMPARISONS[type(op)]
        part: bool | None
        if symbol in ("in", "not in"):
            assert isinstance(right_node, ast.List | ast.Tuple)
            options = [_constant(element) for element in right_node.elts]
            kinds = {_literal_type(v) for v in options if v is not None}
            want: _ValueType | None = kinds.pop() if len(kinds) == 1 else None
            left = _evaluate(left_node, values, types, want)
            present = [float(v) if want == "number" else v for v in options if v is not None]
            part = (True if None in options else None) if left is None else left in present
            if part is not None and symbol == "not in":
                part = not part
        else:
            left_type = compiler._static_type(left_node)
            right_type = compiler._static_type(right_node)
            if isinstance(right_node, ast.Constant) and right_node.value is None:
                missing = _evaluate(left_node, values, types) is None
                part = missing if symbol == "==" else not missing
            elif isinstance(left_node, ast.Constant) and left_node.value is None:
                missing = _evaluate(right_node, values, types) is None
                part = missing if symbol == "==" else not missing
            else:
                left = _evaluate(
                    left_node, values, types, right_type if left_type == "any" else None
                )
                right = _evaluate(
                    right_node, values, types, left_type if right_type == "any" else None
                )
                if left is None or right is None:
                    part = None
                else:
                    if "number" in (left_type, right_type):
                        left, right = float(left), float(right)
                    part = bool(_ORDERING[symbol](left, right))
        if part is False:
            result = False
        elif part is None and result is True:
            result = None
        left_node = right_node
    return result
