"""Hostile inputs, made in the test: YAML alias bombs, deflate bombs inside torch archives,
zstd / lz4 chunk bombs inside MCAP recordings, and pickles that run code when loaded. The victims run them in a subprocess under a memory cap
(``testing.memory``)."""
from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path


def alias_bomb(levels: int = 8, fan: int = 9) -> str:
    """A flow list whose last element expands to fan**levels strings (9**8 = 43 million)."""
    parts = ["&a [" + ",".join(['"lol"'] * fan) + "]"]
    for k in range(1, levels):
        parts.append(f"&{chr(97 + k)} [" + ",".join([f"*{chr(96 + k)}"] * fan) + "]")
    return "[" + ", ".join(parts) + "]"



def alias_bomb_mapping(levels: int = 9) -> bytes:
    """The classic "billion laughs" document: ~10**levels nodes after alias expansion."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    return ("\n".join(lines) + "\n").encode()



def _zeros_deflate(n_bytes: int) -> tuple[bytes, int]:
    """(raw deflate stream of ``n_bytes`` zeros, its CRC-32), built from one 16 MiB block that is
    compressed once and repeated (a full flush makes the blocks independent), so a 1 GB bomb
    takes about a second to make."""
    block = 1 << 24
    assert n_bytes % block == 0
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = comp.compress(bytes(block)) + comp.flush(zlib.Z_FULL_FLUSH)
    crc, zeros = 0, bytes(block)
    for _ in range(n_bytes // block):
        crc = zlib.crc32(zeros, crc)
    return piece * (n_bytes // block) + comp.flush(zlib.Z_FINISH), crc


def write_zip(path: Path, members: list[tuple[str, bytes, int, int, int]]) -> Path:
    """A zip archive written by hand: (name, payload, method, uncompressed size, crc) per member,
    the same sizes in the local and central headers (so they may lie), no zip64."""
    out, central = bytearray(), bytearray()
    for name, payload, method, size, crc in members:
        nb = name.encode()
        offset = len(out)
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(payload), size,
                           len(nb), 0) + nb + payload
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(payload),
                               size, len(nb), 0, 0, 0, 0, 0, offset) + nb
    cd_offset = len(out)
    out += central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central),
                                 cd_offset, 0)
    path.write_bytes(bytes(out))
    return path


def deflate_bomb_pt(path: Path, uncompressed: int = 1 << 30, declared: int | None = None) -> Path:
    """A torch.save archive whose first tensor record is ``uncompressed`` bytes of deflated zeros
    (1 GiB: a 1 MB file). ``declared``: the size the headers claim (default: the truth)."""
    import torch

    buf = io.BytesIO()
    torch.save({"format": "wmp-world-model", "version": 1, "x": torch.zeros(4)}, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    members = []
    for info in src.infolist():
        data = src.read(info.filename)
        if info.filename.endswith("/data/0"):
            stream, crc = _zeros_deflate(uncompressed)
            members.append((info.filename, stream, zipfile.ZIP_DEFLATED,
                            uncompressed if declared is None else declared, crc))
        else:
            members.append((info.filename, data, zipfile.ZIP_STORED, len(data), zlib.crc32(data)))
    return write_zip(path, members)



class PicklePayload:
    """Unpickling this calls open(marker, 'w'): a visible side effect if code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def mcap_with_chunk(path: Path, compression: str, data: bytes, declared: int) -> None:
    """A minimal MCAP: header, an /odom channel, one chunk holding ``data``, footer."""
    from mcap.data_stream import RecordBuilder
    from mcap.records import Channel, Chunk, DataEnd, Footer, Header, Schema

    magic = bytes([137, 77, 67, 65, 80, 48, 13, 10])
    rb = RecordBuilder()
    Header(profile="ros2", library="bomb").write(rb)
    Schema(id=1, name="nav_msgs/msg/Odometry", encoding="ros2msg", data=b"").write(rb)
    Channel(id=1, topic="/odom", message_encoding="cdr", schema_id=1, metadata={}).write(rb)
    Chunk(compression=compression, data=data, message_start_time=0, message_end_time=0,
          uncompressed_crc=0, uncompressed_size=declared).write(rb)
    DataEnd(data_section_crc=0).write(rb)
    Footer(summary_start=0, summary_offset_start=0, summary_crc=0).write(rb)
    path.write_bytes(magic + bytes(rb.end()) + magic)


def zstd_bomb(n: int) -> bytes:
    """A zstd frame that expands to ``n`` zero bytes (``n``: a multiple of 16 MiB)."""
    import zstandard

    buf, zero = io.BytesIO(), bytes(16 << 20)
    with zstandard.ZstdCompressor(level=1).stream_writer(buf, size=n, closefd=False) as w:
        for _ in range(n // len(zero)):
            w.write(zero)
    return buf.getvalue()


def lz4_bomb(n: int) -> bytes:
    """An lz4 frame that expands to ``n`` zero bytes (``n``: a multiple of 16 MiB)."""
    import lz4.frame

    c, zero = lz4.frame.LZ4FrameCompressor(content_checksum=False), bytes(16 << 20)
    parts = [c.begin(source_size=n)] + [c.compress(zero) for _ in range(n // len(zero))]
    return b"".join(parts + [c.flush()])
