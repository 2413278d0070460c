"""The packed value of one feed or list in Valkey (format 1).

A feed for 100 videos is ~0.9 KB, decoded without parsing text, and the same bytes serve every
page of it. Layout, little-endian::

    offset 0   u8    format (1)
    offset 1   u8    flags: bit 0 set = ids are u32 (every id in [0, 2**32)), clear = i64
    offset 2   u16   n, the number of items (<= 65535)
    offset 4   n ids (u32 or i64), then n scores (f32), then n source codes (u8)

Source codes index the ``sources`` list recorded in the version's meta hash, so the name of a
candidate source ("followed", "hashtag", ...) costs one byte per item. The feed-page Lua script
(``lua/feed_page.lua``) reads the same layout.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FORMAT = 1
FLAG_U32 = 1
HEADER = struct.Struct("<BBH")
MAX_ITEMS = 0xFFFF
_U32_LIMIT = 1 << 32


@dataclass(frozen=True)
class Decoded:
    ids: list[int]
    scores: list[float]
    codes: bytes

    def __len__(self) -> int:
        return len(self.ids)


def _narrow(ids: np.ndarray) -> bool:
    return ids.size == 0 or (int(ids.min()) >= 0 and int(ids.max()) < _U32_LIMIT)


def encode(
    ids: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray | None = None,
    codes: Sequence[int] | bytes | np.ndarray | None = None,
) -> bytes:
    """Pack one ranked list (scores default to 0, codes to 0)."""
    id_arr = np.asarray(ids, dtype=np.int64)
    n = int(id_arr.size)
    if n > MAX_ITEMS:
        raise ValueError(f"a packed list holds at most {MAX_ITEMS} items, got {n}")
    score_arr = np.zeros(n, "<f4") if scores is None else np.asarray(scores, dtype="<f4")
    if codes is None:
        code_bytes = bytes(n)
    elif isinstance(codes, bytes):
        code_bytes = codes
    else:
        code_bytes = np.asarray(codes, dtype=np.uint8).tobytes()
    if score_arr.size != n or len(code_bytes) != n:
        raise ValueError("ids, scores and codes must have the same length")
    narrow = _narrow(id_arr)
    id_bytes = id_arr.astype("<u4" if narrow else "<i8").tobytes()
    head = HEADER.pack(FORMAT, FLAG_U32 if narrow else 0, n)
    return b"".join((head, id_bytes, score_arr.tobytes(), code_bytes))


def encode_csr(
    offsets: np.ndarray, ids: np.ndarray, scores: np.ndarray, codes: np.ndarray
) -> list[bytes]:
    """Pack many lists at once from CSR arrays (row i is ``[offsets[i], offsets[i+1])``).

    This is the layout of an Arrow ``list<...>`` column, so a Spark ``mapInArrow`` batch encodes
    without building Python objects per item. Rows of equal length take a vectorised path.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    ids = np.asarray(ids, dtype=np.int64)
    scores = np.asarray(scores, dtype="<f4")
    codes = np.asarray(codes, dtype=np.uint8)
    rows = offsets.size - 1
    if rows <= 0:
        return []
    lengths = np.diff(offsets)
    if int(lengths.max()) > MAX_ITEMS:
        raise ValueError(f"a packed list holds at most {MAX_ITEMS} items")
    narrow = _narrow(ids)
    width = 4 if narrow else 8
    flags = FLAG_U32 if narrow else 0
    id_view = ids.astype("<u4" if narrow else "<i8")
    start = int(offsets[0])
    n0 = int(lengths[0])
    if bool((lengths == n0).all()):
        # One matrix row per list: header | ids | scores | codes, then slice the flat buffer.
        total = rows * n0
        seg_ids = id_view[start : start + total].view(np.uint8).reshape(rows, n0 * width)
        seg_scores = scores[start : start + total].view(np.uint8).reshape(rows, n0 * 4)
        seg_codes = codes[start : start + total].reshape(rows, n0)
        header = np.frombuffer(HEADER.pack(FORMAT, flags, n0), dtype=np.uint8)
        mat = np.hstack((np.broadcast_to(header, (rows, 4)), seg_ids, seg_scores, seg_codes))
        buf = mat.tobytes()
        step = mat.shape[1]
        return [buf[i : i + step] for i in range(0, rows * step, step)]
    id_bytes = id_view.tobytes()
    score_bytes = scores.tobytes()
    code_bytes = codes.tobytes()
    pack = HEADER.pack
    offs = offsets.tolist()
    out = []
    for i in range(rows):
        a, b = offs[i], offs[i + 1]
        out.append(
            b"".join(
                (
                    pack(FORMAT, flags, b - a),
                    id_bytes[a * width : b * width],
                    score_bytes[a * 4 : b * 4],
                    code_bytes[a:b],
                )
            )
        )
    return out


def page_items(head: bytes, payload: bytes) -> list[tuple[int, int, float, int]]:
    """(index, id, score, code) of the items the feed-page script picked: per item a u16 index,
    then its id, score and code bytes as stored (``head`` is the value's 4-byte header)."""
    fmt, flags, _n = HEADER.unpack(head)
    if fmt != FORMAT:
        raise ValueError(f"unknown packed value format {fmt}")
    item = _PAGE_U32 if flags & FLAG_U32 else _PAGE_I64
    return list(item.iter_unpack(payload))


_PAGE_U32 = struct.Struct("<HIfB")
_PAGE_I64 = struct.Struct("<HqfB")


def header(blob: bytes) -> tuple[int, int]:
    """(n, id width in bytes) of a packed value; raises ValueError on a foreign format."""
    if len(blob) < HEADER.size:
        raise ValueError("packed value too short")
    fmt, flags, n = HEADER.unpack_from(blob)
    if fmt != FORMAT:
        raise ValueError(f"unknown packed value format {fmt}")
    width = 4 if flags & FLAG_U32 else 8
    if len(blob) != HEADER.size + n * (width + 5):
        raise ValueError("packed value has the wrong length for its header")
    return n, width


def decode(blob: bytes) -> Decoded:
    n, width = header(blob)
    pos = HEADER.size
    ids = np.frombuffer(blob, dtype="<u4" if width == 4 else "<i8", count=n, offset=pos)
    pos += n * width
    scores = np.frombuffer(blob, dtype="<f4", count=n, offset=pos)
    pos += n * 4
    return Decoded(ids.tolist(), scores.tolist(), blob[pos : pos + n])


def decode_items(blob: bytes, indices: Sequence[int]) -> list[tuple[int, float, int]]:
    """(id, score, code) of a few items, without decoding the whole value."""
    n, width = header(blob)
    id_fmt = "<I" if width == 4 else "<q"
    score_base = HEADER.size + n * width
    code_base = score_base + n * 4
    out = []
    for i in indices:
        if not 0 <= i < n:
            raise IndexError(i)
        (vid,) = struct.unpack_from(id_fmt, blob, HEADER.size + i * width)
        (score,) = struct.unpack_from("<f", blob, score_base + i * 4)
        out.append((vid, score, blob[code_base + i]))
    return out
