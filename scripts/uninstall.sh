#!/bin/sh
# Remove what `make install` installed: every file listed in
# RECORD/install_files.txt (CMake's install_manifest.txt of each make
# install), then every directory listed in RECORD/install_dirs.txt (the
# ones those installs created, see cmake/install_dirs.cmake) that is empty
# now, deepest first.  A directory that holds something else is left.
#   scripts/uninstall.sh RECORD     (make's RECORD, by default the build dir)
set -eu

record=${1:-build}
manifest=$record/install_files.txt
dirs=$record/install_dirs.txt

if [ ! -f "$manifest" ]; then
    echo "netkit: nothing to uninstall: no $manifest (run make install first)" >&2
    exit 2
fi
while IFS= read -r f || [ -n "$f" ]; do
    if [ -n "$f" ] && { [ -f "$f" ] || [ -L "$f" ]; }; then
        rm -f -- "$f"
        echo "-- Removed: $f"
    fi
done <"$manifest"
if [ -f "$dirs" ]; then
    # Reverse order puts a directory after everything under it.
    sort -ru "$dirs" | while IFS= read -r d; do
        if [ -n "$d" ]; then rmdir -- "$d" 2>/dev/null || true; fi
    done
fi
rm -f -- "$manifest" "$dirs"
