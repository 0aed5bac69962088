"""What each public entry point compiles, and kernels shipped compiled.

Every specialisation the API compiles must be one listed in
``fastem.kernels._precompile.SPECIALISATIONS`` -- the list a wheel build
compiles ahead of time -- and each entry point compiles only the kernels it
needs: a change that compiles more fails here instead of slowing every
user's first fit.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba.core import config

from fastem.kernels import _cache, _precompile

pytestmark = pytest.mark.skipif(config.DISABLE_JIT, reason="nothing compiles without the JIT")

_SCENARIO = textwrap.dedent("""
    import json, sys, warnings
    import numpy as np
    import fastem
    from fastem.kernels import _precompile
    X = np.random.default_rng(0).normal(size=(500, 3))
    X32 = X.astype(np.float32)
    w = np.random.default_rng(1).uniform(size=500)
    warnings.simplefilter("ignore")
    exec(sys.argv[1])
    out = {}
    for name, dispatcher in _precompile.kernel_dispatchers().items():
        if dispatcher.signatures:
            out[name] = sorted(str(sig[0].dtype) for sig in dispatcher.signatures)
        extra = [str(sig) for sig in dispatcher.signatures
                 if tuple(sig) not in _precompile.SPECIALISATIONS[name]]
        if extra:
            out[name + " (not listed)"] = extra
    print(json.dumps(out))
