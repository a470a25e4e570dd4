"""Prompt templates, and the prompt format a checkpoint was trained with.

PURE prompts the policy with no chat template (PURE.md section 2): :data:`PURE_TEMPLATE`.

Every model folder this project writes records how it was prompted, so that loading it later
prompts it the same way without the user knowing: the key ``pure_prompt`` of its
``config.json`` holds ``{"template": <format string with {question}>, "step_separator": ...}``.
``pure-eval`` (``--template auto``) and ``pure-train`` (``--data.template auto``,
``--pure.step_separator``) default to it; a folder without it gets PURE's template and "\\n\\n".
A PRM records its own prompt template under ``pure_prm`` (see ``models/prm.py``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

PURE_TEMPLATE = (
    '{question}\n\nPlease reason step by step with steps separated by "\\n\\n", '
    "and put your final answer within \\boxed{{}}."
)
CONFIG_KEY = "pure_prompt"
DEFAULT_SEPARATOR = "\n\n"


def pure_prompt(question: str) -> str:
    """PURE's training and evaluation prompt for one question."""
    return PURE_TEMPLATE.format(question=question)


@dataclass(frozen=True)
class PromptFormat:
    """How a policy is prompted and how its responses are split into steps.

    Attributes:
        template: a format string whose only field is ``{question}`` (literal braces doubled).
        step_separator: the text between steps of a response.

    >>> PromptFormat("Q: {question}\\n\\n").render("1 + 1?")
    'Q: 1 + 1?\\n\\n'
    """

    template: str = PURE_TEMPLATE
    step_separator: str = DEFAULT_SEPARATOR

    def __post_init__(self):
        check_template_string(self.template)
        if not isinstance(self.step_separator, str) or not self.step_separator:
            raise ValueError("the step separator must be a non-empty string")

    def render(self, question: str) -> str:
        """The prompt of ``question``."""
        return self.template.format(question=question)


def chat_prompt_template(tokenizer, user_template: str = "{question}") -> str:
    """A prompt template that puts ``user_template`` as the only user message of ``tokenizer``'s chat template.

    The conversation is rendered once, with the generation prompt added, around a placeholder
    question, so that the result is a plain format string (``{question}``, literal braces doubled)
    that a checkpoint records like any other. The default user message is the question field as
    it is (OpenRLHF's ``--apply_chat_template``: the shipped training prompts already hold PURE's
    instruction); ``PURE_TEMPLATE`` wraps a bare problem in PURE's instruction first.

    Args:
        tokenizer: a transformers tokenizer (``chat_template``, ``apply_chat_template``).
        user_template: the user message, a format string with ``{question}``.
    Raises:
        ValueError: the tokenizer has no chat template, or its template drops or repeats the message.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("the tokenizer has no chat template")
    slot = "PUREQUESTIONSLOT"
    messages = [{"role": "user", "content": user_template.format(question=slot)}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if not isinstance(text, str) or text.count(slot) != 1:
        raise ValueError("the tokenizer's chat template did not render the user's message exactly once")
    return text.replace("{", "{{").replace("}", "}}").replace(slot, "{question}")


def check_template_string(template: str) -> None:
    """Raise ValueError unless ``template`` is a format string whose only field is ``{question}``."""
    if not isinstance(template, str) or "{question}" not in template:
        raise ValueError(f"a prompt template must contain {{question}}, got {template!r}")
    try:
        template.format(question="")
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(
            f"bad format string {template!r}: {error!r} "
            "(only {question} is filled; write literal braces as {{ }})"
        ) from None


def record_prompt_format(model, prompt_format: PromptFormat) -> None:
    """Attach ``prompt_format`` to a transformers model's config, so every ``save_pretrained`` writes it."""
    setattr(model.config, CONFIG_KEY, asdict(prompt_format))


def saved_prompt_format(model_path: str | Path) -> PromptFormat | None:
    """The prompt format recorded in a local model folder's ``config.json``, or None.

    A hub name, a folder without ``config.json`` or a config without the key give None; a
    recorded format that is malformed raises ValueError naming the file.
    """
    config = Path(model_path).expanduser() / "config.json"
    if not config.is_file():
        return None
    try:
        saved = json.loads(config.read_text(encoding="utf-8")).get(CONFIG_KEY)
    except (ValueError, AttributeError):
        return None  # not our file to judge: transformers reports a broken config when it loads it
    if saved is None:
        return None
    try:
        return PromptFormat(saved["template"], saved.get("step_separator", DEFAULT_SEPARATOR))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{config}: malformed {CONFIG_KEY!r} entry ({err})") from None
