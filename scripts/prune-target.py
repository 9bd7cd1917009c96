#!/usr/bin/env python3
"""Keeps a reused cargo target directory from filling the disk.

Every commit links a fresh copy of each test and tool executable (~150 MB each here) under a new
hash, and cargo never deletes the old ones: a target directory reused across runs grows by several
gigabytes per commit. This removes, in every `deps` folder under the given target directories, the
executables that an executable of the same name built later has replaced (anything linked within
an hour of the newest of its name is kept: a binary and its test harness share a name and are
built together). With --incremental it also drops the incremental caches, which a fresh CI clone
gains little from.

    scripts/prune-target.py [--incremental] DIR...
"""
import os
import re
import shutil
import sys

GRACE_SECONDS = 3600
HASHED = re.compile(r"^(?P<name>.+)-[0-9a-f]{16}$")


def deps_dirs(root):
    for dirpath, dirnames, _ in os.walk(root):
        if os.path.basename(dirpath) == "deps":
            dirnames[:] = []
            yield dirpath
        # Never descend into the trees that hold no linked executables.
        dirnames[:] = [d for d in dirnames if d not in ("incremental", ".fingerprint", "build")]


def prune_deps(path):
    by_name = {}
    for entry in os.scandir(path):
        if not entry.is_file(follow_symlinks=False):
            continue
        m = HASHED.match(entry.name)
        if not m or not os.access(entry.path, os.X_OK):
            continue
        st = entry.stat(follow_symlinks=False)
        by_name.setdefault(m.group("name"), []).append((st.st_mtime, st.st_size, entry.path))
    freed = 0
    for files in by_name.values():
        newest = max(mtime for mtime, _, _ in files)
        for mtime, size, file in files:
            if newest - mtime > GRACE_SECONDS:
                os.remove(file)
                freed += size
                # The dependency list cargo wrote beside it goes with it.
                dep_file = file + ".d"
                if os.path.exists(dep_file):
                    os.remove(dep_file)
    return freed


def tree_size(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_size
            except OSError:
                pass
    return total


def main(argv):
    incremental = "--incremental" in argv
    roots = [a for a in argv if not a.startswith("--")]
    if not roots:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    freed = 0
    for root in roots:
        if not os.path.isdir(root):
            continue
        for deps in deps_dirs(root):
            freed += prune_deps(deps)
        if incremental:
            for dirpath, dirnames, _ in os.walk(root):
                if "incremental" in dirnames:
                    inc = os.path.join(dirpath, "incremental")
                    freed += tree_size(inc)
                    shutil.rmtree(inc, ignore_errors=True)
                dirnames[:] = [d for d in dirnames if d not in ("deps", "build", ".fingerprint", "incremental")]
    free = shutil.disk_usage(roots[0] if os.path.isdir(roots[0]) else "/").free
    print(f"pruned {freed / 1e9:.1f} GB of stale build output; {free / 1e9:.1f} GB free")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
