"""Signed model bundles: one tar file that carries a model version from one node to another.

Layout (uncompressed POSIX tar, members in this order)::

    manifest.json     format, exporting node's key id, model name, version, alias, creation time,
                      and the path, size and SM3 digest of every other member
    manifest.sig      the exporting node's SM2 signature of the exact ``manifest.json`` bytes
    model/model.onnx, model/extra_files/warehouse_model.json, ...   the members the manifest lists

Reading is one pass over the archive. The signature is checked against a trusted public key
before any member is written, so a changed manifest byte is refused as tampering; every member is
then streamed to the staging directory through SM3 and compared with the signed manifest. Member
names are relative POSIX paths without ``..``; anything else (absolute paths, traversal, links,
devices, members the manifest does not list) is refused, and nothing is ever extracted with
``tarfile``'s own extraction. This module knows nothing about MLflow or the registry.
"""

from __future__ import annotations

import datetime as dt
import re
import tarfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from warehouse.errors import BundleInvalid, BundleTampered
from warehouse.security import SM3_CHUNK_BYTES, sm2_sign, sm2_verify, sm3_file_hex

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.hashes import Hash

    from warehouse.security import Sm2KeyPair

MANIFEST_MEMBER = "manifest.json"
SIGNATURE_MEMBER = "manifest.sig"
MAX_MANIFEST_BYTES = 1 << 20
"""Manifest and signature are read into memory; anything larger is not a bundle."""
MEMBER_PATH = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
KEY_ID = r"^[0-9a-f]{16}$"

ModelT = TypeVar("ModelT", bound=BaseModel)
PublicKeyLookup = Callable[[str], str]
"""Key id -> trusted public key (hex); raises when the key id is not trusted."""


class BundleMember(BaseModel):
    """One member of a bundle as the manifest lists it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    size_bytes: int = Field(ge=0)
    sm3: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("path")
    @classmethod
    def _safe_path(cls, value: str) -> str:
        return check_member_path(value)


class BundleManifest(BaseModel):
    """What a bundle holds and who made it; its exact bytes are what the exporting node signs."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    format: Literal["warehouse-model-bundle"] = "warehouse-model-bundle"
    format_version: Literal[1] = 1
    node_key_id: str = Field(pattern=KEY_ID)
    """Key id of the exporting node's SM2 key (its node id)."""
    model_name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
    version: str = Field(pattern=r"^[0-9]+$")
    alias: str | None
    """Alias the version was exported by, if it was named by one."""
    created_at: dt.datetime
    members: tuple[BundleMember, ...]

    def member(self, path: str) -> BundleMember | None:
        """The listed member at ``path``, if any."""
        return next((member for member in self.members if member.path == path), None)


