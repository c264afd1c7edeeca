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


def vmlinux(image):
    """The ELF inside a bzImage (its payload decompressed), or image itself
    when it is an ELF already. Raises ValueError for anything else."""
    if image[:4] == b"\x7fELF":
        return image
    if len(image) < 0x250 or image[0x202:0x206] != b"HdrS":
        raise ValueError("not a bzImage or an ELF")
    setup = ((image[0x1f1] or 4) + 1) * 512
    off, length = struct.unpack_from("<II", image, 0x248)
    payload = image[setup + off:setup + off + length]
    if payload[:2] == b"\x1f\x8b":
        return gzip.decompress(payload)
    if payload[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    if payload[:3] == b"\x5d\x00\x00":
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(payload[:-4])
    for magic, cmd in ((b"\x28\xb5\x2f\xfd", ["zstd", "-d", "-c", "-q"]),
                       (b"\x02\x21\x4c\x18", ["lz4", "-d", "-c", "-q"])):
        if payload[:4] == magic:
            out = _tool(cmd, payload[:-4])
            if out is None:
                raise ValueError(f"{cmd[0]} is needed for this payload")
            return out
    raise ValueError("unknown payload format")
