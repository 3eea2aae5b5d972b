"""Runtime modules shared by both generated packages (this ``__init__`` is not copied).

Each module here is copied into ``qcvn120_client`` and into ``qcvn120_server`` as a sibling of
that package's own modules, so both import it the same way (``from . import capture``).
"""
