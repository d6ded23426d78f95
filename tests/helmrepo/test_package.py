"""Chart archives: deterministic bytes, Helm's layout, Helm's refusals, .helmignore."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from catalog_server.helmrepo import (
    MAX_CHART_SIZE,
    MAX_FILE_SIZE,
    HelmIgnore,
    chart_digest,
    package_chart,
)

MTIME = 1_700_000_000

CHART = [
    ("Chart.yaml", b"apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: '1.0'\n"),
    ("values.yaml", b"replicas: 1\n"),
    ("templates/deployment.yaml", b"kind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"),
    ("templates/_helpers.tpl", b'{{- define "demo.name" -}}demo{{- end }}\n'),
    ("README.md", b"# demo\n"),
]


def members(data: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return tar.getmembers()


def names(data: bytes) -> list[str]:
    return [m.name for m in members(data)]


def test_same_input_gives_same_bytes_whatever_the_order():
    first = package_chart("demo", CHART, MTIME)
    assert package_chart("demo", list(reversed(CHART)), MTIME) == first
    assert chart_digest(first) == chart_digest(package_chart("demo", iter(CHART), MTIME))


def test_same_bytes_from_checkouts_in_different_folders_and_processes(tmp_path: Path):
    # Two checkouts with different file times, read and packaged in fresh interpreters.
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from catalog_server.helmrepo import package_chart
        root = Path(sys.argv[1])
        files = [(p.relative_to(root).as_posix(), p.read_bytes())
                 for p in root.rglob("*") if p.is_file()]
        sys.stdout.buffer.write(package_chart("demo", files, int(sys.argv[2])))
        """
    )
    outputs = []
    for number, folder in enumerate(("a", "b/deeper")):
        root = tmp_path / folder / "demo"
        for path, data in CHART:
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(data)
        for path, _ in CHART:
            os.utime(root / path, (MTIME + number * 1000, MTIME + number * 1000))
        repo_root = Path(__file__).resolve().parents[2]
        outputs.append(
            subprocess.run(
                [sys.executable, "-c", script, str(root), str(MTIME)],
                check=True,
                capture_output=True,
                cwd=repo_root,
            ).stdout
        )
    assert outputs[0] == outputs[1] == package_chart("demo", CHART, MTIME)


def test_mtime_changes_the_digest():
    assert chart_digest(package_chart("demo", CHART, MTIME)) != chart_digest(
        package_chart("demo", CHART, MTIME + 1)
    )


def test_layout_is_helms():
    data = package_chart("demo", CHART, MTIME)
    infos = members(data)
    assert [m.name for m in infos] == sorted(f"demo/{path}" for path, _ in CHART)
    for info in infos:
        assert info.isfile()  # Helm writes no directory entries
        assert info.mode == 0o644
        assert (info.uid, info.gid, info.uname, info.gname) == (0, 0, "", "")
        assert info.mtime == MTIME
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        member = tar.extractfile("demo/values.yaml")
        assert member is not None and member.read() == b"replicas: 1\n"


def test_gzip_header_leaks_no_time_or_file_name():
    data = package_chart("demo", CHART, MTIME)
    assert data[:3] == b"\x1f\x8b\x08"
    flags = data[3]
    assert not flags & 0x08  # FNAME
    assert data[4:8] == b"\x00\x00\x00\x00"  # MTIME
    assert flags & 0x10 and b"Helm\x00" in data[:80]  # Helm's comment, as helm package
    assert gzip.decompress(data)[:10] == b"demo/Chart"


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "../evil", "templates/../../evil", "templates\\x.yaml", "a//b", "./a", ""],
)
def test_refuses_paths_leaving_or_confusing_the_chart(path: str):
    with pytest.raises(ValueError, match="chart file path"):
        package_chart("demo", [*CHART, (path, b"x")], MTIME)


@pytest.mark.parametrize("name", ["", "..", "a/b", "a\\b"])
def test_refuses_names_that_cannot_be_a_folder(name: str):
    with pytest.raises(ValueError, match="chart name"):
        package_chart(name, CHART, MTIME)


def test_refuses_a_path_given_twice():
    with pytest.raises(ValueError, match="twice"):
        package_chart("demo", [*CHART, ("values.yaml", b"")], MTIME)


def test_refuses_a_file_over_helms_limit():
    package_chart("demo", [*CHART, ("files/max.bin", b"\0" * MAX_FILE_SIZE)], MTIME)
    with pytest.raises(ValueError, match=r"files/big.bin.*over 5 MiB"):
        package_chart("demo", [*CHART, ("files/big.bin", b"\0" * (MAX_FILE_SIZE + 1))], MTIME)


def test_refuses_a_chart_over_helms_limit():
    chunk = b"\0" * MAX_FILE_SIZE
    count = MAX_CHART_SIZE // MAX_FILE_SIZE + 1
    files = [*CHART, *((f"files/{i}.bin", chunk) for i in range(count))]
    with pytest.raises(ValueError, match="over 100 MiB"):
        package_chart("demo", files, MTIME)


