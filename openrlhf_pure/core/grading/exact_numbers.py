"""Plain numbers, read exactly, for the cheap path of the equivalence check.

Forms read (on a cleaned answer with its whitespace removed), with an optional leading sign:

N1 integers, leading zeros allowed: ``025`` = 25 (AIME), ``+2`` = 2;
N2 decimals: ``27.0`` = 27 (AMC), ``.5``, ``5.``, ``-0.875``;
N3 scientific: ``4.5e33``, ``1e-5``, ``3.3\\times10^{12}``, ``3\\cdot10^{-4}``, ``10^{5}``;
N4 fractions of N1/N2: ``\\frac{a}{b}``, ``a/b``, ``-\\frac{a}{b}``, ``\\frac{-a}{b}``;
N5 mixed numbers: ``1\\frac{4}{5}`` = 9/5 (as in MATH; the sign covers the whole);
N6 a trailing ``%`` marks a percentage.

Anything else is not a plain number (None). Limits keep the cost tiny: at most
:data:`MAX_DIGITS` digits and a decimal exponent of at most :data:`MAX_EXPONENT` in size.

Equality (:func:`numbers_equal`): exact equality of the rational values; when either number
is approximate (written with a decimal point or an exponent, as Minerva's answers are), a
relative tolerance ``|x - y| <= rel_tol * max(|x|, |y|)``. A percentage ``p%`` may stand for
``p`` or for ``p / 100``, so ``62.5%`` equals both ``62.5`` and ``0.625``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

MAX_DIGITS = 1_000
MAX_EXPONENT = 400

_UNSIGNED = r"(?:\d+\.?\d*|\.\d+)"
_SIGNED = r"[+-]?" + _UNSIGNED
_SCIENTIFIC = re.compile(
    rf"(?P<m>{_UNSIGNED})(?:[eE](?P<e>[+-]?\d+)|(?:\\times|\\cdot|\*)10\^(?:\{{(?P<e2>[+-]?\d+)\}}|(?P<e3>\d)))?"
)
_POWER_OF_TEN = re.compile(r"10\^(?:\{(?P<e>[+-]?\d+)\}|(?P<e1>\d))")
_FRACTION = re.compile(rf"\\frac\{{(?P<a>{_SIGNED})\}}\{{(?P<b>{_SIGNED})\}}")
_SLASH = re.compile(rf"(?P<a>{_UNSIGNED})/(?P<b>{_UNSIGNED})")
_MIXED = re.compile(r"(?P<w>\d+)\\frac\{(?P<a>\d+)\}\{(?P<b>\d+)\}")


@dataclass(frozen=True)
class Number:
    """A plain number: its exact value, whether it was written approximately, and whether with ``%``."""

    value: Fraction
    approximate: bool
    percent: bool

    def candidates(self) -> tuple[Fraction, ...]:
        """Values this number may stand for (rule N6)."""
        return (self.value, self.value / 100) if self.percent else (self.value,)


def parse_number(text: str) -> Number | None:
    """Read ``text`` (whitespace already removed) as a plain number (rules N1-N6), else None."""
    if not text or len(text) > MAX_DIGITS + 40 or sum(c.isdecimal() for c in text) > MAX_DIGITS:
        return None
    percent = text.endswith("%")
    s = text[:-1] if percent else text
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    read = _read_unsigned(s)
    if read is None:
        return None
    value, approximate = read
    return Number(sign * value, approximate, percent)


def numbers_equal(a: Number, b: Number, rel_tol: float = 1e-6) -> bool:
    """Whether two plain numbers are equal under the module's rule (exact, or relative tolerance)."""
    tolerance = Fraction(rel_tol) if (a.approximate or b.approximate) else Fraction(0)
    for x in a.candidates():
        for y in b.candidates():
            if x == y or abs(x - y) <= tolerance * max(abs(x), abs(y)):
                return True
    return False


def _read_unsigned(s: str) -> tuple[Fraction, bool] | None:
    """Value and approximate flag of an unsigned number in forms N1-N5."""
    m = _SCIENTIFIC.fullmatch(s)
    if m:
        exponent = m.group("e") or m.group("e2") or m.group("e3")
        mantissa = Fraction(m.group("m"))
        if exponent is None:
            return mantissa, "." in m.group("m")
        scaled = _scaled(mantissa, int(exponent))
        return None if scaled is None else (scaled, True)
    m = _POWER_OF_TEN.fullmatch(s)
    if m:
        scaled = _scaled(Fraction(1), int(m.group("e") or m.group("e1")))
        return None if scaled is None else (scaled, False)
    m = _FRACTION.fullmatch(s) or _SLASH.fullmatch(s)
    if m:
        numerator, denominator = Fraction(m.group("a")), Fraction(m.group("b"))
        if denominator == 0:
            return None
        return numerator / denominator, "." in m.group("a") + m.group("b")
    m = _MIXED.fullmatch(s)
    if m and int(m.group("b")) != 0:
        return int(m.group("w")) + Fraction(int(m.group("a")), int(m.group("b"))), False
    return None


def _scaled(mantissa: Fraction, exponent: int) -> Fraction | None:
    """``mantissa * 10**exponent``; None beyond :data:`MAX_EXPONENT`."""
    if abs(exponent) > MAX_EXPONENT:
        return None
    return mantissa * Fraction(10) ** exponent
