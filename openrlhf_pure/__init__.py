"""openrlhf-pure: PURE (min-form credit assignment for process reward models) on OpenRLHF.

Layers, one direction: ``core`` (plain Python + torch) <- ``models``/``data`` <- engines <- ``cli``.
"""

__version__ = "0.1.0"
