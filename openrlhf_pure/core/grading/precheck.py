"""Cheap pre-checks that reject hostile answers before math-verify sees them.

math-verify (SymPy underneath) can spend minutes and gigabytes on a short string: ``9^{9^{9}}``
asks for an integer of 370 million digits, ``(10!)!`` for a factorial of 3.6 million,
``(a+b+c+d)^{30}`` for an expansion of 5,456 terms, and ANTLR's parser slows down sharply on
deep nesting. A cleaned answer is rejected, naming the first rule it breaks, when:

P1 it is longer than ``max_chars`` characters;
P2 brackets (``{ ( [``) nest deeper than ``max_depth``;
P3 it holds a run of more than ``max_digits`` digits;
P4 a superscript follows a superscript without braces (``9^9^9``: TeX rejects it, math-verify
   reads a tower);
P5 an exponent (the argument of ``^``: a group or one token) has a known bound above
   ``max_exponent`` in size (``2^{100000}``, ``9^{9^{9}}``, ``\\sum_{k=1}^{10^{9}}``), or is
   symbolic and holds a number above ``max_exponent`` (``\\pi^{503227n}``), or a bracketed sum
   of t terms is raised to a known power e with C(e + t - 1, t - 1) above
   ``max_expansion_terms`` (``(x+y+z)^{40}``);
P6 the argument of ``!`` has a known bound above ``max_factorial`` (``100000!``, ``(10!)!``),
   or is not integer arithmetic and holds a number above ``max_symbolic_shift``
   (``(x-852)!``: SymPy expands it into hundreds of factors; ``(\\pi+400)!``);
P7 the top of ``\\binom`` has a known bound above ``max_binomial``, or its arguments are not
   integer arithmetic and hold a number above ``max_symbolic_shift`` (``\\binom{y}{397}``,
   ``\\binom{\\pi}{150}``);
P8 an e-notation exponent is above ``max_exponent`` in size (``1e999999``);
P9 the whole answer has a known bound above 10 ** ``max_result_digits``;
P10 the answer is not integer arithmetic alone (it holds a variable, a constant, a root, a
   fraction, a decimal or a function) and a numeric part of it has a known bound above
   10 ** ``max_symbolic_constant_digits`` (``3+626!\\sqrt{3}!-e``: SymPy's factoring then
   searches primes beyond a 1,500-digit coefficient for a minute);
P11 a product, or a sum of products, expands into more than ``max_expansion_terms`` terms:
   ``(a+b)(c+d)...(u+v)`` (10 factors, 1,024 terms: 6 s in SymPy's simplification, and twice
   as long per extra factor). Terms are counted through nested brackets (a bracketed sum of t
   terms raised to a known power e counts C(e + t - 1, t - 1)); a product's count is capped by
   the number of monomials of its degree d in its v distinct letters, C(d + v, v), so that
   ``(x+1)(x+2)...(x+20)`` (21 terms) passes;
P12 the factorials and binomials with symbolic arguments have shifts (the largest number in
   each argument) adding up to more than ``max_symbolic_shift_total``: SymPy expands
   ``(x+20)!`` into 20 factors, and ``(x+20)!(x+19)!(x+18)!(x+17)!`` took 2 s.

Bounds come from a small evaluator over numbers, ``\\pi``, ``e``, ``i``, ``+ - * / \\cdot
\\times``, ``^``, ``!``, ``\\frac``, ``\\binom``, ``\\sqrt`` and brackets; it works in log10 and
returns None for anything symbolic (a variable, a function), which is then left to math-verify,
to its in-process time bound (``GradingConfig.time_limit_s``, :mod:`deadline`) and to the pool's
hard limits. Denominators are taken as at least 1 in size. The whole check is linear in the
length of the (at most ``max_chars`` long) answer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\d+(?:\.\d*)?|\.\d+|\\[a-zA-Z]+|\\.|\S")
_E_NOTATION = re.compile(r"\d[eE][+-]?(\d+)")
_DIGIT_RUN = re.compile(r"\d+")
_OPENERS, _CLOSERS = frozenset("([{"), frozenset(")]}")
_SKIPPED = frozenset({"\\left", "\\right", "\\big", "\\Big", "\\bigl", "\\bigr", "\\Bigl", "\\Bigr"})
_PRODUCT_OPS = frozenset({"*", "\\cdot", "\\times", "/", "\\div"})
_LOG10_2 = math.log10(2)
_INTEGER_ARITHMETIC = frozenset("+ - * ^ ! ( ) { } [ ] \\cdot \\times \\left \\right".split())
_NOT_VARIABLES = frozenset(
    "\\frac \\dfrac \\tfrac \\sqrt \\binom \\pi \\cdot \\times \\div \\left \\right \\infty".split()
)
_CONSTANTS = {"\\pi": math.log10(math.pi), "e": math.log10(math.e), "i": 0.0}  # |value| bounds, as log10


@dataclass(frozen=True)
class Limits:
    """Thresholds of rules P1-P12 (the shapes known to be expensive; see the module docstring)."""

    max_chars: int = 400
    max_depth: int = 8
    max_digits: int = 100
    max_exponent: int = 10_000
    max_expansion_terms: int = 300
    max_factorial: int = 1_000
    max_binomial: int = 10_000
    max_result_digits: int = 100_000
    max_symbolic_constant_digits: int = 200
    max_symbolic_shift: int = 20
    max_symbolic_shift_total: int = 40


class _Rejected(Exception):
    """Raised inside the evaluator when a rule is broken."""


def hostile_reason(answer: str, limits: Limits = Limits()) -> str | None:
    """The first rule (P1-P12) that ``answer`` breaks, as a short phrase, or None when it passes."""
    if len(answer) > limits.max_chars:
        return f"P1 longer than {limits.max_chars} characters"
    if _nesting_depth(answer) > limits.max_depth:
        return f"P2 nested deeper than {limits.max_depth}"
    if any(len(run) > limits.max_digits for run in _DIGIT_RUN.findall(answer)):
        return f"P3 a number longer than {limits.max_digits} digits"
    if any(len(e) > 9 or int(e) > limits.max_exponent for e in _E_NOTATION.findall(answer)):
        return "P8 e-notation exponent too large"
    tokens = _TOKEN.findall(answer)
    if _stacked_superscript(tokens):
        return "P4 superscript on a superscript"
    evaluator = _Evaluator(tokens, limits)
    try:
        total = evaluator.run()
    except _Rejected as rejection:
        return str(rejection)
    except RecursionError:
        return "P2 nested too deeply to evaluate"
    if total is not None and total > limits.max_result_digits:
        return f"P9 value above 10^{limits.max_result_digits}"
    if not evaluator.plain_integer(0, len(tokens)) and evaluator.largest > limits.max_symbolic_constant_digits:
        return f"P10 a constant above 10^{limits.max_symbolic_constant_digits} beside non-integer parts"
    return None


def magnitude(answer: str) -> float | None:
    """log10 of an upper bound of ``|answer|`` when it is purely numeric, else None (no limits applied)."""
    unlimited = Limits(max_exponent=10**300, max_expansion_terms=10**300, max_factorial=10**300, max_binomial=10**300)
    return _Evaluator(_TOKEN.findall(answer), unlimited).run()


def _nesting_depth(s: str) -> int:
    """Deepest bracket nesting in ``s`` (all of ``( [ {`` count; closers never go below 0)."""
    depth = deepest = 0
    for char in s:
        if char in _OPENERS:
            depth += 1
            deepest = max(deepest, depth)
        elif char in _CLOSERS:
            depth = max(0, depth - 1)
    return deepest


def _stacked_superscript(tokens: list[str]) -> bool:
    """Whether ``^ X ^`` occurs with X a single token (rule P4)."""
    return any(tokens[k] == "^" and tokens[k + 2] == "^" and tokens[k + 1] not in "{(" for k in range(len(tokens) - 2))


def _power10(log_value: float) -> float:
    """10 ** log_value, as inf when too large for a float."""
    return math.inf if log_value > 300 else 10.0**log_value


class _Evaluator:
    """Recursive-descent bound evaluator over tokens; values are log10 upper bounds (>= 0) or None."""

    def __init__(self, tokens: list[str], limits: Limits):
        self.tokens = tokens
        self.k = 0
        self.limits = limits
        self.largest = 0.0  # the largest known bound of any numeric part seen
        self.terms = 1  # expansion terms of the part parsed last (rule P11)
        self.degree = 0  # its polynomial degree, as far as known
        self.symbolic_shift = 0.0  # total shift of symbolic factorials and binomials so far (rule P12)

    def peek(self) -> str | None:
        return self.tokens[self.k] if self.k < len(self.tokens) else None

    def run(self) -> float | None:
        """Evaluate the whole token list; stray closers are skipped."""
        value = self.expression()
        while self.peek() is not None:
            self.k += 1  # a stray closer or separator: skip it and keep checking the rest
            value = None if self.expression() is None or value is None else value
        return value

    def expression(self) -> float | None:
        """Sums, differences and separators (``,``, ``=``, ``<``, ...) of terms."""
        value = self.term()
        terms, degree = self.terms, self.degree
        while (token := self.peek()) is not None and token not in _CLOSERS:
            self.k += 1
            right = self.term()
            terms = terms + self.terms if token in ("+", "-") else max(terms, self.terms)
            degree = max(degree, self.degree)
            self._check_terms(terms)
            if token in ("+", "-") and value is not None and right is not None:
                value = max(value, right) + _LOG10_2
            else:
                value = None
        self.terms, self.degree = terms, degree
        return value

    def term(self) -> float | None:
        """Products, quotients and implicit products of powers."""
        start = self.k
        value = self.power()
        terms, degree = self.terms, self.degree
        while (token := self.peek()) is not None and token not in _CLOSERS and token not in ("+", "-", ",", "="):
            if token in _PRODUCT_OPS:
                self.k += 1
                right = self.power()
                if token in ("/", "\\div"):
                    right = 0.0 if right is not None else None
                    self.terms, self.degree = 1, 0  # a divisor is not expanded into the product
            elif self._starts_atom(token):
                right = self.power()
            else:
                break
            terms, degree = terms * self.terms, degree + self.degree
            if terms > self.limits.max_expansion_terms:
                terms = min(terms, self._monomials(start, degree))
                self._check_terms(terms)
            value = None if value is None or right is None else value + right
            self.largest = max(self.largest, value or 0.0)
        self.terms, self.degree = terms, degree
        return value

    def power(self) -> float | None:
        """A postfix atom, optionally raised to powers and given a subscript."""
        start = self.k
        base = self.postfix()
        base_terms, base_degree = self.terms, self.degree
        while self.peek() in ("^", "_"):
            is_power = self.peek() == "^"
            self.k += 1
            exponent_start = self.k
            exponent = self.operand()
            if not is_power:
                base = None if exponent is None else base
                self.terms, self.degree = base_terms, base_degree
                continue
            if exponent is None:
                self._check_symbolic_argument(exponent_start, self.k, "P5 exponent", self.limits.max_exponent)
            self.terms, self.degree = base_terms, base_degree
            self._check_expansion(start, exponent)
            if exponent is not None and exponent > math.log10(self.limits.max_exponent):
                raise _Rejected(f"P5 exponent above {self.limits.max_exponent}")
            base_terms, base_degree = self._power_terms(base_terms, base_degree, exponent)
            if base is None or exponent is None:
                base = None
            else:
                base = base * _power10(exponent)
        self.terms, self.degree = base_terms, base_degree
        self.largest = max(self.largest, base or 0.0)
        return base

    def postfix(self) -> float | None:
        """An atom followed by factorials."""
        sign_run = 0
        while self.peek() in ("-", "+") and sign_run < len(self.tokens):
            self.k += 1
            sign_run += 1
        start = self.k
        value = self.atom()
        while self.peek() == "!":
            self.k += 1
            if value is not None and value > math.log10(self.limits.max_factorial):
                raise _Rejected(f"P6 factorial of more than {self.limits.max_factorial}")
            if value is None or not self.plain_integer(start, self.k - 1):
                self._check_symbolic_argument(start, self.k - 1, "P6 factorial", self.limits.max_symbolic_shift)
                self._add_symbolic_shift(start, self.k - 1)
            self.terms, self.degree = 1, 0
            if value is not None:
                n = _power10(value)
                value = math.lgamma(n + 1) / math.log(10) if n < 1e300 else math.inf
        return value

    def operand(self) -> float | None:
        """The argument of ``^``, ``_`` or a command: a bracketed group or one token."""
        return self.atom()

    def atom(self) -> float | None:
        """A number, a bracketed group, a known command, or a symbol (None)."""
        token = self.peek()
        self.terms, self.degree = 1, 0
        if token is None:
            return None
        self.k += 1
        if token[0].isdecimal() or (token[0] == "." and len(token) > 1):
            return max(0.0, math.log10(float(token))) if float(token) > 0 else 0.0
        if token in _OPENERS:
            value = self.expression()  # sets the group's terms and degree
            if self.peek() in _CLOSERS:
                self.k += 1
            return value
        if token in _SKIPPED:
            return self.atom()
        if token in _CONSTANTS:
            return _CONSTANTS[token]
        if token == "\\frac":
            numerator = self.operand()
            terms, degree = self.terms, self.degree
            denominator = self.operand()
            self.terms, self.degree = terms, degree
            return numerator if denominator is not None else None
        if token == "\\binom":
            start = self.k
            top = self.operand()
            bottom = self.operand()
            if top is not None and top > math.log10(self.limits.max_binomial):
                raise _Rejected(f"P7 binomial of more than {self.limits.max_binomial}")
            if top is None or bottom is None or not self.plain_integer(start, self.k):
                self._check_symbolic_argument(start, self.k, "P7 binomial", self.limits.max_symbolic_shift)
                self._add_symbolic_shift(start, self.k)
            self.terms, self.degree = 1, 0
            return None if top is None else _power10(top) * _LOG10_2
        if token == "\\sqrt":
            if self.peek() == "[":
                self.k += 1
                self.expression()
                if self.peek() in _CLOSERS:
                    self.k += 1
            inner = self.operand()
            self.terms, self.degree = 1, 0
            return None if inner is None else inner / 2
        self.degree = 1 if _is_variable(token) else 0
        return None  # a letter, a function or any other command: symbolic

    def plain_integer(self, start: int, end: int) -> bool:
        """Whether tokens ``start:end`` are integer arithmetic only (integers, + - * ^ !, brackets)."""
        return all(token.isdecimal() or token in _INTEGER_ARITHMETIC for token in self.tokens[start:end])

    def _check_symbolic_argument(self, start: int, end: int, rule: str, limit: float) -> None:
        """Rules P5-P7 for a symbolic argument: every number written in it is at most ``limit``."""
        for token in self.tokens[start:end]:
            if token[0].isdecimal() and float(token) > limit:
                raise _Rejected(f"{rule} of a symbolic argument with a number above {limit:g}")

    def _add_symbolic_shift(self, start: int, end: int) -> None:
        """Rule P12: add the largest number in the symbolic argument ``tokens[start:end]`` to the total."""
        numbers = [float(t) for t in self.tokens[start:end] if t[0].isdecimal()]
        self.symbolic_shift += max(numbers, default=0.0)
        if self.symbolic_shift > self.limits.max_symbolic_shift_total:
            limit = self.limits.max_symbolic_shift_total
            raise _Rejected(f"P12 symbolic factorials and binomials shifted by more than {limit} in all")

    def _power_terms(self, terms: int, degree: int, exponent: float | None) -> tuple[int, int]:
        """Terms and degree of a base of ``terms`` terms raised to a power (log10 ``exponent``, None: unknown)."""
        if exponent is None:
            return terms, degree
        e = _power10(exponent)
        if terms > 1 and e <= 10**6:
            terms = min(math.comb(int(e) + terms - 1, terms - 1), self.limits.max_expansion_terms + 1)
        return terms, int(min(degree * e, 10**6))

    def _monomials(self, start: int, degree: int) -> int:
        """C(degree + v, v) with v the distinct letters in ``tokens[start:self.k]`` (capped, rule P11)."""
        letters = {t for t in self.tokens[start : self.k] if _is_variable(t)}
        if degree > 10**4:
            return self.limits.max_expansion_terms + 1
        return math.comb(degree + len(letters), len(letters))

    def _check_terms(self, terms: int) -> None:
        if terms > self.limits.max_expansion_terms:
            raise _Rejected(f"P11 a product expanding into more than {self.limits.max_expansion_terms} terms")

    def _starts_atom(self, token: str) -> bool:
        return token not in ("^", "_", "!") and token not in _PRODUCT_OPS

    def _check_expansion(self, start: int, exponent: float | None) -> None:
        """Rule P5's second half: a bracketed sum of t terms raised to a known power e."""
        if exponent is None or self.tokens[start] not in ("(", "[", "{", "\\left"):
            return
        depth = 0
        terms = 1
        for token in self.tokens[start : self.k]:
            if token in _OPENERS:
                depth += 1
            elif token in _CLOSERS:
                depth -= 1
                if depth == 0:
                    break
            elif depth == 1 and token in ("+", "-"):
                terms += 1
        if terms < 2:
            return
        e = _power10(exponent)
        if e > 10**6 or math.comb(int(e) + terms - 1, terms - 1) > self.limits.max_expansion_terms:
            raise _Rejected(f"P5 expansion of more than {self.limits.max_expansion_terms} terms")


def _is_variable(token: str) -> bool:
    """Whether a token reads as a variable: a latin letter or a command that is not an operator (rule P11)."""
    if len(token) == 1:
        return token.isascii() and token.isalpha()
    return token.startswith("\\") and token[1:].isalpha() and token not in _NOT_VARIABLES and token not in _SKIPPED
