"""`topoact serve` whose graph stores stop half-written (for the kill test in test_serve.py).

The real server, with one change: the fifth array of a graph store being saved waits
(after touching the marker file ``argv[2]``) instead of being written, so that the test
can kill the process while a store is half on disk.

Usage: python serve_held_save.py RESULTS MARKER PORT TOKEN
"""

import sys
import time
from pathlib import Path

from topoact import serve, store

RESULTS, MARKER, PORT, TOKEN = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
written = 0
real_rows_per_chunk = store.rows_per_chunk


def held(*args, **kwargs):
    """store.write_graph sizes each array's chunks with this, once per array."""
    global written
    written += 1
    if written == 5:
        MARKER.touch()
        time.sleep(600)
    return real_rows_per_chunk(*args, **kwargs)


store.rows_per_chunk = held
serve.serve(RESULTS, port=PORT, token=TOKEN)
