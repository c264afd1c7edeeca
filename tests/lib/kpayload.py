"""Kernel payloads as the kernel's build writes them: an ELF compressed in
one of the formats a bzImage carries, followed by its uncompressed size
(gzip's own trailer already ends in it). Shared by the tiny-guest tests
(tests/kvm/run.sh: every format boots) and the fuzz seeds
(tests/fuzz/seeds.py)."""
import gzip
import lzma
import shutil
import struct
import subprocess

FORMATS = ("gzip", "xz", "lzma", "zstd", "lz4")


def _tool(cmd, data):
    if not shutil.which(cmd[0]):
        return None
    return subprocess.run(cmd, input=data, stdout=subprocess.PIPE, check=True).stdout


def compress(fmt, elf):
    """The payload of elf in fmt; None if fmt needs a tool (zstd, lz4)
    that is not installed."""
    size = struct.pack("<I", len(elf))
    if fmt == "gzip":
        return gzip.compress(elf, 9)
    if fmt == "xz":
        return lzma.compress(elf, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32,
                             filters=[{"id": lzma.FILTER_X86},
                                      {"id": lzma.FILTER_LZMA2}]) + size
    if fmt == "lzma":
        return lzma.compress(elf, format=lzma.FORMAT_ALONE) + size
    cmd = {"zstd": ["zstd", "-19", "-c", "-q"], "lz4": ["lz4", "-l", "-9", "-c", "-q"]}[fmt]
    out = _tool(cmd, elf)
    return None if out is None else out + size
