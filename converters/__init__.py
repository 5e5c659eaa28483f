"""Converters between MATLAB networks or weight files and matkeras (as `matkeras.converters`).

`layouts` is the only module that knows MATLAB's gate orders and how MATLAB-layout weights map onto
Keras-layout variables. Readers for saved MATLAB networks and weight files come with later work.
"""
