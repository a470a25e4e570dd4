"""The five published PRM families, each from a tiny checkpoint in its published layout, scored as its card says.

Each checkpoint is written here by hand, not by the project's classes: the published architecture
name and config fields, the published state-dict keys and head shapes, random weights. It is
loaded through ``ProcessRewardModel.from_pretrained`` (family detected, no ``trust_remote_code``),
scored by the packed ``PRMScorer``, and compared with the model card's own recipe written out
below (input built the card's way, the same tensors forwarded by hand).
"""

from __future__ import annotations

import copy
import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    Qwen2Config,
    Qwen2ForTokenClassification,
    Qwen2Model,
)

from openrlhf_pure.core.steps import separator_token_ids, split_steps
from openrlhf_pure.engines.prm_scorer import PRMScorer, ScorerConfig, plan_packed
from openrlhf_pure.models.prm import ProcessRewardModel
from openrlhf_pure.models.prm_families import detect_family
from openrlhf_pure.models.step_formats import encode_steps

PROMPTS = ["Compute (12 + 30) * 4.", "What is 5 * 3 - 4?"]
STEPS = [["We add first:\n\n", "12 + 30 = 42.\n\n", "Then 42 * 4 = 168.\n\n", "So \\boxed{168}."],
         ["5 * 3 = 15.\n\n", "15 - 4 = 11, so \\boxed{11}."]]  # fmt: skip
BODIES = [[s.strip("\n") for s in row] for row in STEPS]  # the steps as a card's user passes them
QWEN_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."
LLAMA3_TEMPLATE = (  # Llama-3.1's message layout (RLHFlow's PRMs use Llama-3.1's template)
    "<|begin_of_text|>{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
    "{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
)
SIZES = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)


def write_published(path, modules: dict, config: dict, tokenizer) -> None:
    """A checkpoint folder as its authors publish it: config.json, model.safetensors, tokenizer files."""
    state = {f"{prefix}.{k}": v.contiguous() for prefix, m in modules.items() for k, v in m.state_dict().items()}
    save_file(state, str(path / "model.safetensors"), metadata={"format": "pt"})
    (path / "config.json").write_text(json.dumps(config))
    tokenizer.save_pretrained(str(path))


def save_plain(path, model, tokenizer):
    """A checkpoint with a transformers class of its own, saved as its authors would."""
    path.mkdir()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def qwen2_config(vocab: int, **extra) -> dict:
    return {**Qwen2Config(vocab_size=vocab, **SIZES).to_dict(), "tie_word_embeddings": False, **extra}


