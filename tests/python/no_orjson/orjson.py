"""Stands in for orjson in kernels started by ``kernel_helpers.without_orjson()``: the import fails."""

raise ImportError("orjson is hidden from this kernel on purpose (tests/python/no_orjson)")
