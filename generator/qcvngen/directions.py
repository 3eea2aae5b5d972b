"""Which way a packet or a captured exchange travels, in words: the one table every artefact reads.

A packet's direction (``push``/``pull``, the IR's code) is said by the Markdown docs and the site;
a capture's (``request``/``answer``) by ``learn``'s report and the notes ``learn --write`` leaves.
"""

from __future__ import annotations

from typing import Final

from .ir import Direction, Text

# Who sends the records: a push goes up to the national portal, a pull comes down from it.
PACKET: Final[dict[Direction, Text]] = {
    "push": Text("địa phương → Cổng DVCQG (gửi)", "local → national portal (push)"),
    "pull": Text("Cổng DVCQG → địa phương (lấy)", "national portal → local (pull)"),
}
# The same, where a table column has little room (the index of packets).
PACKET_SHORT: Final[dict[Direction, Text]] = {
    "push": Text("địa phương → Cổng (gửi)", "local → portal (push)"),
    "pull": Text("Cổng → địa phương (lấy)", "portal → local (pull)"),
}
# The records a capture describes: an answer's results, or the data of a request the receiver accepted.
CAPTURE: Final[dict[str, Text]] = {
    "answer": Text("câu trả lời", "answers"),
    "request": Text("yêu cầu được chấp nhận", "accepted requests"),
}
