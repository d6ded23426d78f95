"""Catalog sources: where a catalog's files come from.

A source yields a *snapshot*: the files of one catalog at one commit (or, for a plain
folder, as they are now). Loaders read snapshots only, so they never touch git or the
file system directly. Two implementations honour the `Snapshot` interface:

- `GitSnapshot`: the tree of a commit, read from git's object store (no checkout, so no
  hooks run and symlinks stay inert blobs);
- `FolderSnapshot`: a plain folder on disk, with symlinks never followed.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import NamedTuple, Protocol

from catalog_server.problems import SourceError

# Content larger than this is never read into memory; the loaders record a problem instead.
MAX_FILE_BYTES = 5 * 1024 * 1024


class SnapshotEntry(NamedTuple):
    # A named tuple rather than a dataclass: a catalog of 500,000 files makes as many, and
    # a tuple is made several times faster.
    path: str  # POSIX path relative to the catalog root
    size: int
    kind: str  # "file", "symlink" or "other" (submodules, devices, ...)


class FileTooLarge(SourceError):
    def __init__(self, path: str, size: int, limit: int):
        super().__init__(f"{path} is {size} bytes; files over {limit} bytes are not read")
        self.path, self.size, self.limit = path, size, limit


class NotARegularFile(SourceError):
    def __init__(self, path: str, kind: str):
        super().__init__(f"{path} is a {kind}, not a regular file")
        self.path, self.kind = path, kind


class Snapshot(Protocol):
    """The files of one catalog at one point in time.

    `commit` is the git commit id, or None for a plain folder. `entries()` maps every path
    (relative to the catalog root, POSIX separators) to its entry. `read(path)` returns the
    bytes of a regular file and raises `FileTooLarge` above `limit`, `NotARegularFile` for a
    symlink or anything else, and `SourceError` for a path that is not in the snapshot.
    """

    commit: str | None
    commit_time: int | None

    def entries(self) -> dict[str, SnapshotEntry]: ...

    def read(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes: ...

    def prefetch(self, paths: Iterable[str]) -> None:
        """Hint that these files will be read soon (a source may read them in bulk)."""


def clean_relpath(path: str) -> str:
    """Normalise a relative POSIX path; raise SourceError for absolute or `..` paths."""
    # Nearly every path is already clean: say so without building a PurePosixPath. Between
    # slashes added at both ends, an empty, "." or ".." part shows as "//", "/./", "/../".
    wrapped = f"/{path}/"
    if (
        path
        and "//" not in wrapped
        and "/./" not in wrapped
        and "/../" not in wrapped
        and "\\" not in path
        and "\x00" not in path
    ):
        return path
    p = PurePosixPath(path)
    if p.is_absolute() or ".." in p.parts or "\\" in path or "\x00" in path:
        raise SourceError(f"unsafe path: {path!r}")
    return str(p) if str(p) != "." else ""


class FolderSnapshot:
    """A catalog in a plain folder. Symlinks are listed as such and never followed."""

    commit: str | None = None
    commit_time: int | None = None

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        if not self.root.is_dir():
            raise SourceError(f"catalog folder {self.root} does not exist")
        self._entries: dict[str, SnapshotEntry] | None = None

    def entries(self) -> dict[str, SnapshotEntry]:
        if self._entries is None:
            self._entries = dict(self._walk())
        return self._entries

    def _walk(self) -> Iterable[tuple[str, SnapshotEntry]]:
        for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
            rel_dir = os.path.relpath(dirpath, self.root)
            dirnames[:] = sorted(d for d in dirnames if d != ".git")
            names = list(filenames) + [
                d for d in dirnames if os.path.islink(os.path.join(dirpath, d))
            ]
            for name in sorted(names):
                full = os.path.join(dirpath, name)
                rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
                st = os.lstat(full)
                if stat.S_ISLNK(st.st_mode):
                    kind = "symlink"
                elif stat.S_ISREG(st.st_mode):
                    kind = "file"
                else:
                    kind = "other"
                yield rel, SnapshotEntry(rel, st.st_size, kind)

    def read(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes:
        rel = clean_relpath(path)
        entry = self.entries().get(rel)
        if entry is None:
            raise SourceError(f"{path} is not in the catalog")
        if entry.kind != "file":
            raise NotARegularFile(path, entry.kind)
        if entry.size > limit:
            raise FileTooLarge(path, entry.size, limit)
        # O_NOFOLLOW: the file may have been swapped for a link since it was listed.
        fd = os.open(self.root / rel, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise FileTooLarge(path, len(data), limit)
        return data

    def prefetch(self, paths: Iterable[str]) -> None:
        """Files on disk are read one by one as needed: nothing to do ahead."""


_LS_TREE_RECORD = re.compile(r"(\d+) (\w+) ([0-9a-f]+) +(\S+)\t([^\0]*)\0")


class GitSnapshot:
    """The tree of one commit (optionally below `subdir`), read from git's object store."""

    def __init__(self, repo, commit: str, subdir: str = ""):  # repo: git.Repo
        self.repo = repo
        try:
            obj = repo.commit(commit)
        except Exception as exc:  # gitdb raises several unrelated types here
            raise SourceError(f"commit {commit!r} not found: {exc}") from exc
        self.commit = obj.hexsha
        self.commit_time = int(obj.committed_date)
        self.subdir = clean_relpath(subdir) if subdir else ""
        self._entries: dict[str, SnapshotEntry] | None = None
        self._shas: dict[str, str] = {}
        self._prefetched: dict[str, bytes] = {}

    def entries(self) -> dict[str, SnapshotEntry]:
        if self._entries is None:
            self._entries = self._list()
        return self._entries

    def _list(self) -> dict[str, SnapshotEntry]:
        # One `git ls-tree` call lists every path with its mode, object id and size.
        args = ["-r", "-l", "-z", "--full-tree", self.commit]
        if self.subdir:
            args += ["--", self.subdir]
        out = self.repo.git.ls_tree(*args, stdout_as_string=False)
        prefix = f"{self.subdir}/" if self.subdir else ""
        entries: dict[str, SnapshotEntry] = {}
        shas = self._shas
        # Each record reads "<mode> <type> <object id> <size, padded>\t<path>\0"; decoded
        # once as a whole (a catalog can hold 500,000 of them).
        text = out.decode("utf-8", "surrogateescape")
        make = SnapshotEntry._make
        for mode, otype, sha, size, path in _LS_TREE_RECORD.findall(text):
            if prefix:
                if not path.startswith(prefix):
                    continue
                path = path[len(prefix) :]
            kind = "symlink" if mode == "120000" else "file" if otype == "blob" else "other"
            entries[path] = make((path, int(size) if size != "-" else 0, kind))
            shas[path] = sha
        return entries

    def reopen(self) -> None:
        """In a forked process: read through git processes of its own from now on (the
        object database's `git cat-file` process is the parent's)."""
        import git

        self.repo = git.Repo(self.repo.git_dir)

    def read(self, path: str, limit: int = MAX_FILE_BYTES) -> bytes:
        rel = clean_relpath(path)
        entry = self.entries().get(rel)
        if entry is None:
            raise SourceError(f"{path} is not in the catalog")
        if entry.kind != "file":
            raise NotARegularFile(path, entry.kind)
        if entry.size > limit:
            raise FileTooLarge(path, entry.size, limit)
        data = self._prefetched.pop(rel, None)
        if data is not None:
            return data
        # The object database keeps one `git cat-file --batch` process for all reads.
        stream = self.repo.odb.stream(bytes.fromhex(self._shas[rel]))
        return stream.read()

    def prefetch(self, paths: Iterable[str], limit: int = MAX_FILE_BYTES) -> None:
        """Read these regular files in one `git cat-file --batch` pass, pipelined, rather
        than a request and an answer per file; each is handed out by `read` once. What an
        earlier call read ahead and nobody asked for is dropped (memory stays bounded by
        one call's files)."""
        entries = self.entries()
        self._prefetched.clear()
        wanted = [
            p for p in dict.fromkeys(paths)
            if (e := entries.get(p)) is not None and e.kind == "file" and e.size <= limit
        ]  # fmt: skip
        if not wanted:
            return
        process = subprocess.Popen(
            [self.repo.git.GIT_PYTHON_GIT_EXECUTABLE or "git", "cat-file", "--batch"],
            cwd=self.repo.git_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env={**os.environ, **GIT_ENV},
        )  # fmt: skip

        def feed() -> None:
            try:
                process.stdin.write("".join(f"{self._shas[p]}\n" for p in wanted).encode())
            finally:
                process.stdin.close()

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        try:
            out = process.stdout
            for path in wanted:
                header = out.readline().split()
                if len(header) != 3 or header[1] != b"blob":
                    raise SourceError(f"git could not read {path}: {b' '.join(header)!r}")
                size = int(header[2])
                self._prefetched[path] = out.read(size)
                out.read(1)  # the newline after each object
        finally:
            writer.join()
            process.stdout.close()
            process.wait()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- opening a configured catalog source -------------------------------------------------

