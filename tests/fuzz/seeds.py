#!/usr/bin/env python3
"""Seed corpus for the fuzzers: small archives in every format the tar
reader knows (ustar, GNU long names, pax, gzip) and a few malformed pax
headers; guest files from examples/ plus anchors and aliases; state images
(docs/state-format.md) and compressed memory files; kernel payloads in each
format the kernel's build writes (gzip, xz with the x86 BCJ filter, lzma,
and zstd and lz4 -l when their tools are installed), bare and inside a
minimal bzImage header; device and vCPU state sections; OCI config.json;
kernel command lines.
Usage: seeds.py OUTDIR (one subdirectory per fuzz target)."""
import glob, gzip, io, os, struct, sys, tarfile, zlib

out = sys.argv[1]
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(root, "tests", "lib"))
import kpayload  # noqa: E402
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
    "restart.yaml": b"kind: container\nrootfs: r\nrestart: on-failure\nrestart_max: 3\nrestart_window: 1.5m\n",
    "slots.yaml": b"kernel: vmlinuz\ndisks:\n  - {path: d.img, slot: 7}\n  - {path: d.img}\nnets: [{tap: t0, slot: 2}, {tap: t1, slot: 7}]\n",
}
for name, data in extra.items():
    with open(os.path.join(out, "config", name), "wb") as f:
        f.write(data)


# State images: header, sections, crc32 trailer (docs/state-format.md)
def state(sections, fmt=1):
    body = b"".join(sid.encode().ljust(32, b"\0") + struct.pack("<II", ver, len(data)) + data
                    for sid, ver, data in sections)
    img = b"VESSELST" + struct.pack("<IIQ", fmt, 0, len(body)) + body
    return img + struct.pack("<I", zlib.crc32(img))


os.makedirs(os.path.join(out, "vmstate"), exist_ok=True)
vm = [("vcpu.0", 1, bytes(range(256)) * 4), ("vcpu.1", 1, b"\1" * 64),
      ("vm.clock", 1, struct.pack("<QI", 123456789, 0)), ("vm.pit", 2, b""),
      ("serial", 1, b"\x0c\x03"), ("virtio-blk.0", 1, b"q" * 40), ("pci.0", 1, b"\0" * 256)]
seeds = {"vm": state(vm), "empty": state([]), "newer": state(vm, 2), "one": state(vm[:1])}
for name, data in seeds.items():
    with open(os.path.join(out, "vmstate", name), "wb") as f:
        f.write(data)


# memory.z: zlib stream of "VESSELMZ" | u32 1 | u32 0 | u64 ram, then runs
def memz(runs, ram=32 << 20):
    b = b"VESSELMZ" + struct.pack("<IIQ", 1, 0, ram)
    for off, data in runs:
        b += struct.pack("<QQ", off, len(data)) + data
    return zlib.compress(b)


os.makedirs(os.path.join(out, "memz"), exist_ok=True)
seeds = {"empty": memz([]), "runs": memz([(0, b"\x90" * 4096), (1 << 20, b"ab" * 4096),
                                           ((32 << 20) - 4096, b"\xff" * 4096)]),
         "wrong-ram": memz([], 64 << 20)}
for name, data in seeds.items():
    with open(os.path.join(out, "memz", name), "wb") as f:
        f.write(data)
# vcpu_state: a "vcpu.N" payload, each blob (u32 length, bytes) of the
# size vmm/vcpu_state_x86.c reads: CPUID (2 entries), TSC kHz, MP state,
# regs, sregs, XSAVE, XCRs, debug regs, LAPIC, MSRs (2), events.
import struct
os.makedirs(os.path.join(out, "vcpu_state"), exist_ok=True)
cpuid = struct.pack("<10I", 0, 0, 0, 0xd, 0x68747541, 0x444d4163, 0x69746e65, 0, 0, 0) + \
    struct.pack("<10I", 7, 0, 1, 0, 0x9c01a9, 0, 0, 0, 0, 0)
blobs = [cpuid, struct.pack("<I", 2000000), b"\0" * 4, b"\0" * 144, b"\0" * 312,
         b"\0" * 4096, b"\0" * 392, b"\0" * 128, b"\0" * 1024,
         struct.pack("<IIQ", 0x10, 0, 12345) + struct.pack("<IIQ", 0x6e0, 0, 0),
         struct.pack("<I", 0x0d) + b"\0" * 60]
with open(os.path.join(out, "vcpu_state", "vcpu0"), "wb") as f:
    f.write(b"".join(struct.pack("<I", len(b)) + b for b in blobs))
