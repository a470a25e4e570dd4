"""Prompt templates: how a problem becomes the text (and token ids) the model continues.

Registered templates (``auto``, the default of ``pure-eval``, takes the template saved with the
model, see :mod:`openrlhf_pure.data.prompts`, and ``pure`` when it has none):

- ``pure``: PURE's training prompt (:data:`openrlhf_pure.data.prompts.PURE_TEMPLATE`),
  no chat template, as PURE evaluates (PURE.md section 7);
- ``qwen25-math-cot``: Qwen2.5-Math's chain-of-thought chat prompt, a system message "Please
  reason step by step, and put your final answer within \\boxed{}." and the problem as the user
  message, rendered by the tokenizer's own chat template with the generation prompt added;
- ``chat``: PURE's prompt as the only user message, rendered by the tokenizer's own chat
  template with the generation prompt added (an instruction-tuned model's own conversation
  format, e.g. SmolLM2-Instruct's, asking for "\\n\\n"-separated steps and a boxed answer).

Any other template argument that contains ``{question}`` is a Python format string (write
literal braces as ``{{`` and ``}}``). Token ids: a plain-text prompt is tokenised with the
tokenizer's special tokens added (a BOS for models that use one), as vLLM does with a text
prompt; a chat-rendered prompt already holds them, so none are added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from openrlhf_pure.data.prompts import (
    PURE_TEMPLATE,
    chat_prompt_template,
    check_template_string,
    pure_prompt,
    saved_prompt_format,
)

AUTO = "auto"  # the template saved with the model (data.prompts), else "pure"
QWEN_COT_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."


class TemplateError(ValueError):
    """An unknown template name, a bad format string, or a chat template the tokenizer lacks."""


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt template.

    Attributes:
        name: registry key, or the format string itself for a user template.
        render_fn: ``(question, tokenizer) -> prompt text``.
        chat: the text comes from the tokenizer's chat template (so it holds its special tokens).
    """

    name: str
    render_fn: Callable[[str, object], str]
    chat: bool = False

    def render(self, question: str, tokenizer=None) -> str:
        """The prompt text for ``question``."""
        return self.render_fn(question, tokenizer)

    def encode(self, text: str, tokenizer) -> list[int]:
        """Token ids of a rendered prompt (module docstring: special tokens only for plain text)."""
        return list(tokenizer(text, add_special_tokens=not self.chat)["input_ids"])


TEMPLATES: dict[str, PromptTemplate] = {}


def register_template(name: str, chat: bool = False):
    """Decorator: register ``render(question, tokenizer) -> str`` as template ``name``."""

    def decorate(render: Callable[[str, object], str]) -> Callable[[str, object], str]:
        TEMPLATES[name] = PromptTemplate(name, render, chat)
        return render

    return decorate


@register_template("pure")
def _pure(question: str, tokenizer) -> str:
    return pure_prompt(question)


@register_template("qwen25-math-cot", chat=True)
def _qwen_math_cot(question: str, tokenizer) -> str:
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise TemplateError("template 'qwen25-math-cot' needs a tokenizer with a chat template")
    messages = [{"role": "system", "content": QWEN_COT_SYSTEM}, {"role": "user", "content": question}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


@register_template("chat", chat=True)
def _chat(question: str, tokenizer) -> str:
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise TemplateError("template 'chat' needs a tokenizer with a chat template")
    try:
        return chat_prompt_template(tokenizer, PURE_TEMPLATE).format(question=question)
    except ValueError as err:
        raise TemplateError(f"template 'chat': {err}") from None


def resolve_template(spec: str) -> PromptTemplate:
    """A registered template by name, or a format string containing ``{question}``.

    >>> resolve_template("Q: {question}\\nA:").render("1+1?")
    'Q: 1+1?\\nA:'
    """
    if spec in TEMPLATES:
        return TEMPLATES[spec]
    if "{question}" not in spec:
        raise TemplateError(
            f"unknown template {spec!r}; known: {', '.join(TEMPLATES)}, or a format string containing {{question}}"
        )
    try:
        check_template_string(spec)
    except ValueError as error:
        raise TemplateError(str(error)) from None
    return PromptTemplate(spec, lambda question, tokenizer: spec.format(question=question))


def template_for_model(spec: str, model: str) -> str:
    """``spec``, or for ``auto`` the prompt template saved with ``model`` (PURE's when it has none)."""
    if spec != AUTO:
        return spec
    try:
        saved = saved_prompt_format(model)
    except ValueError as error:
        raise TemplateError(str(error)) from None
    return saved.template if saved is not None else "pure"


def check_template(template: PromptTemplate, tokenizer) -> None:
    """Render a dummy question once, so a template that cannot work fails before any generation."""
    template.render("1 + 1 = ?", tokenizer)
