"""What every workflow script shares: its log."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


@contextmanager
def job_log(path: str | os.PathLike) -> Iterator[TextIO]:
    """Open a job's log and send stderr (progress bars, warnings) to it.

    An exception that ends the job is written to the log, traceback and message, before
    the log closes (so the log Snakemake points at says why), then raised again.
    """
    previous = sys.stderr
    with open(path, "w") as log:
        sys.stderr = log
        try:
            yield log
        except BaseException as error:
            traceback.print_exc(file=log)
            log.flush()
            sys.stderr = previous
            print(f"{type(error).__name__}: {error}", file=previous)
            raise
        finally:
            sys.stderr = previous
