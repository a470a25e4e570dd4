"""Floating-point evaluation of small closed-form answers, to settle most pairs without math-verify.

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
complex results, overflows and divisions by zero. Values are computed at :data:`SAMPLE_POINTS`
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

import math
import re

SAMPLE_POINTS = 4
UNEQUAL_REL = 1e-6
EQUAL_REL = 1e-9
MAX_CHARS = 300
_GREEK = frozenset(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta kappa lambda mu nu xi rho sigma tau "
    "upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi Psi Omega".split()
)
_TOKEN = re.compile(r"\d+(?:\.\d*)?|\.\d+|\\[a-zA-Z]+|\\.|\S")
FUNCTIONS = {
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
    "\\ln": math.log,
    "\\log": math.log10,  # base 10, as math-verify's parser reads it
    "\\exp": math.exp,
}
DECORATIONS = frozenset({"\\dot", "\\ddot", "\\hat", "\\bar", "\\tilde", "\\vec", "\\overline"})
_PRODUCT = frozenset({"*", "\\cdot", "\\times"})
_DIVIDE = frozenset({"/", "\\div"})


class _Refused(Exception):
    """The answer is outside the grammar, or its value is not a finite real number."""


def evaluate(answer: str, point_index: int = 0) -> tuple[float, frozenset[str]] | None:
    """Value of ``answer`` at sample point ``point_index``, with the variables it holds; None outside the grammar."""
    try:
        parser = _Parser(answer, point_index)
        return parser.parse(), frozenset(parser.seen)
    except (_Refused, ArithmeticError, ValueError, RecursionError):
        return None


def sample_value(name: str, point_index: int) -> float:
    """The value of variable ``name`` at sample point ``point_index``, derived from the name: in
    [0.05, 0.95) at even points and in [1.1, 3.1) at odd ones (distinct letters, distinct values)."""
    code = (sum(ord(c) * 7919 for c in name) * (point_index + 3) + point_index * 104729) % 997
    return 0.05 + code / 1108.0 if point_index % 2 == 0 else 1.1 + code / 498.5


def compare_closed_forms(pred: str, gold: str) -> bool | None:
    """Rule E2b: True / False when evaluation at the sample points decides, None otherwise."""
    for point_index in range(SAMPLE_POINTS):
        pred_value, gold_value = evaluate(pred, point_index), evaluate(gold, point_index)
        if pred_value is None or gold_value is None:
            continue  # outside the grammar, or outside a domain (a root of a negative) here
        (x, pred_names), (y, gold_names) = pred_value, gold_value
        scale = max(abs(x), abs(y))
        if abs(x - y) > UNEQUAL_REL * scale:
            return False
        if not pred_names and not gold_names:
            return True if abs(x - y) <= EQUAL_REL * scale else None
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

    def parse(self) -> float:
        if not self.tokens:
            raise _Refused
        value = self.expression()
        if self.peek() is not None:
            raise _Refused
        return _finite(value)

    def expression(self) -> float:
        value = self.term()
        while self.peek() in ("+", "-"):
            sign = 1.0 if self.take() == "+" else -1.0
            value = value + sign * self.term()
        return value

    def term(self) -> float:
        value = self.signed()
        while (token := self.peek()) is not None:
            if token in _PRODUCT:
                self.k += 1
                value *= self.signed()
            elif token in _DIVIDE:
                self.k += 1
                value /= self.signed()
            elif token not in ("+", "-", ")", "}", "]", "^", "!"):
                if token == "\\frac" and self.tokens[self.k - 1][-1].isdigit():
                    raise _Refused  # a mixed number such as 1\frac{4}{5}
                value *= self.power()
            else:
                return value
        return value

    def signed(self) -> float:
        if self.peek() in ("+", "-"):
            return (1.0 if self.take() == "+" else -1.0) * self.signed()
        return self.power()

    def power(self) -> float:
        base = self.atom()
        while self.peek() == "!":
            self.k += 1
            base = _factorial(base)
        if self.peek() == "^":
            self.k += 1
            exponent = self.atom()
            if base < 0 and exponent != int(exponent):
                raise _Refused
            base = _finite(math.pow(base, exponent))
        return base

    def atom(self) -> float:
        token = self.take()
        if token[0].isdigit() or token[0] == ".":
            return float(token)
        if token in ("(", "{"):
            value = self.expression()
            if self.take() != (")" if token == "(" else "}"):
                raise _Refused
            return value
        if token == "\\pi":
            return math.pi
        if token == "e" and self.peek() == "^":
            return math.e
        if token == "\\frac":
            numerator, denominator = self.atom(), self.atom()
            return numerator / denominator
        if token == "\\sqrt":
            degree = 2.0
            if self.peek() == "[":
                self.k += 1
                degree = self.expression()
                if self.take() != "]":
                    raise _Refused
            radicand = self.atom()
            if radicand < 0 or degree == 0:
                raise _Refused
            return radicand ** (1.0 / degree)
        if token == "\\binom":
            n, r = self.atom(), self.atom()
            if n != int(n) or r != int(r) or not 0 <= r <= n <= 1000:
                raise _Refused
            return float(math.comb(int(n), int(r)))
        if token in FUNCTIONS and self.peek() in ("(", "{"):
            return FUNCTIONS[token](self.atom())
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


def _factorial(value: float) -> float:
    if value != int(value) or not 0 <= value <= 170:
        raise _Refused
    return float(math.factorial(int(value)))


def _finite(value: float) -> float:
    if isinstance(value, complex) or math.isnan(value) or math.isinf(value):
        raise _Refused
    return value