@pytest.fixture(scope="module")
def published(tmp_path_factory, prm_tokenizer):
    """{family: (checkpoint folder, its tokenizer, its reference modules)} for the five families."""
    root, out = tmp_path_factory.mktemp("published"), {}
    torch.manual_seed(11)
    # 1. PURE-PRM-7B / TRL: Qwen2ForTokenClassification, 2 labels, score = Linear(h, 2)
    tok = copy.deepcopy(prm_tokenizer)
    model = Qwen2ForTokenClassification(Qwen2Config(vocab_size=len(tok), num_labels=2, **SIZES)).eval()
    torch.nn.init.normal_(model.score.weight, std=0.5)
    out["pure"] = (save_plain(root / "pure", model, tok), tok, model)
    # 2. Qwen2.5-Math-PRM: remote-code Qwen2ForProcessRewardModel, score = Linear(h, h), ReLU, Linear(h, 2); no lm_head
    tok = copy.deepcopy(prm_tokenizer)
    tok.add_tokens(["<extra_0>"], special_tokens=True)
    backbone = Qwen2Model(Qwen2Config(vocab_size=len(tok), **SIZES)).eval()
    head = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 2)).eval()
    auto_map = {"AutoConfig": "configuration_qwen2_rm.Qwen2RMConfig",
                "AutoModel": "modeling_qwen2_rm.Qwen2ForProcessRewardModel"}  # fmt: skip
    (root / "qwen_prm").mkdir()
    write_published(
        root / "qwen_prm",
        {"model": backbone, "score": head},
        qwen2_config(len(tok), architectures=["Qwen2ForProcessRewardModel"], auto_map=auto_map),
        tok,
    )
    out["qwen_prm"] = (root / "qwen_prm", tok, (backbone, head))
    # 3. Math-Shepherd: a plain MistralForCausalLM
    tok = copy.deepcopy(prm_tokenizer)
    model = MistralForCausalLM(MistralConfig(vocab_size=len(tok), **SIZES)).eval()
    out["math_shepherd"] = (save_plain(root / "math_shepherd", model, tok), tok, model)
    # 4. RLHFlow: a plain LlamaForCausalLM with Llama-3.1's chat layout
    tok = copy.deepcopy(prm_tokenizer)
    tok.add_tokens(["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"], special_tokens=True)
    tok.chat_template = LLAMA3_TEMPLATE
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), **SIZES)).eval()
    out["rlhflow"] = (save_plain(root / "rlhflow", model, tok), tok, model)
    # 5. Skywork-o1-Open-PRM: Qwen2ForPrmModel = causal LM + v_head.summary = Linear(h, 1)
    tok = copy.deepcopy(prm_tokenizer)
    tok.bos_token = "<|endoftext|>"  # Skywork's recipe writes bos_token + problem + "\n"
    backbone = Qwen2Model(Qwen2Config(vocab_size=len(tok), **SIZES)).eval()
    lm_head, summary = torch.nn.Linear(64, len(tok), bias=False), torch.nn.Linear(64, 1).eval()
    torch.nn.init.normal_(summary.weight, std=0.5)
    (root / "skywork").mkdir()
    write_published(root / "skywork", {"model": backbone, "lm_head": lm_head, "v_head.summary": summary},
                    qwen2_config(len(tok), architectures=["Qwen2ForPrmModel"]), tok)  # fmt: skip
    out["skywork"] = (root / "skywork", tok, (backbone, summary))
    return out


# --- the model cards' recipes, written out -----------------------------------------------------


@torch.inference_mode()
def card_pure(tok, model, prompt, steps):
    """TRL stepwise input (prompt, each step + "\\n" tokenized alone); softmax, p1 - p0 at each step's last token."""
    ids, flags = tok(prompt, add_special_tokens=False)["input_ids"], []
    for step in steps:
        ids += tok(step + "\n", add_special_tokens=False)["input_ids"]
        flags.append(len(ids) - 1)
    probs = model(torch.tensor([ids])).logits[0, flags].softmax(-1)
    return probs[:, 1] - probs[:, 0]


@torch.inference_mode()
def card_qwen_prm(tok, modules, prompt, steps):
    """Qwen's card: chat template (system, user, assistant: steps joined and ended by "<extra_0>"); p[1] there."""
    backbone, head = modules
    messages = [{"role": "system", "content": QWEN_SYSTEM}, {"role": "user", "content": prompt},
                {"role": "assistant", "content": "<extra_0>".join(steps) + "<extra_0>"}]  # fmt: skip
    ids = torch.tensor([tok.encode(tok.apply_chat_template(messages, tokenize=False))])
    logits = head(backbone(input_ids=ids).last_hidden_state)
    mask = ids == tok.encode("<extra_0>")[0]
    return logits.softmax(-1)[mask][:, 1]


@torch.inference_mode()
def card_math_shepherd(tok, model, prompt, steps):
    """Math-Shepherd's card: f"{question} {output}", steps ending " ки"; softmax over "+", "-" at "ки", p("+")."""
    output = "".join(f"{s} ки\n" for s in steps)
    ids = torch.tensor([tok.encode(f"{prompt} {output}")])
    candidates = [tok.encode("+")[-1], tok.encode("-")[-1]]
    scores = model(ids).logits[:, :, candidates].softmax(-1)[:, :, 0]
    return scores[ids == tok.encode(" ки")[-1]]


@torch.inference_mode()
def card_rlhflow(tok, model, prompt, steps):
    """RLHFlow's recipe: one chat per prefix of steps, assistant turns "+", softmax over ("+", "-") at position -3."""
    candidates, conversation, out = [tok.encode("+")[-1], tok.encode("-")[-1]], [], []
    for k, step in enumerate(steps):
        conversation += [{"role": "user", "content": f"{prompt} {step}" if k == 0 else step},
                         {"role": "assistant", "content": "+"}]  # fmt: skip
        ids = tok.apply_chat_template(conversation, return_tensors="pt", return_dict=True)["input_ids"]
        out.append(model(ids).logits[:, -3, candidates].softmax(-1)[0, 0])
    return torch.stack(out)


