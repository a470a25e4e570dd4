"""String normalisation of answers, as these benchmarks need it.

Two levels. :func:`clean_answer` keeps the meaning and keeps valid LaTeX, so its output can be
handed to math-verify. :func:`comparison_key` goes further (spaces, case of words, ``x =``) and
is only compared with another key.

``clean_answer`` rules, applied in this order:

C1 math delimiters: every ``$`` (also ``\\$``, a dollar sign) is removed; a surrounding
   ``\\( \\)`` or ``\\[ \\]`` pair is removed.
C2 unicode: minus and dashes (U+2212, U+2013, U+2014) become ``-``; ``×`` ``\\times``, ``·``
   ``\\cdot``, ``π`` ``\\pi``, ``∞`` ``\\infty``, ``√`` ``\\sqrt``.
C3 fraction and binomial variants: ``\\dfrac``, ``\\tfrac``, ``\\cfrac`` become ``\\frac``;
   ``\\dbinom``, ``\\tbinom`` become ``\\binom``.
C4 one-token arguments get braces: ``\\frac12`` -> ``\\frac{1}{2}``, ``\\frac 59`` ->
   ``\\frac{5}{9}``, ``\\frac{270}7`` -> ``\\frac{270}{7}``, ``\\sqrt2`` -> ``\\sqrt{2}``.
C5 thousands separators: ``,\\!`` before three digits is dropped (``10,\\!080`` -> ``10080``,
   ``11,\\! 111,\\! 100`` -> ``11111100``) and ``{,}`` becomes ``,``.
C6 sizing and spacing: ``\\left``, ``\\right`` (with ``.`` delimiters), ``\\big`` & co and
   ``\\displaystyle`` are removed; ``\\!`` and ``\\,`` are removed; ``\\:``, ``\\;``, ``\\>``,
   ``\\ ``, ``~``, ``\\quad``, ``\\qquad`` become a space.
C7 degrees: ``^\\circ``, ``^{\\circ}``, ``°``, ``\\degree`` are removed.
C8 percent: ``\\%`` becomes ``%`` (the numeric comparison reads it; see :mod:`exact_numbers`).
C9 units: a trailing ``\\text{...}``, ``\\mbox{...}``, ``\\mathrm{...}`` (optionally squared or
   cubed) whose content is a word is removed when what precedes it ends a number or a group
   (``5.4 \\text{ cents}`` -> ``5.4``, ``864 \\mbox{ inches}^2`` -> ``864``); then a trailing
   unit word from :data:`UNIT_WORDS` after a number is removed (``45 minutes`` -> ``45``).
C10 text: ``\\text{X}``, ``\\textbf{X}``, ``\\mathrm{X}``, ``\\mbox{X}`` and similar become
   ``X``.
C11 separators: ``\\text{ and }``, `` and ``, ``\\text{ or }`` between answers become ``,``.
C12 thousands with plain commas: an answer that is one number written ``d,ddd,ddd(.dd)``
   (groups of exactly three digits, no spaces) loses its commas: ``58,500`` -> ``58500``.
   ``1,2`` or ``2500,7500`` stay lists.
C13 ends: surrounding spaces and trailing periods are removed; a leading ``\\quad`` is gone
   by C6.

``comparison_key`` applies, to a cleaned answer:

K1 whitespace is removed, except one space between a command name and a letter that follows
   it (``\\omega t`` must not become ``\\omegat``);
K2 ``^{c}`` and ``_{c}`` with a one-character ``c`` become ``^c`` and ``_c``;
K3 ``%`` is removed (the numeric path, not the key, decides ``50%`` vs ``0.5``);
K4 a leading assignment ``x =``, ``x_1 =``, ``\\theta =``, ``f(x) =`` or membership
   ``x \\in`` is removed when the rest holds no other ``=``;
K5 a choice letter in parentheses ``(C)`` becomes ``C``;
K6 an answer made only of letters (two or more, a word or words) is lower-cased.
"""

from __future__ import annotations

import re

from openrlhf_pure.core.grading.extract import matching_brace

UNIT_WORDS = frozenset(
    """
    cm mm km meter meters metre metres inch inches foot feet ft yard yards mile miles mph kmh
    second seconds sec secs minute minutes min mins hour hours hr hrs day days week weeks month
    months year years degree degrees deg dollar dollars cent cents unit units sq square cubic kg
    gram grams pound pounds lb lbs ounce ounces oz liter liters litre litres ml people persons
    students ways points
    """.split()
)
TEXT_COMMANDS = ("text", "textbf", "textit", "textrm", "textnormal", "textsf", "mathrm", "mathbf", "mathit", "mbox")
_UNIT_COMMANDS = ("text", "mbox", "mathrm", "textrm", "textnormal")