""")

F64, F32 = ["float64"], ["float32"]
KMEANS64 = {"candidate_sq_distances": F64, "lloyd_pass": F64}

ENTRY_POINTS = [
    ("fastem.GaussianMixture(3, random_state=0).fit(X)", dict(full_pass=F64, **KMEANS64)),
    ("m = fastem.GaussianMixture(3, random_state=0).fit(X); m.predict(X); m.score(X); "
     "m.predict_proba(X); m.score_samples(X); m.bic(X); m.sample(5)",
     dict(full_pass=F64, **KMEANS64)),
    ("fastem.GaussianMixture(2, init_params='k-means++', random_state=0).fit(X, sample_weight=w)",
     dict(full_pass=F64, candidate_sq_distances=F64)),
    ("fastem.GaussianMixture(2, covariance_type='diag', init_params='random').fit(X32)",
     dict(diag_pass=F32)),
    ("fastem.GaussianMixture(2, covariance_type='spherical', init_params='random').fit(X)",
     dict(diag_pass=F64)),
    # tied: the first moments through the diagonal kernel, the data's scatter
    # through the full one
    ("fastem.GaussianMixture(2, covariance_type='tied', init_params='random').fit(X)",
     dict(diag_pass=F64, full_pass=F64, tied_pass=F64)),
    ("fastem.GaussianMixture(2, init_params='random').fit(X32).score(X)",
     dict(full_pass=["float32", "float64"])),
    ("fastem.BayesianGaussianMixture(n_components=3, random_state=0).fit(X)",
     dict(full_pass=F64, **KMEANS64)),
    ("fastem.BayesianGaussianMixture(n_components=2, covariance_type='diag', "
     "init_params='random_from_data', random_state=0).fit(X32)",
     dict(diag_pass=F32)),
    ("m = fastem.BernoulliMixture(3, random_state=0).fit(X > 0); m.predict(X > 0)",
     dict(linear_pass=F64, **KMEANS64)),
    ("fastem.PoissonMixture(2, init_params='random').fit(np.abs(np.round(X32)))",
     dict(linear_pass=F32)),
    ("fastem.CategoricalMixture(2, init_params='random_from_data').fit(np.abs(np.round(X)))",
     dict(categorical_pass=F64)),
    # Student-t: the start through the Gaussian kernel of its covariance type
    ("fastem.StudentTMixture(2, init_params='random').fit(X)",
     dict(full_pass=F64, t_full_pass=F64)),
    ("fastem.StudentTMixture(2, covariance_type='diag', init_params='random').fit(X32)",
     dict(diag_pass=F32, t_diag_pass=F32)),
    # missing values: the complete rows through the fused kernel, the others
    # through the missing-value kernel of the covariance type
    ("Xm = X.copy(); Xm[::7, 1] = np.nan; m = fastem.GaussianMixture(2, init_params='random', "
     "missing='marginalize').fit(Xm); m.impute(Xm)",
     dict(full_pass=F64, full_missing_pass=F64, nan_counts=F64, nan_summary=F64)),
    ("Xm = X32.copy(); Xm[::7, 1] = np.nan; fastem.GaussianMixture(2, covariance_type='diag', "
     "init_params='random', missing='marginalize').fit(Xm)",
     dict(diag_pass=F32, diag_missing_pass=F32, nan_counts=F32, nan_summary=F32)),
    # ... a t component's through the same kernel (its t arguments filled in)
    # hidden Markov models: the emission's frames, the recursions, and the
    # emission family's statistics kernel under the posteriors
    ("m = fastem.GaussianHMM(2, 'full', n_iter=2, init_params='stc', random_state=0); "
     "m.means_ = X[:2]; m.fit(X, [200, 300]); m.predict(X); m.decode(X, algorithm='map')",
     dict(full_pass=F64, gaussian_full_frames=F64, forward_backward=F64, viterbi=F64)),
    ("m = fastem.GaussianHMM(2, 'spherical', n_iter=2, init_params='stc', random_state=0); "
     "m.means_ = X32[:2]; m.fit(X32); m.score(X)",
     dict(diag_pass=F32, gaussian_diag_frames=["float32", "float64"], forward_backward=F64)),
    ("m = fastem.CategoricalHMM(2, n_iter=2, random_state=0).fit(np.abs(np.round(X[:, :1]))"
     ".astype(int)); m.predict(np.array([[0], [1]]))",
     dict(categorical_pass=F64, categorical_frames=F64, forward_backward=F64, viterbi=F64)),
    ("fastem.PoissonHMM(2, n_iter=2, random_state=0).fit(np.abs(np.round(X32)).astype(int))",
     dict(linear_pass=F64, linear_frames=F64, forward_backward=F64)),
    ("fastem.GMMHMM(2, 2, n_iter=2, random_state=0).fit(X32)",
     dict(diag_pass=F32, scale_frames=F64, forward_backward=F64)),
    ("Xm = X.copy(); Xm[::7, 1] = np.nan; m = fastem.StudentTMixture(2, init_params='random', "
     "missing='marginalize').fit(Xm); m.impute(Xm, sample_posterior=True, random_state=0)",
     dict(full_pass=F64, t_full_pass=F64, full_missing_pass=F64, nan_counts=F64,
          nan_summary=F64)),
]


@pytest.mark.parametrize("code, expected", ENTRY_POINTS, ids=[c for c, _ in ENTRY_POINTS])
def test_each_entry_point_compiles_only_what_it_needs(code, expected):
    out = subprocess.run([sys.executable, "-c", _SCENARIO, code], check=True,
                         capture_output=True, text=True)
    assert json.loads(out.stdout.splitlines()[-1]) == expected


def test_every_kernel_is_listed_with_two_specialisations():
    from fastem import kernels

    names = {name for name in kernels.__all__ if callable(getattr(kernels, name))}
    assert names == set(_precompile.SPECIALISATIONS)
    recursions = {"forward_backward", "forward_backward_log", "viterbi", "scale_frames"}
    for name, sigs in _precompile.SPECIALISATIONS.items():
        # the HMM recursions read float64 frames, whatever the data's dtype
        expected = ["float64"] if name in recursions else ["float32", "float64"]
        assert [str(sig[0].dtype) for sig in sigs] == expected, name
    shards = [name for shard in _precompile.SHARDS for name in shard]
    assert sorted(shards) == sorted(_precompile.SPECIALISATIONS)


# --------------------------------------------------------------------------
# Kernels compiled ahead of time.

_BUILD = "from fastem.kernels import _precompile; _precompile.main(sys.argv[1], ['{kernel}'])"

#: Both dtypes' ``assigned_sq_distances`` on fixed data: run in this process
#: and in fresh ones.
_DISTANCES = textwrap.dedent("""
    def distances(kernels):
        out = {}
        for dtype in ("float32", "float64"):
            X = np.random.default_rng(0).normal(size=(700, 5)).astype(dtype)
            labels = (np.arange(700) % 3).astype(np.int32)
            res = np.empty(700, dtype)
            kernels.assigned_sq_distances(X, 0, X[0].copy(), X[:3].copy(), labels, res)
            out[dtype] = res.astype(float).tolist()
        return out
""")

_LOAD = textwrap.dedent("""
    import json, sys
    import numpy as np
    from numba.core import event
    compiled = []
    class Listener(event.Listener):
        def on_start(self, ev):
            compiled.append(ev.data["dispatcher"].py_func.__name__)
        def on_end(self, ev):
            pass
    event.register("numba:compile", Listener())
    from fastem import kernels
""") + _DISTANCES + textwrap.dedent("""
    print(json.dumps({"compiled": compiled, "out": distances(kernels)}))
