"""Numeric evaluation of small closed-form answers, to settle most pairs without math-verify.

A cleaned answer is read by a tiny recursive-descent parser that accepts only this grammar
(whitespace removed); anything else makes :func:`evaluate` return None:

- numbers (``12``, ``0.5``, ``.5``), ``\\pi``, and ``e`` only as ``e^{...}`` (Euler's number);
- variables: one latin letter other than ``e`` and ``i`` (``x``, ``n``, ``R``) or a greek
  letter command (``\\alpha``, ``\\theta``), optionally with an alphanumeric subscript
  (``C_{1}``, ``\\omega_n``), each a real number;
- a decorated letter (``\\dot{x}``, ``\\hat{\\theta}``; :data:`DECORATIONS`) is a variable too;
- the functions in :data:`FUNCTIONS` (``\\sin``, ``\\ln``, ``\\exp``, ...), only with a
  bracketed argument (``\\cos(2t)``, ``\\exp{a t}``): ``\\cos 2t`` is refused because
  readings of it differ; ``\\log`` is base 10, as math-verify's parser reads it, and
  ``\\log_2(x)`` is refused;
- ``+ - * / \\cdot \\times \\div``, implicit products (``2\\sqrt{3}``, ``3\\pi``, ``2n``),
  brackets ``( )`` and ``{ }``;
- ``\\frac{a}{b}``, ``\\sqrt{a}``, ``\\sqrt[n]{a}``, powers ``a^{b}`` (a one-token exponent
  reads one token), ``n!`` for integers up to 170, ``\\binom{n}{k}`` for integers.

A digit directly followed by ``\\frac`` (a mixed number, ``1\\frac{4}{5}``) is refused, as are
complex results, overflows and divisions by zero. Values are :class:`decimal.Decimal` numbers
with :data:`PRECISION` significant digits and decimal exponents within +-:data:`MAX_EXPONENT`
(:data:`CONTEXT`): nothing underflows to 0 or overflows to infinity inside that range, so
``2^{-2000}`` and ``2^{-3000}``, or ``10^{-401}`` and ``0``, stay distinct; a value beyond it is
refused. ``\\ln``, ``\\log``, ``\\exp``, roots and powers are computed in decimal; the
trigonometric and hyperbolic functions in binary floating point (an argument or result outside
the float range is refused). Values are computed at :data:`SAMPLE_POINTS`
fixed points where each variable takes a positive value derived from its name, below 1 at
even points and above 1 at odd ones (:func:`sample_value`), so that ``\\sqrt{1-x^{2}}`` and
``\\sqrt{x^{2}-1}`` each have points where they are real; a point where either answer has no
real value is skipped.

:func:`compare_closed_forms` (rule E2b of :mod:`equivalence`): when both answers evaluate, they
are unequal if at some point they differ by more than ``1e-6`` relatively (a different value
at one assignment of the variables of both proves them different functions), and equal if
neither holds a variable and they agree within ``1e-9``. Every other case is left open.
"""

from __future__ import annotations

import decimal
import math
import re
from decimal import Decimal

SAMPLE_POINTS = 4
UNEQUAL_REL = Decimal("1e-6")
EQUAL_REL = Decimal("1e-9")
MAX_CHARS = 300
PRECISION = 34
MAX_EXPONENT = 100_000
MAX_POWER = 10**7  # larger exponents are refused before any arithmetic
CONTEXT = decimal.Context(
    prec=PRECISION,
    Emax=MAX_EXPONENT,
    Emin=-MAX_EXPONENT,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow, decimal.Underflow],
)
_PI = Decimal("3.141592653589793238462643383279502884")
_E = Decimal("2.718281828459045235360287471352662498")
_GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta kappa lambda mu nu xi rho sigma tau "
    "upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi Psi Omega".split()
)
_TOKEN = re.compile(r"\d+(?:\.\d*)?|\.\d+|\\[a-zA-Z]+|\\.|\S")
FLOAT_FUNCTIONS = {
    "\\sin": math.sin,
    "\\cos": math.cos,
    "\\tan": math.tan,
    "\\sec": lambda x: 1 / math.cos(x),
    "\\csc": lambda x: 1 / math.sin(x),
    "\\cot": lambda x: 1 / math.tan(x),
    "\\sinh": math.sinh,
    "\\cosh": math.cosh,
    "\\tanh": math.tanh,
    "\\arcsin": math.asin,
    "\\arccos": math.acos,
    "\\arctan": math.atan,
}
DECIMAL_FUNCTIONS = {
    "\\ln": Decimal.ln,
    "\\log": Decimal.log10,  # base 10, as math-verify's parser reads it
    "\\exp": Decimal.exp,
}
FUNCTIONS = frozenset(FLOAT_FUNCTIONS) | frozenset(DECIMAL_FUNCTIONS)
DECORATIONS = frozenset({"\\dot", "\\ddot", "\\hat", "\\bar", "\\tilde", "\\vec", "\\overline"})
_PRODUCT = frozenset({"*", "\\cdot", "\\times"})
_DIVIDE = frozenset({"/", "\\div"})