def test_ignored_files_do_not_count_against_the_limits():
    files = [*CHART, (".helmignore", b"*.bin\n"), ("big.bin", b"\0" * (MAX_FILE_SIZE + 1))]
    assert "demo/big.bin" not in names(package_chart("demo", files, MTIME))


def test_refuses_a_chart_without_chart_yaml():
    with pytest.raises(ValueError, match="Chart.yaml is missing"):
        package_chart("demo", CHART[1:], MTIME)


def test_git_folders_and_template_dotfiles_are_left_out():
    files = [
        *CHART,
        (".git/config", b"[core]\n"),
        ("charts/sub/.git/HEAD", b"ref\n"),
        ("templates/.swp", b"x"),
        ("templates/sub/.keep", b"x"),  # Helm's default rule covers templates/ only
    ]
    got = names(package_chart("demo", files, MTIME))
    assert not any(".git/" in name for name in got)
    assert "demo/templates/.swp" not in got
    assert "demo/templates/sub/.keep" in got


# Each case below was checked against `helm package` (Helm v4.2.3 through the SDK).
HELMIGNORE_CASES = [
    ("*.txt", {"keep.txt", "other.txt", "sub/keep.txt", "sub/deep/f.txt"}),
    ("keep.txt", {"keep.txt", "sub/keep.txt"}),
    ("/keep.txt", {"keep.txt"}),
    ("/sub/keep.txt", {"sub/keep.txt"}),
    ("sub/", {"sub/keep.txt", "sub/deep/f.txt"}),
    ("sub", {"sub/keep.txt", "sub/deep/f.txt"}),
    ("deep/", {"sub/deep/f.txt"}),
    ("*/deep", {"sub/deep/f.txt"}),
    ("sub/*", {"sub/keep.txt", "sub/deep/f.txt"}),
    ("sub/keep.txt/", set()),  # a file never matches a directory rule
    ("[^k]*.txt", {"sub/deep/f.txt", "other.txt"}),
    ("[!k]*.txt", {"keep.txt", "sub/keep.txt"}),  # Go: '!' is not negation in a class
    ("\\*.txt", set()),
    ("# comment\n\n  other.txt  ", {"other.txt"}),
    (".helmignore", {".helmignore"}),
]
IGNORE_TREE = ["keep.txt", "other.txt", "sub/keep.txt", "sub/deep/f.txt"]


@pytest.mark.parametrize(("rules", "dropped"), HELMIGNORE_CASES)
def test_helmignore_drops_what_helm_drops(rules: str, dropped: set[str]):
    files = [*CHART, (".helmignore", rules.encode()), *((p, b"x") for p in IGNORE_TREE)]
    got = {name.removeprefix("demo/") for name in names(package_chart("demo", files, MTIME))}
    expected = {path for path, _ in files} - dropped
    assert got == expected


@pytest.mark.parametrize(
    ("rules", "message"),
    [("**/f.txt", "double-star"), ("!keep.txt", "negation"), ("[abc", "bad pattern")],
)
def test_helmignore_refuses_what_helm_cannot_honour(rules: str, message: str):
    with pytest.raises(ValueError, match=message):
        package_chart("demo", [*CHART, (".helmignore", rules.encode())], MTIME)


def test_helmignore_excluding_chart_yaml_is_an_error():
    with pytest.raises(ValueError, match="Chart.yaml is missing"):
        package_chart("demo", [*CHART, (".helmignore", b"Chart.yaml\n")], MTIME)


def test_helmignore_rules_directly():
    rules = HelmIgnore("build/\n*.tmp\n")
    assert rules.ignores("build", is_dir=True)
    assert not rules.ignores("build")  # a file named build is kept
    assert rules.excludes("build/out/x.yaml")
    assert rules.excludes("a/b/c.tmp")
    assert not rules.excludes("a/b/c.tmpl")


def _reference_tar(name: str, files: list[tuple[str, bytes]], mtime: int) -> bytes:
    """What Python's tarfile writes in PAX format for the same entries."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, data in files:
            info = tarfile.TarInfo(f"{name}/{path}")
            info.size, info.mode, info.mtime = len(data), 0o644, mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def test_archives_hold_the_tar_stream_pythons_tarfile_writes():
    """The headers are written without tarfile; the bytes (so the digests) are tarfile's,
    long and non-ASCII names (pax records) and sizes on block boundaries included."""
    import random

    rng = random.Random(7)
    for _ in range(300):
        files = {"Chart.yaml": b"name: c\nversion: 1.0.0\n"}
        for _ in range(rng.randint(0, 6)):
            length = rng.choice([1, 40, 85, 100, 120])
            word = "".join(
                rng.choice("abcdefgh-_é" if rng.random() < 0.1 else "abc-_") for _ in range(length)
            )
            files[f"templates/{word}.yaml"] = os.urandom(rng.choice([0, 1, 511, 512, 513, 2000]))
        name = rng.choice(["c", "chart-" + "x" * rng.randint(0, 90)])
        mtime = rng.choice([0, 1736942400, 8**11 - 1, 8**11])
        archive = package_chart(name, files.items(), mtime)
        expected = _reference_tar(name, sorted(files.items()), mtime)
        assert gzip.decompress(archive) == expected
