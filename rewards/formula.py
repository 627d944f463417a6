"""A small, safe expression language for scoring-rule formulas.

Grammar (lowest precedence first; comparisons do not chain)::

    formula    := comparison END
    comparison := sum [("<" | "<=" | ">" | ">=" | "==" | "!=") sum]
    sum        := product (("+" | "-") product)*
    product    := unary (("*" | "/") unary)*
    unary      := ("-" | "+") unary | primary
    primary    := NUMBER | NAME | FUNC "(" comparison ("," comparison)* ")" | "(" comparison ")"

``FUNC`` is one of ``min``, ``max`` (two or more arguments) and ``round`` (a value and
optionally a whole number of digits from -6 to 6, rounding halves away from zero).
Comparisons give 1 or 0. Numbers are decimal literals without exponents.

The source is tokenised and parsed by hand into the node classes below and evaluated by
walking them: nothing here reaches Python's ``eval`` or ``ast``, so a formula can only
name inputs and the three functions. Every error is a :class:`FormulaError` carrying the
0-based character position it refers to. Evaluation errors (division by zero, a result
too large or not finite, round() digits out of range) are FormulaErrors too, positioned
at the operator or call that failed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from community.errors import InvalidInput
from community.i18n import N_, Msg

MAX_LENGTH = 500
MAX_DEPTH = 32  # nested parentheses, calls and unary signs
MAX_NUMBER_DIGITS = 15  # a literal keeps its exact value as a float
MAX_MAGNITUDE = 1e15  # intermediate results beyond this are refused as runaway
FUNCTIONS = ("min", "max", "round")
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")


class FormulaError(InvalidInput):
    """A formula that cannot be parsed or evaluated; ``position`` is a 0-based offset."""

    code = "invalid_formula"

    def __init__(self, reason: str, position: int, *, where: str = "") -> None:
        self.reason = reason
        self.position = position
        self.where = where
        super().__init__(N_("%(where)s%(reason)s at position %(position)s", where=where,
                            reason=reason if isinstance(reason, Msg) else Msg(reason), position=position))

    def located(self, where: str) -> FormulaError:
        """The same error with a prefix naming where the formula lives (rule, field)."""
        return FormulaError(self.reason, self.position, where=where)


# --- tokens ---------------------------------------------------------------------------

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = ("<=", ">=", "==", "!=", "<", ">", "+", "-", "*", "/", "(", ")", ",")
_EXPLAINED = {
    ".": N_("attribute access is not allowed"),
    "[": N_("subscripts are not allowed"),
    "]": N_("subscripts are not allowed"),
    "'": N_("strings are not allowed"),
    '"': N_("strings are not allowed"),
    "=": N_("assignment is not allowed; compare with =="),
    "%": N_("only + - * / are allowed"),
    "^": N_("only + - * / are allowed"),
}


@dataclass(frozen=True)
class Token:
    kind: str  # "number", "name", "op", "end"
    text: str
    pos: int


def _describe(char: str) -> str:
    if char.isprintable() and not char.isspace():
        return repr(char)
    return N_("character U+%(code)04X", code=ord(char))


def tokenize(source: str) -> Iterator[Token]:
    """Tokens one at a time, so that the parser reports the first error in reading order."""
    i = 0
    n = len(source)
    while i < n:
        char = source[i]
        if char in " \t\r\n":
            i += 1
            continue
        number = _NUMBER.match(source, i)
        if number:
            text = number.group()
            if _NAME.match(source, number.end()) or source.startswith(".", number.end()):
                raise FormulaError(N_("malformed number %(source)r", source=source[i:number.end() + 1]), i)
            if len(text.replace(".", "").lstrip("0")) > MAX_NUMBER_DIGITS:
                raise FormulaError(N_("number %(text)s has more than %(max_number_digits)s digits",
                                      text=text, max_number_digits=MAX_NUMBER_DIGITS), i)
            yield Token("number", text, i)
            i = number.end()
            continue
        name = _NAME.match(source, i)
        if name:
            yield Token("name", name.group(), i)
            i = name.end()
            continue
        for op in _OPERATORS:
            if source.startswith(op, i):
                if op == "*" and source.startswith("**", i):
                    raise FormulaError("unexpected '**' (only + - * / are allowed)", i)
                yield Token("op", op, i)
                i += len(op)
                break
        else:
            hint = _EXPLAINED.get(char)
            what = _describe(char)
            reason = N_("unexpected %(what)s (%(hint)s)", what=what, hint=hint) if hint else N_(
                "unexpected %(what)s", what=what)
            raise FormulaError(reason, i)
    yield Token("end", "", n)


# --- syntax tree ----------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    value: float
    pos: int


@dataclass(frozen=True)
class Name:
    name: str
    pos: int


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node
    pos: int


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / or a comparison
    left: Node
    right: Node
    pos: int  # of the operator


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Node, ...]
    pos: int


Node = Number | Name | Unary | Binary | Call


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.token = next(self.tokens)
        self.depth = 0

    def advance(self) -> Token:
        token = self.token
        if token.kind != "end":
            self.token = next(self.tokens)
        return token

    def unexpected(self, token: Token | None = None) -> FormulaError:
        token = token or self.token
        if token.kind == "end":
            return FormulaError("unexpected end of formula", token.pos)
        what = f"name {token.text!r}" if token.kind == "name" else repr(token.text)
        return FormulaError(N_("unexpected %(what)s", what=what), token.pos)

    def expect(self, text: str) -> Token:
        if self.token.kind != "op" or self.token.text != text:
            error = self.unexpected()
            raise FormulaError(N_("%(reason)s, expected %(text)r",
                                  reason=error.reason, text=text), error.position)
        return self.advance()

    def nested(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FormulaError(N_("nested more than %(max_depth)s levels deep", max_depth=MAX_DEPTH), pos)

    def formula(self) -> Node:
        if self.token.kind == "end":
            raise FormulaError("the formula is empty", 0)
        node = self.comparison()
        if self.token.kind != "end":
            raise self.unexpected()
        return node

    def comparison(self) -> Node:
        left = self.sum()
        if self.token.kind == "op" and self.token.text in COMPARISONS:
            op = self.advance()
            right = self.sum()
            if self.token.kind == "op" and self.token.text in COMPARISONS:
                raise FormulaError("comparisons cannot be chained", self.token.pos)
            return Binary(op.text, left, right, op.pos)
        return left

    def sum(self) -> Node:
        node = self.product()
        while self.token.kind == "op" and self.token.text in ("+", "-"):
            op = self.advance()
            node = Binary(op.text, node, self.product(), op.pos)
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.token.kind == "op" and self.token.text in ("*", "/"):
            op = self.advance()
            node = Binary(op.text, node, self.unary(), op.pos)
        return node

    def unary(self) -> Node:
        if self.token.kind == "op" and self.token.text in ("-", "+"):
            op = self.advance()
            self.nested(op.pos)
            operand = self.unary()
            self.depth -= 1
            return Unary(op.text, operand, op.pos)
        return self.primary()

    def primary(self) -> Node:
        token = self.token
        if token.kind == "number":
            self.advance()
            return Number(float(token.text), token.pos)
        if token.kind == "name":
            self.advance()
            if self.token.kind == "op" and self.token.text == "(":
                return self.call(token)
            return Name(token.text, token.pos)
        if token.kind == "op" and token.text == "(":
            self.advance()
            self.nested(token.pos)
            node = self.comparison()
            self.expect(")")
            self.depth -= 1
            return node
        raise self.unexpected()

    def call(self, name: Token) -> Call:
        if name.text not in FUNCTIONS:
            raise FormulaError(
                N_("unknown function %(text)r (only %(functions)s can be called)",
                   text=name.text, functions=', '.join(FUNCTIONS)), name.pos
            )
        self.nested(name.pos)
        self.expect("(")
        args = [self.comparison()]
        while self.token.kind == "op" and self.token.text == ",":
            self.advance()
            args.append(self.comparison())
        self.expect(")")
        self.depth -= 1
        if name.text in ("min", "max") and len(args) < 2:
            raise FormulaError(N_("%(text)s() needs at least two arguments", text=name.text), name.pos)
        if name.text == "round" and len(args) > 2:
            raise FormulaError("round() takes a value and at most a number of digits", name.pos)
        return Call(name.text, tuple(args), name.pos)


# --- the compiled formula ---------------------------------------------------------------


def round_half_up(value: float, digits: int = 0) -> float:
    """Round halves away from zero on the number as written (2.675 → 2.68), not on its
    binary approximation and not to even as Python's round() does."""
    quantum = Decimal(1).scaleb(-digits)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


