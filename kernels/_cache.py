"""Where Numba keeps fastem's compiled kernels: never in the install directory.

Numba's default for ``cache=True`` is a ``__pycache__`` folder next to the
source file.  For an installed fastem that is ``site-packages``: it may be
read-only, and files written there are not in the wheel's RECORD, so an
uninstall leaves ``fastem/kernels/`` behind -- a folder that then shadows
an editable install as a namespace package.  fastem's kernels are cached in
a folder of their own instead:

* ``$FASTEM_CACHE_DIR`` if set, else ``$NUMBA_CACHE_DIR/fastem`` if Numba's
  cache folder is set, else the user's cache folder (``~/.cache/fastem`` on
  Linux); if that cannot be written, a folder in the system's temporary
  directory;
* inside it, ``kernels-<key>``: ``key`` is a digest of every source file of
  ``fastem.kernels`` and the Numba version.  Numba checks a cached kernel
  against its own source file only, not against the helpers it compiled in
  from other files; with the key, an edit to any kernel file, or an upgrade
  of fastem or Numba, starts a fresh folder, and no stale machine code runs.
  Every install of the same kernels shares one folder.

The locator is put first in Numba's list and answers only for functions
defined in this package's files; every other Numba function in the process
is cached where Numba would cache it.

Kernels compiled ahead of time (``_precompile.py``, run when a wheel is
built) lie in ``_compiled/<target>/`` of this package: ``native`` (the build
machine's own CPU: the very code the JIT would compile there) and any
portable CPU levels asked for (``x86-64-v3``, ``x86-64-v4``, ...), each
folder with a ``target.json`` naming the code generator it was compiled
with.  A top-level kernel's cache (``KernelCache``) looks there first -- an
exact match of this machine's code generator, then the best portable level
this CPU runs -- and only then in the user's cache; a miss compiles, as
ever.  Those files are read, never written; ``FASTEM_PRECOMPILED=0``
ignores them.
"""

import hashlib
import json
import os
import sys
import tempfile

import numba
from numba.core import caching
from numba.core.dispatcher import Dispatcher

_HERE = os.path.dirname(os.path.abspath(__file__))