# git runs with no prompt, no system or global config, and no transport helpers.
GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_ALLOW_PROTOCOL": "https:http:ssh:git:file",
    "GIT_ASKPASS": "true",
    "SSH_ASKPASS": "true",
}


class OpenedSource:
    """A catalog source ready to read: a snapshot of its newest state, and what changed.

    `changed_paths(old_commit)` returns the paths (relative to the catalog root) changed
    between `old_commit` and this snapshot's commit, or None when that cannot be told
    (a plain folder, or a commit that is no longer in the repository): then everything
    is reloaded.
    """

    def __init__(self, snapshot: Snapshot, repo=None, subdir: str = ""):
        self.snapshot = snapshot
        self.repo = repo
        self.subdir = subdir

    @property
    def commit(self) -> str | None:
        return self.snapshot.commit

    def changed_paths(self, old_commit: str | None) -> set[str] | None:
        if self.repo is None or not old_commit or self.commit is None:
            return None
        try:
            args = ["--name-only", "-z", "--no-renames", old_commit, self.commit]
            if self.subdir:
                args += ["--", self.subdir]
            out = self.repo.git.diff(*args, stdout_as_string=False)
        except Exception:  # the old commit is gone (force push, new clone): reload all
            return None
        prefix = f"{self.subdir}/" if self.subdir else ""
        paths = set()
        for raw in out.split(b"\0"):
            path = raw.decode("utf-8", "surrogateescape")
            if path.startswith(prefix):
                paths.add(path[len(prefix) :])
        return paths

    def last_change_times(self, folders: Iterable[str]) -> dict[str, int]:
        """For each folder (relative to the catalog root), the commit time of the newest
        commit at or before this snapshot that changed a file in it. Folders with no such
        commit, and plain folder sources, are left out. One `git log` walk serves all;
        for a few folders (an incremental sync's), a walk of the commits that changed
        them only."""
        wanted = {f.rstrip("/") for f in folders}
        if self.repo is None or self.commit is None or not wanted:
            return {}
        prefix = f"{self.subdir}/" if self.subdir else ""
        args = ["git", "--literal-pathspecs", "log", "--format=%x01%ct", "--name-only", "-z"]
        args.append(self.commit)
        if len(wanted) <= FEW_FOLDERS and "" not in wanted:
            args += ["--", *sorted(prefix + folder for folder in wanted)]
        elif self.subdir:
            args += ["--", self.subdir]
        process = self.repo.git.execute(args, as_process=True)
        found: dict[str, int] = {}
        try:
            for chunk in process.proc.stdout.read().split(b"\x01"):
                if not chunk:
                    continue
                # With -z each commit reads "\x01<time>\0\n<path>\0<path>\0...".
                stamp, _, names = chunk.partition(b"\0")
                when = int(stamp.strip() or 0)
                for raw in names.lstrip(b"\n").split(b"\0"):
                    path = raw.decode("utf-8", "surrogateescape")
                    if not path.startswith(prefix):
                        continue
                    folder = path[len(prefix) :]
                    while folder:
                        folder = folder.rpartition("/")[0]
                        if folder in wanted and folder not in found:
                            found[folder] = when
                if len(found) == len(wanted):
                    break
        finally:
            process.proc.stdout.close()
            process.proc.wait()
        return found


