"""The deterministic parts of the image build: layer tars, OCI archives, tags.

These run in milliseconds and need no root: they pin down the properties the
no-op rebuild and the runtimes' importers rely on.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import random
import tarfile
from pathlib import Path

from podshm import testimage
from podshm.cache import content_tag
from podshm.image import layers, oci

REF = "podshm.local/podshm-test:0123456789ab"


def _add(tar: tarfile.TarFile, name: str, data: bytes | None = None, **attrs: object) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = random.randint(1_000_000, 2_000_000_000)
    info.uname, info.gname = "someone", "somegroup"
    for key, value in attrs.items():
        setattr(info, key, value)
    if data is not None:
        info.size = len(data)
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def _rootfs_tar(path: Path, order_seed: int) -> Path:
    """A small rootfs tarball like mmdebstrap's, in a shuffled order with random mtimes."""
    entries = [
        ("./", {"type": tarfile.DIRTYPE, "mode": 0o755}, None),
        ("./usr/", {"type": tarfile.DIRTYPE, "mode": 0o755}, None),
        ("./usr/bin/", {"type": tarfile.DIRTYPE, "mode": 0o755}, None),
        ("./usr/bin/zcat", {"mode": 0o755}, b"zcat-binary"),
        # a hard link that sorts *before* its target: must become the data carrier
        ("./usr/bin/gunzip", {"type": tarfile.LNKTYPE, "linkname": "./usr/bin/zcat"}, None),
        ("./usr/bin/sh", {"type": tarfile.SYMTYPE, "linkname": "dash"}, None),
        ("./var/", {"type": tarfile.DIRTYPE, "mode": 0o755}, None),
        ("./var/mail/", {"type": tarfile.DIRTYPE, "mode": 0o2775, "gid": 8}, None),
        ("./dev/", {"type": tarfile.DIRTYPE, "mode": 0o755}, None),
        ("./dev/null", {"type": tarfile.CHRTYPE, "devmajor": 1, "devminor": 3}, None),
        ("./etc/", {"type": tarfile.DIRTYPE, "mode": 0o755}, None),
        ("./etc/passwd", {"mode": 0o644}, b"root:x:0:0::/root:/bin/sh\n"),
    ]
    rng = random.Random(order_seed)
    # keep directories first (as a real tar does), shuffle the rest
    dirs = [e for e in entries if e[1].get("type") == tarfile.DIRTYPE]
    rest = [e for e in entries if e not in dirs]
    rng.shuffle(rest)
    rest.sort(key=lambda e: e[1].get("type") == tarfile.LNKTYPE)  # links after their targets
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for name, attrs, data in dirs + rest:
            _add(tar, name, data, **attrs)
    return path


def _members(layer: layers.Layer) -> list[tarfile.TarInfo]:
    with tarfile.open(layer.path, "r:gz") as tar:
        return tar.getmembers()


def test_layer_is_sorted_normalised_and_without_devices(tmp_path: Path) -> None:
    layer = layers.layer_from_tar(
        _rootfs_tar(tmp_path / "a.tar", 1),
        tmp_path / "a.tar.gz",
        exclude=lambda name: name.startswith("dev/"),
    )
    members = _members(layer)
    names = [m.name for m in members]
    assert names == sorted(names)
    assert names == [
        "dev",
        "etc",
        "etc/passwd",
        "usr",
        "usr/bin",
        "usr/bin/gunzip",
        "usr/bin/sh",
        "usr/bin/zcat",
        "var",
        "var/mail",
    ]
    assert {m.mtime for m in members} == {layers.EPOCH}
    assert {(m.uname, m.gname) for m in members} == {("", "")}
    by_name = {m.name: m for m in members}
    assert by_name["var/mail"].gid == 8 and by_name["var/mail"].mode == 0o2775
    assert by_name["usr/bin/gunzip"].isreg() and by_name["usr/bin/gunzip"].size == 11
    assert by_name["usr/bin/zcat"].islnk() and by_name["usr/bin/zcat"].linkname == "usr/bin/gunzip"
    assert by_name["usr/bin/sh"].issym() and by_name["usr/bin/sh"].linkname == "dash"


def test_layer_bytes_do_not_depend_on_input_order_or_mtimes(tmp_path: Path) -> None:
    a = layers.layer_from_tar(_rootfs_tar(tmp_path / "a.tar", 1), tmp_path / "a.tar.gz")
    b = layers.layer_from_tar(_rootfs_tar(tmp_path / "b.tar", 2), tmp_path / "b.tar.gz")
    assert a.path.read_bytes() == b.path.read_bytes()
    assert (a.digest, a.diff_id, a.size) == (b.digest, b.diff_id, b.size)
    assert a.digest == "sha256:" + hashlib.sha256(a.path.read_bytes()).hexdigest()
    assert a.diff_id == "sha256:" + hashlib.sha256(gzip.decompress(a.path.read_bytes())).hexdigest()