# fuzz_device_restore: byte 0 odd XORs the rest over a driven device's
# saved payload (all zero: that payload, unchanged); even: a raw payload.
os.makedirs(os.path.join(out, "device_restore"), exist_ok=True)
for name, data in {"valid": b"\x01", "valid-nq": b"\x01" + b"\0" * 256 + b"\x01",
                   "raw-empty": b"\x00", "raw-zero": b"\x00" * 700}.items():
    with open(os.path.join(out, "device_restore", name), "wb") as f:
        f.write(data)
# Kernel payloads: a small fake ELF, compressed as the kernel's build does
# (tests/lib/kpayload.py; zstd and lz4 when their tools are installed).
kp = os.path.join(out, "kernel_payload")
os.makedirs(kp, exist_ok=True)
elf = b"\x7fELF\x02\x01\x01" + bytes(57) + bytes(range(256)) * 16
payloads = {}
for fmt in kpayload.FORMATS:
    data = kpayload.compress(fmt, elf)
    if data is not None:
        payloads[fmt] = data


def setup_header(setup_sects=4):
    """A bzImage's setup (setup_sects sectors + the boot sector) whose
    header the loaders accept: protocol 2.15, a 64-bit entry."""
    h = bytearray((setup_sects + 1) * 512)
    h[0x1f1] = setup_sects
    h[0x201] = 0x6a                                  # header ends at 0x26c
    h[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", h, 0x206, 0x020f)         # boot protocol 2.15
    struct.pack_into("<I", h, 0x22c, 0x7fffffff)     # initrd_addr_max
    struct.pack_into("<H", h, 0x236, 1)              # XLF_KERNEL_64
    struct.pack_into("<I", h, 0x238, 2047)           # cmdline_size
    struct.pack_into("<I", h, 0x260, 0x200000)       # init_size
    return h


def bzimage(payload):
    """setup_header(), a 0x40-byte stub, the payload."""
    setup = setup_header()
    struct.pack_into("<II", setup, 0x248, 0x40, len(payload))
    return bytes(setup) + bytes(0x40) + payload


for name, data in payloads.items():
    with open(os.path.join(kp, name), "wb") as f:
        f.write(data)
    with open(os.path.join(kp, "bz-" + name), "wb") as f:
        f.write(bzimage(data))
# Kernel images (fuzz_kernel_image): the first byte picks the loader (0
# bzImage, 1 ELF through PVH, 2 ELF with a setup header of 2-byte length).
def elf_image(pvh=True, paddr=16 << 20, seg=0x3000):
    notes = struct.pack("<III4sI", 4, 4, 18, b"Xen\0", paddr + 0x40) if pvh else b""
    phnum = 2 if pvh else 1
    eh = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 2, 62, 1,
                     paddr, 64, 0, 0, 64, 56, phnum, 0, 0, 0)
    ph = struct.pack("<IIQQQQQQ", 1, 7, 0x1000, 0xffffffff81000000, paddr, seg,
                     seg + 0x1000, 0x200000)
    if pvh:
        ph += struct.pack("<IIQQQQQQ", 4, 4, 0x1000 + seg, 0, 0, len(notes), len(notes), 4)
    img = bytearray(eh + ph)
    img += bytes(0x1000 - len(img))
    img += bytes(range(256)) * (seg // 256)
    return bytes(img) + notes


# ELF vmlinux images (fuzz_elf_compact): with and without the PVH note, one
# whose segment ends in zeros, one whose note lies inside its segment.
ec = os.path.join(out, "elf_compact")
os.makedirs(ec, exist_ok=True)
zeros_tail = bytearray(elf_image())
zeros_tail[0x1000 + 0x2000:0x1000 + 0x3000] = bytes(0x1000)
note_inside = bytearray(elf_image(seg=0x3000))
struct.pack_into("<Q", note_inside, 64 + 56 + 8, 0x1800)
note_inside[0x1800:0x1814] = struct.pack("<III4sI", 4, 4, 18, b"Xen\0", 0x1000040)
for name, data in {"pvh": elf_image(), "nopvh": elf_image(pvh=False),
                   "zeros-tail": bytes(zeros_tail), "note-inside": bytes(note_inside)}.items():
    with open(os.path.join(ec, name), "wb") as f:
        f.write(data)

ki = os.path.join(out, "kernel_image")
os.makedirs(ki, exist_ok=True)
for name, data in {"bzimage": b"\0" + bytes(setup_header()) + bytes(range(256)) * 16,
                   "pvh": b"\1" + elf_image(),
                   "vmlinux64": b"\2" + struct.pack("<H", 0x400) + bytes(setup_header()[:0x400]) +
                                elf_image(pvh=False)}.items():
    with open(os.path.join(ki, name), "wb") as f:
        f.write(data)
# OCI config.json seeds (fuzz_oci_spec): the bundle is "/".
import json
os.makedirs(os.path.join(out, "oci_spec"), exist_ok=True)
spec = {
    "ociVersion": "1.0.2",
    "process": {"terminal": False, "user": {"uid": 0, "gid": 0, "additionalGids": [1, 2]},
                "args": ["sh", "-c", "true"], "env": ["PATH=/bin"], "cwd": "/",
                "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                                 "permitted": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                "noNewPrivileges": True, "oomScoreAdj": 100},
    "root": {"path": "/", "readonly": True},
    "hostname": "h",
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
               {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
               {"destination": "/data", "type": "bind", "source": "/tmp",
                "options": ["rbind", "ro", "rprivate"]}],
    "annotations": {"a": "b"},
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                             {"type": "ipc"}, {"type": "network", "path": "/proc/1/ns/net"}],
              "resources": {"memory": {"limit": 1 << 26, "swap": 1 << 27},
                            "cpu": {"quota": 50000, "period": 100000},
                            "pids": {"limit": 10},
                            "devices": [{"allow": False, "access": "rwm"},
                                        {"allow": True, "type": "c", "major": 1, "minor": 3,
                                         "access": "rwm"}]},
              "cgroupsPath": "/a/b",
              "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"},
              "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
              "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                          "architectures": ["SCMP_ARCH_X86_64"],
                          "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                                       {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                                        "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]}},
}
userns = json.loads(json.dumps(spec))
userns["linux"]["namespaces"] = [{"type": t} for t in ("pid", "mount", "user")]
userns["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
userns["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
del userns["linux"]["sysctl"]
del userns["hostname"]
for name, data in {"full.json": spec, "userns.json": userns}.items():
    with open(os.path.join(out, "oci_spec", name), "w") as f:
        json.dump(data, f)

# Backup repository files (docs/backup-format.md): a chunk, an index, a
# manifest, a container tree's archive stream.
import hashlib
for d in ("backup_chunk", "backup_index", "backup_manifest", "backup_tree"):
    os.makedirs(os.path.join(out, d), exist_ok=True)
raw = b"vessel backup chunk " * 200
z = zlib.compress(raw, 1)
for name, comp, payload in (("zlib", 1, z), ("stored", 0, raw)):
    hdr = b"VBC1" + bytes([1, comp, 0, 0]) + struct.pack("<III", len(raw), len(payload),
                                                           zlib.crc32(payload))
    with open(os.path.join(out, "backup_chunk", name), "wb") as f:
        f.write(hdr + payload)
for name, kind, csize, lens in (("disk", 1, 4 << 20, [4 << 20, 4 << 20, 100]),
                                ("tree", 2, 0, [70000, 3])):
    body = b"".join(hashlib.sha256(b"%d" % i).digest() + struct.pack("<II", n, 1 if i == 1 and kind == 1 else 0)
                    if not (i == 1 and kind == 1) else bytes(32) + struct.pack("<II", n, 1)
                    for i, n in enumerate(lens))
    hdr = b"VBI1" + bytes([1, kind, 0, 0]) + struct.pack("<IIQQ", csize, 0, sum(lens), len(lens))
    data = hdr + body
    with open(os.path.join(out, "backup_index", name), "wb") as f:
        f.write(data + hashlib.sha256(data).digest())
man = {"format": 1, "id": "web/2026-12-03T10:00:00Z", "guest": "web", "kind": "vm",
       "started": 1796292000, "duration_ms": 1200, "freeze_ms": -1, "bytes_read": 1 << 20,
       "bytes_logical": 1 << 30, "bytes_new": 4096, "chunks": 3, "chunks_new": 1,
       "definition_path": "/srv/web.yaml", "definition": "kind: vm\nkernel: k\n",
       "items": [{"type": "disk", "name": "disk0", "file": "web.img", "index": "disk0.idx",
                  "index_sha256": "00" * 32, "source": "/srv/web.img", "size": 1 << 30},
                 {"type": "tree", "name": "rootfs", "file": "rootfs", "index": "rootfs.idx",
                  "index_sha256": "ab" * 32, "source": "/srv/ct", "size": 12345}]}
with open(os.path.join(out, "backup_manifest", "full.json"), "w") as f:
    json.dump(man, f)


def rec(t, path, mode, extra=b"", xattrs=()):
    b = bytes([ord(t)]) + struct.pack("<H", len(path)) + path
    b += struct.pack("<IIIqIH", mode, 0, 0, 1700000000, 5, len(xattrs))
    for n, v in xattrs:
        b += bytes([len(n)]) + n + struct.pack("<I", len(v)) + v
    return b + extra


stream = b"VBT1" + struct.pack("<I", 1)
stream += rec("d", b".", 0o40755)
stream += rec("d", b"etc", 0o40755, xattrs=[(b"user.a", b"1")])
stream += rec("f", b"etc/hostname", 0o104755, struct.pack("<Q", 5) + b"host\n")
stream += rec("h", b"etc/hn2", 0o100644, struct.pack("<H", 12) + b"etc/hostname")
stream += rec("l", b"sh", 0o120777, struct.pack("<H", 12) + b"/bin/busybox")
stream += rec("c", b"dev/null", 0o20666, struct.pack("<II", 1, 3))
stream += rec("p", b"fifo", 0o10644)
stream += b"e"
with open(os.path.join(out, "backup_tree", "tree"), "wb") as f:
    f.write(stream)

# A disk's backup bitmap (fuzz_blk_bitmap, docs/backup-format.md): clean
# with marks over 70 chunks; not clean, after a lost history; an empty image.
os.makedirs(os.path.join(out, "blk_bitmap"), exist_ok=True)
for name, flags, lost, size, words in (("clean", 1, 0, 70 << 22, [0x8000000000000005, 0x21]),
                                       ("unclean", 0, 2, (3 << 22) + 1, [0b1010]),
                                       ("empty", 1, 1, 0, [])):
    b = b"VBM1" + struct.pack("<BBHIIQQQqqQ", 1, flags, 0, 22, lost, size, 99, 12345,
                              1700000000123456789, 1700000001000000001,
                              (size + (1 << 22) - 1) >> 22)
    b += b"".join(struct.pack("<Q", w) for w in words)
    with open(os.path.join(out, "blk_bitmap", name), "wb") as f:
        f.write(b + struct.pack("<I", zlib.crc32(b)))

# host.yaml seeds (fuzz_host_config): the appliance's host file.
os.makedirs(os.path.join(out, "host_config"), exist_ok=True)
host_seeds = {
    "full.yaml": b"hostname: edge-1\nconsole: ttyS0\nkernel: vmlinuz\nmodules: [e1000]\n"
                 b"bridges:\n  - {name: br0, address: 10.0.0.1/24, interfaces: [eth0]}\n"
                 b"data: {size: 4G}\nwatchdog: 60s\nrescue_shell: true\n",
    "empty.yaml": b"",
    "alias.yaml": b"bridges:\n  - &b {name: br0, interfaces: &i [eth0]}\n  - {name: br1, interfaces: *i}\n",
}
for name, data in host_seeds.items():
    with open(os.path.join(out, "host_config", name), "wb") as f:
        f.write(data)

# modules.dep seeds (fuzz_modules_dep): the shape of a kernel's index.
os.makedirs(os.path.join(out, "modules_dep"), exist_ok=True)
with open(os.path.join(out, "modules_dep", "modules.dep"), "wb") as f:
    f.write(b"kernel/arch/x86/kvm/kvm.ko: kernel/virt/lib/irqbypass.ko\n"
            b"kernel/arch/x86/kvm/kvm-amd.ko: kernel/arch/x86/kvm/kvm.ko kernel/virt/lib/irqbypass.ko\n"
            b"kernel/virt/lib/irqbypass.ko:\n"
            b"kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko kernel/net/llc/llc.ko\n"
            b"kernel/net/802/stp.ko: kernel/net/llc/llc.ko\nkernel/net/llc/llc.ko:\n"
            b"kernel/fs/ext4/ext4.ko.xz: kernel/fs/jbd2/jbd2.ko.xz\nkernel/fs/jbd2/jbd2.ko.xz:\n")
# fuzz_appliance_boot: load-order text, and the same bytes as a superblock.
os.makedirs(os.path.join(out, "appliance_boot"), exist_ok=True)
sb = bytearray(1024)
sb[0x38:0x3a] = b"\x53\xef"
sb[0x3a:0x3c] = b"\x01\x00"
sb[0x78:0x83] = b"vessel-data"
boot_seeds = {
    "load-order": b"kernel/net/802/stp.ko\n# c\n\nkernel/net/bridge/bridge.ko\n/abs/x.ko.xz\n",
    "superblock": bytes(sb),
}
for name, data in boot_seeds.items():
    with open(os.path.join(out, "appliance_boot", name), "wb") as f:
        f.write(data)

# fuzz_migration_stream: streams as the source writes them (docs/migration.md):
# "VESSELMG" | u32 3 | u32 0, then frames u32 type | u32 0 | u64 length.
os.makedirs(os.path.join(out, "migration_stream"), exist_ok=True)


def mig(*frames):
    b = b"VESSELMG" + struct.pack("<II", 3, 0)
    for t, payload in frames:
        b += struct.pack("<IIQ", t, 0, len(payload)) + payload
    return b


mcfg = (1, b"name: mig\nmemory: 32M\nkernel: vmlinuz\n")
morigin = (7, struct.pack("<I", 3) + b"mig/srv/guests")
mram = (2, struct.pack("<Q", 32 << 20))


def mpages(off, data):
    return (3, struct.pack("<Q", off) + data)


# DISKS: u32 count, then per disk u32 flags (1 read-only, 2 copied) | u64
# size | u32 path length | path; DISK_DATA: u32 disk | u32 0 | u64 offset |
# the bytes.
def mdisks(*disks):
    b = struct.pack("<I", len(disks))
    for flags, size, path in disks:
        b += struct.pack("<IQI", flags, size, len(path)) + path
    return (8, b)


def mdata(disk, off, data):
    return (9, struct.pack("<IIQ", disk, 0, off) + data)


mig_seeds = {
    "good": mig(mcfg, morigin, mram, mpages(0, b"\x90" * 8192), mpages(4096, b"\xcc" * 4096),
                mpages((32 << 20) - 4096, b"\xff" * 4096), (4, b"VESSELST state"), (5, b"")),
    "no-pages": mig(mcfg, morigin, mram, (4, b"s"), (5, b"")),
    "abort": mig(mcfg, morigin, mram, mpages(1 << 20, b"a" * 4096), (6, b"disk full\n")),
    "no-origin": mig(mcfg, mram, (4, b"s"), (5, b"")),
    "disks": mig(mcfg, morigin, mdisks((2, 200000, b"/var/lib/vessel/root.img"),
                                       (1, 1 << 40, b"/srv/shared/data.img")),
                 mram, mdata(0, 0, b"\xeb\x3c" * 256), mpages(0, b"\x90" * 4096),
                 mdata(0, 65536 - 8, b"x" * 16), mdata(0, 200000 - 1, b"z"),
                 (4, b"VESSELST state"), (5, b"")),
    "disks-shared": mig(mcfg, morigin, mdisks((0, 1 << 30, b"/srv/a.img")), mram,
                        (4, b"s"), (5, b"")),
    # the last bytes of a small copied disk, read-only: one byte further is out
    "disk-end": mig(mcfg, morigin, mdisks((3, 4100, b"/d")), mram, mdata(0, 4096, b"end!"),
                    (4, b"s"), (5, b"")),
    # SYNC (u64 token): the destination acks once all before it is in
    "sync": mig(mcfg, morigin, mram, mpages(0, b"\x90" * 4096), (10, struct.pack("<Q", 2)),
                mpages(0, b"\x91" * 4096), (10, struct.pack("<Q", 3)), (4, b"s"), (5, b"")),
    "reply": b"VESSELMR" + struct.pack("<II", 1, 6) + b"failed",
}
for name, data in mig_seeds.items():
    with open(os.path.join(out, "migration_stream", name), "wb") as f:
        f.write(data)

# A kernel cache entry (fuzz_kernel_cache, boot/kcache.c): the 4 KiB
# header (magic, version 2, header size, ELF size, zlib CRC-32 of the ELF,
# key) and a small ELF-like body; and an 80-byte remembered key
# (boot/kcache_key.c). The fuzzer fixes the key and the CRCs itself.
os.makedirs(os.path.join(out, "kernel_cache"), exist_ok=True)
body = b"\x7fELF\x02\x01\x01" + bytes(57) + bytes(range(256)) * 4
hdr = (b"VESSELKC" + struct.pack("<IIQQ", 2, 4096, len(body), zlib.crc32(body))).ljust(4096, b"\0")
memo = b"VESSELKK" + struct.pack("<IIQQQ", 1, 0, 8 << 20, 1700000000 * 10**9, 1700000001 * 10**9) + bytes(32)
memo += struct.pack("<Q", zlib.crc32(memo))
for name, data in {"entry": hdr + body, "memo": memo, "header-only": hdr}.items():
    with open(os.path.join(out, "kernel_cache", name), "wb") as f:
        f.write(data)

# fuzz_virtq (devices/virtio/queue.c): a header (queue size selector, flags:
# 1 EVENT_IDX, 2 two RAM regions, 4 dirty tracking, 8 device writes, 16 a
# second round; push batch, copy offset, piece size, 3 unused, then desc,
# avail and used addresses as u32: below 2^30 a plain gpa, 2 << 30 | x is
# 4 GiB - 4 KiB + x), then guest RAM from gpa 0: rings at 0x100 (desc),
# 0x400 (avail), 0x1000 (used: its own page, the only one a device that
# only reads lets the queue write), an indirect table at 0x700 (at 0x1100
# if large), buffers from 0x800.
os.makedirs(os.path.join(out, "virtq"), exist_ok=True)


def vdesc(addr, n, flags=0, nxt=0):   # flags: 1 NEXT, 2 WRITE, 4 INDIRECT
    return struct.pack("<QIHH", addr, n, flags, nxt)


def virtq(descs, heads, qsel=3, flags=8, batch=0, itab=(), rings=(0x100, 0x400, 0x1000),
          base=0):
    size = 1 << (qsel % 9)
    r = bytearray(0x1100)
    d = b"".join(descs)
    r[0x100:0x100 + len(d)] = d
    avail = struct.pack("<HH", 0, len(heads)) + b"".join(struct.pack("<H", h) for h in heads)
    r[0x400:0x400 + len(avail)] = avail
    r[0x400 + 4 + 2 * size:0x400 + 6 + 2 * size] = struct.pack("<H", 1)  # used_event
    t = b"".join(itab)
    if len(t) > 0x100:   # a big table: after the rest
        r += t
    else:
        r[0x700:0x700 + len(t)] = t
    r[0x800:0xa00] = bytes(range(256)) * 2
    hdr = bytes([qsel, flags, batch, 0, 15, 0, 0, 0]) + struct.pack("<III", *(base + a for a in rings))
    return hdr + bytes(r)


HI = (2 << 30) | 0x1000   # ring_gpa(): 4 GiB + what follows
virtq_seeds = {
    # two chains: out+in, then out, out, in
    "two-chains": virtq([vdesc(0x800, 16, 1, 1), vdesc(0x900, 64, 2),
                         vdesc(0xa00, 8, 1, 3), vdesc(0xa10, 8, 1, 4), vdesc(0xa20, 32, 2)],
                        [0, 2]),
    # the same with EVENT_IDX, dirty tracking, pushes two at a time, two rounds
    "event-idx": virtq([vdesc(0x800, 16, 1, 1), vdesc(0x900, 64, 2),
                        vdesc(0xa00, 8, 1, 3), vdesc(0xa10, 8, 1, 4), vdesc(0xa20, 32, 2)],
                       [0, 2], flags=1 | 4 | 8 | 16, batch=2),
    # an indirect table of three (out, in, in) after a direct one-buffer chain
    "indirect": virtq([vdesc(0x800, 32), vdesc(0x700, 48, 4)], [0, 1], flags=0,
                      itab=[vdesc(0x800, 16, 1, 1), vdesc(0x900, 32, 3, 2), vdesc(0x940, 32, 2)]),
    # VIRTQ_MAX_IOV readable buffers and one writable, through a table of 1025
    "indirect-max": virtq([vdesc(0x1100, 16 * 1025, 4)], [0],
                          itab=[vdesc(0x800 + i % 256, 1, 1, i + 1) for i in range(1024)] +
                               [vdesc(0x900, 64, 2)]),
    # a loop: 0 -> 1 -> 0
    "loop": virtq([vdesc(0x800, 16, 1, 1), vdesc(0x900, 16, 3, 0)], [0], flags=0),
    # rings and a buffer in the second region, at 4 GiB
    "high": virtq([vdesc((1 << 32) + 0x800, 16, 1, 1), vdesc(0x900, 64, 2)], [0],
                  flags=2 | 8, base=HI),
    # an invalid size (6): virtq_activate refuses it
    "bad-size": virtq([vdesc(0x800, 16)], [0], qsel=0xf3, flags=0),
}
for name, data in virtq_seeds.items():
    with open(os.path.join(out, "virtq", name), "wb") as f:
        f.write(data)

# fuzz_pci_regs (the PCI host and a virtio-rng in slot 3): n accesses of 8
# bytes (where | write << 2 | log2(size) << 3, offset u16, slot or offset
# bits 16-23, value u32), then guest RAM from gpa 0. where: 0 0xcf8/0xcfc,
# 1 ECAM, 2 BAR0 as the guest finds it, 3 a port from 0xcf8.
os.makedirs(os.path.join(out, "pci_regs"), exist_ok=True)
CFG, ECAM, BAR, PORT = 0, 1, 2, 3
SIZE = {1: 0, 2: 1, 4: 2, 8: 3}


def acc(where, off, val=0, write=False, size=4, hi=3):
    return struct.pack("<BHBI", where | (4 if write else 0) | SIZE[size] << 3, off, hi, val)


def regs(ops, ram=b""):
    return struct.pack("<H", len(ops)) + b"".join(ops) + ram


def bar(off, val=0, size=4, write=True):
    return acc(BAR, off & 0xffff, val, write, size, off >> 16)


# a driver's set-up of virtio-rng: memory decoding on, features, one queue
# of 16 at 0x1000 (desc), 0x2000 (avail), 0x3000 (used), DRIVER_OK, an
# MSI-X entry, then a request (64 bytes at 0x8000) and its notify
rng_setup = [
    acc(CFG, 0x00), acc(CFG, 0x10), acc(CFG, 0x04, 0x0006, True, 2),
    bar(0x14, 1, 1), bar(0x14, 3, 1), bar(0x00, 1), bar(0x04, 0, 4, False),
    bar(0x08, 1), bar(0x0c, 1), bar(0x14, 0xb, 1), bar(0x16, 0, 2),
    bar(0x18, 16, 2), bar(0x1a, 0, 2), bar(0x10, 0, 2), bar(0x20, 0x1000),
    bar(0x28, 0x2000), bar(0x30, 0x3000), bar(0x1c, 1, 2), bar(0x14, 0xf, 1),
    bar(0x4000, 0xfee00000), bar(0x4008, 0x41), bar(0x400c, 0),
]
ram = bytearray(0x9000)
ram[0x1000:0x1010] = struct.pack("<QIHH", 0x8000, 64, 2, 0)
ram[0x2000:0x2006] = struct.pack("<HHH", 0, 1, 0)
pci_seeds = {
    # every slot's vendor ID, by both mechanisms
    "probe": regs([acc(CFG, 0, hi=s) for s in range(32)] + [acc(ECAM, 0, hi=s) for s in range(32)]),
    # BAR0 sized (all ones, read back, restored) and moved, then read
    "bar-size": regs([acc(CFG, 0x04, 0, True, 2), acc(CFG, 0x10, 0xffffffff, True),
                      acc(CFG, 0x10), acc(CFG, 0x14, 0xffffffff, True), acc(CFG, 0x14),
                      acc(CFG, 0x10, 0xc0000000, True), acc(CFG, 0x14, 0, True),
                      acc(CFG, 0x04, 0x0006, True, 2), bar(0x14, 0, 1, False)]),
    # the set-up and a notify: the request is answered, ISR read
    "rng-request": regs(rng_setup + [bar(0x3000, 0, 2), bar(0x1000, 0, 1, False)], bytes(ram)),
    # the same, then the device reset and 8-byte and odd-sized accesses
    "rng-reset": regs(rng_setup + [bar(0x3000, 0, 2), bar(0x14, 0, 1), bar(0x20, 0, 8, False),
                                   bar(0x4000, 0, 8, False), bar(0x6000, 0, 8, False),
                                   acc(PORT, 1, 0, False, 1), acc(PORT, 5, 0, True, 2)], bytes(ram)),
}
for name, data in pci_seeds.items():
    with open(os.path.join(out, "pci_regs", name), "wb") as f:
        f.write(data)

# fuzz_blk_request (devices/block/request.c): nout, nin, flags (1
# read-only), max segments, capacity u64, max discard and write-zeroes
# sectors u32, a u16 per buffer (its length less one), then the readable
# bytes.
os.makedirs(os.path.join(out, "blk_request"), exist_ok=True)


def blk(outs, ins, data, ro=0, segs=1, cap=1 << 21, mdisc=1 << 16, mwz=1 << 16):
    h = bytes([len(outs), len(ins), ro, segs]) + struct.pack("<QII", cap, mdisc, mwz)
    return h + b"".join(struct.pack("<H", n - 1) for n in outs + ins) + data


def bhdr(t, sector):
    return struct.pack("<IIQ", t, 0, sector)


blk_seeds = {
    "read": blk([16], [4096, 1], bhdr(0, 8)),
    "write": blk([16, 4096], [1], bhdr(1, 0) + bytes(4096)),
    "write-split-hdr": blk([10, 6, 512], [1], bhdr(1, 2) + bytes(512)),
    "write-ro": blk([16, 512], [1], bhdr(1, 0) + bytes(512), ro=1),
    "flush": blk([16], [1], bhdr(4, 0)),
    "get-id": blk([16], [20, 1], bhdr(8, 0)),
    "get-id-short": blk([16], [7, 1], bhdr(8, 0)),
    "discard": blk([32], [1], bhdr(11, 0) + struct.pack("<QII", 64, 8, 0)),
    "write-zeroes-unmap": blk([32], [1], bhdr(13, 0) + struct.pack("<QII", 64, 8, 1)),
    "read-past-end": blk([16], [1024, 1], bhdr(0, 15), cap=16),
    "read-huge-sector": blk([16], [512, 1], bhdr(0, (1 << 64) - 1), cap=(0xf << 60) | 1),
}
for name, data in blk_seeds.items():
    with open(os.path.join(out, "blk_request", name), "wb") as f:
        f.write(data)

# fuzz_legacy_io: accesses of 4 bytes: range (0 serial, 1 RTC, 2 i8042
# data, 3 i8042 command, 4 ACPI PM, 5 reset, 6 POST, 7 0xcf8) | write << 3 |
# log2(size) << 4, or 0x40 console input; offset; value u16.
os.makedirs(os.path.join(out, "legacy_io"), exist_ok=True)


def pio(rng, off=0, val=0, write=False, size=1):
    return struct.pack("<BBH", rng | (8 if write else 0) | {1: 0, 2: 1, 4: 2}[size] << 4, off, val)


def con(byte, times=1):
    return struct.pack("<BBH", 0x40, times - 1, byte)


legacy_seeds = {
    # the 8250 set up as Linux does (DLAB, divisor, 8N1, FIFO, IER, MCR),
    # output, loopback, input from the console, LSR/IIR/RBR read
    "serial": b"".join([pio(0, 3, 0x80, True), pio(0, 0, 1, True), pio(0, 1, 0, True),
                        pio(0, 3, 3, True), pio(0, 2, 0xc7, True), pio(0, 1, 0x0f, True),
                        pio(0, 4, 0x0b, True), pio(0, 0, 0x41, True), pio(0, 5), pio(0, 2),
                        con(0x62, 4), pio(0, 5), pio(0, 0), pio(0, 0), pio(0, 2), pio(0, 6),
                        pio(0, 4, 0x1b, True), pio(0, 0, 0x42, True), pio(0, 0), pio(0, 7, 9, True),
                        pio(0, 7), pio(0, 8)]),
    # every CMOS register read, status B written, NMI bit set in the index
    "rtc": b"".join([pio(1, 0, i, True) + pio(1, 1) for i in range(0, 0x80, 3)] +
                    [pio(1, 0, 0x0b, True), pio(1, 1, 0x06, True), pio(1, 0, 0x8c, True), pio(1, 1)]),
    # i8042: the command byte read and written, output port, self-test, reset
    "i8042": b"".join([pio(3), pio(3, 0, 0x20, True), pio(2), pio(3, 0, 0x60, True),
                       pio(2, 0, 0x45, True), pio(3, 0, 0xaa, True), pio(2), pio(3, 0, 0xd1, True),
                       pio(2, 0, 0xdf, True), pio(3, 0, 0xd4, True), pio(2, 0, 0xff, True),
                       pio(3, 0, 0xfe, True)]),
    # ACPI PM: status, enables, the timer, GPE, sleep, and the reset port
    "pm": b"".join([pio(4, 0, 0, False, 2), pio(4, 2, 0x0100, True, 2), pio(4, 0, 0xffff, True, 2),
                    pio(4, 8, 0, False, 4), pio(4, 0x10, 0, False, 2), pio(4, 0x12, 1, True, 2),
                    pio(4, 4, 0, False, 2), pio(4, 4, 0x2001, True, 2), pio(4, 0x13, 0, False, 4),
                    pio(5, 0, 0x06, True), pio(6, 0, 0x12, True)]),
    # config space through 0xcf8/0xcfc, then sizes that do not fit a port
    "pci-ports": b"".join([pio(7, 0, 0x0000, True, 2), pio(7, 2, 0x8000, True, 2),
                           pio(7, 4, 0, False, 4), pio(7, 6, 0, False, 2), pio(7, 8, 0, False, 4)]),
}
for name, data in legacy_seeds.items():
    with open(os.path.join(out, "legacy_io", name), "wb") as f:
        f.write(data)

# Kernel command lines (fuzz_cmdline): the first byte is the output's size
# less one, the rest the user's line.
os.makedirs(os.path.join(out, "cmdline"), exist_ok=True)
cmdline_seeds = {
    "plain": b"console=ttyS0 quiet",
    "init-args": b"console=ttyS0 -- single x",
    "quoted": b'a="b -- c" d -- e',
    "open-quote": b'a="b c',
    "set": b"noreplace_smp foo=2 -- foo=3",
}
for name, line in cmdline_seeds.items():
    with open(os.path.join(out, "cmdline", name), "wb") as f:
        f.write(bytes([200]) + line)

# Compiled seccomp filters (fuzz_seccomp_prog): instructions (code u16, jt,
# jf, k u32), then the flags (u32).
def bpf(*insns, flags=0):
    return b"".join(struct.pack("<HBBI", *i) for i in insns) + struct.pack("<I", flags)
os.makedirs(os.path.join(out, "seccomp_prog"), exist_ok=True)
seccomp_seeds = {
    # ld [4] (arch); jeq x86_64 ? next : kill; ld [0] (nr); jeq mkdir ?
    # errno 38 : allow
    "mkdir": bpf((0x20, 0, 0, 4), (0x15, 1, 0, 0xc000003e), (0x06, 0, 0, 0),
                 (0x20, 0, 0, 0), (0x15, 0, 1, 83), (0x06, 0, 0, 0x50026),
                 (0x06, 0, 0, 0x7fff0000)),
    "allow-log": bpf((0x06, 0, 0, 0x7fff0000), flags=2),
    "mem": bpf((0x00, 0, 0, 7), (0x02, 0, 0, 3), (0x61, 0, 0, 3),
               (0x05, 0, 0, 0), (0x16, 0, 0, 0)),
}
for name, data in seccomp_seeds.items():
    with open(os.path.join(out, "seccomp_prog", name), "wb") as f:
        f.write(data)
