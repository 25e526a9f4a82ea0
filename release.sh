#!/usr/bin/env bash
# Builds decoder's downloads, all on Linux, into dist/ (or $OUT):
#   decoder_V_{linux,windows,macos}_{amd64,arm64}.{tar.gz,zip}   the binary
#   decoder_V_{amd64,arm64}.deb          Debian/Ubuntu package (nfpm)
#   decoder_V_windows_amd64.msi          per-user Windows installer (wixl)
#   decoder_V_macos_{amd64,arm64}.app.zip and .dmg   the macOS app
#   SHA256SUMS
# Binaries are built with CGO_ENABLED=0 and -trimpath, the version and the
# commit stamped; Windows ones as GUI programs (no console window). macOS
# builds made here have no menu-bar icon (that needs cgo, hence a Mac).
#
# VERSION (default: version.go's), COMMIT (default: git's, -dirty when the
# tree has changes), TARGETS (default: all six, as GOOS/GOARCH) and
# SOURCE_DATE_EPOCH (default: the commit's time; archives carry it) may be
# set. It needs Go, git, zip, wixl and genisoimage (./deps.sh installs
# them); nfpm comes through go run at a pinned version.
set -euo pipefail
cd "$(dirname "$0")"

nfpm=(go run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2)
out=${OUT:-dist}
version=${VERSION:-$(sed -n 's/^var Version = "\(.*\)"$/\1/p' version.go)}
if [[ -z ${COMMIT:-} ]]; then
  COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
  [[ -z $(git status --porcelain 2>/dev/null) ]] || COMMIT+=-dirty
fi
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
targets=${TARGETS:-linux/amd64 linux/arm64 windows/amd64 windows/arm64 darwin/amd64 darwin/arm64}

missing=()
for tool in zip wixl genisoimage; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  echo "release.sh needs ${missing[*]}: run ./deps.sh (Debian packages zip, wixl, genisoimage)" >&2
  exit 1
fi
if [[ ! $version =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]]; then
  echo "release.sh: version $version does not start with MAJOR.MINOR.PATCH, which installers need" >&2
  exit 1
fi

rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# stamp gives every file under $1 the release's time, so that archives
# of the same commit are the same.
stamp() { find "$1" -exec touch -h -d "@$epoch" {} +; }

# tarball DIR NAME: $out/NAME.tar.gz of DIR, owned by root, in name order.
tarball() {
  stamp "$1"
  tar -C "$(dirname "$1")" --sort=name --owner=0 --group=0 --numeric-owner \
    -cf - "$(basename "$1")" | gzip -n >"$out/$2.tar.gz"
}

# zipball DIR NAME: $out/NAME.zip of DIR, without extra attributes.
zipball() {
  stamp "$1"
  (cd "$(dirname "$1")" && find "$(basename "$1")" | LC_ALL=C sort | zip -q -X -@ "$out/$2.zip")
}

# names sets goos, goarch, name (of the downloads), exe and dir (where
# the binary is built) for the target $1.
names() {
  goos=${1%/*} goarch=${1#*/}
  name=decoder_${version}_${goos/darwin/macos}_${goarch}
  exe=decoder
  [[ $goos != windows ]] || exe=decoder.exe
  dir=$work/$name
}

# The builds run side by side: each is mostly one linker, on one core.
pids=()
for target in $targets; do
  names "$target"
  ldflags="-s -w -X main.Version=$version -X main.Commit=$COMMIT"
  [[ $goos != windows ]] || ldflags+=" -H=windowsgui"
  mkdir -p "$dir"
  echo "building $goos/$goarch" >&2
  CGO_ENABLED=0 GOOS=$goos GOARCH=$goarch go build -trimpath -ldflags "$ldflags" -o "$dir/$exe" . &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
((!failed)) || exit 1

for target in $targets; do
  names "$target"
  cp README.md "$dir/"
  case $goos in
  linux)
    tarball "$dir" "$name"
    sed -e "s|\${DEB_ARCH}|$goarch|" -e "s|\${VERSION}|$version|" -e "s|\${BINARY}|$dir/$exe|" \
      packaging/linux/nfpm.yaml >"$work/nfpm-$goarch.yaml"
    SOURCE_DATE_EPOCH=$epoch "${nfpm[@]}" package -f "$work/nfpm-$goarch.yaml" -p deb -t "$out/decoder_${version}_$goarch.deb" >&2
    ;;
  windows)
    zipball "$dir" "$name"
    # wixl makes x86 and x64 installers only; Windows on ARM installs the
    # x64 one (and the arm64 zip is there for its own binary).
    if [[ $goarch == amd64 ]]; then
      # An MSI version is numbers only: 1.2.3-rc1 installs as 1.2.3.
      # wixl finds the files relative to the .wxs, in a directory of their own.
      msi=$work/msi
      mkdir -p "$msi"
      cp packaging/windows/decoder.wxs icons/decoder.ico "$msi/"
      cp "$dir/$exe" "$msi/decoder.exe"
      (cd "$msi" && wixl -a x64 -D "Version=${version%%[^0-9.]*}" -D Binary=decoder.exe -D Icon=decoder.ico \
        -o "$out/$name.msi" decoder.wxs)
    fi
    ;;
  darwin)
    tarball "$dir" "$name"
    app=$work/app-$goarch/decoder.app
    mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
    cp "$dir/$exe" "$app/Contents/MacOS/decoder"
    cp icons/decoder.icns "$app/Contents/Resources/decoder.icns"
    sed "s|@VERSION@|$version|g" packaging/macos/Info.plist >"$app/Contents/Info.plist"
    printf 'APPL????' >"$app/Contents/PkgInfo"
    zipball "$app" "$name.app"
    # An ISO 9660 image with Rock Ridge (permissions, long names, links)
    # and Apple's extensions, which macOS mounts as a disk image: the app
    # beside a link to Applications to drag it onto.
    ln -s /Applications "$(dirname "$app")/Applications"
    stamp "$(dirname "$app")"
    genisoimage -quiet -V decoder -D -R -apple -no-pad -o "$out/$name.dmg" "$(dirname "$app")"
    ;;
  esac
done

(cd "$out" && sha256sum -- * >SHA256SUMS)
echo "release $version ($COMMIT) in $out:" >&2
ls -l "$out" >&2
