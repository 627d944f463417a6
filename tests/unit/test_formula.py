"""The scoring-formula language: valid formulas, each invalid construct rejected with its
position, and hypothesis fuzzing against a reference evaluator written differently (straight
Python arithmetic on a generated tree, printed with the fewest parentheses)."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from community.errors import InvalidInput
from rewards.formula import MAX_DEPTH, MAX_LENGTH, FormulaError, parse

ENV = {"complexity": 3, "level": 2, "duration": 1.5, "points": 4, "weeks": 0}


def value(source: str, env=ENV) -> float:
    return parse(source).evaluate(env)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("complexity * level", 6),
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 - 4 - 3", 3),  # left associative
        ("12 / 3 / 2", 2),
        ("-complexity + 1", -2),
        ("- -1", 1),
        ("+2", 2),
        ("-2 * -3", 6),
        ("min(complexity, 2)", 2),
        ("max(1, level, complexity)", 3),
        ("min(max(duration, 1), 8)", 1.5),
        ("round(duration)", 2),
        ("round(2.5)", 3),  # halves away from zero, not to even
        ("round(-2.5)", -3),
        ("round(2.675, 2)", 2.68),  # on the decimal as written
        ("round(1234, -2)", 1200),
        ("complexity > 2", 1),
        ("complexity >= 4", 0),
        ("level == 2", 1),
        ("level != 2", 0),
        ("1 < 2", 1),
        ("weeks <= 0", 1),
        ("(weeks >= 4) * 10 + points", 4),
        (".5 + 0.25", 0.75),
        ("  complexity\t*\nlevel  ", 6),
        ("(((((1)))))", 1),
    ],
)
def test_valid_formulas(source, expected):
    assert value(source) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("source", "position", "words"),
    [
        ("(1 + 2", 6, "unexpected end of formula"),
        ("1 + 2)", 5, "unexpected ')'"),
        ("1 +", 3, "unexpected end of formula"),
        ("complexity level", 11, "unexpected name 'level'"),
        ("", 0, "empty"),
        ("   ", 0, "empty"),
        ("*2", 0, "unexpected '*'"),
        ("level.real", 5, "attribute access"),
        ("level.__class__", 5, "attribute access"),
        ("level[0]", 5, "subscripts"),
        ("'abc'", 0, "strings"),
        ('1 + "x"', 4, "strings"),
        ("__import__('os')", 0, "unknown function '__import__'"),
        ("eval(1)", 0, "unknown function 'eval'"),
        ("abs(-1)", 0, "unknown function 'abs'"),
        ("1 + pow(2, 3)", 4, "unknown function 'pow'"),
        ("min(1)", 0, "at least two"),
        ("round(1, 2, 3)", 0, "at most"),
        ("2 ** 3", 2, "'**'"),
        ("7 % 2", 2, "'%'"),
        ("level = 2", 6, "assignment"),
        ("1 < 2 < 3", 6, "cannot be chained"),
        ("1e5", 0, "malformed number"),
        ("1.2.3", 0, "malformed number"),
        ("1_000", 0, "malformed number"),
        ("lambda: 1", 6, "unexpected ':'"),
        ("x if y else z", 2, "unexpected name 'if'"),
        ("max(1,)", 6, "unexpected ')'"),
        ("min((1, 2))", 6, "expected ')'"),
        ("1 ; 2", 2, "unexpected ';'"),
        ("1 +\x00", 3, "U+0000"),
        ("9" * 16, 0, "more than 15 digits"),
    ],
)
def test_invalid_constructs_are_rejected_with_their_position(source, position, words):
    with pytest.raises(FormulaError) as caught:
        parse(source)
    error = caught.value
    assert error.position == position
    assert words in error.message
    assert error.message.endswith(f"at position {position}")
    assert isinstance(error, InvalidInput)  # maps to a 400 like every bad input


def test_length_and_depth_limits():
    with pytest.raises(FormulaError, match="longer than 500"):
        parse("1+" * 250 + "1")
    assert value("+".join(["1"] * 250)) == 250  # 499 characters is fine
    deep = "(" * MAX_DEPTH + "1" + ")" * MAX_DEPTH
    assert value(deep) == 1
    too_deep = "(" * (MAX_DEPTH + 1) + "1" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(FormulaError, match=f"nested more than {MAX_DEPTH}") as caught:
        parse(too_deep)
    assert caught.value.position == MAX_DEPTH
    with pytest.raises(FormulaError, match="nested"):
        parse("-" * (MAX_DEPTH + 1) + "1")
    with pytest.raises(FormulaError, match="must be text"):
        parse(None)
    assert len("1+" * 250 + "1") > MAX_LENGTH


def test_evaluation_errors_carry_the_operator_position():
    with pytest.raises(FormulaError, match="division by zero at position 7"):
        value("points / weeks")
    with pytest.raises(FormulaError, match="no value for 'duration' at position 0"):
        parse("duration * 2").evaluate({})
    with pytest.raises(FormulaError, match="out of range") as caught:
        value("999999999999999*999999999999999")
    assert caught.value.position == 15
    with pytest.raises(FormulaError, match="out of range"):
        parse("x + 1").evaluate({"x": float("nan")})
    with pytest.raises(FormulaError, match="digits must be a whole number"):
        value("round(1, 0.5)")
    with pytest.raises(FormulaError, match="digits must be a whole number"):
        value("round(1, 7)")


def test_names_are_checked_against_the_declared_inputs():
    formula = parse("min(complexity * level, cap) + bonus")
    assert formula.names == {"complexity", "level", "cap", "bonus"}
    with pytest.raises(FormulaError) as caught:
        formula.check_names(["complexity", "level"])
    assert caught.value.position == 24  # 'cap', the first unknown name in reading order
    assert "unknown name 'cap'" in caught.value.message
    assert "complexity, level" in caught.value.message
    parse("complexity * level").check_names(["complexity", "level"])


def test_located_errors_name_where_the_formula_lives():
    with pytest.raises(FormulaError) as caught:
        parse("1 +")
    located = caught.value.located("rule 'x': formula: ")
    assert located.message == "rule 'x': formula: unexpected end of formula at position 3"
    assert located.position == 3


# --- fuzzing ------------------------------------------------------------------------------

NAMES = ["complexity", "level", "duration", "price", "weeks", "points"]
LIMIT = 1e15


class Refused(Exception):
    """The reference's way of saying: the evaluator must raise FormulaError here."""


