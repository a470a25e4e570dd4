"""Final-answer extraction: the answer a model states at the end of its response.

Rules, tried in order; the first that yields a non-empty answer wins:

1. Boxed: the last complete ``\\boxed{...}`` or ``\\fbox{...}``. Braces are matched with
   nesting and escaped braces (``\\{``, ``\\}``) are skipped, so ``\\boxed{\\frac{1}{2}}`` gives
   ``\\frac{1}{2}`` and ``\\boxed{\\{1,2\\}}`` gives ``\\{1,2\\}``. TeX's one-token form
   ``\\boxed 5`` gives the text up to the next ``$``, newline or end. A box that is empty or
   never closed is skipped and the one before it is tried. ``\\boxedfoo`` is not a box.
2. "final answer is" (case-insensitive, last occurrence), then
3. "the answer is" (case-insensitive, last occurrence): the text after the phrase, after an
   optional colon. A math span that opens right there (``$...$``, ``$$...$$``, ``\\(...\\)``,
   ``\\[...\\]``) is taken whole; otherwise the rest of the line up to the first sentence end
   (a period followed by whitespace or the end). Markdown bold (``**``), a trailing period and
   surrounding spaces are dropped.

Returns None when no rule yields an answer. The answer is returned verbatim (only stripped):
normalisation is :mod:`normalize`'s job.

Cost is bounded on any input: finding boxes and phrases uses ``str.rfind`` (linear, in C);
brace matching scans at most ``MAX_BOX_CHARS`` characters per box and at most
``MAX_BOX_CANDIDATES`` boxes are tried, so a 1 MB response costs a few milliseconds.
"""

from __future__ import annotations

MAX_BOX_CHARS = 10_000  # a box whose closing brace is further than this counts as never closed
MAX_BOX_CANDIDATES = 32  # boxes tried, from the last one backwards
MAX_PHRASE_ANSWER_CHARS = 1_000  # longest answer taken after "the answer is"
BOX_COMMANDS = ("\\boxed", "\\fbox")
ANSWER_PHRASES = ("final answer is", "the answer is")
_MATH_SPANS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


def extract_answer(response: str) -> str | None:
    """The final answer stated in ``response`` (module rules 1-3), or None when there is none.

    >>> extract_answer("so $x = \\\\boxed{\\\\frac{1}{2}}$.")
    '\\\\frac{1}{2}'
    >>> extract_answer("The answer is 42.")
    '42'
    """
    boxed = last_boxed(response)
    if boxed is not None:
        return boxed
    lowered = response.lower()
    for phrase in ANSWER_PHRASES:
        start = lowered.rfind(phrase)
        if start >= 0:
            answer = _answer_after(response, start + len(phrase))
            if answer:
                return answer
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last complete, non-empty ``\\boxed``/``\\fbox`` in ``text`` (rule 1), else None."""
    end = len(text)
    for _ in range(MAX_BOX_CANDIDATES):
        start, command = _last_box_command(text, end)
        if start < 0:
            return None
        content = _box_content(text, start + len(command))
        if content:
            return content
        end = start
    return None


def _last_box_command(text: str, end: int) -> tuple[int, str]:
    """Position and name of the last box command starting before ``end`` (-1 when none)."""
    best, best_command = -1, ""
    for command in BOX_COMMANDS:
        position = text.rfind(command, 0, end)
        if position > best:
            best, best_command = position, command
    return best, best_command


def _box_content(text: str, i: int) -> str | None:
    """Argument of a box command whose name ends at ``i``; None when absent, open or empty."""
    if i < len(text) and text[i].isalpha():
        return None  # a longer command such as \boxedfoo
    j = i
    while j < len(text) and text[j] in " \t":
        j += 1
    if j >= len(text):
        return None
    if text[j] == "{":
        close = matching_brace(text, j, MAX_BOX_CHARS)
        if close < 0:
            return None
        return text[j + 1 : close].strip() or None
    if j == i:
        return None  # "\boxed" glued to a non-letter, non-brace character: not TeX's one-token form
    stop = j
    limit = min(len(text), j + MAX_PHRASE_ANSWER_CHARS)
    while stop < limit and text[stop] not in "$\n":
        stop += 1
    return text[j:stop].strip() or None


def matching_brace(text: str, open_index: int, max_chars: int | None = None) -> int:
    """Index of the ``}`` closing the ``{`` at ``open_index``; -1 if it is not closed in time.

    Escaped braces ``\\{`` and ``\\}`` do not count. At most ``max_chars`` characters are
    scanned (all when None).
    """
    depth = 0
    stop = len(text) if max_chars is None else min(len(text), open_index + max_chars)
    k = open_index
    while k < stop:
        char = text[k]
        if char == "\\":
            k += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return k
        k += 1
    return -1


def _answer_after(text: str, i: int) -> str | None:
    """The answer that follows an answer phrase ending at ``i`` (rules 2-3)."""
    window = text[i : i + MAX_PHRASE_ANSWER_CHARS + 4]
    window = window.lstrip(" \t*:").lstrip()
    for opener, closer in _MATH_SPANS:
        if window.startswith(opener):
            close = window.find(closer, len(opener))
            if close > 0:
                return _tidy(window[len(opener) : close])
    line = window.split("\n", 1)[0]
    for k, char in enumerate(line):
        if char == "." and (k + 1 == len(line) or line[k + 1].isspace()):
            line = line[:k]
            break
    return _tidy(line)


def _tidy(answer: str) -> str | None:
    """Strip spaces, markdown bold and a trailing period; None when nothing is left."""
    answer = answer.strip().strip("*").strip()
    while answer.endswith("."):
        answer = answer[:-1].rstrip()
    return answer or None
