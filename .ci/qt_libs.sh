#!/bin/sh
# Qt's xcb platform plugin (the window on an X display) needs system libraries that pip cannot
# install; without them Qt aborts with "Reinstalling the application may fix this problem",
# which points the wrong way. `make run` calls this before the long pip install.
#
#   sh .ci/qt_libs.sh            check; install with apt-get if root or passwordless sudo,
#                                else print the exact command and exit 1
#   sh .ci/qt_libs.sh --missing  print the Debian packages still missing (nothing: all there)
#   sh .ci/qt_libs.sh --force    check even when no X display is to be used (CI, Xvfb)
#   sh .ci/qt_libs.sh --install PKG...   also install these packages (CI: xvfb)
#
# CONVSCOPE_NO_INSTALL=1 never installs, only says what to run. LDCONFIG overrides the ldconfig
# that lists the installed libraries (the tests fake both).
set -u

# The libraries libqxcb.so and libQt6XcbQpa.so link against (ldd), with their Debian packages.
PAIRS="libxcb-cursor.so.0:libxcb-cursor0 libxcb-icccm.so.4:libxcb-icccm4
libxcb-keysyms.so.1:libxcb-keysyms1 libxcb-image.so.0:libxcb-image0
libxcb-randr.so.0:libxcb-randr0 libxcb-render-util.so.0:libxcb-render-util0
libxcb-shape.so.0:libxcb-shape0 libxcb-shm.so.0:libxcb-shm0 libxcb-sync.so.1:libxcb-sync1
libxcb-util.so.1:libxcb-util1 libxcb-xfixes.so.0:libxcb-xfixes0 libxcb-xkb.so.1:libxcb-xkb1
libxkbcommon-x11.so.0:libxkbcommon-x11-0 libX11-xcb.so.1:libx11-xcb1"

mode=check
extra=""
case "${1:-}" in
    --missing) mode=missing ;;
    --force) mode=force ;;
    --install) mode=force; shift; extra="$*" ;;
esac

ldconfig_cmd() {
    if [ -n "${LDCONFIG:-}" ]; then "$LDCONFIG" -p; return; fi
    for candidate in ldconfig /sbin/ldconfig /usr/sbin/ldconfig; do
        if command -v "$candidate" >/dev/null 2>&1; then "$candidate" -p; return; fi
    done
    return 1
}

missing_packages() {
    listing=$(ldconfig_cmd) || return 0  # no ldconfig (not glibc Linux): nothing to say
    for pair in $PAIRS; do
        library=${pair%%:*}
        case "$listing" in
            *"$library "*) ;;
            *) printf '%s ' "${pair#*:}" ;;
        esac
    done
}

if [ "$mode" = check ]; then
    # Only a real X display needs the plugin: offscreen (tests, screenshots) and no display do not.
    [ -n "${DISPLAY:-}" ] || exit 0
    case "${QT_QPA_PLATFORM:-xcb}" in xcb*) ;; *) exit 0 ;; esac
fi

# shellcheck disable=SC2046,SC2086  # word splitting trims the list to single spaces
packages=$(echo $(missing_packages))
if [ "$mode" = missing ]; then
    [ -z "$packages" ] || echo "$packages"
    exit 0
fi
# shellcheck disable=SC2086
packages=$(echo $packages $extra)
[ -n "$packages" ] || exit 0

if [ "${CONVSCOPE_NO_INSTALL:-}" = 1 ]; then
    sudo=none
elif [ "$(id -u)" = 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
else
    sudo=none
fi
if command -v apt-get >/dev/null 2>&1 && [ "$sudo" != none ]; then
    echo "convscope: installing what Qt's window needs: $packages"
    # An image fresh from docker has no package lists yet; update only when the install fails.
    # shellcheck disable=SC2086
    $sudo apt-get install -y -q $packages >/dev/null 2>&1 \
        || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q $packages; } \
        && exit 0
    echo "convscope: apt-get could not install $packages" >&2
fi
echo "convscope: Qt's window on X needs system libraries that are missing: $packages" >&2
if command -v apt-get >/dev/null 2>&1; then
    echo "Install them with:  sudo apt-get install -y $packages" >&2
else
    echo "Install your distribution's packages for these libraries (Debian names above)." >&2
fi
exit 1