""")

KERNEL = "assigned_sq_distances"


def _run(code, env, *args):
    full_env = dict(os.environ, **env)
    out = subprocess.run([sys.executable, "-c", "import sys\n" + code, *args], env=full_env,
                         check=True, capture_output=True, text=True)
    return out.stdout.splitlines()[-1]


def _expected():
    from fastem import kernels

    namespace = {"np": np}
    exec(_DISTANCES, namespace)
    return namespace["distances"](kernels)


def _build(tmp_path, target, env=()):
    folder = tmp_path / "compiled" / target
    _run(_BUILD.format(kernel=KERNEL),
         dict(env, FASTEM_CACHE_DIR=str(tmp_path / f"scratch-{target}"), FASTEM_PRECOMPILED="0"),
         str(folder))
    return folder


def _load(tmp_path, **env):
    env = {"FASTEM_PRECOMPILED_DIR": str(tmp_path / "compiled"),
           "FASTEM_CACHE_DIR": str(tmp_path / "user-cache"), **env}
    return json.loads(_run(_LOAD, env))


def test_shipped_kernels_load_without_compiling_and_match(tmp_path):
    folder = _build(tmp_path, "native")
    entries = sorted(os.listdir(folder))
    assert "target.json" in entries
    assert all(e == "target.json" or f".{KERNEL}-" in e for e in entries), entries
    got = _load(tmp_path)
    assert got["compiled"] == []  # nothing compiled: both dtypes loaded
    for dtype, values in _expected().items():
        np.testing.assert_array_equal(values, got["out"][dtype])
    # Shipped entries are read, never copied into the user's cache.
    user = tmp_path / "user-cache"
    assert not [p for p in user.rglob("*") if p.name.startswith("kmeans.")]
    # Ignored when asked, or when the sources they were compiled from differ.
    assert _load(tmp_path, FASTEM_PRECOMPILED="0")["compiled"] != []
    record = json.loads((folder / "target.json").read_text())
    record["sources"] = "0" * 64
    (folder / "target.json").write_text(json.dumps(record))
    got = _load(tmp_path, FASTEM_CACHE_DIR=str(tmp_path / "another-cache"))
    assert KERNEL in got["compiled"]
    for dtype, values in _expected().items():
        np.testing.assert_array_equal(values, got["out"][dtype])


@pytest.mark.skipif(not _cache.portable_targets(), reason="no portable level for this CPU")
def test_a_portable_level_loads_on_a_cpu_that_runs_it(tmp_path):
    runnable = [cpu for cpu, features in _cache.portable_targets() if _cache.host_runs(features)]
    if not runnable:
        pytest.skip("this CPU runs none of the portable levels")
    cpu = runnable[-1]  # the most widely runnable
    _build(tmp_path, cpu, dict(NUMBA_CPU_NAME=cpu, NUMBA_CPU_FEATURES=""))
    record = json.loads((tmp_path / "compiled" / cpu / "target.json").read_text())
    assert record["magic"][1:] == [cpu, ""]
    got = _load(tmp_path)
    assert got["compiled"] == []
    for dtype, values in _expected().items():
        tol = 1e-12 if dtype == "float64" else 1e-5
        np.testing.assert_allclose(values, got["out"][dtype], rtol=tol)


def test_precompiled_folders_are_chosen_best_first(tmp_path, monkeypatch):
    host = ("x86_64-unknown-linux-gnu", "znver4", "+avx2,+avx512f")
    base = {"numba": _cache.numba.__version__, "python": _cache._python_tag(),
            "sources": _cache.SOURCES_DIGEST}
    records = {
        "native": dict(base, magic=list(host)),
        "other-cpu": dict(base, magic=[host[0], "skylake", "+avx2"]),
        "x86-64-v3": dict(base, magic=[host[0], "x86-64-v3", ""]),
        "x86-64-v4": dict(base, magic=[host[0], "x86-64-v4", ""]),
        "old-numba": dict(base, numba="0.1", magic=list(host)),
    }
    for name, record in records.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "target.json").write_text(json.dumps(record))
    monkeypatch.setenv("FASTEM_PRECOMPILED_DIR", str(tmp_path))
    found = [os.path.basename(f) for f, _ in _cache._find_precompiled(host)]
    assert found == ["native", "x86-64-v4", "x86-64-v3"]
    monkeypatch.setattr(_cache, "host_runs", lambda features: "avx512f" not in features)
    found = [os.path.basename(f) for f, _ in _cache._find_precompiled(host)]
    assert found == ["native", "x86-64-v3"]
    monkeypatch.setenv("FASTEM_PRECOMPILED", "0")
    assert _cache._find_precompiled(host) == []
