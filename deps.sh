#!/usr/bin/env bash
# Installs the Debian packages decoder's tests use, when some are missing:
# with apt-get as root, through sudo otherwise. This is the one list of
# them; ./test.sh runs it first, and .ci/run runs ./test.sh.
#
#   dbus                        the tray test's private session bus
#   ffmpeg                      test clips, and decoding what viewers received
#   python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-*
#                               GStreamer's RTSP server: an independent camera
#                               (x265enc, for its H.265 stream, is in -bad)
#   chromium                    the browser tests
#   firefox-esr                 the browser tests in a second engine (Gecko),
#                               over WebDriver BiDi
#   webkit2gtk-driver, xvfb     the browser tests in WebKit, Safari's engine:
#                               WebKitGTK's WebKitWebDriver, on a virtual display
#   gstreamer1.0-libav          FFmpeg's H.264 decoder for WebKitGTK (through
#                               GStreamer), whose fallback, OpenH264, fails on
#                               these streams now and then
#   nodejs, npm                 playwright-core, puppeteer-core,
#                               selenium-webdriver and tsc (when npm is absent)
#   zip, wixl, genisoimage      release.sh: Windows zips, the .msi, the macOS .dmg
#   msitools                    reading the .msi back (msiinfo, msiextract)
#   desktop-file-utils          desktop-file-validate on the desktop entries
#   systemd                     systemd-analyze verify on the .deb's user unit
#   nginx-light                 the cluster test: decoders behind nginx
#   iproute2                    ip: an address on the loopback interface that
#                               stands for a viewer on another machine
#
# Prints what it installs; prints one line naming the packages and exits 1
# when it cannot install them.
set -euo pipefail

packages=(dbus ffmpeg python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad chromium firefox-esr
  webkit2gtk-driver xvfb gstreamer1.0-libav
  zip wixl genisoimage msitools desktop-file-utils systemd nginx-light iproute2)
command -v npm >/dev/null || packages+=(nodejs npm)

if ! command -v dpkg-query >/dev/null; then
  echo "decoder's tests need these Debian packages (or their equivalents): ${packages[*]}" >&2
  exit 1
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0

if ((EUID == 0)); then
  as_root=()
elif command -v sudo >/dev/null && { [[ -t 0 ]] || sudo -n true 2>/dev/null; }; then
  as_root=(sudo)
else
  echo "decoder's tests need these Debian packages; install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "installing the packages the tests need: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
