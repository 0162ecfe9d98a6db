"""Bounded, crash-tolerant reading of MCAP recordings (no rclpy).

A recording is evidence from the field: it may be cut short by a crash, corrupted, or made by
someone else. :class:`McapScan` therefore reads it front to back without trusting anything it
declares:

- No seeking and no use of the summary or indexes: records are read in file order, so a file
  cut anywhere (a kill -9, a full disk, a copy that stopped) yields every message before the
  cut. :attr:`McapScan.complete` and :meth:`McapScan.recovery_note` say how much was read.
- Every declared length is checked against the bytes left in the file and against
  :class:`McapLimits` *before* anything is allocated for it.
- Chunks are decompressed with a hard output cap: a chunk whose declared ``uncompressed_size``
  exceeds ``max_chunk_bytes`` is refused unread, and the decompressor is never allowed to produce
  more than the declared size (a chunk that lies about its size is refused). The sum of
  decompressed bytes is capped by ``max_total_bytes``. A zstd or lz4 "bomb" ends in a one-line
  :class:`RecordingError`, not in gigabytes of memory.
- A chunk that fails to decompress, or whose CRC does not match, is skipped and counted.

Messages come out as raw CDR bytes (:class:`RawMessage`); :func:`cdr_decoder` builds a decoder
from a message definition the *caller* trusts (for example the installed .msg files), so the
schema text inside a file is never parsed. Every failure is one :class:`RecordingError` line
naming the file.
"""
from __future__ import annotations

import dataclasses
import io
import os
import struct
import zlib
from typing import Callable, Iterable, Iterator

from world_model_planner.core.params import param, validate
from world_model_planner.core.safeio import InputError, clip

MCAP_MAGIC = bytes([137, 77, 67, 65, 80, 48, 13, 10])
_MIB = 1 << 20

# Opcodes (MCAP spec).
OP_HEADER, OP_FOOTER, OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
OP_METADATA, OP_DATA_END = 0x0C, 0x0F


class RecordingError(InputError):
    """A recording that cannot be read (one line, names the file)."""


@dataclasses.dataclass
class McapLimits:
    """Caps applied while reading one recording."""

    max_record_bytes: int = param(256 * _MIB, "Largest record (e.g. one compressed chunk) read from "
                                  "the file (bytes).", range=(1024, 1 << 34), ros=False)
    max_chunk_bytes: int = param(64 * _MIB, "Largest decompressed chunk (bytes); a chunk declaring or "
                                 "producing more is refused.", range=(1024, 1 << 34), ros=False)
    max_total_bytes: int = param(8 << 30, "Most decompressed bytes in one recording (bytes).",
                                 range=(1024, 1 << 40), ros=False)
    max_metadata_records: int = param(64, "Most metadata records kept.", range=(0, 10_000), ros=False)
    max_metadata_value_chars: int = param(256, "Metadata keys and values are cut to this length.",
                                          range=(8, 1 << 20), ros=False)

    def __post_init__(self):
        validate(self)


@dataclasses.dataclass
class RawMessage:
    topic: str
    schema_name: str
    log_time_ns: int
    publish_time_ns: int
    data: bytes


