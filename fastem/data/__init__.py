"""Where the rows come from: in-memory arrays fed to the kernels a chunk at a
time (``chunks``), out-of-core arrays and chunk sources (``sources``), dask
arrays (``dask``), and the checks every estimator makes of ``X`` and of its
sample weights (``validation``).  Nothing here knows a model family."""
