"""A deterministic corpus of adversarial model outputs, for the fuzz test and the benchmark.

Families: exponent towers, huge factorials and binomials, huge sums and products, 1 MB
strings, unbalanced and deeply nested braces, nested fractions, long digit strings, unicode
(including control, combining and right-to-left characters), random LaTeX soup and injection
attempts. Each answer is placed in a response in one of three ways: boxed, after "the answer
is", or bare.
"""

from __future__ import annotations

import random

_SOUP = [
    "\\frac", "\\sqrt", "\\boxed", "{", "}", "(", ")", "[", "]", "^", "_", "!", "+", "-", "\\cdot", "\\times",
    "=", ",", "\\pi", "e", "i", "x", "y", "9", "99", "0", "1.5", "\\infty", "\\sum", "\\prod", "\\int", "\\lim",
    "\\left(", "\\right)", "\\begin{pmatrix}", "\\end{pmatrix}", "\\\\", "&", "\\text{", "$", "%", "\\%", "\\binom",
    "\\log", "\\ln", "\\sin", "\\cup", "\\{", "\\}", "\\pm", "\\le", "'", '"', "\\", " ", "\n",
]  # fmt: skip
_INJECTIONS = [
    "__import__('os').system('true')",
    "(lambda: __import__('os'))()",
    "exec('import os')",
    "eval('1+1')",
    "().__class__.__base__.__subclasses__()",
    "compile('1','f','eval')",
    "globals()['__builtins__']",
]
_GOLDS = ["1", "x^{2}", "(1,2)", "\\frac{1}{2}", "27.0", None]


def _tower(rng: random.Random) -> str:
    height = rng.randint(2, 6)
    base = str(rng.choice([2, 9, 10, 99, 12345]))
    braced = rng.random() < 0.7
    text = base
    for _ in range(height):
        digit = str(rng.choice([2, 9, 10, 99, 999]))
        text = f"{digit}^{{{text}}}" if braced else f"{text}^{digit}"
    return text


def _factorial(rng: random.Random) -> str:
    n = rng.choice([10**4, 10**5, 10**6, 99999, 123456])
    return rng.choice(
        [f"{n}!", f"({rng.randint(10, 20)}!)!", f"(({rng.randint(5, 9)}!)!)!", f"\\binom{{{n}}}{{{n // 2}}}"]
    )


def _sum(rng: random.Random) -> str:
    bound = rng.choice(["10^{9}", "10^{100}", "99999999", "10^{10^{10}}"])
    return rng.choice(["\\sum_{k=1}^{%s} k", "\\prod_{k=1}^{%s} k", "\\sum_{n=0}^{%s} n^{n}"]) % bound


def _expansion(rng: random.Random) -> str:
    terms = "+".join(rng.sample("abcdxyz", rng.randint(2, 5)))
    return f"({terms})^{{{rng.randint(30, 500)}}}"


def _nested(rng: random.Random) -> str:
    depth = rng.randint(20, 1000)
    kind = rng.randrange(4)
    if kind == 0:
        return "\\frac{1}{" * depth + "2" + "}" * depth
    if kind == 1:
        return "(" * depth + "x" + ")" * depth
    if kind == 2:
        return "{" * depth + "1"
    return "\\sqrt{" * depth + "2" + "}" * depth


def _unbalanced(rng: random.Random) -> str:
    return "".join(rng.choice("{}{}()[]\\x1^") for _ in range(rng.randint(1, 400)))


def _digits(rng: random.Random) -> str:
    n = rng.choice([100, 1000, 5000, 50000])
    text = "".join(rng.choice("0123456789") for _ in range(n))
    return rng.choice([text, f"0.{text}", f"{text}e{text[:6]}", f"1e{text[:7]}", f"{text}^{{{text[:4]}}}"])


def _unicode(rng: random.Random) -> str:
    ranges = [(0x0, 0x1F), (0x300, 0x36F), (0x590, 0x6FF), (0x2000, 0x206F), (0x4E00, 0x4FFF), (0x1F600, 0x1F64F)]
    chars = []
    for _ in range(rng.randint(1, 300)):
        low, high = rng.choice(ranges)
        chars.append(chr(rng.randint(low, high)))
    return "".join(chars)


def _soup(rng: random.Random) -> str:
    return "".join(rng.choice(_SOUP) for _ in range(rng.randint(1, 120)))


def _injection(rng: random.Random) -> str:
    return rng.choice(_INJECTIONS)


FAMILIES = [_tower, _factorial, _sum, _expansion, _nested, _unbalanced, _digits, _unicode, _soup, _injection]


def _megabyte(k: int) -> str:
    return [
        "1" * 2**20,
        "{" * 2**20,
        "\\boxed{" * (2**20 // 7),
        "\\frac{1}{" * (2**20 // 9),
        "x" * 2**20 + "\\boxed{5}",
        "9^" * (2**20 // 2),
        "the answer is " * (2**20 // 14),
        "é" * 2**19,
    ][k % 8]


def fuzz_cases(count: int, seed: int = 0, megabyte_every: int = 250) -> list[tuple[str, str | None]]:
    """``count`` (response, gold) pairs; every ``megabyte_every``-th response is about 1 MB long."""
    rng = random.Random(seed)
    cases = []
    for k in range(count):
        if megabyte_every and k % megabyte_every == megabyte_every - 1:
            answer = _megabyte(k // megabyte_every)
        else:
            answer = FAMILIES[k % len(FAMILIES)](rng)
        wrap = rng.randrange(3)
        response = (
            f"so $\\boxed{{{answer}}}$" if wrap == 0 else f"Thus the answer is {answer}." if wrap == 1 else answer
        )
        cases.append((response, rng.choice(_GOLDS)))
    return cases
