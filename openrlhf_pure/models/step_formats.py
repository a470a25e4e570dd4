"""Step formats: how a solution's steps are written for a PRM, and which token carries each label.

A format renders (prompt, steps) as a *prefix* (the prompt, possibly in a chat template) and a
*body*: every step, stripped of the newlines at its ends, followed by the format's ``step_ending``.
The label (or score) of a step sits on the PRM token that contains the ending's label
character (``step_ending[label_char]``), found through the tokenizer's offsets mapping, so a
label character merged with the text before it (Qwen2 writes ".\\n" as one token) is handled.

Registered formats (a new one is one decorated function returning a :class:`StepFormat`):

- ``pure``: PURE's PRM (trained with TRL's stepwise format): the prompt, then each step
  followed by "\\n", label on that "\\n". Steps are tokenized one by one, as TRL does in training.
- ``qwen_prm``: Qwen2.5-Math-PRM: chat template (system, user = prompt, assistant = steps),
  each step followed by the step token "<extra_0>" (added to the vocabulary if missing).
- ``math_shepherd``: Math-Shepherd: ``prompt + " " + steps``, each step followed by " ки\\n";
  scored by the causal LM's logits of the candidate tokens "+" / "-" at the "ки" token
  (head ``lm_candidates``, not a classification head). The body is tokenized as one string.

Difference from the PURE authors: they dropped each step's closing separator token and
appended a "\\n" token, which also drops text inside that token (the "." of ".\\n\\n"). Here the
step text is kept whole and only the newlines at its ends are replaced by the step ending.
Whatever follows the last label token cannot change a causal PRM's scores, so it is not encoded.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from openrlhf_pure.core.registry import Registry

HEADS = ("classifier", "lm_candidates")


@dataclass(frozen=True)
class StepFormat:
    """How steps are joined for a PRM and where their labels are.

    Args:
        name: registry name.
        step_ending: text appended to each step after the newlines at its ends are stripped.
        label_char: index in ``step_ending`` of the character whose token carries the label.
        head: default scoring head, "classifier" (2-class token head) or "lm_candidates".
        prompt_joiner: text between the prompt and the first step.
        per_step_tokenization: tokenize each step (with its ending) on its own, as TRL's PRM
            training does; else the body is one string. Per-step formats allow the token fast path.
        special_tokens: tokens the PRM vocabulary must hold as single special tokens.
        chat_template: render the prefix with the tokenizer's chat template.
        system_prompt: system message for the chat template (None: no system message).
        candidates: (correct, incorrect) label-token texts for the "lm_candidates" head.

    >>> get_step_format("pure").render_step("So x = 2.\\n\\n")
    'So x = 2.\\n'
    """

    name: str
    step_ending: str
    label_char: int
    head: str = "classifier"
    prompt_joiner: str = ""
    per_step_tokenization: bool = True
    special_tokens: tuple[str, ...] = ()
    chat_template: bool = False
    system_prompt: str | None = None
    candidates: tuple[str, str] | None = None

    def __post_init__(self):
        if not self.step_ending:
            raise ValueError(f"step format {self.name!r}: step_ending must be non-empty")
        if not 0 <= self.label_char < len(self.step_ending):
            raise ValueError(f"step format {self.name!r}: label_char {self.label_char} is outside the step ending")
        if self.head not in HEADS:
            raise ValueError(f"step format {self.name!r}: unknown head {self.head!r}; known: {', '.join(HEADS)}")
        if self.head == "lm_candidates" and self.candidates is None:
            raise ValueError(f"step format {self.name!r}: the lm_candidates head needs candidate tokens")

    def render_step(self, step: str) -> str:
        """One step as the PRM sees it: newlines at both ends dropped, the step ending appended.

        Trailing newlines are the step's separator; leading ones are separator residue (a
        vocabulary may split ".\n\n\n" as ".\n\n" + "\n", leaving "\n" on the next step).
        """
        return step.strip("\r\n") + self.step_ending

    def render_prefix(self, prompt: str, tokenizer) -> str:
        """Everything before the first step: the prompt (in a chat template if the format uses one)."""
        if not self.chat_template:
            return prompt + self.prompt_joiner
        if not getattr(tokenizer, "chat_template", None):
            name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
            raise ValueError(f"step format {self.name!r} needs a chat template, and tokenizer {name!r} has none")
        marker = "\x00STEPS\x00"
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": marker}]
        if self.system_prompt is not None:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        text = tokenizer.apply_chat_template(messages, tokenize=False)
        if text.count(marker) != 1:
            raise ValueError(f"step format {self.name!r}: the chat template does not show the assistant message once")
        return text[: text.index(marker)] + self.prompt_joiner


STEP_FORMATS: Registry = Registry("step format")


@STEP_FORMATS.register("pure")
def pure_format() -> StepFormat:
    """PURE's PRM: prompt, then each step followed by one "\\n"; label on the "\\n"."""
    return StepFormat(name="pure", step_ending="\n", label_char=0)


@STEP_FORMATS.register("qwen_prm")
def qwen_prm_format() -> StepFormat:
    """Qwen2.5-Math-PRM: chat template; each step followed by "<extra_0>", label on that token."""
    return StepFormat(
        name="qwen_prm",
        step_ending="<extra_0>",
        label_char=len("<extra_0>") - 1,
        special_tokens=("<extra_0>",),
        chat_template=True,
        system_prompt="Please reason step by step, and put your final answer within \\boxed{}.",
    )