def _sources_digest():
    digest = hashlib.sha256(numba.__version__.encode())
    for name in sorted(os.listdir(_HERE)):
        if name.endswith(".py"):
            digest.update(name.encode())
            with open(os.path.join(_HERE, name), "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


#: The kernels' sources and Numba version, digested once per process.
SOURCES_DIGEST = _sources_digest()


def _candidate_roots():
    explicit = os.environ.get("FASTEM_CACHE_DIR")
    if explicit:
        yield explicit
        return
    numba_dir = os.environ.get("NUMBA_CACHE_DIR")
    if numba_dir:
        yield os.path.join(numba_dir, "fastem")
    else:
        from numba.misc.appdirs import AppDirs

        yield AppDirs(appname="fastem", appauthor=False).user_cache_dir
    uid = os.getuid() if hasattr(os, "getuid") else os.getlogin()
    yield os.path.join(tempfile.gettempdir(), f"fastem-cache-{uid}")


def _writable(path):
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


_cache_dir = None


def cache_dir():
    """The folder this process's kernels are cached in (created on first use)."""
    global _cache_dir
    if _cache_dir is None:
        folder = f"kernels-{SOURCES_DIGEST[:16]}"
        for root in _candidate_roots():
            path = os.path.join(root, folder)
            if _writable(path):
                _cache_dir = path
                break
        else:
            raise OSError("fastem found no writable folder for its compiled kernels: "
                          "set FASTEM_CACHE_DIR")
    return _cache_dir


class KernelCacheLocator(caching._CacheLocator):
    """Numba cache locator for the functions of ``fastem.kernels``."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno

    def ensure_cache_path(self):
        cache_dir()

    def get_cache_path(self):
        return cache_dir()

    def get_source_stamp(self):
        # The whole package's digest (not the file's time stamp): the same
        # sources in another install find the same entries valid.
        return SOURCES_DIGEST

    def get_disambiguator(self):
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        if os.path.dirname(os.path.abspath(py_file)) != _HERE:
            return None
        return cls(py_func, py_file)


# --------------------------------------------------------------------------
# Kernels shipped compiled.

#: The host features each portable x86-64 level requires (LLVM's names).
_X86_64_V2 = ("cx16", "popcnt", "sahf", "sse3", "sse4.1", "sse4.2", "ssse3")
_X86_64_V3 = _X86_64_V2 + ("avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe",
                           "xsave")
_X86_64_V4 = _X86_64_V3 + ("avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl")

#: Portable CPU levels kernels may be shipped compiled for, best first, by
#: the architecture of LLVM's process triple: ``(cpu name, features needed)``.
PORTABLE_TARGETS = {
    "x86_64": (("x86-64-v4", _X86_64_V4), ("x86-64-v3", _X86_64_V3)),
    "aarch64": (("generic", ()),),
}

#: Folder of the kernels compiled ahead of time, inside this package.
PRECOMPILED_DIR = os.path.join(_HERE, "_compiled")


def process_triple():
    import llvmlite.binding as ll

    return ll.get_process_triple()


def portable_targets(triple=None):
    """The portable CPU levels of this (or ``triple``'s) architecture."""
    arch = (triple or process_triple()).split("-")[0]
    return PORTABLE_TARGETS.get(arch, ())


def host_runs(features):
    """Whether this machine (and its OS) supports every one of ``features``."""
    import llvmlite.binding as ll

    if not features:
        return True
    try:
        host = ll.get_host_cpu_features()
    except RuntimeError:  # LLVM cannot tell on this platform
        return False
    return all(host.get(f, False) for f in features)


def _python_tag():
    return f"py{sys.version_info[0]}{sys.version_info[1]}"


def _dependencies():
    """What compiled entries depend on besides their target."""
    return {"numba": numba.__version__, "python": _python_tag(), "sources": SOURCES_DIGEST}


def target_record(codegen):
    """What ``target.json`` of a folder compiled by ``codegen`` holds: its
    magic tuple (the target part of every cache entry's key) and what the
    entries depend on."""
    return {"magic": list(codegen.magic_tuple()), **_dependencies()}


def _read_record(folder):
    try:
        with open(os.path.join(folder, "target.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


_precompiled = None


def precompiled_targets(host_magic):
    """``[(folder, magic tuple)]`` of the shipped folders this process can
    load, best first: same sources, Numba and Python; compiled for exactly
    this machine's code generator (``host_magic``: the same code a JIT
    compilation here gives), then the portable levels this CPU runs, best
    first.  Found once per process."""
    global _precompiled
    if _precompiled is None:
        _precompiled = _find_precompiled(tuple(host_magic))
    return _precompiled


def _find_precompiled(host_magic):
    if os.environ.get("FASTEM_PRECOMPILED", "1") == "0":
        return []
    root = os.environ.get("FASTEM_PRECOMPILED_DIR", PRECOMPILED_DIR)
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    wanted = _dependencies()
    exact, portable = [], {}
    for name in names:
        folder = os.path.join(root, name)
        record = _read_record(folder)
        if record is None or any(record.get(k) != v for k, v in wanted.items()):
            continue
        magic = tuple(record.get("magic", ()))
        if magic == host_magic:
            exact.append((folder, magic))
        elif len(magic) == 3 and magic[0] == host_magic[0] and magic[2] == "":
            portable[magic[1]] = (folder, magic)
    runnable = [portable[cpu] for cpu, features in portable_targets(host_magic[0])
                if cpu in portable and host_runs(features)]
    return exact + runnable


class KernelCache(caching.FunctionCache):
    """A top-level kernel's cache: the shipped, ahead-of-time compiled
    entries first (see ``precompiled_targets``), then the user's cache."""

    def _load_overload(self, sig, target_context):
        if not self._enabled:
            return None
        codegen = target_context.codegen()
        sig_key, host_magic, code_key = self._index_key(sig, codegen)
        for folder, magic in precompiled_targets(host_magic):
            shipped = caching.IndexDataCacheFile(folder, self._impl.filename_base,
                                                 SOURCES_DIGEST)
            data = shipped.load((sig_key, magic, code_key))
            if data is not None:
                return self._impl.rebuild(target_context, data)
        return super()._load_overload(sig, target_context)


def use_precompiled(dispatcher):
    """Give a kernel's dispatcher the cache that also reads shipped kernels
    (nothing to do when the JIT is disabled: the kernel is plain Python)."""
    if isinstance(dispatcher, Dispatcher):
        dispatcher._cache = KernelCache(dispatcher.py_func)
    return dispatcher


def install():
    """Put the locator first in Numba's list (once)."""
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # renamed in Numba 0.61
    classes = impl._locator_classes
    if KernelCacheLocator not in classes:
        classes.insert(0, KernelCacheLocator)


install()