# Up to this many folders, the history walk of last_change_times is limited to them.
FEW_FOLDERS = 200


def open_source(source, cache_dir: Path, timeout: int = 120) -> OpenedSource:
    """Open a `catalogs.CatalogSource`: clone or fetch a remote, find a local repository.

    Raises SourceError with a message fit for the catalog's `last_error`.
    """
    import git  # GitPython: imported here so that pure readers of snapshots need not load it

    if source.is_local:
        folder = Path(source.url)
        if not folder.is_dir():
            raise SourceError(f"catalog folder {folder} does not exist")
        try:
            repo = git.Repo(folder, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            return OpenedSource(FolderSnapshot(folder / source.subdir))
        top = Path(repo.working_tree_dir or folder).resolve()
        subdir = str(PurePosixPath(*(folder.resolve() / source.subdir).relative_to(top).parts))
        subdir = "" if subdir == "." else subdir
        try:
            rev = source.branch or "HEAD"
            snapshot = GitSnapshot(repo, rev, subdir)
        except SourceError:
            if getattr(source, "base_branch", None):
                raise  # a preview's ref must exist: its base's folder is not what it previews
            # A repository with no commit yet: read the folder as it is.
            return OpenedSource(FolderSnapshot(folder / source.subdir))
        return OpenedSource(snapshot, repo, subdir)
    return _open_remote(source, cache_dir, timeout)


def _open_remote(source, cache_dir: Path, timeout: int) -> OpenedSource:
    """Fetch the branch head into a bare repository in the cache (created on first use).

    Nothing is checked out, so no hook, filter or symlink from the repository ever acts;
    the fetch is shallow (the last 50 commits), enough to diff against recent syncs.
    Credentials go only over https (a password) or ssh (a key), redirects included. A
    catalog added over the admin API (``source.restrictions``) names only the secrets its
    rules allow and connects only to the addresses `egress` checked just before.
    """
    import git

    from catalog_server import egress
    from catalog_server.catalogs import credentials_transport_error, scrub
    from catalog_server.credentials import git_environment

    restrictions = getattr(source, "restrictions", None)
    transport = credentials_transport_error(source.url, source.credentials)
    if transport:
        raise SourceError(f"credentials: {transport}")
    env = dict(GIT_ENV)
    rules = restrictions.secrets if restrictions is not None else None
    env.update(git_environment(source.credentials, cache_dir, rules))
    if source.credentials:
        # The only transport the credentials may travel over; git applies it to redirects.
        env["GIT_ALLOW_PROTOCOL"] = "https" if source.url.startswith("https://") else "ssh"
    url, config = source.url, []
    if restrictions is not None:
        destination = egress.check_destination(source.url, allow_private=restrictions.allow_private)
        if destination is not None:
            url, config, env = egress.pinned_fetch(source.url, destination, env)
    target = cache_dir / f"{source.name}.git"
    branch = source.branch or "HEAD"
    try:
        if not (target / "HEAD").exists():
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = cache_dir / f".{source.name}.git.tmp"
            if tmp.exists():
                import shutil

                shutil.rmtree(tmp)
            git.Repo.init(tmp, bare=True)
            tmp.rename(target)
        repo = git.Repo(target)
        refspecs = [f"+{branch if branch != 'HEAD' else 'HEAD'}:refs/catalog/head"]
        # A preview (catalog_server.previews) fetches its base's branch too, so that the
        # base's commit, which it is indexed against, is in the history to diff.
        base_branch = getattr(source, "base_branch", None)
        if base_branch:
            refspecs.append(f"+{base_branch}:refs/catalog/base")
        settings = ["protocol.ext.allow=never", "core.hooksPath=/dev/null", *config]
        repo.git.execute(
            [
                "git",
                *(part for setting in settings for part in ("-c", setting)),
                "fetch",
                "--no-tags",
                "--depth=50",
                "--",
                url,
                *refspecs,
            ],
            env=env,
            kill_after_timeout=timeout,
        )
    except git.GitCommandError as exc:
        message = (exc.stderr or str(exc)).strip()
        message = message.replace(url, source.public_url).replace(source.url, source.public_url)
        password = env.get("CATALOG_GIT_PASSWORD", "")
        raise SourceError(
            scrub(f"git fetch of {source.public_url} failed: {message}", (password,)) or ""
        ) from None
    return OpenedSource(GitSnapshot(repo, "refs/catalog/head", source.subdir), repo, source.subdir)


def snapshot_revision(snapshot: Snapshot) -> str:
    """The commit, or for a plain folder a fingerprint of its file list, sizes and contents
    (a path that is not a plain relative one, a backslash in a folder name say, counts by
    its name and size: it is never read, and the loaders report it)."""
    if snapshot.commit:
        return snapshot.commit
    digest = hashlib.sha256()
    for path, entry in sorted(snapshot.entries().items()):
        digest.update(f"{path}\0{entry.size}\0{entry.kind}\n".encode("utf-8", "surrogateescape"))
        if entry.kind != "file" or entry.size > MAX_FILE_BYTES:
            continue
        try:
            clean_relpath(path)
        except SourceError:
            continue
        digest.update(hashlib.sha256(snapshot.read(path)).digest())
    return "folder:" + digest.hexdigest()[:40]
