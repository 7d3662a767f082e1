"""Networks from and to other frameworks: scikit-learn, PyTorch, safetensors, Keras, numpy.

* :mod:`.importers` reads a framework's file into a :class:`~.importers.Source`;
* :mod:`.conventions` converts the framework's training objective to ours;
* :mod:`.convert` decides the objective, maps labels and checks predictions;
* :mod:`.data` loads training data from HDF5, .npz or CSV;
* :mod:`.exporters` writes a checkpoint's network back;
* :mod:`.commands` holds the ``import`` and ``export`` commands.

The conversion table and the reasoning behind it: docs/conventions.md.
"""
