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
}
for name, data in extra.items():
    with open(os.path.join(out, "config", name), "wb") as f:
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
