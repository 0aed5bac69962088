"""What sits on top of the models: the command line (``cli``), the benchmark
against scikit-learn (``bench``), the accuracy report (``accuracy``) and the
plots (``plotting``)."""