def test_gzip_header_has_no_timestamp_or_name(tmp_path: Path) -> None:
    layer = layers.layer_from_entries(
        [layers.FileEntry("pause", b"\x7fELF", mode=0o755)], tmp_path / "l"
    )
    header = layer.path.read_bytes()[:10]
    assert header[3] == 0  # FLG: no FNAME, no FEXTRA
    assert header[4:8] == b"\0\0\0\0"  # MTIME


def _archive(tmp_path: Path, name: str = "img.oci.tar") -> oci.WrittenArchive:
    layer = layers.layer_from_entries(
        [
            layers.FileEntry("pause", b"binary", mode=0o755),
            layers.FileEntry("etc", kind="dir", mode=0o755),
            layers.FileEntry("bin", kind="symlink", target="usr/bin", mode=0o777),
        ],
        tmp_path / f"{name}.layer",
    )
    config = oci.ImageConfig(user="65532:65532", cmd=("sleep", "infinity"))
    return oci.write_oci_archive(tmp_path / name, REF, [layer], config, "test", arch="amd64")


def test_archive_layout_names_the_image_for_containerd_oci_and_docker(tmp_path: Path) -> None:
    written = _archive(tmp_path)
    with tarfile.open(written.path) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isreg()}
        assert {m.mtime for m in tar.getmembers()} == {layers.EPOCH}
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"])
    assert index["schemaVersion"] == 2 and index["mediaType"] == oci.MEDIA_INDEX
    (descriptor,) = index["manifests"]
    assert descriptor["annotations"] == {
        "io.containerd.image.name": REF,
        "org.opencontainers.image.ref.name": REF,
    }
    assert descriptor["platform"] == {"architecture": "amd64", "os": "linux"}
    assert descriptor["digest"] == written.manifest_digest
    assert oci.read_archive_index(written.path) == index
    # every blob is named by its own sha256
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            assert name.rsplit("/", 1)[1] == hashlib.sha256(data).hexdigest()
    manifest = json.loads(files["blobs/sha256/" + written.manifest_digest.split(":")[1]])
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    assert config["config"]["User"] == "65532:65532"
    assert config["config"]["Cmd"] == ["sleep", "infinity"]
    assert config["rootfs"]["diff_ids"][0].startswith("sha256:")
    (docker,) = json.loads(files["manifest.json"])
    assert docker["RepoTags"] == [REF]
    assert docker["Config"] == "blobs/sha256/" + manifest["config"]["digest"].split(":")[1]


def test_archive_is_byte_identical_when_rewritten(tmp_path: Path) -> None:
    first = _archive(tmp_path, "one.oci.tar")
    second = _archive(tmp_path, "two.oci.tar")
    assert first.path.read_bytes() == second.path.read_bytes()
    assert not list(tmp_path.glob("*.tmp"))


def test_tag_is_stable_for_equal_inputs() -> None:
    inputs = {"packages": ["a=1", "b=2"], "wheels": {"x.whl": "00"}, "builder": 1}
    reordered = {"builder": 1, "wheels": {"x.whl": "00"}, "packages": ["a=1", "b=2"]}
    assert content_tag(inputs) == content_tag(reordered)
    assert len(content_tag(inputs)) == 12
    assert content_tag(inputs) != content_tag({**inputs, "packages": ["a=1", "b=3"]})


def test_tag_changes_when_a_source_file_changes(tmp_path: Path) -> None:
    pkg = tmp_path / "podshm"
    (pkg / "ipc").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "ipc" / "cli.py").write_text("def main():\n    return 0\n")
    before = testimage.source_digest(pkg)
    # bytecode is not source: it must not change the tag
    (pkg / "ipc" / "__pycache__").mkdir()
    (pkg / "ipc" / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"junk")
    assert testimage.source_digest(pkg) == before
    tag_before = content_tag({"podshm_source": before})
    (pkg / "ipc" / "cli.py").write_text("def main():\n    return 1\n")
    after = testimage.source_digest(pkg)
    assert after != before
    assert content_tag({"podshm_source": after}) != tag_before
    # a renamed file with the same content is a different source too
    (pkg / "ipc" / "cli.py").rename(pkg / "ipc" / "main.py")
    assert testimage.source_digest(pkg) != after
