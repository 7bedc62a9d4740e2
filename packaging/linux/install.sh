#!/bin/sh
# Installs allgui from this unpacked archive, for this user (default: ~/.local)
# or under --prefix DIR:
#   DIR/lib/allgui-<flavour>/                      the app
#   DIR/bin/allgui                                 a link to it (headless commands)
#   DIR/share/applications/allgui.desktop          the menu entry
#   DIR/share/icons/hicolor/256x256/apps/allgui.png
# and writes DIR/lib/allgui-<flavour>/uninstall.sh, which removes exactly these.
# Installing again replaces the app; user settings and projects are not touched.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix="$HOME/.local"
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=${2:?--prefix needs a folder}; shift 2 ;;
        --prefix=*) prefix=${1#--prefix=}; shift ;;
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

app=
for dir in "$here"/allgui-*/; do
    [ -x "$dir/allgui" ] && app=$(basename "$dir")
done
[ -n "$app" ] || { echo "install.sh: no allgui-<flavour>/allgui beside this script" >&2; exit 1; }

mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
lib="$prefix/lib/$app"
menu="$prefix/share/applications"
icons="$prefix/share/icons/hicolor/256x256/apps"
mkdir -p "$prefix/lib" "$prefix/bin" "$menu" "$icons"

# Copy beside the old copy first, so a failed copy leaves the old one working.
rm -rf "$lib.new"
cp -a "$here/$app" "$lib.new"
rm -rf "$lib"
mv "$lib.new" "$lib"
ln -sf "$lib/allgui" "$prefix/bin/allgui"
cp "$here/allgui.png" "$icons/allgui.png"
sed -e "s|^TryExec=.*|TryExec=$lib/allgui|" -e "s|^Exec=.*|Exec=\"$lib/allgui\"|" \
    "$here/allgui.desktop" > "$menu/allgui.desktop"
chmod 644 "$menu/allgui.desktop"

cat > "$lib/uninstall.sh" <<UNINSTALL
#!/bin/sh
# Removes the allgui installed by install.sh under $prefix (not your projects).
rm -f "$menu/allgui.desktop" "$icons/allgui.png"
[ "\$(readlink "$prefix/bin/allgui")" = "$lib/allgui" ] && rm -f "$prefix/bin/allgui"
rm -rf "$lib"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$menu"
echo "allgui removed from $prefix"
UNINSTALL
chmod 755 "$lib/uninstall.sh"

# The window needs some X11 libraries of the system (the headless commands and
# the offscreen self-test do not): name any missing, with Debian's package names.
qt="$lib/_internal/PySide6/Qt"
missing=$(ldd "$qt/plugins/platforms/libqxcb.so" "$qt/lib/libQt6XcbQpa.so.6" 2>/dev/null \
    | sed -n 's/^[[:space:]]*\([^[:space:]]*\) => not found$/\1/p' | sort -u)
ldconfig=$(command -v ldconfig || echo /sbin/ldconfig)
if [ -d "$qt" ] && ! "$ldconfig" -p 2>/dev/null | grep -q 'libxcb-cursor\.so\.0'; then
    missing="$missing libxcb-cursor.so.0"  # loaded at run time, so ldd cannot see it
fi
if [ -n "$(echo $missing)" ]; then
    packages=$(for so in $missing; do echo "$so"; done \
        | sed -e 's/\([0-9]\)\.so\.\([0-9]*\)$/\1-\2/' -e 's/\.so\.\([0-9]*\)$/\1/' | tr '\n' ' ')
    echo "note: the window needs system libraries missing here: $(echo $missing)"
    echo "  on Debian or Ubuntu: sudo apt install $packages"
fi

command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$menu" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 \
    && gtk-update-icon-cache -q -t "$prefix/share/icons/hicolor" 2>/dev/null || true
echo "allgui installed in $lib"
echo "start it from the applications menu, or run: $prefix/bin/allgui"
echo "to remove it: $lib/uninstall.sh"