@dataclass(frozen=True)
class Expr:
    text: str
    prec: int  # 1 comparison, 2 sum, 3 product, 4 unary, 5 atom
    compute: object  # env -> float, raising Refused


def _reference_round(x: float, digits: int) -> float:
    return float(Decimal(str(x)).quantize(Decimal(f"1e{-digits}"), rounding=ROUND_HALF_UP))


def _limit(x: float) -> float:
    if x != x or abs(x) > LIMIT:
        raise Refused
    return x


def _wrap(e: Expr, min_prec: int) -> str:
    return e.text if e.prec >= min_prec else f"({e.text})"


def _space(draw) -> str:
    return draw(st.sampled_from(["", "", " ", "  ", "\t", "\n"]))


numbers = st.one_of(
    st.integers(min_value=0, max_value=10_000).map(str),
    st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False).map(
        lambda d: format(d, "f")
    ),
)


@st.composite
def atoms(draw):
    if draw(st.booleans()):
        text = draw(numbers)
        v = float(text)
        return Expr(text, 5, lambda env, v=v: v)
    name = draw(st.sampled_from(NAMES))
    return Expr(name, 5, lambda env, name=name: _limit(env[name]))


def _combine(draw, children):
    kind = draw(st.sampled_from(["+", "-", "*", "/", "cmp", "neg", "min", "max", "round", "paren"]))
    a, b = children
    sp = _space(draw)
    if kind in ("+", "-", "*", "/"):
        prec = 2 if kind in "+-" else 3
        fn = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}[kind]
        text = f"{_wrap(a, prec)}{sp}{kind}{_space(draw)}{_wrap(b, prec + 1)}"

        def compute(env, fn=fn, kind=kind):
            left, right = a.compute(env), b.compute(env)
            if kind == "/" and right == 0:
                raise Refused
            return _limit(fn(left, right))

        return Expr(text, prec, compute)
    if kind == "cmp":
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
        fn = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
              "==": operator.eq, "!=": operator.ne}[op]
        text = f"{_wrap(a, 2)}{sp}{op}{_space(draw)}{_wrap(b, 2)}"
        return Expr(text, 1, lambda env: 1.0 if fn(a.compute(env), b.compute(env)) else 0.0)
    if kind == "neg":
        return Expr(f"-{sp}{_wrap(a, 4)}", 4, lambda env: -a.compute(env))
    if kind in ("min", "max"):
        fn = min if kind == "min" else max
        return Expr(f"{kind}({a.text},{sp}{b.text})", 5, lambda env: fn(a.compute(env), b.compute(env)))
    if kind == "round":
        digits = draw(st.integers(min_value=-2, max_value=3))
        return Expr(
            f"round({a.text},{sp}{digits})", 5,
            lambda env: _limit(_reference_round(a.compute(env), digits)),
        )
    return Expr(f"({sp}{a.text}{sp})", 5, a.compute)


