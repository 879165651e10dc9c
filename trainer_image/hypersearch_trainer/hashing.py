"""Vectorised 64-bit hashing of feature values and example ids.

Everything the trainer hashes (categorical values into embedding rows, example ids into
sub-sampling decisions) goes through splitmix64 so results do not depend on Python's salted
``hash`` and are identical across processes, machines and trials.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

U64 = npt.NDArray[np.uint64]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def splitmix64(x: npt.NDArray[np.uint64]) -> U64:
    """Finaliser of splitmix64: a fast, well-mixed bijection on uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def hash_ints(values: npt.NDArray[np.int64]) -> U64:
    """Hash integer feature values."""
    return splitmix64(values.astype(np.int64, copy=False).view(np.uint64))


def _fnv_unique_strings(arr: pa.Array) -> U64:
    """FNV-1a over the bytes of each string, vectorised across strings (loop over byte index)."""
    arr = pc.fill_null(arr.cast(pa.large_binary()), b"")
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=n + 1, offset=arr.offset * 8)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    starts = offsets[:-1]
    lengths = offsets[1:] - starts
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    max_len = int(lengths.max()) if n else 0
    with np.errstate(over="ignore"):
        for j in range(max_len):
            live = np.nonzero(lengths > j)[0]
            byte = data[starts[live] + j].astype(np.uint64)
            h[live] = (h[live] ^ byte) * _FNV_PRIME
    return splitmix64(h)


def hash_strings(arr: pa.Array | pa.ChunkedArray) -> U64:
    """Hash a string column; hashes each distinct value once (dictionary encoding)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    if len(arr) == 0:
        return np.zeros(0, dtype=np.uint64)
    enc = pc.dictionary_encode(pc.fill_null(arr.cast(pa.large_string()), ""))
    uniq = _fnv_unique_strings(enc.dictionary)
    idx = enc.indices.to_numpy(zero_copy_only=False)
    out: U64 = uniq[idx]
    return out


def hash_column(arr: pa.Array | pa.ChunkedArray) -> U64:
    """Hash any Arrow column: strings by content, numbers/timestamps/booleans by value."""
    typ = arr.type
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_binary(typ):
        return hash_strings(arr)
    if pa.types.is_dictionary(typ):
        return hash_strings(arr.cast(typ.value_type))
    if pa.types.is_floating(typ):
        vals = np.nan_to_num(pc.fill_null(arr, np.nan).to_numpy(zero_copy_only=False))
        return splitmix64(vals.astype(np.float64).view(np.uint64))
    vals = pc.fill_null(arr.cast(pa.int64()), -(2**62)).to_numpy(zero_copy_only=False)
    return hash_ints(vals)


def field_keys(value_hashes: U64, field: int) -> U64:
    """Salt value hashes with their field index so equal values in two fields differ."""
    salt = np.uint64((field + 1) * 0x2545F4914F6CDD1D % 2**64)
    return splitmix64(value_hashes ^ salt)


def unit_uniform(keys: U64) -> npt.NDArray[np.float64]:
    """Map uint64 hashes to floats in [0, 1) using the top 53 bits."""
    return (keys >> np.uint64(11)).astype(np.float64) * (1.0 / 2.0**53)
