"""Tiny tokenizers and causal LMs built offline, for the CPU path, the demo and the tests.

Nothing is downloaded: a byte-level BPE is trained on a few KB of text in seconds, and models
are Qwen2 or Llama configurations with random weights (hidden 64, 2 layers by default). Save
them with ``save_pretrained`` and load them back through the ordinary loading code.

The tokenizer pre-splits text like Qwen2's does in the respect that matters for steps:
punctuation keeps the newlines that follow it, so ".\\n\\n" and ":\\n\\n" can become single
tokens, and step separators appear inside tokens as they do in real vocabularies.
"""

from __future__ import annotations

from collections.abc import Iterable

# Letters (with one optional leading non-letter such as a space), single digits,
# punctuation runs with their trailing newlines, newline runs, other whitespace.
PRETOKENIZE_PATTERN = r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

EOS_TOKEN = "<|endoftext|>"
PAD_TOKEN = "<|pad|>"
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def train_tiny_tokenizer(texts: Iterable[str], vocab_size: int = 512, min_frequency: int = 2):
    """Train a byte-level BPE tokenizer and wrap it for transformers.

    Args:
        texts: training text (a few KB is enough).
        vocab_size: target vocabulary size (the 256 bytes and the special tokens included).
        min_frequency: minimum pair count for a merge.
    Returns:
        a ``PreTrainedTokenizerFast`` with EOS, PAD and a chat template.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[EOS_TOKEN, PAD_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(list(texts), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token=EOS_TOKEN, pad_token=PAD_TOKEN)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def tiny_causal_lm(vocab_size: int, arch: str = "qwen2", hidden: int = 64, layers: int = 2, seed: int = 0):
    """A randomly initialised causal LM of the given architecture.

    Args:
        vocab_size: embedding rows (use ``len(tokenizer)``).
        arch: "qwen2" or "llama".
        hidden: hidden size; heads = hidden // 16, intermediate = 4 * hidden.
        layers: decoder layers.
        seed: torch seed for the weights.
    Returns:
        a transformers ``PreTrainedModel`` in float32.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    classes = {"qwen2": (Qwen2Config, Qwen2ForCausalLM), "llama": (LlamaConfig, LlamaForCausalLM)}
    if arch not in classes:
        raise ValueError(f"unknown tiny architecture {arch!r}; known: {', '.join(classes)}")
    config_class, model_class = classes[arch]
    heads = max(hidden // 16, 1)
    config = config_class(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=4 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    return model_class(config)
