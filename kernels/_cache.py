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
"""

import hashlib
import os
import tempfile

import numba
from numba.core import caching

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


def install():
    """Put the locator first in Numba's list (once)."""
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # renamed in Numba 0.61
    classes = impl._locator_classes
    if KernelCacheLocator not in classes:
        classes.insert(0, KernelCacheLocator)


install()
