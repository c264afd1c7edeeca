#!/usr/bin/env python3
"""kernel-exports.py KERNEL RIP...: names guest kernel addresses (the RIPs
kvm-trace.py prints) by the kernel's exported symbols, for a kernel whose
System.map is a placeholder (Debian's: the symbols are in the -dbg
package). KERNEL is a bzImage (its payload is decompressed) or an ELF
vmlinux. The export table (__ksymtab, __ksymtab_gpl: each entry holds its
symbol's address and name as 32-bit offsets from itself) names only
exported functions: each RIP gets the nearest one at or below it, and the
next one above, so a static function in between shows as a large offset.
A kernel booted through PVH (vessel's kernel cache) runs at its link
address, so its RIPs match without adjustment; one booted through the
bzImage's own decompressor may be relocated (KASLR: subtract the "Kernel
Offset" its panic prints)."""
import bisect
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kpayload  # noqa: E402


def sections(elf):
    """name -> (address, file offset, size, flags) of an ELF64's sections."""
    shoff, = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3a)

    def sh(i):
        return struct.unpack_from("<IIQQQQ", elf, shoff + i * shentsize)
    strtab = sh(shstrndx)[4]
    out = {}
    for i in range(shnum):
        name, _, flags, addr, off, size = sh(i)
        end = elf.index(b"\0", strtab + name)
        out[elf[strtab + name:end].decode()] = (addr, off, size, flags)
    return out


def in_text(addr, text):
    return any(lo <= addr < hi for lo, hi in text)


def exports(elf):
    """Sorted (address, name) of the exported functions (symbols in an
    executable section), and the executable sections' (start, end)."""
    secs = sections(elf)
    text = [(a, a + size) for a, _, size, flags in secs.values() if flags & 4]

    def at(addr):
        for a, off, size, _ in secs.values():
            if off and a <= addr < a + size:
                return off + addr - a
        return None
    syms = []
    for name in ("__ksymtab", "__ksymtab_gpl"):
        if name not in secs:
            continue
        a, off, size, _ = secs[name]
        for i in range(0, size - size % 12, 12):
            value, name_off = struct.unpack_from("<ii", elf, off + i)
            p = at((a + i + 4 + name_off) % 2**64)
            addr = (a + i + value) % 2**64
            if p is None or not in_text(addr, text):
                continue
            syms.append((addr, elf[p:elf.index(b"\0", p)].decode()))
    syms.sort()
    return syms, text


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as f:
        elf = kpayload.vmlinux(f.read())
    syms, text = exports(elf)
    if not syms:
        sys.exit(f"{sys.argv[1]}: no export table")
    addrs = [a for a, _ in syms]
    for arg in sys.argv[2:]:
        rip = int(arg, 16)
        if not in_text(rip, text):
            print(f"{rip:#x} not in the kernel's text")
            continue
        i = bisect.bisect_right(addrs, rip) - 1
        below = f"{syms[i][1]}+{rip - syms[i][0]:#x}" if i >= 0 else "?"
        above = f", next export {syms[i + 1][1]} at +{syms[i + 1][0] - rip:#x}" if i + 1 < len(syms) else ""
        print(f"{rip:#x} {below}{above}")


if __name__ == "__main__":
    main()