def _checked(value: float, pos: int) -> float:
    if not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise FormulaError(N_("the result is out of range (more than %(max_magnitude).0e)",
                              max_magnitude=MAX_MAGNITUDE), pos)
    return value


def _evaluate(node: Node, env: Mapping[str, float]) -> float:
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Name):
        if node.name not in env:
            raise FormulaError(N_("no value for %(name)r", name=node.name), node.pos)
        return _checked(float(env[node.name]), node.pos)
    if isinstance(node, Unary):
        value = _evaluate(node.operand, env)
        return -value if node.op == "-" else value
    if isinstance(node, Binary):
        left = _evaluate(node.left, env)
        right = _evaluate(node.right, env)
        match node.op:
            case "+":
                return _checked(left + right, node.pos)
            case "-":
                return _checked(left - right, node.pos)
            case "*":
                return _checked(left * right, node.pos)
            case "/":
                if right == 0:
                    raise FormulaError("division by zero", node.pos)
                return _checked(left / right, node.pos)
            case "<":
                return float(left < right)
            case "<=":
                return float(left <= right)
            case ">":
                return float(left > right)
            case ">=":
                return float(left >= right)
            case "==":
                return float(left == right)
            case "!=":
                return float(left != right)
    assert isinstance(node, Call)
    values = [_evaluate(arg, env) for arg in node.args]
    if node.function == "min":
        return min(values)
    if node.function == "max":
        return max(values)
    digits = values[1] if len(values) > 1 else 0.0
    if digits != int(digits) or not -6 <= digits <= 6:
        raise FormulaError("round() digits must be a whole number from -6 to 6", node.pos)
    return _checked(round_half_up(values[0], int(digits)), node.pos)


