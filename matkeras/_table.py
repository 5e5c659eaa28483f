"""A small column table, the shape MATLAB shows ``net.Learnables``, ``net.State`` and the
training histories of ``trainnet`` in (MATLAB ``table`` objects).

Columns are read by name as attributes (``table.Value``, ``table.Loss``) or by key
(``table["Value"]``); rows by position (``table[0]`` is a dict). ``to_dict()`` gives
``{column: values}``, which ``pandas.DataFrame(table.to_dict())`` takes as it is (pandas is not a
matkeras dependency, so matkeras does not import it).
"""

import numpy as np


class Table:
    """Rows of named columns, in order (MATLAB's ``table`` for matkeras's results).

    Args:
        columns: the column names, in order.
        rows: a list of rows, each a sequence of values in column order (or a dict).
    """

    def __init__(self, columns, rows=()):
        self.__dict__["_columns"] = [str(c) for c in columns]
        self.__dict__["_rows"] = []
        for row in rows:
            self.append(row)

    @property
    def columns(self):
        """The column names (MATLAB ``VariableNames``)."""
        return list(self._columns)

    def append(self, row):
        """Adds a row (a dict by column name, or values in column order)."""
        if isinstance(row, dict):
            unknown = sorted(set(row) - set(self._columns))
            if unknown:
                raise ValueError(f"Table has no columns {unknown}; its columns are "
                                 f"{self._columns}.")
            row = [row.get(name) for name in self._columns]
        row = list(row)
        if len(row) != len(self._columns):
            raise ValueError(f"A row of this table has {len(self._columns)} values "
                             f"({self._columns}); received {len(row)}.")
        self._rows.append(row)

    def column(self, name):
        """The values of column `name`: a float array for numeric columns, else a list."""
        if name not in self._columns:
            raise KeyError(f"Table has no column {name!r}; its columns are {self._columns}.")
        index = self._columns.index(name)
        values = [row[index] for row in self._rows]
        if values and all(isinstance(v, (int, float, np.integer, np.floating))
                          and not isinstance(v, bool) for v in values):
            return np.asarray(values, dtype=np.float64)
        return values

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.column(name)
        except KeyError as error:
            raise AttributeError(str(error)) from None

    def __setattr__(self, name, value):
        raise AttributeError("Table columns are read-only here; build a new Table instead.")

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.column(key)
        return dict(zip(self._columns, self._rows[key], strict=True))

    def __len__(self):
        return len(self._rows)

    def __iter__(self):
        for index in range(len(self._rows)):
            yield self[index]

    def to_dict(self):
        """``{column name: list of values}``, in column order (``pandas.DataFrame`` takes it)."""
        return {name: [row[k] for row in self._rows] for k, name in enumerate(self._columns)}

    def __repr__(self):
        def text(value):
            if isinstance(value, np.ndarray):
                kind = "double" if value.dtype == np.float64 else str(value.dtype)
                return "{" + "x".join(str(s) for s in value.shape) + f" {kind}}}"
            if isinstance(value, float):
                return f"{value:.6g}"
            return str(value)

        cells = [[text(v) for v in row] for row in self._rows[:20]]
        widths = [max([len(c)] + [len(r[k]) for r in cells]) for k, c in
                  enumerate(self._columns)]
        lines = [f"{len(self._rows)}x{len(self._columns)} table",
                 "  ".join(c.ljust(w) for c, w in zip(self._columns, widths, strict=True))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
                  for row in cells]
        if len(self._rows) > 20:
            lines.append(f"... ({len(self._rows) - 20} more rows)")
        return "\n".join(lines)