@torch.inference_mode()
def card_skywork(tok, modules, prompt, steps):
    """Skywork's recipe: bos + problem + "\\n", each step's ids then the "\\n" id (its flag); sigmoid of v_head."""
    backbone, summary = modules
    ids = tok.encode(tok.bos_token + prompt + "\n")
    flags = []
    for step in steps:
        ids += tok.encode(step) + [tok.encode("\n")[-1]]
        flags.append(len(ids) - 1)
    hidden = backbone(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states[-1]
    return torch.sigmoid(summary(hidden)[0, flags, 0])


CARDS = {"pure": card_pure, "qwen_prm": card_qwen_prm, "math_shepherd": card_math_shepherd,
         "rlhflow": card_rlhflow, "skywork": card_skywork}  # fmt: skip
FAMILY_FLAG = {"math_shepherd": "math_shepherd", "rlhflow": "rlhflow"}  # plain causal LMs: only the flag places them


def load(published, family, **kwargs):
    path, _, _ = published[family]
    return ProcessRewardModel.from_pretrained(str(path), family=FAMILY_FLAG.get(family), **kwargs)


# --- tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", list(CARDS))
def test_each_family_scores_as_its_model_card_computes(published, family):
    path, tok, reference = published[family]
    prm = load(published, family, score_transform="none")
    assert prm.family == family
    got = PRMScorer(prm, config=ScorerConfig(row_tokens=4096)).score_steps(PROMPTS, STEPS)  # both in one packed row
    for prompt, body, row in zip(PROMPTS, BODIES, got):
        torch.testing.assert_close(row, CARDS[family](tok, reference, prompt, body), rtol=0, atol=1e-5)


def test_the_card_comparison_packs_both_solutions_into_one_row(published):
    prm = load(published, "skywork")
    lengths = [len(x) for x in encode_steps(prm.step_format, prm.tokenizer, PROMPTS, STEPS)]
    assert [len(row) for batch in plan_packed(lengths, 4096, 16384) for row in batch] == [2]


@pytest.mark.parametrize(
    "name, family",
    [
        ("RLHFlow/Llama3.1-8B-PRM-Deepseek-Data", "rlhflow"),
        ("models/math-shepherd-mistral-7b-prm", "math_shepherd"),
        ("local/Qwen2.5-Math-7B-PRM800K", None),
    ],  # fmt: skip
)
def test_plain_causal_lms_are_placed_by_their_published_names(name, family):
    from openrlhf_pure.models.prm_families import PRMFamilyError

    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}
    if family is None:  # Qwen's and PURE's PRM800K models share this folder name: no guess
        with pytest.raises(PRMFamilyError, match="cannot tell"):
            detect_family(name, config)
    else:
        assert detect_family(name, config) == (family, "published name")


@pytest.mark.parametrize("family", ["pure", "qwen_prm", "skywork"])
def test_published_architectures_are_detected_from_config_json(published, family):
    assert detect_family(str(published[family][0]))[0] == family
    assert (
        type(load(published, family).model).__name__
        == json.loads((published[family][0] / "config.json").read_text())["architectures"][0]
    )


@pytest.mark.parametrize("family", list(CARDS))
def test_every_checkpoint_key_is_loaded_and_none_is_missing(published, family):
    path = published[family][0]
    with safe_open(str(path / "model.safetensors"), "pt") as handle:
        saved = {k for k in handle.keys() if not k.startswith("lm_head.") or family != "skywork"}  # noqa: SIM118
    model = load(published, family).model
    loaded = set(model.state_dict())
    tied = {"lm_head.weight"} if model.config.tie_word_embeddings else set()
    assert saved == loaded - tied
    for key in saved:  # the values, not just the names
        with safe_open(str(path / "model.safetensors"), "pt") as handle:
            torch.testing.assert_close(model.state_dict()[key], handle.get_tensor(key))


