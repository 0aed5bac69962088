"""asv benchmarks of the hidden Markov models: one Baum-Welch iteration (the
E-step over every sequence: frames, forward-backward, emission statistics;
then the M-step and the bound's terms), Viterbi, and the log-likelihood.

Run with ``asv run --python=same --quick``.  Parameters are strings, as asv
stores them in its results.
"""

import warnings

import numpy as np

import fastem
from fastem.engine import sequences
from fastem.tools.hmm_bench import _start, hmm_data


class BaumWelchIteration:
    params = (["gaussian-hmm", "categorical-hmm"], ["full", "diag"], ["100000"], ["100", "10000"],
              ["4", "16"])
    param_names = ["model", "covariance_type", "n_samples", "length", "n_components"]

    def setup(self, model, covariance_type, n_samples, length, n_components):
        if model == "categorical-hmm" and covariance_type == "full":
            raise NotImplementedError  # asv skips: a categorical model has no covariances
        K, d = int(n_components), 8
        X, lengths, params = hmm_data(model, int(n_samples), int(length), K, d,
                                      covariance_type)
        start = _start(model, params)
        cls = fastem.GaussianHMM if model == "gaussian-hmm" else fastem.CategoricalHMM
        kwargs = dict(covariance_type=covariance_type) if model == "gaussian-hmm" else \
            dict(n_features=d)
        self.model = cls(K, n_iter=1, tol=0.0, init_params="", **kwargs)
        for name, value in start.items():
            setattr(self.model, name, np.array(value, copy=True))
        warnings.simplefilter("ignore")
        self.X, self.lengths = X, lengths
        self.model.fit(X, lengths)  # compile or load the kernels
        self.rows = self.model._kernel_X(self.model._prepare_X(np.asarray(X)))
        self.bounds = sequences.check_lengths(lengths, len(X))

    def time_baum_welch_iteration(self, *args):
        sequences.baum_welch(self.model, self.rows, self.bounds, fastem.hmm._log)

    def time_viterbi(self, *args):
        self.model.predict(self.X, self.lengths)

    def track_log_likelihood(self, *args):
        return float(self.model.score(self.X, self.lengths))
