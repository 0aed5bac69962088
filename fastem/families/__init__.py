"""Model families: one module each, with its M-step closed forms, its
initialisation and parameter checks, its kernel plan and its fitted
attributes, behind the one interface of ``fastem.engine.family``.

* ``gaussian``: Gaussian mixtures (maximum likelihood), four covariance types;
* ``bayesian_gaussian``: variational Bayesian Gaussian mixtures.
"""
