#!/usr/bin/env python3
"""oci-image.py ROOTFS OUT.tar: ROOTFS as a one-layer OCI image archive
(oci-layout, index.json, blobs), tagged "test", for `ctr images import`."""
import hashlib, io, json, sys, tarfile

rootfs, out = sys.argv[1:3]


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    t.add(rootfs, arcname=".")
layer = buf.getvalue()
config = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
    "rootfs": {"type": "layers", "diff_ids": [digest(layer)]},
}).encode()
manifest = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": digest(config), "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": digest(layer), "size": len(layer)}],
}).encode()
index = json.dumps({
    "schemaVersion": 2,
    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "digest": digest(manifest), "size": len(manifest),
                   "annotations": {"org.opencontainers.image.ref.name": "test"}}],
}).encode()
files = {"oci-layout": b'{"imageLayoutVersion": "1.0.0"}', "index.json": index}
for b in (layer, config, manifest):
    files["blobs/sha256/" + digest(b)[7:]] = b
with tarfile.open(out, "w") as t:
    for name, data in files.items():
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
