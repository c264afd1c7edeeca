#!/usr/bin/env python3
"""Seed corpus for the fuzzers: small archives in every format the tar
reader knows (ustar, GNU long names, pax, gzip) and a few malformed pax
headers; guest files from examples/ plus anchors and aliases.
Usage: seeds.py OUTDIR (writes OUTDIR/tar and OUTDIR/config)."""
import glob, gzip, io, os, sys, tarfile

out = sys.argv[1]
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
os.makedirs(os.path.join(out, "tar"), exist_ok=True)
os.makedirs(os.path.join(out, "config"), exist_ok=True)


def archive(fmt, long=False):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt) as t:
        d = tarfile.TarInfo("etc" + ("/x" * 60 if long else ""))
        d.type = tarfile.DIRTYPE
        d.mode = 0o755
        t.addfile(d)
        f = tarfile.TarInfo("etc/hostname")
        f.size = 5
        f.mode = 0o4755
        f.uid = 1000
        f.mtime = 1700000000.5
        t.addfile(f, io.BytesIO(b"host\n"))
        s = tarfile.TarInfo("bin/sh")
        s.type = tarfile.SYMTYPE
        s.linkname = "busybox" + ("y" * 120 if long else "")
        t.addfile(s)
        h = tarfile.TarInfo("etc/hn2")
        h.type = tarfile.LNKTYPE
        h.linkname = "etc/hostname"
        t.addfile(h)
        c = tarfile.TarInfo("dev/null")
        c.type = tarfile.CHRTYPE
        c.devmajor, c.devminor = 1, 3
        t.addfile(c)
    return b.getvalue()


def pax_raw(records):
    """One 'x' header with these raw record bytes, then a file."""
    b = bytearray(archive(tarfile.USTAR_FORMAT))
    h = tarfile.TarInfo("././@PaxHeader")
    h.type = tarfile.XHDTYPE
    h.size = len(records)
    hdr = h.tobuf(tarfile.USTAR_FORMAT)
    pad = b"\0" * ((512 - len(records) % 512) % 512)
    return hdr + records + pad + bytes(b)


seeds = {
    "ustar": archive(tarfile.USTAR_FORMAT),
    "gnu-long": archive(tarfile.GNU_FORMAT, True),
    "pax-long": archive(tarfile.PAX_FORMAT, True),
    "pax.gz": gzip.compress(archive(tarfile.PAX_FORMAT)),
    "pax-len1": pax_raw(b"1 "),
    "pax-noeq": pax_raw(b"9 pathxx\n"),
    "pax-long-len": pax_raw(b"99 path=x\n"),
    "pax-ok": pax_raw(b"12 path=abc\n16 uid=4294967\n"),
}
for name, data in seeds.items():
    with open(os.path.join(out, "tar", name), "wb") as f:
        f.write(data)

for p in glob.glob(os.path.join(root, "examples", "*.yaml")):
    with open(p, "rb") as f, open(os.path.join(out, "config", os.path.basename(p)), "wb") as g:
        g.write(f.read())
extra = {
    "alias.yaml": b"kind: container\nname: a\nrootfs: r\ncommand: [&c /bin/sh, *c]\nenv: &e {A: &v x, B: *v}\n",
    "vm.yaml": b"name: v\nkernel: &k vmlinuz\ninitrd: *k\nmemory: 1G\nvcpus: 2\ndisks:\n  - {path: d.img, readonly: true}\nnets: [{tap: t0}]\n",
    "slots.yaml": b"kernel: vmlinuz\ndisks:\n  - {path: d.img, slot: 7}\n  - {path: d.img}\nnets: [{tap: t0, slot: 2}, {tap: t1, slot: 7}]\n",
}
for name, data in extra.items():
    with open(os.path.join(out, "config", name), "wb") as f:
        f.write(data)