class BundleSignature(BaseModel):
    """The ``manifest.sig`` member: which key signed the manifest, and the signature."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Literal["SM2-with-SM3"] = "SM2-with-SM3"
    key_id: str = Field(pattern=KEY_ID)
    signature: str = Field(pattern=r"^[0-9a-f]{128}$")


@dataclass(frozen=True)
class UnpackedBundle:
    """A bundle whose signature and every member verified, unpacked into ``directory``."""

    manifest: BundleManifest
    directory: Path


def check_member_path(path: str) -> str:
    """``path`` if it is a safe relative member name; :class:`BundleInvalid` naming it otherwise."""
    parts = PurePosixPath(path).parts
    if not MEMBER_PATH.fullmatch(path) or any(part in {".", ".."} for part in parts):
        raise BundleInvalid(
            f"bundle member {path!r} is not a relative path of letters, digits, _ . - without '..' "
            "(absolute paths and path traversal are refused)"
        )
    return path


def write_bundle(
    out: Path,
    *,
    files: Mapping[str, Path],
    key: Sm2KeyPair,
    model_name: str,
    version: str,
    alias: str | None,
) -> BundleManifest:
    """Write ``files`` (member name -> local file) as a bundle signed by ``key``; its manifest."""
    members = tuple(
        BundleMember(path=check_member_path(name), size_bytes=path.stat().st_size, sm3=sm3_file_hex(path))
        for name, path in sorted(files.items())
    )
    manifest = BundleManifest(
        node_key_id=key.key_id,
        model_name=model_name,
        version=version,
        alias=alias,
        created_at=dt.datetime.now(dt.UTC),
        members=members,
    )
    manifest_bytes = manifest.model_dump_json(indent=2).encode("utf-8")
    signature = BundleSignature(key_id=key.key_id, signature=sm2_sign(key, manifest_bytes))
    mtime = int(manifest.created_at.timestamp())
    partial = out.with_name(f".{out.name}.partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
        _add_bytes(archive, MANIFEST_MEMBER, manifest_bytes, mtime)
        _add_bytes(archive, SIGNATURE_MEMBER, signature.model_dump_json().encode("utf-8"), mtime)
        for member in members:
            with files[member.path].open("rb") as stream:
                archive.addfile(_member_info(member.path, member.size_bytes, mtime), stream)
    partial.replace(out)
    return manifest


def unpack_bundle(bundle: Path, directory: Path, *, public_key_for: PublicKeyLookup) -> UnpackedBundle:
    """Verify ``bundle`` in one pass and unpack its members under ``directory`` (which must be empty)."""
    with _open_stream(bundle) as archive:
        manifest_bytes = _read_small_member(archive, MANIFEST_MEMBER)
        signature = _parse(BundleSignature, _read_small_member(archive, SIGNATURE_MEMBER), SIGNATURE_MEMBER)
        public_key = public_key_for(signature.key_id)
        if not sm2_verify(public_key, manifest_bytes, signature.signature):
            raise BundleTampered(
                f"the SM2 signature of {MANIFEST_MEMBER} by node {signature.key_id} does not verify "
                "(the manifest or its signature was changed)"
            )
        manifest = _parse(BundleManifest, manifest_bytes, MANIFEST_MEMBER)
        if manifest.node_key_id != signature.key_id:
            raise BundleTampered(
                f"{MANIFEST_MEMBER} names node {manifest.node_key_id} but {signature.key_id} signed it"
            )
        seen: set[str] = set()
        while (info := archive.next()) is not None:  # iterating would replay the two read already
            member = _listed_member(manifest, info, seen)
            _stream_member(archive, info, member, directory)
            seen.add(member.path)
    missing = [member.path for member in manifest.members if member.path not in seen]
    if missing:
        raise BundleTampered(f"the bundle lacks members its signed manifest lists: {', '.join(missing)}")
    return UnpackedBundle(manifest=manifest, directory=directory)


@contextmanager
def _open_stream(bundle: Path) -> Iterator[tarfile.TarFile]:
    try:
        with bundle.open("rb") as stream, tarfile.open(fileobj=stream, mode="r|*") as archive:
            yield archive
    except tarfile.TarError as exc:
        raise BundleInvalid(f"{bundle.name} is not a readable bundle (tar): {exc}") from exc


def _read_small_member(archive: tarfile.TarFile, name: str) -> bytes:
    info = archive.next()
    if info is None or info.name != name or not info.isfile():
        found = "nothing" if info is None else repr(info.name)
        raise BundleInvalid(
            f"a bundle starts with {MANIFEST_MEMBER} then {SIGNATURE_MEMBER}; expected {name}, found {found}"
        )
    if info.size > MAX_MANIFEST_BYTES:
        raise BundleInvalid(f"bundle member {name} is {info.size} bytes, more than {MAX_MANIFEST_BYTES}")
    stream = archive.extractfile(info)
    if stream is None:
        raise BundleInvalid(f"bundle member {name} cannot be read")
    return stream.read()


def _parse(model: type[ModelT], data: bytes, member: str) -> ModelT:
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise BundleInvalid(f"bundle member {member} is invalid: {exc.errors()[0]['msg']}") from exc


def _listed_member(manifest: BundleManifest, info: tarfile.TarInfo, seen: set[str]) -> BundleMember:
    """The manifest entry of archive member ``info``; refuse unsafe, unlisted or repeated members."""
    path = check_member_path(info.name)
    if not info.isfile():
        raise BundleInvalid(f"bundle member {path!r} is not a regular file (links and devices are refused)")
    member = manifest.member(path)
    if member is None or path in seen:
        problem = "appears twice" if path in seen else "is not listed in the signed manifest"
        raise BundleTampered(f"bundle member {path!r} {problem}")
    return member


def _stream_member(archive: tarfile.TarFile, info: tarfile.TarInfo, member: BundleMember, directory: Path) -> None:
    """Copy one member to ``directory`` through SM3; refuse it when size or digest differ from the manifest."""
    from cryptography.hazmat.primitives import hashes

    source = archive.extractfile(info)
    if source is None or info.size != member.size_bytes:
        raise BundleTampered(f"bundle member {member.path} is not the size its signed manifest gives")
    target = directory.joinpath(*PurePosixPath(member.path).parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashes.Hash(hashes.SM3())
    with target.open("xb") as sink:
        _copy_through(source, sink, digest)
    if digest.finalize().hex() != member.sm3:
        target.unlink()
        raise BundleTampered(f"bundle member {member.path} does not match its SM3 digest in the signed manifest")


def _copy_through(source: IO[bytes], sink: IO[bytes], digest: Hash) -> None:
    while chunk := source.read(SM3_CHUNK_BYTES):
        digest.update(chunk)
        sink.write(chunk)


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes, mtime: int) -> None:
    archive.addfile(_member_info(name, len(data), mtime), BytesIO(data))


def _member_info(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, 0o644
    return info
