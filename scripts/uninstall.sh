#!/bin/sh
# Remove what `make install` installed: every file listed in
# RECORD/install_files.txt (CMake's install_manifest.txt of each make
# install), then every directory listed in RECORD/install_dirs.txt (the
# ones those installs created, see cmake/install_dirs.cmake) that is empty
# now, deepest first.  A directory that holds something else is left, and
# so is an edited netkit.ini (one that differs from the netkit.ini.default
# beside it), as dpkg keeps a changed conffile on remove.
#   scripts/uninstall.sh RECORD     (make's RECORD, by default the build dir)
set -eu

record=${1:-build}
manifest=$record/install_files.txt
dirs=$record/install_dirs.txt

if [ ! -f "$manifest" ]; then
    echo "netkit: nothing to uninstall: no $manifest (run make install first)" >&2
    exit 2
fi
# First, before netkit.ini.default goes: which netkit.ini was edited.
edited=""
while IFS= read -r f || [ -n "$f" ]; do
    case $f in
    */netkit.ini)
        if [ -f "$f" ] && [ -f "$f.default" ] && ! cmp -s "$f" "$f.default"
        then
            edited="$edited$f
"
        fi
        ;;
    esac
done <"$manifest"
while IFS= read -r f || [ -n "$f" ]; do
    if [ -n "$edited" ] && printf '%s' "$edited" | grep -Fqx -- "$f"; then
        echo "-- Kept (edited): $f"
    elif [ -n "$f" ] && { [ -f "$f" ] || [ -L "$f" ]; }; then
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