def _names(node: Node) -> Iterable[Name]:
    if isinstance(node, Name):
        yield node
    elif isinstance(node, Unary):
        yield from _names(node.operand)
    elif isinstance(node, Binary):
        yield from _names(node.left)
        yield from _names(node.right)
    elif isinstance(node, Call):
        for arg in node.args:
            yield from _names(arg)


@dataclass(frozen=True)
class Formula:
    source: str
    tree: Node

    @property
    def names(self) -> frozenset[str]:
        return frozenset(n.name for n in _names(self.tree))

    def check_names(self, allowed: Iterable[str]) -> None:
        """Refuse the first name that is not one of ``allowed`` (the event's inputs)."""
        allowed = tuple(allowed)
        for name in sorted(_names(self.tree), key=lambda n: n.pos):
            if name.name not in allowed:
                known = ", ".join(allowed) if allowed else "none"
                raise FormulaError(N_("unknown name %(name)r (inputs here: %(known)s)",
                                      name=name.name, known=known), name.pos)

    def evaluate(self, env: Mapping[str, float]) -> float:
        return _evaluate(self.tree, env)


@lru_cache(maxsize=512)
def _parse(source: str) -> Formula:
    return Formula(source, _Parser(source).formula())


def parse(source: object) -> Formula:
    """Parse (cached per source text) or raise FormulaError naming the position."""
    if not isinstance(source, str):
        raise FormulaError("the formula must be text", 0)
    if len(source) > MAX_LENGTH:
        raise FormulaError(N_("the formula is longer than %(max_length)s characters",
                              max_length=MAX_LENGTH), MAX_LENGTH)
    return _parse(source)
