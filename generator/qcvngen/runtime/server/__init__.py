"""Runtime of the generated ``qcvn120_server`` package (this ``__init__`` is not copied).

The shared modules are re-exported here so that, where the runtime stands, ``from . import
capture`` finds the same module the generated package holds as a sibling file.
"""

from ..shared import capture as capture
from ..shared import wording as wording
