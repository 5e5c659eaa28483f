"""MATLAB's two workflows on one core: :mod:`~matkeras.workflows.classic` (``trainNetwork``) and
:mod:`~matkeras.workflows.current` (``trainnet``, ``minibatchpredict``, ``testnet``). Both train
through :mod:`matkeras.training` and predict through :mod:`matkeras.inference`;
:mod:`matkeras.matlab` gives them MATLAB's names and arguments."""
