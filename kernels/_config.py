"""The one decorator recipe every fastem kernel is compiled with.

``FASTMATH`` is stumpy's flag set: it lets LLVM reassociate and contract
floating-point expressions (so reductions vectorise) but keeps IEEE
semantics for NaN and infinities.  Numba's all-flags fastmath (``True``) would add ``nnan`` and
``ninf``, under which the log-sum-exp of a row holding ``-inf`` (a
zero-weight component) silently turns into NaN.

Compiled kernels are cached on disk (``cache=True``) in a folder keyed by a
digest of every file of this package (``_cache.py``), never in the install
directory: an edit to a helper or a constant here reaches every kernel that
uses it.
"""

from numba import njit

from . import _cache  # noqa: F401  -- before any kernel is decorated

FASTMATH = frozenset({"nsz", "arcp", "contract", "afn", "reassoc"})

#: Rows per block.  Blocks are the unit of work and of summation order; it is
#: a constant, so results never depend on the number of threads.
BLOCK = 256

#: Extra columns of a transposed block ``XT[feature, row]``: its rows are
#: then not a multiple of 4 KiB apart, so writing down one of its columns
#: (a row of the data) spreads over many L1 cache sets instead of a few.
XT_PAD = 8

#: At most this many per-partition accumulators are reduced per kernel call.
MAX_PARTS = 64

#: Budget, in float64 elements, for all partial sums of one kernel call.
PARTS_BUDGET = 2_000_000


#: Parallelise explicit ``prange`` loops only.  With plain ``parallel=True``
#: Numba also turns every ``np.zeros`` and array expression into a parfor of
#: its own, each compiled as a separate gufunc: twice the compile time for
#: loops too small to gain anything.
PARALLEL = {
    "prange": True,
    "comprehension": False,
    "setitem": False,
    "reduction": False,
    "numpy": False,
    "stencil": False,
    "fusion": False,
    "inplace_binop": False,
}


#: NumPy's error model: a float division by zero gives inf or NaN instead of
#: raising ZeroDivisionError.  The check Python's model adds before every
#: division is a branch to an exception, and a loop holding one does not
#: vectorise.
ERROR_MODEL = "numpy"


#: Options for helpers given as ``numba.extending.overload`` implementations
#: (compiled into their callers, hence cached with them).
JIT_OPTIONS = {"fastmath": set(FASTMATH), "nogil": True, "error_model": ERROR_MODEL}


def kernel(func):
    """Compile a top-level, multi-threaded kernel."""
    return _cache.use_precompiled(
        njit(parallel=dict(PARALLEL), cache=True, fastmath=set(FASTMATH), nogil=True,
             error_model=ERROR_MODEL)(func))


def helper(func):
    """Compile a serial helper that kernels call (in their file or from _blocks.py)."""
    return njit(parallel=False, cache=True, fastmath=set(FASTMATH), nogil=True,
                error_model=ERROR_MODEL)(func)
