"""Independent float64 numpy oracles of MATLAB's layer equations.

Written from the MATLAB documentation and ``../shared/spec/matlab-semantics.md`` in MATLAB's own
layout (weights stacked by rows, column-vector states, data C x N x T). Nothing here imports
matkeras: these files are what matkeras is checked against.
"""
