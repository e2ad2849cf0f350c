"""Graph assembly, job configuration and the ``newsbeam`` command line."""
