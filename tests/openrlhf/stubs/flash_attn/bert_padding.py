"""Stand-in for ``flash_attn.bert_padding`` (names OpenRLHF imports; calling them is an error)."""


def _unavailable(*args, **kwargs):
    raise NotImplementedError("flash-attn is not available in the CPU test environment")


index_first_axis = pad_input = rearrange = unpad_input = _unavailable
