"""Runtime of the generated ``qcvn120_client`` package (this ``__init__`` is not copied)."""
