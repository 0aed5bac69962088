"""Keep BLAS thread pools out of the kernels' way.

Between two kernel passes, the M-step makes a few tiny LAPACK/BLAS calls
(Cholesky factors, triangular solves, eigenvalues of d x d matrices).  A
multi-threaded OpenBLAS wakes its pool for them, and its threads then
spin-wait on the very cores the Numba kernel is about to use: measured here
on 2 cores, a 1,000-row fit took 184 ms with the pool and 5 ms without.
The small algebra gains nothing from BLAS threads, so fastem runs it in one.
"""

import threading

from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_controller = None


def single_threaded_blas():
    """A context manager limiting every loaded BLAS to one thread."""
    global _controller
    with _lock:
        if _controller is None:
            # Created on first use, once NumPy's and SciPy's BLAS are loaded.
            _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")