class _Buf:
    """A bounded cursor over bytes; every read checks the length against what is left."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None):
        self.data, self.pos, self.end = data, pos, len(data) if end is None else end

    def left(self) -> int:
        return self.end - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or n > self.left():
            raise ValueError(f"field of {n} bytes overruns its record ({self.left()} bytes left)")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u16(self) -> int:
        return struct.unpack("<H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack("<Q", self.take(8))[0]

    def string(self) -> str:
        return self.take(self.u32()).decode("utf-8")


class McapScan:
    """Read one MCAP file in order, within :class:`McapLimits`.

    Usage: ``scan = McapScan(path)``; ``for m in scan.messages(topics): ...``; then
    :attr:`complete`, :attr:`stop_reason`, :attr:`metadata`, :meth:`recovery_note`.
    Opening checks the magic (RecordingError for an empty or non-MCAP file); reading stops at
    the footer, at the end of the data, or at the first damaged record, keeping what came before.
    """

    def __init__(self, path: str | os.PathLike, limits: McapLimits | None = None):
        self.path = str(path)
        self.limits = limits or McapLimits()
        self.complete = False
        self.stop_reason: str | None = None
        self.metadata: dict[str, dict[str, str]] = {}
        self.messages_read = 0
        self.chunks_read = 0
        self.chunks_skipped = 0
        self.chunk_errors: list[str] = []   # the first few reasons a chunk was skipped
        self.bytes_ok = 0            # file offset after the last record read in full
        self.decompressed_bytes = 0
        self._schemas: dict[int, str] = {}
        self._channels: dict[int, tuple[str, int]] = {}
        try:
            self._fh = open(self.path, "rb")  # noqa: SIM115 - closed by messages()/close()
            self.file_size = os.fstat(self._fh.fileno()).st_size
        except IsADirectoryError:
            raise RecordingError(f"{self.path}: expected an MCAP recording, found a directory") from None
        except OSError as exc:
            raise RecordingError(f"{self.path}: cannot read recording: {exc.strerror or exc}") from None
        head = self._fh.read(len(MCAP_MAGIC))
        if len(head) == 0:
            self.close()
            raise RecordingError(f"{self.path}: empty file (0 bytes), not an MCAP recording")
        if head != MCAP_MAGIC[:len(head)] or len(head) < len(MCAP_MAGIC):
            self.close()
            what = "too short" if head == MCAP_MAGIC[:len(head)] else f"starts with {clip(head[:8], 40)}"
            raise RecordingError(f"{self.path}: not an MCAP recording ({what})")
        self.bytes_ok = len(MCAP_MAGIC)

    # -- public -------------------------------------------------------------------------------
    def close(self) -> None:
        fh = getattr(self, "_fh", None)
        if fh is not None:
            fh.close()
            self._fh = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def messages(self, topics: Iterable[str] | None = None) -> Iterator[RawMessage]:
        """Every readable message (of ``topics``, if given), in file order."""
        wanted = None if topics is None else set(topics)
        try:
            for m in self._records():
                if wanted is None or m.topic in wanted:
                    yield m
        finally:
            self.close()

    def read_all(self) -> None:
        """Read to the end (for :attr:`metadata` alone)."""
        for _ in self.messages(()):
            pass

    def recovery_note(self) -> str:
        """'' for a complete file, else how much was recovered and why reading stopped."""
        parts = []
        if not self.complete:
            parts.append(f"incomplete recording: read {self.bytes_ok} of {self.file_size} bytes, "
                         f"{self.messages_read} messages recovered ({self.stop_reason})")
        if self.chunks_skipped:
            parts.append(f"{self.chunks_skipped} damaged chunk(s) skipped ({'; '.join(self.chunk_errors)})")
        return "; ".join(parts)

    # -- reading ------------------------------------------------------------------------------
    def _stop(self, reason: str) -> None:
        self.stop_reason = reason

    def _records(self) -> Iterator[RawMessage]:
        fh, lim = self._fh, self.limits
        if fh is None:
            return
        pos = self.bytes_ok
        while True:
            head = fh.read(9)
            if len(head) < 9:
                self._stop("the file ends without a footer" if not head else
                           f"cut inside a record header at byte {pos}")
                return
            opcode, length = struct.unpack("<BQ", head)
            left = self.file_size - pos - 9
            if length > left:
                self._stop(f"record at byte {pos} declares {length} bytes, only {max(left, 0)} follow "
                           "(cut short)")
                return
            if length > lim.max_record_bytes:
                self._stop(f"record at byte {pos} declares {length} bytes, more than the "
                           f"{lim.max_record_bytes} byte limit")
                return
            if opcode in (OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK, OP_METADATA):
                body = fh.read(length)
                if len(body) < length:
                    self._stop(f"cut inside the record at byte {pos}")
                    return
                try:
                    yield from self._record(opcode, _Buf(body), pos)
                except RecordingError:
                    raise
                except (ValueError, struct.error, UnicodeDecodeError) as exc:
                    self._stop(f"damaged record at byte {pos}: {clip(str(exc), 120)}")
                    return
            else:
                fh.seek(length, io.SEEK_CUR)
            pos += 9 + length
            self.bytes_ok = pos
            if opcode == OP_FOOTER:
                tail = fh.read(len(MCAP_MAGIC))
                if tail == MCAP_MAGIC:
                    self.bytes_ok = pos + len(tail)
                    self.complete = True
                else:
                    self._stop("the footer is not followed by the closing magic")
                return

    def _record(self, opcode: int, b: _Buf, pos: int) -> Iterator[RawMessage]:
        if opcode == OP_CHUNK:
            inner = self._chunk(b, pos)
            if inner is not None:
                self.chunks_read += 1
                yield from self._inner(inner, pos)
        elif opcode == OP_METADATA:
            self._metadata(b)
        else:
            m = self._simple(opcode, b)
            if m is not None:
                yield m

    def _simple(self, opcode: int, b: _Buf) -> RawMessage | None:
        if opcode == OP_SCHEMA:
            sid, name = b.u16(), b.string()
            self._schemas[sid] = name
        elif opcode == OP_CHANNEL:
            cid, sid, topic = b.u16(), b.u16(), b.string()
            self._channels[cid] = (topic, sid)
        elif opcode == OP_MESSAGE:
            cid, _seq, log_t, pub_t = b.u16(), b.u32(), b.u64(), b.u64()
            ch = self._channels.get(cid)
            if ch is None:
                return None
            self.messages_read += 1
            return RawMessage(ch[0], self._schemas.get(ch[1], ""), log_t, pub_t, b.take(b.left()))
        return None

    def _inner(self, data: bytes, pos: int) -> Iterator[RawMessage]:
        b = _Buf(data)
        while b.left():
            if b.left() < 9:
                raise ValueError(f"chunk at byte {pos} ends inside a record header")
            opcode, length = b.take(1)[0], b.u64()
            if length > b.left():
                raise ValueError(f"chunk at byte {pos}: record of {length} bytes overruns the chunk")
            rec = _Buf(b.data, b.pos, b.pos + length)
            b.pos += length
            m = self._simple(opcode, rec)
            if m is not None:
                yield m

    def _chunk(self, b: _Buf, pos: int) -> bytes | None:
        lim = self.limits
        _start, _end, size, crc = b.u64(), b.u64(), b.u64(), b.u32()
        compression = b.string()
        data = b.take(b.u64())
        if size > lim.max_chunk_bytes:
            raise RecordingError(f"{self.path}: chunk at byte {pos} declares {size} decompressed bytes, "
                                 f"more than the {lim.max_chunk_bytes} byte limit; refusing the recording")
        if self.decompressed_bytes + size > lim.max_total_bytes:
            raise RecordingError(f"{self.path}: more than {lim.max_total_bytes} decompressed bytes; "
                                 "refusing the recording")
        try:
            out = decompress_capped(compression, data, size)
        except _Oversize as exc:
            raise RecordingError(f"{self.path}: chunk at byte {pos}: {exc}; refusing the recording") from None
        except (ValueError, RuntimeError, MemoryError) as exc:
            return self._skip_chunk(f"chunk at byte {pos}: {clip(str(exc), 120)}")
        self.decompressed_bytes += len(out)
        if crc and zlib.crc32(out) != crc:
            return self._skip_chunk(f"chunk at byte {pos}: CRC mismatch")
        return out

    def _skip_chunk(self, reason: str) -> None:
        self.chunks_skipped += 1
        if len(self.chunk_errors) < 3:
            self.chunk_errors.append(reason)
        return None

    def _metadata(self, b: _Buf) -> None:
        lim = self.limits
        name = b.string()
        end = b.u32()
        end = b.pos + end
        if end > b.end:
            raise ValueError("metadata map overruns its record")
        values: dict[str, str] = {}
        while b.pos < end:
            k, v = b.string(), b.string()
            if len(values) < 256:
                values[k[:lim.max_metadata_value_chars]] = v[:lim.max_metadata_value_chars]
        if name not in self.metadata and len(self.metadata) < lim.max_metadata_records:
            self.metadata[name[:lim.max_metadata_value_chars]] = values


class _Oversize(ValueError):
    pass


def decompress_capped(compression: str, data: bytes, size: int) -> bytes:
    """Decompress ``data`` to exactly ``size`` bytes, never producing more than ``size + 1``.

    Raises _Oversize when the stream holds more than declared (a bomb or a lie), ValueError when
    it is damaged, holds less, or uses an unknown compression.
    """
    if compression == "":
        if len(data) != size:
            raise ValueError(f"uncompressed chunk of {len(data)} bytes declares {size}")
        return data
    if compression == "zstd":
        import zstandard

        # the window buffer is the decompressor's own allocation: enough for the declared size
        # (at least 8 MiB, what streaming compressors pick), at most zstd's default 128 MiB
        window = min(1 << 27, max(1 << 23, 1 << (max(size, 1) - 1).bit_length()))
        try:
            dctx = zstandard.ZstdDecompressor(max_window_size=window)
            with dctx.stream_reader(io.BytesIO(data), read_across_frames=True) as r:
                out = _read_upto(r, size + 1)
        except zstandard.ZstdError as exc:
            raise ValueError(f"zstd: {exc}") from None
    elif compression == "lz4":
        import lz4.frame

        try:
            d = lz4.frame.LZ4FrameDecompressor()
            out = d.decompress(data, max_length=size + 1)
        except RuntimeError as exc:
            raise ValueError(f"lz4: {exc}") from None
    else:
        raise ValueError(f"unknown chunk compression {clip(compression, 40)}")
    if len(out) > size:
        raise _Oversize(f"decompresses to more than the {size} bytes it declares")
    if len(out) < size:
        raise ValueError(f"decompresses to {len(out)} bytes, declares {size}")
    return out


def _read_upto(reader, n: int) -> bytes:
    """Up to ``n`` bytes from a stream reader, in pieces of at most 1 MiB."""
    parts, got = [], 0
    while got < n:
        piece = reader.read(min(_MIB, n - got))
        if not piece:
            break
        parts.append(piece)
        got += len(piece)
    return b"".join(parts)


def cdr_decoder(type_name: str, definition: str) -> Callable[[bytes], object]:
    """A CDR decoder for ``type_name`` built from a trusted ``definition`` (.msg text with its
    dependencies, as mcap ``ros2msg`` schemas carry them)."""
    from mcap_ros2._dynamic import generate_dynamic

    decoders = generate_dynamic(type_name, definition)
    dec = decoders.get(type_name) or decoders.get(type_name.replace("/msg/", "/"))
    if dec is None:
        raise ValueError(f"no decoder for {type_name}")
    return dec


def read_metadata(path: str | os.PathLike, name: str, limits: McapLimits | None = None) -> dict[str, str]:
    """The metadata record ``name`` of a recording ({} if it has none), read within limits."""
    scan = McapScan(path, limits)
    scan.read_all()
    return dict(scan.metadata.get(name, {}))

