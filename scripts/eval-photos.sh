#!/usr/bin/env bash
# Gathers the evaluation photo set into DIR (default .cache/photos/eval): the
# CC0 sample photos of testdata/photos plus the camera photos and wallpapers of
# four Debian packages (docs/data.md: lomiri-wallpapers-16.04, mate-backgrounds,
# plasma-workspace-wallpapers, forensics-samples-files), fetched with
# `apt-get download` (Debian's archive is the only network it uses). One
# picture per plasma wallpaper (its largest; no dark variants), the six phone
# photos of forensics-samples-files, no abstract art from mate-backgrounds.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-.cache/photos/eval}
work=.cache/photos/debs
mkdir -p "$work" "$dir"
pkgs=(lomiri-wallpapers-16.04 mate-backgrounds plasma-workspace-wallpapers forensics-samples-files)
if ! ls "$work"/*.deb >/dev/null 2>&1; then
  ( cd "$work" && apt-get download "${pkgs[@]}" ) || {
    echo "eval-photos: apt-get download failed; run 'apt-get update' (as root) first" >&2; exit 1; }
fi
for d in "$work"/*.deb; do dpkg -x "$d" "$work/x"; done
x=$work/x/usr/share
cp testdata/photos/*.png testdata/photos/*.jpg "$dir"/
cp "$x"/backgrounds/*.jpg "$x"/backgrounds/mate/nature/* "$dir"/
for f in "$x"/forensics-samples/original-files/pic*/IMG*; do
  cp "$f" "$dir/forensic-$(basename "$f")"
done
for d in "$x"/wallpapers/*/contents/images; do
  n=$(basename "$(dirname "$(dirname "$d")")")
  f=$(ls -S "$d"/* | head -1)
  cp "$f" "$dir/plasma-$n.${f##*.}"
done
echo "eval-photos: $(ls "$dir" | wc -l) photos in $dir"
