"""Build hook: ship fastem's kernels compiled ahead of time in the wheel.

Everything else about the package is in ``pyproject.toml``.  When a wheel is
built (``pip install .``, ``python -m build``), every kernel specialisation the
API calls is compiled (in fresh interpreters, two at a time) into
``fastem/kernels/_compiled/<target>/``; an installed
fastem then loads them instead of compiling on first use, with the JIT as the
fallback.  Targets (``FASTEM_PRECOMPILE``): ``native`` by default -- this
machine's CPU, the very code the JIT compiles here -- or ``portable`` for a
wheel to distribute (native plus x86-64-v3 and x86-64-v4 on x86-64: loaded
on any CPU that runs the level), or ``none``.  The wheel is then tagged for
this Python and platform.  Editable installs never compile ahead (their
kernels use the user's cache).
"""

import os
import shutil
import subprocess
import sys
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

def _kernels_code(package, code):
    """Python source running ``code`` with ``fastem.kernels`` importable from
    ``package`` alone (not the API, whose dependencies the build lacks)."""
    return ("import sys, types\n"
            "package = types.ModuleType('fastem')\n"
            f"package.__path__ = [{package!r}]\n"
            "sys.modules['fastem'] = package\n" + code)


def _kernel_tables(package):
    """``(portable levels of this architecture, kernel shards)`` from the
    kernels' own tables, asked in one fresh interpreter."""
    code = _kernels_code(package, "from fastem.kernels import _cache, _precompile\n"
                         "print(' '.join(name for name, _ in _cache.portable_targets()))\n"
                         "print(' '.join(','.join(s) for s in _precompile.SHARDS))\n")
    lines = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                           text=True).stdout.splitlines()
    return lines[-2].split(), lines[-1].split()


def _targets(levels):
    """The code generators to compile for: ``FASTEM_PRECOMPILE`` is "native"
    (the default: this machine's CPU), "portable" (native and every portable
    level of this architecture, ``levels``), a comma-separated list of those
    names and levels, or "none"."""
    asked = os.environ.get("FASTEM_PRECOMPILE", "native").strip()
    if asked == "none":
        return []
    targets = []
    for name in asked.split(","):
        name = name.strip()
        targets += ["native"] + levels if name == "portable" else [name]
    return list(dict.fromkeys(targets))


class BuildPyCompilingKernels(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        try:
            import numba  # noqa: F401 -- a build requirement (pyproject.toml)
        except ImportError:
            print("fastem: numba is not importable at build time; kernels will be "
                  "compiled on first use", file=sys.stderr)
            return
        package = os.path.abspath(os.path.join(self.build_lib, "fastem"))
        code = _kernels_code(package, "from fastem.kernels import _precompile\n"
                             "_precompile.main(sys.argv[1], sys.argv[2].split(','))\n")
        levels, shards = _kernel_tables(package)
        jobs, scratches = [], []
        for target in _targets(levels):
            env = dict(os.environ, FASTEM_PRECOMPILED="0")
            env.pop("NUMBA_DISABLE_JIT", None)
            if target != "native":
                env.update(NUMBA_CPU_NAME=target, NUMBA_CPU_FEATURES="")
            folder = os.path.join(package, "kernels", "_compiled", target)
            for shard in shards:
                scratch = tempfile.mkdtemp(prefix="fastem-kernels-")  # an empty cache
                scratches.append(scratch)
                jobs.append(([sys.executable, "-c", code, folder, shard],
                             dict(env, FASTEM_CACHE_DIR=scratch)))
        print(f"fastem: compiling the kernels ({len(jobs)} jobs; FASTEM_PRECOMPILE=none "
              f"skips this)", flush=True)
        running, failed = [], []
        width = max(1, os.cpu_count() or 1)
        while jobs or running:
            while jobs and len(running) < width:
                argv, env = jobs.pop(0)
                running.append(subprocess.Popen(argv, env=env))
            running[0].wait()
            done = running.pop(0)
            if done.returncode != 0:
                failed.append(done.args[-2:])
        for scratch in scratches:
            shutil.rmtree(scratch, ignore_errors=True)
        if failed:
            raise RuntimeError(f"compiling fastem's kernels failed: {failed}")


class PlatformWheel(bdist_wheel):
    """With compiled kernels inside, the wheel is for this Python and platform."""

    def finalize_options(self):
        super().finalize_options()
        if os.environ.get("FASTEM_PRECOMPILE", "native").strip() != "none":
            self.root_is_pure = False


setup(cmdclass={"build_py": BuildPyCompilingKernels, "bdist_wheel": PlatformWheel})