@st.composite
def combined(draw, children):
    return _combine(draw, (draw(children), draw(children)))


expressions = st.recursive(atoms(), combined, max_leaves=12)
environments = st.fixed_dictionaries(
    {name: st.integers(min_value=-50, max_value=50) | st.floats(min_value=-100, max_value=100)
     for name in NAMES}
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions, environments)
def test_generated_formulas_match_the_reference(expr, env):
    assume(len(expr.text) <= MAX_LENGTH)
    formula = parse(expr.text)
    try:
        expected = expr.compute(env)
    except Refused:
        with pytest.raises(FormulaError):
            formula.evaluate(env)
        return
    assert formula.evaluate(env) == expected
    assert formula.names <= set(NAMES)
    formula.check_names(NAMES)


ALPHABET = st.sampled_from(
    list("0123456789.+-*/%()<>=!,[]{}'\"`;:@#$^&|~\\ \t\n_") + NAMES + ["min", "max", "round", "abs",
    "__import__", "lambda", "if", "else", ".__class__", "e", "\x00", "é", "٣", "∞", "𝟙"]
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(ALPHABET, max_size=40).map("".join), st.floats(allow_nan=True, allow_infinity=True))
def test_random_text_only_ever_raises_formula_error(source, x):
    try:
        formula = parse(source)
    except FormulaError as error:
        assert 0 <= error.position <= len(source)
        assert error.message.endswith(f"at position {error.position}")
        return
    try:
        formula.evaluate(dict.fromkeys(formula.names, x))
    except FormulaError as error:
        assert 0 <= error.position < len(source)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600))
def test_arbitrary_unicode_only_ever_raises_formula_error(source):
    try:
        parse(source).evaluate(dict.fromkeys(NAMES, 1.0))
    except FormulaError as error:
        assert 0 <= error.position <= max(len(source), MAX_LENGTH)


@settings(max_examples=300, deadline=None)
@given(expressions, st.sampled_from([".real", ".__class__", "[0]", "['a']", "(1)", ".x()"]))
def test_attribute_access_calls_and_subscripts_are_refused_where_they_start(expr, suffix):
    """Whatever valid formula a construct is attached to, it is refused at its own position."""
    text = f"({expr.text}){suffix}"
    assume(len(text) <= MAX_LENGTH)
    with pytest.raises(FormulaError) as caught:
        parse(text)
    assert caught.value.position == len(expr.text) + 2


@settings(max_examples=200, deadline=None)
@given(expressions, st.sampled_from(["open", "exec", "getattr", "__import__", "globals", "abs"]))
def test_calls_to_anything_but_min_max_round_are_refused(expr, name):
    prefix = f"{expr.text} + "
    text = f"{prefix}{name}({expr.text})"
    assume(len(text) <= MAX_LENGTH)
    with pytest.raises(FormulaError, match=f"unknown function '{name}'") as caught:
        parse(text)
    assert caught.value.position == len(prefix)