def test_probabilities_are_mapped_to_the_common_scale_by_2p_minus_1(published):
    native = PRMScorer(load(published, "qwen_prm", score_transform="none")).score_steps(PROMPTS, STEPS)
    prm = load(published, "qwen_prm")
    assert prm.describe()["score_transform"] == "2p-1" and prm.scale == "signed"
    assert prm.transform.metrics() == {"prm/score_transform_slope": 2.0, "prm/score_transform_offset": -1.0}
    for a, b in zip(PRMScorer(prm).score_steps(PROMPTS, STEPS), native):
        torch.testing.assert_close(a, 2 * b - 1)
    assert load(published, "pure").transform.name == "none"  # p1 - p0 is already on [-1, 1]
    with pytest.raises(ValueError, match="'2p-1' maps scores on the prob scale, not signed"):
        load(published, "pure", score_transform="2p-1")


@pytest.mark.parametrize("family", list(CARDS))
def test_a_policy_with_another_vocabulary_gets_the_scores_of_its_step_texts(published, family, other_tokenizer):
    prm = load(published, family)
    texts = ["".join(row) for row in STEPS]
    rows = [other_tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    width = max(map(len, rows))
    ids = torch.tensor([r + [other_tokenizer.pad_token_id] * (width - len(r)) for r in rows])
    mask = torch.tensor([[i < len(r) for i in range(width)] for r in rows])
    layout = split_steps(ids, mask, separator_token_ids(other_tokenizer))
    scores = PRMScorer(prm, policy_tokenizer=other_tokenizer).score_policy_tokens(PROMPTS, ids, layout)
    decoded = [[other_tokenizer.decode(s) for s in row] for row in _policy_steps(ids, layout)]
    for b, want in enumerate(PRMScorer(prm).score_steps(PROMPTS, decoded)):
        torch.testing.assert_close(scores[b, : len(want)], want, rtol=0, atol=1e-6)
        assert int(layout.num_steps[b]) == len(want)


def _policy_steps(ids, layout):
    from openrlhf_pure.models.step_alignment import policy_step_tokens

    return policy_step_tokens(ids, layout)


# --- bad input -----------------------------------------------------------------------------------


def _copy(published, family, tmp_path):
    import shutil

    shutil.copytree(published[family][0], tmp_path, dirs_exist_ok=True)
    return tmp_path, json.loads((tmp_path / "config.json").read_text())


def test_a_head_whose_shapes_do_not_fit_the_family_is_one_error_naming_the_weight(published, tmp_path):
    path, config = _copy(published, "qwen_prm", tmp_path)
    with safe_open(str(path / "model.safetensors"), "pt") as handle:
        state = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    state["score.2.weight"], state["score.2.bias"] = torch.zeros(3, 64), torch.zeros(3)  # a 3-label head
    save_file(state, str(path / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"score.2.weight has shape \(3, 64\).*'qwen_prm' family.*needs \(2, 64\)"):
        ProcessRewardModel.from_pretrained(str(path))


def test_a_tokenizer_without_the_step_token_is_one_error(published, tmp_path, prm_tokenizer):
    path, _ = _copy(published, "qwen_prm", tmp_path)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (path / name).unlink()
    prm_tokenizer.save_pretrained(str(path))  # the base vocabulary, without "<extra_0>"
    with pytest.raises(ValueError, match="tokenizer has no '<extra_0>' token"):
        ProcessRewardModel.from_pretrained(str(path))


def test_a_reward_model_class_without_skyworks_value_head_is_not_taken_for_skywork(published, tmp_path):
    path, config = _copy(published, "qwen_prm", tmp_path)  # Qwen's 2-layer keys under Skywork's other class name
    config["architectures"], config["auto_map"] = ["Qwen2ForRewardModel"], None
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        ValueError, match=r"skywork family, but the checkpoint lacks .*score.0.weight.*--pure.prm.family"
    ):
        ProcessRewardModel.from_pretrained(str(path))


def test_a_family_flag_that_does_not_fit_the_checkpoint_names_missing_and_unexpected_keys(published):
    with pytest.raises(ValueError, match=r"missing \['v_head.summary.bias'.*unexpected \['score.0.bias'"):
        ProcessRewardModel.from_pretrained(str(published["qwen_prm"][0]), family="skywork")
