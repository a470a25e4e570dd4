"""The PRM: a causal LM backbone with a 2-class head, loaded from a causal LM or a PRM checkpoint."""

from __future__ import annotations

import json

import pytest
import torch

from openrlhf_pure.models.prm import SCORE_FUNCTIONS, ProcessRewardModel
from openrlhf_pure.models.step_formats import encode_steps
from openrlhf_pure.models.tiny import tiny_causal_lm

STEPS = [["First, we add:\n\n", "12 + 30 = 42.\n\n", "Then we multiply: 42 * 4 = 168"]]


def label_scores(prm, steps=STEPS):
    (encoded,) = encode_steps(prm.step_format, prm.tokenizer, ["Compute it."], steps)
    ids = torch.tensor([encoded.input_ids])
    cols = torch.tensor(encoded.label_positions)
    with torch.inference_mode():
        return prm.label_logits(ids, torch.zeros_like(cols), cols), ids, cols


def test_score_functions_map_the_two_logits_to_step_scores():
    logits = torch.tensor([[0.0, 0.0], [0.0, 2.0], [3.0, 1.0]])  # (incorrect, correct)
    p = torch.sigmoid(torch.tensor([0.0, 2.0, -2.0]))
    torch.testing.assert_close(SCORE_FUNCTIONS.get("p_correct")(logits), p)
    torch.testing.assert_close(SCORE_FUNCTIONS.get("p_diff")(logits), 2 * p - 1)
    torch.testing.assert_close(SCORE_FUNCTIONS.get("logit_diff")(logits), torch.tensor([0.0, 2.0, -2.0]))


@pytest.mark.parametrize("arch", ["qwen2", "llama"])
def test_any_causal_lm_loads_as_a_prm_with_a_new_two_class_head(tmp_path, prm_tokenizer, arch):
    tiny_causal_lm(len(prm_tokenizer), arch=arch).save_pretrained(tmp_path)
    prm_tokenizer.save_pretrained(tmp_path)
    prm = ProcessRewardModel.from_pretrained(str(tmp_path), new_head=True)
    assert type(prm.model).__name__.endswith("ForTokenClassification")
    assert prm.model.score.out_features == 2 and prm.model.config.id2label == {0: "incorrect", 1: "correct"}
    assert prm.head == "classifier" and prm.score_name == "p_diff" and prm.step_format.name == "pure"
    _, ids, cols = label_scores(prm)
    with torch.inference_mode():
        scores = prm(ids, torch.zeros_like(cols), cols)
    assert scores.shape == (3,) and bool(((scores >= -1) & (scores <= 1)).all())


def test_gathering_before_the_head_equals_the_models_own_token_logits(prm):
    logits, ids, cols = label_scores(prm)
    with torch.inference_mode():
        full = prm.model(ids).logits[0, cols]
    torch.testing.assert_close(logits, full)


def test_a_saved_prm_reloads_with_the_same_scores_and_settings(tmp_path, prm):
    prm.score_name = "p_correct"
    prm.score_fn = SCORE_FUNCTIONS.get("p_correct")
    prm.save_pretrained(str(tmp_path))
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["pure_prm"] == {"family": "pure", "step_format": "pure", "score": "p_correct", "head": "classifier"}
    reloaded = ProcessRewardModel.from_pretrained(str(tmp_path))
    assert reloaded.score_name == "p_correct" and type(reloaded.model).__name__ == "Qwen2ForTokenClassification"
    torch.testing.assert_close(label_scores(reloaded)[0], label_scores(prm)[0])
    prm.score_name, prm.score_fn = "p_diff", SCORE_FUNCTIONS.get("p_diff")


def test_arguments_override_the_saved_settings(prm_dir):
    prm = ProcessRewardModel.from_pretrained(prm_dir, score="logit_diff")
    assert prm.score_name == "logit_diff"


def test_lm_candidates_scores_are_the_causal_lms_logits_of_minus_and_plus(causal_lm_dir):
    prm = ProcessRewardModel.from_pretrained(causal_lm_dir, step_format="math_shepherd")
    assert prm.head == "lm_candidates" and type(prm.model).__name__ == "Qwen2ForCausalLM"
    logits, ids, cols = label_scores(prm)
    minus, plus = (prm.tokenizer.convert_tokens_to_ids(t) for t in ("-", "+"))
    with torch.inference_mode():
        full = prm.model(ids).logits[0, cols]
    torch.testing.assert_close(logits, full[:, [minus, plus]])


def test_a_saved_math_shepherd_prm_reloads_as_a_causal_lm_with_the_same_scores(tmp_path, causal_lm_dir):
    prm = ProcessRewardModel.from_pretrained(causal_lm_dir, step_format="math_shepherd")
    prm.save_pretrained(str(tmp_path))
    reloaded = ProcessRewardModel.from_pretrained(str(tmp_path))
    assert (reloaded.step_format.name, reloaded.head) == ("math_shepherd", "lm_candidates")
    torch.testing.assert_close(label_scores(reloaded)[0], label_scores(prm)[0])


def test_qwen_prm_format_adds_its_step_token_and_grows_the_embeddings(causal_lm_dir, prm_tokenizer):
    prm = ProcessRewardModel.from_pretrained(causal_lm_dir, step_format="qwen_prm", new_head=True)
    assert len(prm.tokenizer) == len(prm_tokenizer) + 1
    assert prm.model.get_input_embeddings().weight.shape[0] == len(prm.tokenizer)
    assert label_scores(prm)[0].shape == (3, 2)


def test_a_checkpoint_no_family_rule_places_gets_one_error_naming_what_was_found_and_the_flag(tmp_path, causal_lm_dir):
    import shutil

    shutil.copytree(causal_lm_dir, tmp_path, dirs_exist_ok=True)
    with pytest.raises(ValueError, match=r"\[.Qwen2ForCausalLM.\].*Set --pure.prm.family .* to one of: pure, qwen_prm"):
        ProcessRewardModel.from_pretrained(str(tmp_path))  # a plain causal LM: no head, no published name
    config = json.loads((tmp_path / "config.json").read_text())
    config["architectures"] = ["Qwen2ForSequenceClassification"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"cannot tell which PRM family.*Qwen2ForSequenceClassification"):
        ProcessRewardModel.from_pretrained(str(tmp_path))


def test_the_lm_candidates_head_needs_a_causal_lm_checkpoint(prm_dir):
    # a saved classifier keeps its head under another format; asking for LM candidates is refused
    assert ProcessRewardModel.from_pretrained(prm_dir, step_format="math_shepherd").head == "classifier"
    with pytest.raises(ValueError, match="lm_candidates head needs a causal LM"):
        ProcessRewardModel.from_pretrained(prm_dir, step_format="math_shepherd", head="lm_candidates")


def test_bf16_scores_stay_close_to_float32(prm_dir, prm):
    bf16 = ProcessRewardModel.from_pretrained(prm_dir, dtype="bf16")
    assert bf16.model.dtype == torch.bfloat16
    logits = label_scores(bf16)[0]
    assert logits.dtype == torch.float32
    torch.testing.assert_close(logits, label_scores(prm)[0], atol=0.1, rtol=0.05)
