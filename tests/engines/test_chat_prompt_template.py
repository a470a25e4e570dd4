"""``--data.template chat``: a policy tokenizer's chat template as a recorded prompt template."""

from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer

from openrlhf_pure.cli import train_local
from openrlhf_pure.data.prompts import PURE_TEMPLATE, chat_prompt_template, pure_prompt

HOSTILE = "Find $f(x)$ with {a} and \\boxed{} in it, then {question} and }{"


def rendered(tokenizer, content):
    messages = [{"role": "user", "content": content}]
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def test_the_template_renders_like_the_tokenizer_for_any_question(tokenizer):
    template = chat_prompt_template(tokenizer)
    assert template.format(question=HOSTILE) == rendered(tokenizer, HOSTILE)  # braces in the question survive
    wrapped = chat_prompt_template(tokenizer, PURE_TEMPLATE)
    assert wrapped.format(question=HOSTILE) == rendered(tokenizer, pure_prompt(HOSTILE))


def test_a_tokenizer_without_a_usable_chat_template_is_refused(tokenizer):
    plain = tokenizer.__class__(tokenizer_object=tokenizer.backend_tokenizer)
    plain.chat_template = None
    with pytest.raises(ValueError, match="has no chat template"):
        chat_prompt_template(plain)
    plain.chat_template = "{% if add_generation_prompt %}assistant:{% endif %}"  # drops the user's message
    with pytest.raises(ValueError, match="exactly once"):
        chat_prompt_template(plain)


def flags_for(policy, data, out):
    return ["--actor.model_name_or_path", str(policy), "--data.prompt_dataset", str(data), "--output_dir", str(out),
            "--pure.reward_mode", "vr", "--data.template", "chat", "--dry_run"]  # fmt: skip


def test_train_records_the_chat_prompt_and_names_a_policy_without_one(tiny_policy_dir, tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"question": "Compute 1 + 2.", "gt_answer": "3"}) + "\n")
    assert train_local.main(flags_for(tiny_policy_dir, data, tmp_path / "o")) == 0
    out = capsys.readouterr().out
    resolved = json.loads(out[out.index("{") :])["flags"]
    tokenizer = AutoTokenizer.from_pretrained(tiny_policy_dir)
    assert resolved["prompt_format"]["template"].format(question="Q?") == rendered(tokenizer, "Q?")

    plain = tmp_path / "plain"
    tokenizer.chat_template = None
    tokenizer.save_pretrained(plain)
    for name in ("config.json", "model.safetensors"):
        (plain / name).write_bytes((tiny_policy_dir / name).read_bytes())
    assert train_local.main(flags_for(plain, data, tmp_path / "o2")) == 2
    err = capsys.readouterr().err
    assert f"--data.template chat: {plain}: the tokenizer has no chat template" in err
