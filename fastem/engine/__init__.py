"""The EM engine: one driver, one pass engine and one interface for every family.

* ``family``: the interface a model family implements;
* ``passes``: feeding a family's kernel plan chunks of rows, ``Stats``;
* ``em``: the EM driver (initialisations, convergence, the bound checks);
* ``bound``: the seed's inequality chain, checked every iteration;
* ``init``, ``kmeans``: initial responsibilities as scikit-learn draws them;
* ``estimator``: the base class of every fastem estimator;
* ``reseed``, ``select``, ``persistence``, ``threads``, ``warmup``: what every
  model gets from the engine.
"""