_UNICODE = {"\u2212": "-", "\u2013": "-", "\u2014": "-", "×": "\\times ", "·": "\\cdot ", "π": "\\pi "}
_UNICODE.update({"∞": "\\infty ", "√": "\\sqrt", "°": ""})
_COMMAND_RENAMES = (
    (re.compile(r"\\[dtc]frac(?![a-zA-Z])"), r"\\frac"),
    (re.compile(r"\\[dt]binom(?![a-zA-Z])"), r"\\binom"),
)
_THOUSANDS_BANG = re.compile(r",\\!\s*(?=\d{3}(?!\d))")
_SIZING = re.compile(r"\\(?:left|right)\s*\.|\\(?:left|right|[bB]igg?[lr]?|displaystyle|textstyle)(?![a-zA-Z])")
_SPACES = re.compile(r"\\qquad(?![a-zA-Z])|\\quad(?![a-zA-Z])|(?<!\\)\\[:;> ]|~")
_NO_SPACE = re.compile(r"(?<!\\)\\[!,]")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![a-zA-Z])|\\degree(?![a-zA-Z])")
_AND_OR = re.compile(r"\s*\\text\s*\{\s*(?:and|or)\s*\}\s*|\s+(?:and|or)\s+")
_PLAIN_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_UNIT_WORD_TAIL = re.compile(r"^(.*?[\d}])\s*([A-Za-z]+)(?:\^\{?[23]\}?)?$", re.DOTALL)
_UNIT_CONTENT = re.compile(r"[A-Za-z][A-Za-z\s./^0-9-]*")
_POWER_TAIL = re.compile(r"\s*\^\s*\{?\s*[23]\s*\}?$")
_ASSIGNMENT = re.compile(
    r"^(?:[A-Za-z](?:_(?:\{[^{}=]*\}|[A-Za-z0-9]))?|\\[a-zA-Z]+|[A-Za-z]\([A-Za-z]\))(?:=|\\in(?![a-zA-Z]))"
)
_COMMAND_SPACE = re.compile(r"(\\[a-zA-Z]+)\s+(?=[a-zA-Z])")
_ONE_CHAR_GROUP = re.compile(r"([\^_])\{(\w)\}")
_CHOICE = re.compile(r"^\(([A-Ea-e])\)$")


def clean_answer(answer: str) -> str:
    """Apply rules C1-C13 to one answer string; the result is still LaTeX.

    >>> clean_answer("$\\\\dfrac{1}{2}$")
    '\\\\frac{1}{2}'
    >>> clean_answer("10,\\\\!080")
    '10080'
    """
    s = answer.replace("\\$", "").replace("$", "")
    s = _strip_math_delimiters(s.strip())
    for char, replacement in _UNICODE.items():
        s = s.replace(char, replacement)
    for pattern, replacement in _COMMAND_RENAMES:
        s = pattern.sub(replacement, s)
    s = brace_arguments(s, "frac", 2)
    s = brace_arguments(s, "sqrt", 1)
    s = _THOUSANDS_BANG.sub("", s).replace("{,}", ",")
    s = _SIZING.sub("", s)
    s = _NO_SPACE.sub("", s)
    s = _SPACES.sub(" ", s)
    s = _DEGREES.sub("", s)
    s = s.replace("\\%", "%")
    s = strip_units(s.strip())
    s = unwrap_commands(s, TEXT_COMMANDS)
    s = _AND_OR.sub(",", s)
    s = s.strip()
    while s.endswith("."):
        s = s[:-1].rstrip()
    if _PLAIN_THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    return s


def comparison_key(cleaned: str, keep_percent: bool = False) -> str:
    """Apply rules K1-K6 to an answer already passed through :func:`clean_answer`.

    ``keep_percent`` skips K3, for the numeric reading of the key.
    """
    key = _COMMAND_SPACE.sub("\\1\x00", cleaned.replace("\x00", ""))
    key = "".join(key.split()).replace("\x00", " ")
    key = _ONE_CHAR_GROUP.sub(r"\1\2", key)
    if not keep_percent:
        key = key.replace("%", "")
    assignment = _ASSIGNMENT.match(key)
    if assignment and "=" not in key[assignment.end() :]:
        key = key[assignment.end() :]
    choice = _CHOICE.match(key)
    if choice:
        return choice.group(1).upper()
    if len(key) >= 2 and key.isascii() and key.isalpha():
        return key.lower()
    return key


def _strip_math_delimiters(s: str) -> str:
    """Remove one surrounding ``\\( \\)`` or ``\\[ \\]`` pair (rule C1)."""
    for opener, closer in (("\\(", "\\)"), ("\\[", "\\]")):
        if s.startswith(opener) and s.endswith(closer) and len(s) >= 4:
            return s[2:-2].strip()
    return s


