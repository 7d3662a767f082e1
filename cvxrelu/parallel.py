"""Run independent tasks on every core or on a Dask cluster, with results that do not depend on
how many workers ran them.

The caller cuts its work into a list of tasks whose partition depends only on the problem
(never on the number of workers), and reduces the results in task order; this module only
executes them and hands the results back in that order. So a result computed with
``jobs=1``, ``jobs=N`` or a Dask ``scheduler`` is bit-identical (docs/scale.md).

BLAS runs on one thread inside every task (a multithreaded BLAS may sum in a different order
from run to run): through ``threadpoolctl`` when it is installed, and through the
``*_NUM_THREADS`` variables that worker processes are started with.

Executors:

* ``jobs == 1`` (or a single task): in this process, in order;
* ``jobs > 1``: a ``concurrent.futures.ProcessPoolExecutor`` (``forkserver`` start method where
  available, else ``spawn``: never ``fork``, which can deadlock when the caller runs threads);
* ``scheduler`` (an address such as ``tcp://host:8786``): ``dask.distributed`` (the optional
  extra ``dask``), one Dask task per task, gathered in order.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Sequence

from .errors import InputError

#: Environment variables that limit BLAS / OpenMP threads, set to 1 in worker processes.
BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
#: How long to wait for a Dask scheduler before calling its address bad usage (seconds).
CONNECT_TIMEOUT = 20.0


def default_jobs() -> int:
    """All the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def resolve_jobs(jobs: int | None) -> int:
    """``jobs`` as a positive worker count (None or 0: all cores)."""
    if jobs is None or jobs == 0:
        return default_jobs()
    if jobs < 0:
        raise InputError(f"--jobs must be a positive number of workers (0: all cores), got {jobs}")
    return int(jobs)


@contextlib.contextmanager
def single_blas_thread():
    """BLAS limited to one thread for the duration (no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the worker's environment variables still apply
        yield
        return
    with threadpool_limits(limits=1):
        yield


def _init_worker() -> None:
    for var in BLAS_VARS:
        os.environ[var] = "1"


def _call(fn: Callable, task):
    with single_blas_thread():
        return fn(task)


def run_tasks(fn: Callable, tasks: Sequence, *, jobs: int | None = 1, scheduler: str | None = None,
              progress: Callable[[int], None] | None = None,
              until: Callable[[object], bool] | None = None) -> list:
    """``[fn(t) for t in tasks]``, computed by ``jobs`` processes or a Dask cluster.

    Parameters
    ----------
    fn : callable
        A module-level function (picklable by reference) of one task.
    tasks : sequence
        Picklable task descriptions.
    jobs : int or None
        Worker processes on this machine (None or 0: all cores). Ignored with ``scheduler``.
    scheduler : str, optional
        Address of a ``dask.distributed`` scheduler.
    progress : callable, optional
        Called with 1 after each finished task.
    until : callable, optional
        ``until(result)`` true ends the run after that result: the tasks after it are not
        started (or cancelled, or their results ignored), so the list returned is the same
        prefix whatever ``jobs`` or ``scheduler``.

    Returns
    -------
    list
        The results, in the order of ``tasks`` whatever order they finished in.
    """
    tasks = list(tasks)
    tick = progress or (lambda k: None)
    done = until or (lambda res: False)
    if scheduler is not None:
        return _run_dask(fn, tasks, scheduler, tick, done)
    jobs = resolve_jobs(jobs)
    if jobs == 1 or len(tasks) <= 1:
        out = []
        # one BLAS limit around the loop: entering threadpoolctl's limit scans the loaded
        # libraries (about 1.3 ms), which per task was half of a small verify (d = 2, n = 50)
        with single_blas_thread():
            for t in tasks:
                out.append(fn(t))
                tick(1)
                if done(out[-1]):
                    break
        return out
    from concurrent.futures import ProcessPoolExecutor

    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    saved = {v: os.environ.get(v) for v in BLAS_VARS}
    for v in BLAS_VARS:  # inherited by the server / workers before they load numpy
        os.environ[v] = "1"
    try:
        with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=ctx,
                                 initializer=_init_worker) as pool:
            futures = [pool.submit(_call, fn, t) for t in tasks]
            out = []
            for f in futures:  # in task order: the reduction does not depend on timing
                out.append(f.result())
                tick(1)
                if done(out[-1]):
                    pool.shutdown(wait=True, cancel_futures=True)
                    break
            return out
    finally:
        for v, val in saved.items():
            if val is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = val


def _run_dask(fn: Callable, tasks: list, scheduler: str, tick, done) -> list:
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--scheduler needs dask.distributed: pip install 'cvxrelu[dask]'") from None
    try:
        client = Client(scheduler, timeout=f"{CONNECT_TIMEOUT}s", set_as_default=False)
    except OSError as exc:
        raise InputError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    try:
        futures = client.map(_call, [fn] * len(tasks), tasks, pure=False)
        out = []
        for i, f in enumerate(futures):
            out.append(f.result())
            tick(1)
            if done(out[-1]):
                client.cancel(futures[i + 1:])
                break
        return out
    finally:
        client.close()
