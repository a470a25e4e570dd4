"""What the libraries print when a CLI runs: only what helps the user.

:func:`quiet_libraries` is called by each CLI once its checks passed, before models load:

- on a machine where torch sees no GPU, ``DS_ACCELERATOR=cpu`` (unless set): DeepSpeed, which
  transformers imports on the first ``save_pretrained``, then does not warn that it fell back to
  its CPU accelerator (it does exactly that anyway);
- with ``progress=False`` (the CLI's ``--quiet`` / ``--no_progress`` flag) the weight-loading and
  shard-writing bars of transformers and the download bars of huggingface_hub are off.

Transformers' load report for a PRM head that is new by design is dropped where the PRM is
loaded (``models/prm.py`` says it in one plain line instead).
"""

from __future__ import annotations

import os


def quiet_libraries(progress: bool = True) -> None:
    """Silence the library output that says nothing to the user (module docstring)."""
    import torch

    if "DS_ACCELERATOR" not in os.environ and not torch.cuda.is_available():
        os.environ["DS_ACCELERATOR"] = "cpu"
    if not progress:
        from huggingface_hub.utils import disable_progress_bars
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        disable_progress_bars()
