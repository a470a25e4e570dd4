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
  each step followed by the step token "<extra_0>" (the PRM's tokenizer must hold it).
- ``math_shepherd``: Math-Shepherd: ``prompt + " " + steps``, each step followed by " ки\\n";
  scored by the causal LM's logits of the candidate tokens "+" / "-" at the "ки" token
  (head ``lm_candidates``, not a classification head). The body is tokenized as one string.
- ``skywork``: Skywork-o1-Open-PRM: BOS + prompt + "\\n", then each step tokenized alone and
  followed by the "\\n" token appended as a token of its own (``ending_as_token``: it never
  merges with the step's last characters), the reward flag on it.
- ``rlhflow``: RLHFlow's Llama-3.1 PRMs: a multi-turn chat (layout ``chat_turns``) in the
  tokenizer's chat template: the first user turn is prompt + " " + step 1, each later step a
  user turn of its own, every assistant turn "+". The label is the token *before* each
  assistant "+" (its logits predict "+" or "-"), so one forward pass scores every step.

Layouts (registry ``STEP_ENCODERS``): ``concatenated`` (prefix + rendered steps, the first four)
and ``chat_turns`` (one chat per solution, rendered whole by the template).

Difference from the PURE authors: they dropped each step's closing separator token and
appended a "\\n" token, which also drops text inside that token (the "." of ".\\n\\n"). Here the
step text is kept whole and only the newlines at its ends are replaced by the step ending.
Whatever follows the last label token cannot change a causal PRM's scores, so it is not encoded.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from openrlhf_pure.core.registry import Registry
from openrlhf_pure.models.prm_heads import HEADS

LAYOUTS = ("concatenated", "chat_turns")
_TURN_MARKER = "\ue000"  # a private-use character stands for each assistant turn while the template renders


@dataclass(frozen=True)
class StepFormat:
    """How steps are joined for a PRM and where their labels are.

    Args:
        name: registry name.
        step_ending: text appended to each step after the newlines at its ends are stripped
            (``chat_turns``: the assistant turn after each step).
        label_char: index in ``step_ending`` of the character whose token carries the label.
        head: default scoring head (a ``prm_heads.HEADS`` name; a PRM family may choose another).
        prompt_joiner: text between the prompt and the first step.
        per_step_tokenization: tokenize each step (with its ending) on its own, as TRL's PRM
            training does; else the body is one string. Per-step formats allow the token fast path.
        special_tokens: tokens the PRM vocabulary must hold as single special tokens.
        chat_template: render the prefix with the tokenizer's chat template.
        system_prompt: system message for the chat template (None: no system message).
        candidates: (correct, incorrect) label-token texts for the "lm_candidates" head.
        ending_as_token: the step ending is one token appended after the step's own tokens
            (never merged with the step text); the label is that token.
        prefix_bos: the prefix starts with the tokenizer's BOS token text (if it has one).
        layout: "concatenated" (prefix + rendered steps) or "chat_turns" (see the module docstring).
        label_offset: the label token is this many tokens after the one holding the label
            character (-1: the token whose logits predict it); ``chat_turns`` only.

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
    ending_as_token: bool = False
    prefix_bos: bool = False
    layout: str = "concatenated"
    label_offset: int = 0

    def __post_init__(self):
        if not self.step_ending:
            raise ValueError(f"step format {self.name!r}: step_ending must be non-empty")
        if not 0 <= self.label_char < len(self.step_ending):
            raise ValueError(f"step format {self.name!r}: label_char {self.label_char} is outside the step ending")
        if self.head not in HEADS:
            known = ", ".join(HEADS.names())
            raise ValueError(f"step format {self.name!r}: unknown head {self.head!r}; known: {known}")
        if self.head == "lm_candidates" and self.candidates is None:
            raise ValueError(f"step format {self.name!r}: the lm_candidates head needs candidate tokens")
        if self.layout not in LAYOUTS:
            raise ValueError(f"step format {self.name!r}: unknown layout {self.layout!r}; known: {', '.join(LAYOUTS)}")
        if self.layout == "chat_turns" and (self.per_step_tokenization or not self.chat_template):
            raise ValueError(f"step format {self.name!r}: chat_turns is rendered whole by a chat template")
        if self.label_offset and self.layout != "chat_turns":
            raise ValueError(f"step format {self.name!r}: label_offset applies to the chat_turns layout only")

    def render_step(self, step: str) -> str:
        """One step as the PRM sees it: newlines at both ends dropped, the step ending appended.

        Trailing newlines are the step's separator; leading ones are separator residue (a
        vocabulary may split ".\n\n\n" as ".\n\n" + "\n", leaving "\n" on the next step).
        """
        return step.strip("\r\n") + ("" if self.ending_as_token else self.step_ending)

    def render_prefix(self, prompt: str, tokenizer) -> str:
        """Everything before the first step: the prompt (in a chat template if the format uses one)."""
        if not self.chat_template:
            bos = (getattr(tokenizer, "bos_token", None) or "") if self.prefix_bos else ""
            return bos + prompt + self.prompt_joiner
        marker = "\x00STEPS\x00"
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": marker}]
        text = chat_text(self, tokenizer, messages)
        if text.count(marker) != 1:
            raise ValueError(f"step format {self.name!r}: the chat template does not show the assistant message once")
        return text[: text.index(marker)] + self.prompt_joiner

    def encode_prefixes(self, tokenizer, prompts: list[str]) -> list[list[int]]:
        """(B,) prompts -> (B,) prefix token ids (a template or ``prefix_bos`` writes its own BOS)."""
        if not prompts:
            return []
        texts = [self.render_prefix(p, tokenizer) for p in prompts]
        return tokenizer(texts, add_special_tokens=not (self.chat_template or self.prefix_bos))["input_ids"]

    def ending_ids(self, tokenizer) -> list[int]:
        """The step ending's token ids when appended as a token (``ending_as_token``); one id."""
        ids = tokenizer(self.step_ending, add_special_tokens=False)["input_ids"]
        if len(ids) != 1:
            raise ValueError(f"step format {self.name!r}: the step ending {self.step_ending!r} is {len(ids)} tokens")
        return ids


def chat_text(step_format: StepFormat, tokenizer, messages: list[dict]) -> str:
    """``messages`` (after the format's system prompt) rendered by the tokenizer's chat template."""
    if not getattr(tokenizer, "chat_template", None):
        name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
        raise ValueError(f"step format {step_format.name!r} needs a chat template, and tokenizer {name!r} has none")
    if step_format.system_prompt is not None:
        messages = [{"role": "system", "content": step_format.system_prompt}, *messages]
    return tokenizer.apply_chat_template(messages, tokenize=False)


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


@STEP_FORMATS.register("skywork")
def skywork_format() -> StepFormat:
    """Skywork-o1-Open-PRM: BOS + prompt + "\\n", each step's tokens then the "\\n" token (the flag)."""
    return StepFormat(
        name="skywork", step_ending="\n", label_char=0, head="value", prompt_joiner="\n", ending_as_token=True,
        prefix_bos=True,
    )  # fmt: skip


@STEP_FORMATS.register("rlhflow")
def rlhflow_format() -> StepFormat:
    """RLHFlow: a chat of user steps and "+" assistant turns; LM logits of "+"/"-" before each "+"."""
    return StepFormat(
        name="rlhflow", step_ending="+", label_char=0, head="lm_candidates", prompt_joiner=" ",
        per_step_tokenization=False, chat_template=True, candidates=("+", "-"), layout="chat_turns", label_offset=-1,
    )  # fmt: skip


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


STEP_ENCODERS: Registry = Registry("step layout")


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
    encoded = STEP_ENCODERS.get(step_format.layout)(step_format, tokenizer, [prompts[i] for i in rows],
                                                    [steps[i] for i in rows])  # fmt: skip
    out: list[PRMInput | None] = [None] * len(prompts)
    for i, x in zip(rows, encoded):
        out[i] = x
    return out


@STEP_ENCODERS.register("concatenated")
def encode_concatenated(step_format: StepFormat, tokenizer, prompts: list[str], steps: list[list[str]]):
    """Prefix + each rendered step: (B,) prompts and non-empty step lists -> (B,) :class:`PRMInput`."""
    fmt = step_format
    prefixes = fmt.encode_prefixes(tokenizer, prompts)
    ending = fmt.ending_ids(tokenizer) if fmt.ending_as_token else []
    pieces, marks = [], []  # per row: texts to tokenize, and per piece the label characters (None: the ending)
    for row in steps:
        rendered = [fmt.render_step(s) for s in row]
        if fmt.ending_as_token:
            pieces.append(rendered)
            marks.append([[None] for _ in rendered])
        elif fmt.per_step_tokenization:
            pieces.append(rendered)
            marks.append([[len(r) - len(fmt.step_ending) + fmt.label_char] for r in rendered])
        else:
            ends, total = [], 0
            for r in rendered:
                ends.append(total + len(r) - len(fmt.step_ending) + fmt.label_char)
                total += len(r)
            pieces.append(["".join(rendered)])
            marks.append([ends])
    flat = [p for row in pieces for p in row]
    encoded = tokenizer(flat, add_special_tokens=False, return_offsets_mapping=True) if flat else None
    out, k = [], 0
    for row in range(len(steps)):
        ids, labels = list(prefixes[row]), []
        for piece_marks in marks[row]:
            piece_ids, offsets = encoded["input_ids"][k], encoded["offset_mapping"][k]
            if ending:
                ids.extend(piece_ids + ending)
                labels.append(len(ids) - 1)
            else:
                labels.extend(len(ids) + label_token_index(offsets, m) for m in piece_marks)
                ids.extend(piece_ids)
            k += 1
        out.append(PRMInput(input_ids=ids[: labels[-1] + 1], label_positions=labels))
    return out


@STEP_ENCODERS.register("chat_turns")
def encode_chat_turns(step_format: StepFormat, tokenizer, prompts: list[str], steps: list[list[str]]):
    """One chat per solution (user steps, assistant ``step_ending`` turns), rendered whole by the template.

    The label of step k is the token ``label_offset`` after the one holding the k-th assistant
    turn's label character; that token must start exactly there (the turn is a token of its own).
    """
    fmt = step_format
    out = []
    for prompt, row in zip(prompts, steps):
        messages = []
        for k, step in enumerate(row):
            text = step.strip("\r\n")
            messages.append({"role": "user", "content": prompt + fmt.prompt_joiner + text if k == 0 else text})
            messages.append({"role": "assistant", "content": _TURN_MARKER})
        rendered = chat_text(fmt, tokenizer, messages)
        parts = rendered.split(_TURN_MARKER)
        if len(parts) != len(row) + 1:
            raise ValueError(f"step format {fmt.name!r}: the chat template does not show each assistant turn once")
        text, marks = parts[0], []
        for part in parts[1:]:
            marks.append(len(text) + fmt.label_char)
            text += fmt.step_ending + part
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets, labels = enc["input_ids"], enc["offset_mapping"], []
        for mark in marks:
            index = label_token_index(offsets, mark)
            if offsets[index][0] != mark:
                turn = fmt.step_ending
                raise ValueError(f"step format {fmt.name!r}: the assistant turn {turn!r} merges with the text before "
                                 f"it in this vocabulary (token {tokenizer.decode([ids[index]])!r})")  # fmt: skip
            labels.append(index + fmt.label_offset)
        out.append(PRMInput(input_ids=ids[: labels[-1] + 1], label_positions=labels))
    return out
