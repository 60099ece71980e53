#!/usr/bin/env bash
# Installs the Debian packages Love Supermarket needs, only those missing, with sudo when not root.
set -euo pipefail

packages=(
  python3-venv       # the .venv
  libzbar0           # pyzbar barcode decoding
  fonts-wqy-microhei # Simplified Chinese font for the apps, cards and receipt lines printed as images
  fonts-noto-cjk     # its bold Simplified Chinese face: titles and key figures in the apps (ui/fonts.py)
  libusb-1.0-0       # USB receipt printers (pyusb)
  libgl1 libegl1 libgl1-mesa-dri # OpenGL for the Kivy apps (llvmpipe when there is no GPU or screen)
  "libmtdev1|libmtdev1t64"        # touchscreens in Kivy (renamed on Debian 13 / Ubuntu 24.04)
  espeak-ng          # the kiosk reads name and points aloud in Mandarin, offline
  chromium           # browser tests and screenshots of the township console (Playwright drives it)
)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
available() { apt-cache show "$1" >/dev/null 2>&1; }

missing=()
for p in "${packages[@]}"; do
  # "a|b": either name will do (a package renamed between releases); install the first one apt knows.
  IFS='|' read -r -a names <<<"$p"
  ok=""
  for name in "${names[@]}"; do installed "$name" && ok=1; done
  [ -n "$ok" ] && continue
  choice="${names[0]}"
  for name in "${names[@]}"; do if available "$name"; then choice="$name"; break; fi; done
  missing+=("$choice")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "Please install these packages with your system's package manager: ${missing[*]}" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "Missing packages (${missing[*]}) and no sudo: ask an administrator to install them." >&2
    exit 1
  fi
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