class _Refused(Exception):
    """The answer is outside the grammar, or its value is not a finite real number."""


def evaluate(answer: str, point_index: int = 0) -> tuple[Decimal, frozenset[str]] | None:
    """Value of ``answer`` at sample point ``point_index``, with the variables it holds; None outside the grammar."""
    try:
        with decimal.localcontext(CONTEXT):
            parser = _Parser(answer, point_index)
            return parser.parse(), frozenset(parser.seen)
    except (_Refused, ArithmeticError, ValueError, RecursionError):
        return None


def sample_value(name: str, point_index: int) -> Decimal:
    """The value of variable ``name`` at sample point ``point_index``, derived from the name: in
    [0.05, 0.95) at even points and in [1.1, 3.1) at odd ones (distinct letters, distinct values)."""
    code = (sum(ord(c) * 7919 for c in name) * (point_index + 3) + point_index * 104729) % 997
    return Decimal(0.05 + code / 1108.0 if point_index % 2 == 0 else 1.1 + code / 498.5)


def compare_closed_forms(pred: str, gold: str) -> bool | None:
    """Rule E2b: True / False when evaluation at the sample points decides, None otherwise."""
    for point_index in range(SAMPLE_POINTS):
        pred_value, gold_value = evaluate(pred, point_index), evaluate(gold, point_index)
        if pred_value is None or gold_value is None:
            continue  # outside the grammar, or outside a domain (a root of a negative) here
        (x, pred_names), (y, gold_names) = pred_value, gold_value
        with decimal.localcontext(CONTEXT):
            scale, difference = max(abs(x), abs(y)), abs(x - y)
            if difference > UNEQUAL_REL * scale:
                return False
            if not pred_names and not gold_names:
                return True if difference <= EQUAL_REL * scale else None
    return None


