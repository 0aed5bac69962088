"""The command line: fastem fit / predict / score, progress, plots, errors."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

import fastem
from conftest import make_blobs
from fastem.tools import cli

X = make_blobs(n_samples=3000, n_features=3, n_components=3, seed=14)


def run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, X)
    return path


def test_fit_with_progress_model_and_plots(tmp_path, data, capsys):
    pytest.importorskip("matplotlib")
    model_path, bound_png, mix_png = (tmp_path / n for n in ("m.npz", "b.png", "mix.png"))
    code, out, err = run(["fit", str(data), "-k", "3", "--covariance-type", "diag",
                          "--out", str(model_path), "--plot", str(bound_png),
                          "--plot-mixture", str(mix_png)], capsys)
    assert code == 0
    assert "converged after" in out and f"model written to {model_path}" in out
    lines = [line for line in err.splitlines() if line.startswith("iteration")]
    assert lines and all("bound" in line and "rows/s" in line and "ETA" in line
                         for line in lines)
    assert bound_png.stat().st_size > 1000 and mix_png.stat().st_size > 1000
    assert bound_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = fastem.load(model_path)
    direct = fastem.GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(saved, name), getattr(direct, name))
    assert saved.lower_bounds_ == direct.lower_bounds_
    assert len(lines) == direct.n_iter_


def test_predict_and_score(tmp_path, data, capsys):
    model_path = tmp_path / "m.npz"
    assert run(["fit", str(data), "-k", "3", "-q", "--out", str(model_path)], capsys)[0] == 0
    model = fastem.load(model_path)
    labels_path = tmp_path / "labels.npy"
    code, out, _ = run(["predict", str(model_path), str(data), "--out", str(labels_path)],
                       capsys)
    assert code == 0 and "labels of 3,000 rows" in out
    np.testing.assert_array_equal(np.load(labels_path), model.predict(X))
    code, out, _ = run(["predict", str(model_path), str(data), "--proba"], capsys)
    np.testing.assert_allclose(np.loadtxt(out.splitlines()), model.predict_proba(X),
                               atol=1e-6)
    code, out, _ = run(["score", str(model_path), str(data)], capsys)
    values = dict(line.rsplit(" ", 1) for line in out.splitlines())
    assert int(values["rows"]) == 3000
    np.testing.assert_allclose(float(values["mean log-likelihood"]), model.score(X), rtol=1e-9)
    np.testing.assert_allclose(float(values["bic"]), model.bic(X), rtol=1e-9)
    np.testing.assert_allclose(float(values["aic"]), model.aic(X), rtol=1e-9)


def test_text_hdf5_and_zarr_files(tmp_path, capsys):
    csv = tmp_path / "x.csv"
    np.savetxt(csv, X, delimiter=",", header="a,b,c", comments="")
    np.testing.assert_array_equal(cli.read_data(str(csv)), np.loadtxt(csv, delimiter=",",
                                                                      skiprows=1))
    txt = tmp_path / "x.txt"
    np.savetxt(txt, X)
    np.testing.assert_array_equal(cli.read_data(str(txt)), X)
    h5py = pytest.importorskip("h5py")
    h5 = tmp_path / "x.h5"
    with h5py.File(h5, "w") as f:
        f["group/rows"] = X
    np.testing.assert_array_equal(cli.read_data(str(h5))[:], X)
    np.testing.assert_array_equal(cli.read_data(f"{h5}:group/rows")[:], X)
    code, out, _ = run(["fit", str(h5), "-k", "3", "-q"], capsys)
    assert code == 0 and "converged" in out
    zarr = pytest.importorskip("zarr")
    z = tmp_path / "x.zarr"
    zarr.save_array(str(z), X)
    np.testing.assert_array_equal(cli.read_data(str(z))[:], X)


def test_sample_weight_file(tmp_path, data, capsys):
    w = np.random.default_rng(0).integers(0, 3, X.shape[0]).astype(float)
    np.save(tmp_path / "w.npy", w)
    code, _, _ = run(["fit", str(data), "-k", "3", "-q", "--sample-weight",
                      str(tmp_path / "w.npy"), "--out", str(tmp_path / "m.npz")], capsys)
    assert code == 0
    direct = fastem.GaussianMixture(3, random_state=0).fit(X, sample_weight=w)
    np.testing.assert_array_equal(fastem.load(tmp_path / "m.npz").means_, direct.means_)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "{tmp}/missing.npy", "-k", "3"], "no such file: "),
        (["fit", "{tmp}/x.dat", "-k", "3"], "unknown file type"),
        (["fit", "{tmp}/nan.npy", "-k", "3"], "Input X contains NaN."),
        (["fit", "{tmp}/x.npy", "-k", "0"], "The 'n_components' parameter"),
        (["predict", "{tmp}/x.npy", "{tmp}/x.npy"], "not a readable fastem model file"),
        (["predict", "{tmp}/none.npz", "{tmp}/x.npy"], "No such file or directory"),
        (["fit", "{tmp}/x.npy", "-k", "3", "--sample-weight", "{tmp}/neg.npy"],
         "Negative values in data passed to sample_weight"),
    ],
)
def test_errors_are_one_line_and_exit_1(tmp_path, capsys, argv, message):
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "x.dat").write_text("1 2 3")
    bad = X.copy()
    bad[5, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    np.save(tmp_path / "neg.npy", -np.ones(X.shape[0]))
    code, out, err = run([a.format(tmp=tmp_path) for a in argv], capsys)
    assert code == 1
    error_lines = [line for line in err.splitlines() if line.startswith("fastem: error:")]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert "Traceback" not in err


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["fit"])
    assert info.value.code == 2


def test_ctrl_c_exits_130(data, capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "fit_command", interrupted)
    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    for action in parser._subparsers._group_actions[0].choices.values():
        if action.get_default("func") is not None and action.prog.endswith("fit"):
            action.set_defaults(func=interrupted)
    code, _, err = run(["fit", str(data), "-k", "3"], capsys)
    assert code == 130 and "interrupted" in err


def test_the_console_script_runs(tmp_path, data):
    result = subprocess.run([sys.executable, "-m", "fastem.tools.cli", "score", str(data), str(data)],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr.startswith("fastem: error:") and "Traceback" not in result.stderr


def test_fit_select_and_score_the_bayesian_model(tmp_path, data, capsys):
    model_path = tmp_path / "b.npz"
    code, out, err = run(["fit", str(data), "-k", "5", "--model", "bayesian",
                          "--weight-concentration-prior-type", "dirichlet_distribution",
                          "--out", str(model_path)], capsys)
    assert code == 0 and "Bayesian full components" in err
    saved = fastem.load(model_path)
    direct = fastem.BayesianGaussianMixture(
        n_components=5, weight_concentration_prior_type="dirichlet_distribution",
        random_state=0).fit(X)
    assert type(saved) is fastem.BayesianGaussianMixture
    assert saved.lower_bounds_ == direct.lower_bounds_
    lines = [line for line in err.splitlines() if line.startswith("iteration")]
    assert len(lines) == direct.n_iter_
    assert f"{direct.lower_bounds_[-1]: .8f}" in lines[-1]  # the variational bound
    code, out, _ = run(["score", str(model_path), str(data)], capsys)
    assert code == 0 and "mean log-likelihood" in out and "bic" not in out
    code, out, _ = run(["select", str(data), "-k", "1", "2", "3", "--covariance-types", "full",
                        "--model", "bayesian"], capsys)
    best, _ = fastem.select(X, n_components=[1, 2, 3], covariance_types=["full"],
                            model="BayesianGaussianMixture")
    assert code == 0 and "lower bound" in out
    assert f"best by lower_bound: {best.n_components} full components" in out


def test_select_command(tmp_path, data, capsys):
    code, out, _ = run(["select", str(data), "-k", "2", "3", "4", "--covariance-types", "full",
                        "diag", "--out", str(tmp_path / "best.npz")], capsys)
    assert code == 0
    best, table = fastem.select(X, n_components=[2, 3, 4], covariance_types=["full", "diag"],
                                as_frame=False)
    assert f"best by bic: {best.n_components} {best.covariance_type} components" in out
    assert len([line for line in out.splitlines() if line.split()[:1] in (["2"], ["3"],
                                                                           ["4"])]) == 6
    np.testing.assert_array_equal(fastem.load(tmp_path / "best.npz").means_, best.means_)


@pytest.mark.parametrize("family", ["bernoulli", "poisson", "categorical", "student-t"])
def test_fit_select_score_and_demo_the_other_families(tmp_path, capsys, family):
    from fastem.tools.reference import ESTIMATORS, family_data

    import fastem

    path = tmp_path / "x.npy"
    np.save(path, family_data(family, 3000, 6 if family == "categorical" else 3, 2, seed=0))
    out_file = tmp_path / "m.npz"
    code, out, err = run(["fit", str(path), "-k", "2", "--model", family, "--out",
                          str(out_file)], capsys)
    assert code == 0, err
    assert "converged" in out and "iteration" in err
    model = fastem.load(out_file)
    assert type(model).__name__ == ESTIMATORS[family]
    code, out, err = run(["score", str(out_file), str(path)], capsys)
    assert code == 0 and "bic" in out
    code, out, err = run(["select", str(path), "-k", "1", "2", "--model", family,
                          "--covariance-types", "full", "diag"], capsys)
    assert code == 0, err
    assert "best by bic: 2" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == (
        4 if family == "student-t" else 2)
    code, out, err = run(["demo", "--model", family, "--n-samples", "2000", "--n-features",
                          "3", "--n-components", "2", "--iterations", "3", "--repeats", "1"],
                         capsys)
    assert code == 0, err
    assert "speed-up" in out and "numpy EM" in out


def test_family_options_reach_the_model(tmp_path, capsys):
    from fastem.tools.reference import family_data

    import fastem

    path = tmp_path / "x.npy"
    np.save(path, family_data("student-t", 2000, 2, 2, seed=1))
    out_file = tmp_path / "t.npz"
    code, _, err = run(["fit", str(path), "-k", "2", "--model", "student-t",
                        "--degrees-of-freedom", "5", "--fixed-degrees-of-freedom", "-q",
                        "--out", str(out_file)], capsys)
    assert code == 0, err
    np.testing.assert_array_equal(fastem.load(out_file).degrees_of_freedom_, [5.0, 5.0])
    np.save(path, family_data("poisson", 2000, 2, 2, seed=1))
    code, _, err = run(["fit", str(path), "-k", "2", "--model", "poisson", "--alpha", "3",
                        "-q", "--out", str(out_file)], capsys)
    assert code == 0, err
    assert fastem.load(out_file).alpha == 3.0
    code, _, err = run(["fit", str(path), "-k", "2", "--model", "bernoulli"], capsys)
    assert code == 1 and "must be 0 or 1" in err


@pytest.mark.parametrize("method", ["incremental", "online"])
def test_fit_incremental_and_online_show_blocks_and_passes(tmp_path, data, capsys, method):
    model_path = tmp_path / "m.npz"
    code, out, err = run(["fit", str(data), "-k", "3", "--learning-method", method,
                          "--batch-size", "500", "--max-iter", "4", "--out", str(model_path)],
                         capsys)
    assert code == 0
    passes = [line for line in err.splitlines() if line.startswith("pass")]
    blocks = [line for line in err.splitlines() if line.strip().startswith(("block", "batch"))]
    direct = fastem.GaussianMixture(3, random_state=0, learning_method=method, batch_size=500,
                                    max_iter=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 4 passes: not converged
        direct.fit(X)
    assert len(passes) == direct.n_iter_
    assert all("bound" in line for line in passes)
    if method == "incremental":  # F after every step once every block has statistics
        assert len(blocks) == len(direct.m_step_bounds_)
        assert blocks[-1].startswith("  block 6/6  rows 2500-3000  bound")
    else:
        assert len(blocks) == direct.n_iter_ * 6 and "log-likelihood" in blocks[0]
    saved = fastem.load(model_path)
    np.testing.assert_array_equal(saved.means_, direct.means_)
    assert saved.learning_method == method


def test_fit_missing_values_and_impute(tmp_path, capsys):
    Xm = X.copy()
    Xm[np.random.default_rng(3).random(Xm.shape) < 0.2] = np.nan
    csv = tmp_path / "holes.csv"
    np.savetxt(csv, Xm, delimiter=",")  # NaN written as "nan"
    model_path = tmp_path / "m.npz"
    code, out, err = run(["fit", str(csv), "-k", "3", "--missing", "marginalize", "-q",
                          "--out", str(model_path)], capsys)
    assert code == 0, err
    model = fastem.load(model_path)
    direct = fastem.GaussianMixture(3, missing="marginalize", random_state=0).fit(Xm)
    np.testing.assert_allclose(model.means_, direct.means_, rtol=1e-12)
    code, out, _ = run(["score", str(model_path), str(csv)], capsys)
    assert code == 0 and "mean log-likelihood" in out
    filled = tmp_path / "filled.npy"
    code, out, _ = run(["impute", str(model_path), str(csv), "--out", str(filled)], capsys)
    assert code == 0 and f"{int(np.isnan(Xm).sum()):,} missing values imputed" in out
    np.testing.assert_allclose(np.load(filled), direct.impute(Xm), rtol=1e-10)
    code, out, _ = run(["impute", str(model_path), str(csv)], capsys)
    np.testing.assert_allclose(np.loadtxt(out.splitlines(), delimiter=","),
                               direct.impute(Xm), rtol=1e-9)
    # every model takes them (here the Student-t), and NaN without --missing is an error
    code, out, _ = run(["fit", str(csv), "-k", "3", "--model", "student-t", "--missing",
                        "marginalize", "-q", "--random-state", "0", "--out", str(model_path)],
                       capsys)
    assert code == 0
    direct = fastem.StudentTMixture(3, missing="marginalize", random_state=0).fit(Xm)
    np.testing.assert_allclose(fastem.load(model_path).impute(Xm), direct.impute(Xm),
                               rtol=1e-10)
    code, _, err = run(["fit", str(csv), "-k", "3", "-q"], capsys)
    assert code == 1 and "Input X contains NaN" in err


def test_a_bad_option_is_the_only_line(data, capsys):
    code, out, err = run(["fit", str(data), "-k", "0"], capsys)
    assert code == 1 and out == ""
    assert err.splitlines() == [line for line in err.splitlines()
                                if line.startswith("fastem: error:")] and len(err.splitlines()) == 1


def test_progress_shows_no_nan(data, capsys):
    code, _, err = run(["fit", str(data), "-k", "2", "--max-iter", "3"], capsys)
    lines = [line for line in err.splitlines() if line.startswith("iteration")]
    assert code == 0 and len(lines) >= 2
    assert not any("nan" in line for line in lines)
    assert lines[0].split("change")[1].split()[0] == "-"  # no change before the second


def test_a_closed_pipe_ends_quietly(tmp_path):
    """``fastem predict ... | head -1``: the reader goes away; fastem stops
    without a word on stderr, with status 128 + SIGPIPE."""
    import subprocess
    import sys

    rows = np.tile(X, (200, 1))  # enough output to fill the pipe
    np.save(tmp_path / "x.npy", rows)
    model = tmp_path / "m.npz"
    fastem.GaussianMixture(2, random_state=0).fit(X).save(model)
    proc = subprocess.Popen([sys.executable, "-m", "fastem", "predict", str(model),
                             str(tmp_path / "x.npy")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout.readline().strip() in (b"0", b"1")
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert err == b"" and proc.returncode == 141


def test_hidden_markov_models_on_the_command_line(tmp_path, data, capsys):
    lengths = tmp_path / "lengths.txt"
    np.savetxt(lengths, [1000, 1500, 500], fmt="%d")
    model = tmp_path / "hmm.npz"
    code, out, err = run(["fit", str(data), "-k", "3", "--model", "gaussian-hmm",
                          "--covariance-type", "diag", "--lengths", str(lengths),
                          "--max-iter", "5", "--out", str(model)], capsys)
    assert code == 0, err
    assert "3-state gaussian hidden Markov model to 3,000 x 3 in 3 sequences" in err
    assert "after 5 iterations" in out and "log-likelihood" in out
    assert len([line for line in err.splitlines() if line.strip()[:1].isdigit()]) == 5
    fitted = fastem.load(model)
    expected = fitted.predict(X, [1000, 1500, 500])
    code, out, err = run(["predict", str(model), str(data), "--lengths", str(lengths)], capsys)
    assert code == 0, err
    assert np.array_equal(np.array(out.split(), dtype=int), expected)
    code, out, err = run(["score", str(model), str(data), "--lengths", str(lengths)], capsys)
    assert f"log-likelihood {fitted.score(X, [1000, 1500, 500]):.10g}" in out
    weights = tmp_path / "w.txt"
    np.savetxt(weights, [1.0, 2.0, 0.5])
    code, out, err = run(["fit", str(data), "-k", "2", "--model", "gmm-hmm", "--n-mix", "2",
                          "--lengths", str(lengths), "--sample-weight", str(weights),
                          "--max-iter", "2", "-q"], capsys)
    assert code == 0, err
    np.savetxt(lengths, [1000, 1000], fmt="%d")
    code, out, err = run(["fit", str(data), "-k", "2", "--model", "gaussian-hmm",
                          "--lengths", str(lengths)], capsys)
    assert code == 1
    assert err.strip().endswith("the sequence lengths sum to 2,000, but the data has 3,000 rows")
    code, out, err = run(["predict", str(tmp_path / "hmm.npz"), str(data)], capsys)
    assert code == 0  # one sequence
    code, out, err = run(["score", str(model), str(data), "--lengths", str(lengths)], capsys)
    assert code == 1 and "sum to 2,000" in err
    code, out, err = run(["fit", str(data), "-k", "2", "--model", "poisson-hmm",
                          "--learning-method", "online"], capsys)
    assert code == 1
    assert err.strip().endswith("--learning-method is an option of the mixtures; --model "
                                "poisson-hmm fits a hidden Markov model")
