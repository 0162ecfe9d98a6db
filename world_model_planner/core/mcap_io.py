"""Bounded, crash-tolerant reading of MCAP recordings (no rclpy).

A recording is evidence from the field: it may be cut short by a crash, corrupted, or made by
someone else. :class:`McapScan` therefore reads it front to back without trusting anything it
declares:

- Records are parsed by the ``mcap`` library's StreamReader (chunks emitted whole). No seeking
  and no use of the summary or indexes: records are read in file order, so a file
  cut anywhere (a kill -9, a full disk, a copy that stopped) yields every message before the
  cut. :attr:`McapScan.complete` and :meth:`McapScan.recovery_note` say how much was read.
- Every record's declared length is checked against ``max_record_bytes`` *before* it is read
  (the reader's ``record_size_limit``); a read never returns more than the file holds.
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
        """Records through mcap's StreamReader (chunks emitted whole, decompressed here within
        the limits, then split by mcap's own chunk parser); stops at the first damage."""
        from mcap.exceptions import McapError
        from mcap.records import Channel, Chunk, Footer, Message, Metadata, Schema
        from mcap.stream_reader import StreamReader, breakup_chunk

        fh = self._fh
        if fh is None:
            return
        reader = StreamReader(_FileView(fh, self.file_size), skip_magic=True, emit_chunks=True,
                              record_size_limit=self.limits.max_record_bytes)
        records = reader.records
        while True:
            pos = self.bytes_ok
            try:
                rec = next(records)
            except StopIteration:          # after the footer and the closing magic
                self.complete = True
                self.bytes_ok = fh.tell()
                return
            except (McapError, ValueError, struct.error, UnicodeDecodeError, EOFError) as exc:
                self._stop(self._damage(exc, pos, fh))
                return
            end = fh.tell()
            if isinstance(rec, Chunk):
                inner = self._chunk(rec, pos)
                if inner is not None:
                    self.chunks_read += 1
                    try:
                        parts = breakup_chunk(Chunk(compression="", data=inner, message_start_time=0,
                                                    message_end_time=0, uncompressed_crc=0,
                                                    uncompressed_size=len(inner)))
                    except (McapError, ValueError, struct.error, UnicodeDecodeError) as exc:
                        self._skip_chunk(f"chunk at byte {pos}: {clip(str(exc) or type(exc).__name__, 120)}")
                        parts = []
                    for r in parts:
                        m = self._simple(r)
                        if m is not None:
                            yield m
            elif isinstance(rec, Metadata):
                self._metadata(rec)
            elif isinstance(rec, (Schema, Channel, Message)):
                m = self._simple(rec)
                if m is not None:
                    yield m
            self.bytes_ok = end
            if isinstance(rec, Footer):
                self.complete = True       # the closing magic is checked by the next read

    def _damage(self, exc, pos: int, fh) -> str:
        """Why reading stopped, in words, for the recovery note."""
        from mcap.exceptions import EndOfFile, InvalidMagic, RecordLengthLimitExceeded

        if isinstance(exc, RecordLengthLimitExceeded):
            return f"record at byte {pos}: {exc} (max_record_bytes)"
        if isinstance(exc, (EndOfFile, EOFError)):
            return ("the file ends without a footer" if pos >= self.file_size else
                    f"cut inside the record at byte {pos}")
        if isinstance(exc, InvalidMagic):
            return "the footer is not followed by the closing magic"
        return f"damaged record at byte {pos}: {clip(str(exc) or type(exc).__name__, 120)}"

    def _simple(self, rec) -> RawMessage | None:
        from mcap.records import Channel, Message, Schema

        if isinstance(rec, Schema):
            self._schemas[rec.id] = rec.name
        elif isinstance(rec, Channel):
            self._channels[rec.id] = (rec.topic, rec.schema_id)
        elif isinstance(rec, Message):
            ch = self._channels.get(rec.channel_id)
            if ch is None:
                return None
            self.messages_read += 1
            return RawMessage(ch[0], self._schemas.get(ch[1], ""), rec.log_time, rec.publish_time, rec.data)
        return None

    def _chunk(self, rec, pos: int) -> bytes | None:
        lim, size = self.limits, rec.uncompressed_size
        if size > lim.max_chunk_bytes:
            raise RecordingError(f"{self.path}: chunk at byte {pos} declares {size} decompressed bytes, "
                                 f"more than the {lim.max_chunk_bytes} byte limit; refusing the recording")
        if self.decompressed_bytes + size > lim.max_total_bytes:
            raise RecordingError(f"{self.path}: more than {lim.max_total_bytes} decompressed bytes; "
                                 "refusing the recording")
        try:
            out = decompress_capped(rec.compression, rec.data, size)
        except _Oversize as exc:
            raise RecordingError(f"{self.path}: chunk at byte {pos}: {exc}; refusing the recording") from None
        except (ValueError, RuntimeError, MemoryError) as exc:
            return self._skip_chunk(f"chunk at byte {pos}: {clip(str(exc), 120)}")
        self.decompressed_bytes += len(out)
        if rec.uncompressed_crc and zlib.crc32(out) != rec.uncompressed_crc:
            return self._skip_chunk(f"chunk at byte {pos}: CRC mismatch")
        return out

    def _skip_chunk(self, reason: str) -> None:
        self.chunks_skipped += 1
        if len(self.chunk_errors) < 3:
            self.chunk_errors.append(reason)
        return None

    def _metadata(self, rec) -> None:
        lim = self.limits
        values = {k[:lim.max_metadata_value_chars]: v[:lim.max_metadata_value_chars]
                  for k, v in list(rec.metadata.items())[:256]}
        if rec.name not in self.metadata and len(self.metadata) < lim.max_metadata_records:
            self.metadata[rec.name[:lim.max_metadata_value_chars]] = values


class _FileView:
    """A file whose reads never ask for more than the file holds: a record that declares more
    bytes than follow allocates only what is there (a buffered read of n bytes allocates n)."""

    def __init__(self, fh, size: int):
        self._fh, self._size = fh, size

    def read(self, n: int = -1) -> bytes:
        left = max(0, self._size - self._fh.tell())
        return self._fh.read(left if n is None or n < 0 else min(n, left))


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
                out = read_upto(r, size + 1)
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


def read_upto(reader, n: int) -> bytes:
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

