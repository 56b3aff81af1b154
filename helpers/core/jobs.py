"""Runs of a recording trained side by side: one process and one torch thread each (python -m helpers.record
--jobs, notebook 14's recordings)."""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed

from .checks import check_int


def run_jobs(fn, calls, jobs=1):
    """Yield fn(*args) for each args in `calls`: in order when `jobs` is 1, else from `jobs` fresh processes as they
    finish (each imports helpers, so runs on one thread); a run that raises stops the rest (notebook 14)."""
    jobs = check_int("jobs", jobs, 1, 64)
    if jobs == 1:
        yield from (fn(*args) for args in calls)
        return
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(fn, *args) for args in calls]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()