@STEP_FORMATS.register("math_shepherd")
def math_shepherd_format() -> StepFormat:
    """Math-Shepherd: "prompt steps", each step followed by " ки\\n"; LM logits of "+"/"-" at "ки"."""
    return StepFormat(
        name="math_shepherd",
        step_ending=" ки\n",
        label_char=2,
        head="lm_candidates",
        prompt_joiner=" ",
        per_step_tokenization=False,
        candidates=("+", "-"),
    )


def get_step_format(name_or_format: str | StepFormat) -> StepFormat:
    """A registered format by name (a :class:`StepFormat` passes through)."""
    if isinstance(name_or_format, StepFormat):
        return name_or_format
    return STEP_FORMATS.get(name_or_format)()


def add_format_tokens(tokenizer, step_format: StepFormat) -> int:
    """Add the format's special tokens that the tokenizer lacks; returns how many were added.

    A model used with this tokenizer needs ``resize_token_embeddings(len(tokenizer))`` after it.
    """
    vocab = tokenizer.get_vocab()
    missing = [t for t in step_format.special_tokens if t not in vocab]
    if not missing:
        return 0
    return tokenizer.add_tokens(missing, special_tokens=True)


def check_format_tokens(tokenizer, step_format: StepFormat) -> None:
    """Raise ValueError unless each of the format's special tokens encodes as one token."""
    for token in step_format.special_tokens:
        ids = tokenizer(token, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise ValueError(
                f"step format {step_format.name!r} needs {token!r} as one token, but this tokenizer splits it "
                f"into {len(ids)}; call add_format_tokens(tokenizer, format) and resize the model's embeddings"
            )


@dataclass
class PRMInput:
    """One PRM sequence and where its step labels are.

    Attributes:
        input_ids: (L,) token ids, as a list; ends at the last label token.
        label_positions: (n,) position in ``input_ids`` of each step's label token, non-decreasing.
    """

    input_ids: list[int]
    label_positions: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


def label_token_index(offsets: list[tuple[int, int]], char_index: int) -> int:
    """Index of the token containing ``char_index``: the last token starting at or before it.

    Offsets are assumed untrimmed (Qwen2 and Llama-3 tokenizers: ``trim_offsets=False``).
    """
    index = bisect.bisect_right([start for start, _ in offsets], char_index) - 1
    if index < 0:
        raise ValueError(f"no token covers character {char_index} of a step (first offsets: {offsets[:3]})")
    return index


def encode_steps(
    step_format: StepFormat, tokenizer, prompts: list[str], steps: list[list[str]]
) -> list[PRMInput | None]:
    """Encode solutions for a PRM through text (works with any fast tokenizer).

    Args:
        step_format: the format.
        tokenizer: the PRM's fast tokenizer (offsets mapping needed).
        prompts: (B,) prompt texts.
        steps: (B,) lists of step texts, each with or without its trailing "\\n\\n".
    Returns:
        (B,) :class:`PRMInput`, or None for a solution with no steps.
    """
    if len(prompts) != len(steps):
        raise ValueError(f"got {len(prompts)} prompts but {len(steps)} step lists")
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("encode_steps needs a fast tokenizer (it reads the offsets mapping)")
    for b, row in enumerate(steps):
        if isinstance(row, str) or not all(isinstance(step, str) for step in row):
            raise ValueError(f"steps[{b}] must be a list of step strings, got {type(row).__name__} {str(row)[:40]!r}")
    check_format_tokens(tokenizer, step_format)
    rows = [i for i, s in enumerate(steps) if len(s) > 0]
    prefix_texts = [step_format.render_prefix(prompts[i], tokenizer) for i in rows]
    # a chat template writes its own BOS; a plain prompt gets the tokenizer's usual special tokens
    prefixes = tokenizer(prefix_texts, add_special_tokens=not step_format.chat_template)["input_ids"] if rows else []
    pieces, marks = [], []  # per row: texts to tokenize, and per piece the label characters
    for i in rows:
        rendered = [step_format.render_step(s) for s in steps[i]]
        if step_format.per_step_tokenization:
            pieces.append(rendered)
            marks.append([[len(r) - len(step_format.step_ending) + step_format.label_char] for r in rendered])
        else:
            ends, total = [], 0
            for r in rendered:
                ends.append(total + len(r) - len(step_format.step_ending) + step_format.label_char)
                total += len(r)
            pieces.append(["".join(rendered)])
            marks.append([ends])
    flat = [p for row in pieces for p in row]
    encoded = tokenizer(flat, add_special_tokens=False, return_offsets_mapping=True) if flat else None
    out: list[PRMInput | None] = [None] * len(prompts)
    k = 0
    for row, i in enumerate(rows):
        ids, labels = list(prefixes[row]), []
        for piece_marks in marks[row]:
            piece_ids, offsets = encoded["input_ids"][k], encoded["offset_mapping"][k]
            labels.extend(len(ids) + label_token_index(offsets, m) for m in piece_marks)
            ids.extend(piece_ids)
            k += 1
        out[i] = PRMInput(input_ids=ids[: labels[-1] + 1], label_positions=labels)
    return out
