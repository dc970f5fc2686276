#!/bin/sh
# samples.sh DIR — put a few sample images (from Debian's python3-skimage data folder) into DIR,
# with a LICENSES.md saying where each comes from. Used by `make run` and the GUI tests.
set -eu
if [ $# -ne 1 ]; then
    echo "usage: samples.sh DIR" >&2
    exit 2
fi
dest=$1
src=""
for d in /usr/lib/python3/dist-packages/skimage/data /usr/share/python3-skimage/data; do
    if [ -f "$d/chelsea.png" ]; then src=$d; break; fi
done
if [ -z "$src" ]; then
    echo "samples.sh: the scikit-image sample images are not installed (apt-get install python3-skimage)" >&2
    exit 1
fi
mkdir -p "$dest"
for f in chelsea.png coffee.png astronaut.png rocket.jpg; do
    cp "$src/$f" "$dest/$f"
done
cat > "$dest/LICENSES.md" <<'TXT'
# Sample images

Copied from scikit-image's `skimage/data` (Debian package python3-skimage); the licences are
the ones scikit-image's own documentation (`skimage.data`) states for each image:

| file | what | licence / source |
| --- | --- | --- |
| chelsea.png | a cat (Chelsea) | CC0, photographer Stefan van der Walt |
| coffee.png | a cup of coffee | CC0, photographer Rachel Michetti |
| astronaut.png | astronaut Eileen Collins | public domain, NASA Great Images database |
| rocket.jpg | Falcon 9 on the launch pad | public domain, released by SpaceX |
TXT
echo "samples.sh: 4 images in $dest"