class _Parser:
    """Recursive-descent evaluator for the module's grammar."""

    def __init__(self, text: str, point_index: int):
        if len(text) > MAX_CHARS:
            raise _Refused
        self.tokens = _TOKEN.findall(text)
        self.k = 0
        self.point_index = point_index
        self.seen: set[str] = set()

    def peek(self) -> str | None:
        return self.tokens[self.k] if self.k < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise _Refused
        self.k += 1
        return token

    def parse(self) -> Decimal:
        if not self.tokens:
            raise _Refused
        value = self.expression()
        if self.peek() is not None:
            raise _Refused
        return _finite(value)

    def expression(self) -> Decimal:
        value = self.term()
        while self.peek() in ("+", "-"):
            if self.take() == "+":
                value = value + self.term()
            else:
                value = value - self.term()
        return value

    def term(self) -> Decimal:
        value = self.signed()
        while (token := self.peek()) is not None:
            if token in _PRODUCT:
                self.k += 1
                value *= self.signed()
            elif token in _DIVIDE:
                self.k += 1
                value /= self.signed()
            elif token not in ("+", "-", ")", "}", "]", "^", "!"):
                if token == "\\frac" and self.tokens[self.k - 1][-1].isdecimal():
                    raise _Refused  # a mixed number such as 1\frac{4}{5}
                value *= self.power()
            else:
                return value
        return value

    def signed(self) -> Decimal:
        if self.peek() in ("+", "-"):
            return self.signed() if self.take() == "+" else -self.signed()
        return self.power()

    def power(self) -> Decimal:
        base = self.atom()
        while self.peek() == "!":
            self.k += 1
            base = _factorial(base)
        if self.peek() == "^":
            self.k += 1
            exponent = self.atom()
            if abs(exponent) > MAX_POWER or (base < 0 and exponent != exponent.to_integral_value()):
                raise _Refused
            base = _finite(base**exponent)
        return base

    def atom(self) -> Decimal:
        token = self.take()
        if token[0].isdecimal() or token[0] == ".":
            return Decimal(token)
        if token in ("(", "{"):
            value = self.expression()
            if self.take() != (")" if token == "(" else "}"):
                raise _Refused
            return value
        if token == "\\pi":
            return +_PI
        if token == "e" and self.peek() == "^":
            return +_E
        if token == "\\frac":
            numerator, denominator = self.atom(), self.atom()
            return numerator / denominator
        if token == "\\sqrt":
            degree = Decimal(2)
            if self.peek() == "[":
                self.k += 1
                degree = self.expression()
                if self.take() != "]":
                    raise _Refused
            radicand = self.atom()
            if radicand < 0 or degree == 0:
                raise _Refused
            return radicand.sqrt() if degree == 2 else _finite(radicand ** (1 / degree))
        if token == "\\binom":
            n, r = self.atom(), self.atom()
            if not (_is_integer(n) and _is_integer(r) and 0 <= r <= n <= 1000):
                raise _Refused
            return Decimal(math.comb(int(n), int(r)))
        if token in FUNCTIONS and self.peek() in ("(", "{"):
            argument = self.atom()
            if token in DECIMAL_FUNCTIONS:
                return _finite(DECIMAL_FUNCTIONS[token](argument))
            return _float_function(FLOAT_FUNCTIONS[token], argument)
        if token in DECORATIONS:
            inner = self.atom_name()
            name = token[1:] + "_" + inner + self.subscript()
            self.seen.add(name)
            return sample_value(name, self.point_index)
        name = token[1:] if token.startswith("\\") else token
        if (len(token) == 1 and token.isascii() and token.isalpha() and token not in "ei") or name in _GREEK:
            name += self.subscript()
            self.seen.add(name)
            return sample_value(name, self.point_index)
        raise _Refused

    def atom_name(self) -> str:
        """The letter under a decoration: ``x`` or ``{x}`` (a latin or greek letter)."""
        token = self.take()
        if token == "{":
            token = self.take()
            if self.take() != "}":
                raise _Refused
        name = token[1:] if token.startswith("\\") else token
        if not ((len(token) == 1 and token.isascii() and token.isalpha()) or name in _GREEK):
            raise _Refused
        return name

    def subscript(self) -> str:
        """An alphanumeric subscript after a variable (``_1``, ``_{n}``, ``_{max}``) as ``"_..."``, or ""."""
        if self.peek() != "_":
            return ""
        self.k += 1
        token = self.take()
        parts = []
        if token == "{":
            while (token := self.take()) != "}":
                parts.append(token)
        else:
            parts.append(token)
        text = "".join(parts)
        if not text.isascii() or not text.isalnum():
            raise _Refused
        return "_" + text


def _is_integer(value: Decimal) -> bool:
    return value == value.to_integral_value()


def _factorial(value: Decimal) -> Decimal:
    if not _is_integer(value) or not 0 <= value <= 170:
        raise _Refused
    return Decimal(math.factorial(int(value)))


def _float_function(function, argument: Decimal) -> Decimal:
    """``function`` (a float function) at ``argument``; refused when the argument or result leaves the float range."""
    x = float(argument)
    if math.isinf(x) or (x == 0) != (argument == 0) or (x != 0 and abs(x) < 2.3e-308):
        raise _Refused
    result = function(x)
    if isinstance(result, complex) or not math.isfinite(result) or (result != 0 and abs(result) < 2.3e-308):
        raise _Refused
    return Decimal(result)


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise _Refused
    return value
