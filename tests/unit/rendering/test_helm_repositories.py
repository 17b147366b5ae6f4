"""Chart repositories: versions and ranges and a hostile index (`gitward.sourcing.chartversions`), hostile
archives and the client against a real local HTTP server (`gitward.sourcing.helmrepo`, tests.support.helmrepo)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.helmrepo import ChartRepoServer, chart_archive

from gitward.core.errors import SourceError
from gitward.sourcing import Credentials
from gitward.sourcing.chartversions import ChartVersion, RepoLimits, matches, parse_index, pick
from gitward.sourcing.helmrepo import ChartRepositories, unpack

VERSIONS = ["0.9.0", "1.0.0", "1.1.0", "1.1.5", "1.2.0-rc.1", "1.2.0", "2.0.0-beta.2", "2.0.0", "2.1.3"]


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ("1.1.0", "1.1.0"),
        ("v1.1.0", "1.1.0"),
        ("=1.1.5", "1.1.5"),
        ("1.2.0-rc.1", "1.2.0-rc.1"),
        ("1.1", "1.1.5"),
        ("1", "1.2.0"),
        ("1.x", "1.2.0"),
        ("1.1.x", "1.1.5"),
        ("*", "2.1.3"),
        ("", "2.1.3"),
        ("HEAD", "2.1.3"),
        ("^1.0.0", "1.2.0"),
        ("^0.9", "0.9.0"),
        ("~1.1.0", "1.1.5"),
        ("~1", "1.2.0"),
        (">=1.0.0 <2.0.0", "1.2.0"),
        (">=1.0.0, <1.2.0", "1.1.5"),
        (">1.1", "2.1.3"),
        ("<=1.1", "1.1.5"),
        ("<1.1.0", "1.0.0"),
        ("!=2.1.3, >=2", "2.0.0"),
        ("1.0.0 - 1.1.0", "1.1.0"),
        ("<1.0.0 || >=2.0.0 <2.1.0", "2.0.0"),
        (">=2.0.0-0 <2.0.0", "2.0.0-beta.2"),
        ("^3", None),
    ],
)
def test_pick_the_highest_matching_version(constraint: str, expected: str | None) -> None:
    versions = [ChartVersion("http://r", "c", v, "0" * 64, ("c.tgz",)) for v in VERSIONS]
    found = pick(versions, constraint)
    assert (found.version if found else None) == expected


@pytest.mark.parametrize("constraint", [">=a", "1.2.3.4", "~>", "1.2 || "])
def test_invalid_constraints_raise(constraint: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        matches(constraint, "1.0.0")


def test_pre_releases_only_when_asked_for() -> None:
    assert not matches(">=1.0.0", "1.2.0-rc.1")
    assert matches(">=1.2.0-0", "1.2.0-rc.1")
    assert not matches("^1.2.0", "not-a-version")


def index(entries: str) -> bytes:
    return f"apiVersion: v1\nentries:\n{entries}generated: now\n".encode()


def entry(name: str, version: str, digest: str = "a" * 64) -> str:
    return f"  - name: {name}\n    version: {version}\n    digest: {digest}\n    urls: [{name}-{version}.tgz]\n"


def test_only_the_wanted_chart_is_read() -> None:
    data = index("  other:\n" + entry("other", "1.0.0") + "  web:\n" + entry("web", "1.0.0") + entry("web", "2.0.0"))
    versions = parse_index(data, "http://r", "web", RepoLimits())
    assert [(v.name, v.version, v.urls) for v in versions] == [
        ("web", "1.0.0", ("web-1.0.0.tgz",)),
        ("web", "2.0.0", ("web-2.0.0.tgz",)),
    ]
    assert versions[0].digest == "a" * 64


def test_entries_without_version_or_urls_are_skipped_and_bad_digests_dropped() -> None:
    data = index("  web:\n    - {name: web}\n    - {name: web, version: 1.0.0, digest: nope, urls: [a.tgz]}\n")
    assert [(v.version, v.digest) for v in parse_index(data, "http://r", "web", RepoLimits())] == [("1.0.0", "")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (index("  web: &w\n" + entry("web", "1.0.0") + "  copy: *w\n"), "anchors and aliases are not allowed"),
        (b"apiVersion: v1\nentries:\n  web: " + b"[" * 50 + b"]" * 50 + b"\n", "nests too deeply"),
        (index("  web:\n" + entry("web", "1.0.0") * 11), "more than 10 versions"),
        (b"- just a list\n", "not a Helm repository index"),
        (b"entries: {web: [\n", "invalid repository index"),
    ],
)
def test_a_hostile_index_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_index(data, "http://r", "web", RepoLimits(max_versions=10))


def tar_gz(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def member(
    name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, link: str = ""
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, len(data)
    return info, data


CHART_YAML = b"apiVersion: v2\nname: web\nversion: 1.0.0\n"


def test_unpack_a_chart(tmp_path: Path) -> None:
    (tmp_path / "c.tgz").write_bytes(chart_archive("web", {"Chart.yaml": CHART_YAML, "templates/a.yaml": "a: 1\n"}))
    chart = unpack(tmp_path / "c.tgz", tmp_path / "out", "web", RepoLimits())
    assert chart == tmp_path / "out" / "web"
    assert (chart / "templates" / "a.yaml").read_text() == "a: 1\n"


@pytest.mark.parametrize(
    ("members", "message"),
    [
        (
            [member("web/Chart.yaml", CHART_YAML), member("web/x", kind=tarfile.SYMTYPE, link="/etc/passwd")],
            "only files",
        ),
        (
            [member("web/Chart.yaml", CHART_YAML), member("web/x", kind=tarfile.LNKTYPE, link="web/Chart.yaml")],
            "only files",
        ),
        ([member("web/Chart.yaml", CHART_YAML), member("web/../../evil", b"x")], "outside the chart"),
        ([member("/abs/Chart.yaml", CHART_YAML)], "outside the chart"),
        ([member("web/Chart.yaml", CHART_YAML), member("other/x", b"x")], "one top directory"),
        ([member(f"web/f{i}", b"x") for i in range(12)], "more than 10 files"),
        ([member("web/values.yaml", b"x")], "no Chart.yaml"),
    ],
)
def test_a_hostile_archive_is_refused(
    tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes]], message: str
) -> None:
    (tmp_path / "c.tgz").write_bytes(tar_gz(members))
    with pytest.raises(SourceError, match=message):
        unpack(tmp_path / "c.tgz", tmp_path / "out", "web", RepoLimits(max_files=10))
    assert not (tmp_path / "evil").exists()


def test_a_gzip_bomb_stops_at_the_unpacked_size_limit(tmp_path: Path) -> None:
    bomb = tar_gz([member("web/Chart.yaml", CHART_YAML), member("web/zeros", b"\0" * 20_000_000)])
    assert len(bomb) < 100_000
    (tmp_path / "c.tgz").write_bytes(bomb)
    with pytest.raises(SourceError, match="unpacks to more than the size limit"):
        unpack(tmp_path / "c.tgz", tmp_path / "out", "web", RepoLimits(max_unpacked_bytes=1_000_000))


def test_not_gzip_at_all(tmp_path: Path) -> None:
    (tmp_path / "c.tgz").write_bytes(gzip.compress(b"this is no tar file" * 100))
    with pytest.raises(SourceError, match="not a valid chart archive"):
        unpack(tmp_path / "c.tgz", tmp_path / "out", "web", RepoLimits())


@pytest.fixture
def server() -> Iterator[ChartRepoServer]:
    with ChartRepoServer() as running:
        yield running


TEMPLATE = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"


async def test_resolve_fetch_and_cache_per_version(server: ChartRepoServer, tmp_path: Path) -> None:
    for number in ("1.0.0", "1.1.0"):
        server.publish("web", number, {"templates/cm.yaml": TEMPLATE})
    repos = ChartRepositories(tmp_path, RepoLimits(index_ttl_seconds=60))
    version = await repos.resolve(server.url, "web", "~1.0", None)
    assert version.version == "1.0.0"
    chart = await repos.fetch(version, None)
    assert (chart / "Chart.yaml").read_text().startswith("apiVersion: v2\nname: web")
    assert await repos.fetch(version, None) == chart
    assert server.fetched("web-1.0.0.tgz") == 1
    assert (await repos.resolve(server.url, "web", "*", None)).version == "1.1.0"
    assert server.fetched("index.yaml") == 1  # shared within the TTL...
    await repos.resolve(server.url, "web", "*", None, not_before=time.monotonic())
    assert server.fetched("index.yaml") == 2  # ...unless a fresher answer is demanded


async def test_a_digest_mismatch_is_refused(server: ChartRepoServer, tmp_path: Path) -> None:
    server.publish("web", "1.0.0", {"templates/cm.yaml": TEMPLATE})
    server.write_index(digests={"1.0.0": hashlib.sha256(b"something else").hexdigest()})
    repos = ChartRepositories(tmp_path)
    version = await repos.resolve(server.url, "web", "1.0.0", None)
    with pytest.raises(SourceError, match="sha256 does not match the index digest") as caught:
        await repos.fetch(version, None)
    assert caught.value.reason == "DigestMismatch"
    assert not list(tmp_path.rglob("Chart.yaml"))


async def test_an_index_without_digest_is_not_trusted(server: ChartRepoServer, tmp_path: Path) -> None:
    server.publish("web", "1.0.0", {"templates/cm.yaml": TEMPLATE})
    server.write_index(digests={"1.0.0": ""})
    repos = ChartRepositories(tmp_path)
    with pytest.raises(SourceError, match="gives no sha256 digest"):
        await repos.fetch(await repos.resolve(server.url, "web", "1.0.0", None), None)


async def test_an_endless_index_is_cut_at_the_byte_limit(server: ChartRepoServer, tmp_path: Path) -> None:
    server.endless("/charts/index.yaml")
    repos = ChartRepositories(tmp_path, RepoLimits(max_index_bytes=2_000_000))
    with pytest.raises(SourceError, match="larger than the limit of 2000000 bytes"):
        await repos.resolve(server.url, "web", "*", None)


async def test_a_huge_archive_is_refused_by_its_length(server: ChartRepoServer, tmp_path: Path) -> None:
    server.publish("web", "1.0.0", {"big.bin": os.urandom(50_000)})
    repos = ChartRepositories(tmp_path, RepoLimits(max_archive_bytes=10_000))
    with pytest.raises(SourceError, match="larger than the limit of 10000 bytes"):
        await repos.fetch(await repos.resolve(server.url, "web", "1.0.0", None), None)


async def test_unknown_chart_and_version(server: ChartRepoServer, tmp_path: Path) -> None:
    server.publish("web", "1.0.0", {"templates/cm.yaml": TEMPLATE})
    repos = ChartRepositories(tmp_path)
    with pytest.raises(SourceError, match="lists no chart 'api'"):
        await repos.resolve(server.url, "api", "*", None)
    with pytest.raises(SourceError, match=r"no version matches '2\.0\.0'") as caught:
        await repos.resolve(server.url, "web", "2.0.0", None)
    assert caught.value.reason == "RevisionNotFound"


async def test_credentials_go_to_the_repository_only(tmp_path: Path) -> None:
    with ChartRepoServer(auth=("robot", "s3cret-pass")) as private, ChartRepoServer() as elsewhere:
        elsewhere.publish("web", "1.0.0", {"templates/cm.yaml": TEMPLATE})
        private.put(
            "/charts/index.yaml",
            elsewhere.files["/charts/index.yaml"].replace(b"web-1.0.0.tgz", f"{elsewhere.url}/web-1.0.0.tgz".encode()),
        )
        repos = ChartRepositories(tmp_path)
        with pytest.raises(SourceError, match="authentication failed") as caught:
            await repos.resolve(private.url, "web", "*", None)
        assert caught.value.reason == "AuthenticationFailed"
        creds = Credentials(username="robot", password="s3cret-pass")
        chart = await repos.fetch(await repos.resolve(private.url, "web", "*", creds), creds)
        assert (chart / "Chart.yaml").is_file()
        assert private.requests[-1][1].startswith("Basic ")
        assert elsewhere.requests == [("/charts/web-1.0.0.tgz", "")]


async def test_unreachable_and_missing(tmp_path: Path) -> None:
    repos = ChartRepositories(tmp_path, RepoLimits(timeout_seconds=2))
    with pytest.raises(SourceError, match="cannot reach the chart repository"):
        await repos.resolve("http://127.0.0.1:9/charts", "web", "*", None)
    with pytest.raises(SourceError, match="only http and https"):
        await repos.resolve("file:///etc", "web", "*", None)
    with ChartRepoServer() as empty, pytest.raises(SourceError, match="HTTP 404"):
        await repos.resolve(empty.url, "web", "*", None)