def brace_arguments(s: str, command: str, count: int) -> str:
    """Give each of the first ``count`` arguments of ``\\command`` braces (rule C4).

    A one-token argument (a character, or a command such as ``\\pi``) is wrapped in braces;
    ``\\sqrt``'s optional ``[n]`` is kept.
    """
    name = "\\" + command
    out: list[str] = []
    i = 0
    while True:
        k = s.find(name, i)
        if k < 0:
            out.append(s[i:])
            return "".join(out)
        j = k + len(name)
        if j < len(s) and s[j].isalpha():
            out.append(s[i:j])
            i = j
            continue
        out.append(s[i:j])
        if command == "sqrt" and j < len(s) and s[j] == "[":
            close = s.find("]", j)
            if close > 0:
                out.append(s[j : close + 1])
                j = close + 1
        for _ in range(count):
            while j < len(s) and s[j] == " ":
                j += 1
            if j >= len(s):
                break
            if s[j] == "{":
                close = matching_brace(s, j)
                if close < 0:
                    break
                out.append(s[j : close + 1])
                j = close + 1
            elif s[j] == "\\":
                m = re.match(r"\\[a-zA-Z]+|\\.", s[j:])
                token = m.group(0) if m else s[j]
                out.append("{" + token + "}")
                j += len(token)
            else:
                out.append("{" + s[j] + "}")
                j += 1
        i = j


def unwrap_commands(s: str, commands: tuple[str, ...]) -> str:
    """Replace ``\\cmd{X}`` by ``X`` for each command name given (rule C10)."""
    pattern = re.compile(r"\\(?:" + "|".join(commands) + r")\s*\{")
    for _ in range(64):  # each pass removes one wrapper; nested wrappers need more
        m = pattern.search(s)
        if m is None:
            return s
        open_index = m.end() - 1
        close = matching_brace(s, open_index)
        if close < 0:
            return s
        s = s[: m.start()] + s[open_index + 1 : close] + s[close + 1 :]
    return s


def strip_units(s: str) -> str:
    """Remove a trailing unit after a number (rule C9)."""
    tail = _POWER_TAIL.search(s)
    body = s[: tail.start()] if tail else s
    if body.endswith("}"):
        open_index = _group_start(body, len(body) - 1)
        head = body[:open_index].rstrip()
        for command in _UNIT_COMMANDS:
            if head.endswith("\\" + command):
                content = body[open_index + 1 : -1].replace("~", " ").strip()
                rest = head[: -len(command) - 1].rstrip()
                if rest and rest[-1] in "0123456789})." and _UNIT_CONTENT.fullmatch(content):
                    return rest
    m = _UNIT_WORD_TAIL.match(s)
    if m and m.group(2).lower() in UNIT_WORDS and not m.group(1).rstrip().endswith("\\"):
        return m.group(1).rstrip()
    return s


def _group_start(s: str, close_index: int) -> int:
    """Index of the ``{`` that opens the group closed at ``close_index`` (-1 if none)."""
    depth = 0
    for k in range(close_index, -1, -1):
        if s[k] == "}" and (k == 0 or s[k - 1] != "\\"):
            depth += 1
        elif s[k] == "{" and (k == 0 or s[k - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return k
    return -1


def split_top_level(s: str, separator: str = ",") -> list[str]:
    """Split on ``separator`` outside any ``() [] {}`` (mismatched pairs such as ``(3,4]`` count)."""
    parts: list[str] = []
    depth = 0
    start = 0
    k = 0
    while k < len(s):
        char = s[k]
        if char == "\\" and k + 1 < len(s) and s[k + 1] in "{}":
            depth += 1 if s[k + 1] == "{" else -1
            k += 2
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(s[start:k])
            start = k + 1
        k += 1
    parts.append(s[start:])
    return parts


def outer_brackets(s: str) -> tuple[str, str, str] | None:
    """``(open, inside, close)`` when one bracket pair encloses all of ``s``, else None.

    Openers are ``( [ \\{``, closers ``) ] \\}``; the pair may be mismatched (``(3,4]``).
    """
    if s.startswith("\\{"):
        opener = "\\{"
    elif s[:1] in ("(", "["):
        opener = s[0]
    else:
        return None
    depth = 0
    k = 0
    while k < len(s):
        if s[k] == "\\" and k + 1 < len(s) and s[k + 1] in "{}":
            depth += 1 if s[k + 1] == "{" else -1
            if depth == 0:
                return (opener, s[len(opener) : k], "\\}") if k + 2 == len(s) else None
            k += 2
            continue
        if s[k] in "([{":
            depth += 1
        elif s[k] in ")]}":
            depth -= 1
            if depth == 0:
                return (opener, s[len(opener) : k], s[k]) if k + 1 == len(s) else None
        k += 1
    return None
