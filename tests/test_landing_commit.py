"""The landing group commit, without servers: appends that arrive together share one file and
one fsync, each resolves only once its bytes are in place, a failed write fails exactly its
group (and leaves none of its bytes visible), and processes never collide on file names."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

import pytest

from fyplake.landing import GroupCommitter


def _committer(root: Path, window_s: float = 0.05, max_bytes: int = 1 << 20) -> GroupCommitter:
    return GroupCommitter(root, "events", "api", window_s=window_s, max_bytes=max_bytes)


def _line(i: int, tag: str = "e") -> bytes:
    return b'{"event_id":"%s%d"}\n' % (tag.encode(), i)


def _files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.jsonl"))


def _lines(root: Path) -> list[bytes]:
    return sorted(line for f in _files(root) for line in f.read_bytes().splitlines(True))


def test_appends_within_the_window_share_one_file(tmp_path):
    async def main() -> list[Path]:
        c = _committer(tmp_path)
        return await asyncio.gather(*(c.append(_line(i)) for i in range(50)))

    paths = asyncio.run(main())
    assert len(set(paths)) == 1
    [path] = _files(tmp_path)
    assert paths[0] == path and path.name.startswith("api-")
    assert path.parent.parent.name.startswith("date=") and path.parent.name.startswith("hour=")
    assert _lines(tmp_path) == sorted(_line(i) for i in range(50))
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]  # no temp file left


def test_each_append_resolves_after_its_bytes_are_in_place(tmp_path):
    async def main() -> None:
        c = _committer(tmp_path, window_s=0.0)
        for i in range(5):  # one after the other: each its own group
            path = await c.append(_line(i))
            assert _line(i) in path.read_bytes().splitlines(True)

    asyncio.run(main())
    assert len(_files(tmp_path)) == 5 and len(_lines(tmp_path)) == 5


def test_a_group_past_the_size_cap_rolls_to_new_files(tmp_path):
    one = len(_line(100))

    async def main() -> list[Path]:
        c = _committer(tmp_path, window_s=0.2, max_bytes=10 * one)
        return await asyncio.gather(*(c.append(_line(100 + i)) for i in range(35)))

    paths = asyncio.run(main())
    files = _files(tmp_path)
    assert len(files) == 4 and set(paths) == set(files)
    assert all(f.stat().st_size <= 10 * one for f in files)
    assert _lines(tmp_path) == sorted(_line(100 + i) for i in range(35))
    for i, path in enumerate(paths):  # each append was told the file that holds it
        assert _line(100 + i) in path.read_bytes().splitlines(True)


def test_an_append_larger_than_the_cap_gets_a_file_of_its_own(tmp_path):
    big = b"".join(_line(i, "big") for i in range(20))

    async def main() -> list[Path]:
        c = _committer(tmp_path, window_s=0.05, max_bytes=len(big) // 4)
        return await asyncio.gather(c.append(_line(1)), c.append(big), c.append(_line(2)))

    small1, large, small2 = asyncio.run(main())
    assert large.read_bytes() == big
    assert small1 != large and small2 != large
    assert _lines(tmp_path) == sorted([_line(1), _line(2), *big.splitlines(True)])


def test_a_failed_write_fails_exactly_its_group_and_lands_nothing_of_it(tmp_path):
    blocked = tmp_path / "events"
    blocked.write_text("a file where the entity folder belongs")

    async def main() -> tuple[list, list[Path]]:
        c = _committer(tmp_path, window_s=0.05)
        failed = await asyncio.gather(
            *(c.append(_line(i, "f")) for i in range(20)), return_exceptions=True
        )
        blocked.unlink()
        ok = await asyncio.gather(*(c.append(_line(i, "ok")) for i in range(20)))
        return failed, ok

    failed, ok = asyncio.run(main())
    assert all(isinstance(e, OSError) for e in failed)
    assert len(set(ok)) == 1  # the next group is one file again
    assert _lines(tmp_path) == sorted(_line(i, "ok") for i in range(20))


def test_a_failure_after_the_rename_takes_the_file_back(tmp_path, monkeypatch):
    from fyplake import storage

    def broken_dir_fsync(path):
        raise OSError("fsync failed")

    monkeypatch.setattr(storage, "fsync_dir", broken_dir_fsync)

    async def main() -> list:
        c = _committer(tmp_path)
        return await asyncio.gather(*(c.append(_line(i)) for i in range(5)), return_exceptions=True)

    assert all(isinstance(e, OSError) for e in asyncio.run(main()))
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_an_append_cancelled_before_its_write_is_not_landed(tmp_path):
    async def main() -> None:
        c = _committer(tmp_path, window_s=0.1)
        gone = asyncio.ensure_future(c.append(_line(1, "gone")))
        kept = asyncio.ensure_future(c.append(_line(2, "kept")))
        await asyncio.sleep(0.01)
        gone.cancel()
        await kept

    asyncio.run(main())
    assert _lines(tmp_path) == [_line(2, "kept")]


def test_a_stopped_committer_leaves_no_append_waiting(tmp_path):
    async def main() -> list:
        c = _committer(tmp_path, window_s=10.0)
        waiting = [asyncio.ensure_future(c.append(_line(i))) for i in range(3)]
        await asyncio.sleep(0.01)
        c._flusher.cancel()  # noqa: SLF001 - as when the loop shuts down
        return await asyncio.gather(*waiting, return_exceptions=True)

    assert all(isinstance(r, asyncio.CancelledError) for r in asyncio.run(main()))
    assert not _files(tmp_path)


def test_empty_appends_are_refused(tmp_path):
    with pytest.raises(ValueError):
        asyncio.run(_committer(tmp_path).append(b""))


def _one_process(root: str, tag: str, n: int) -> None:
    async def main() -> None:
        c = _committer(Path(root), window_s=0.002)
        for start in range(0, n, 10):
            await asyncio.gather(*(c.append(_line(i, tag)) for i in range(start, start + 10)))

    asyncio.run(main())


def test_processes_with_their_own_committers_never_collide(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_one_process, args=(str(tmp_path), f"p{k}-", 200)) for k in range(3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert _lines(tmp_path) == sorted(_line(i, f"p{k}-") for k in range(3) for i in range(200))
    assert len(_files(tmp_path)) <= 3 * 20  # at most one file per group of 10
