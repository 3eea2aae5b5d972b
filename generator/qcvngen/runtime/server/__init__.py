"""Runtime of the generated ``qcvn120_server`` package (this ``__init__`` is not copied)."""
