#!/bin/sh
# Checks a Linux archive the way a user meets it: unpack, install into a clean
# folder, run the installed copy with an empty environment (no venv, no
# PYTHONPATH): --version, --self-test, classify IMAGES (a folder) with the
# self-test model, start the window under Xvfb from the menu entry's Exec line
# and screenshot it and its Help > About, then uninstall.
#
#   sh packaging/linux/check_installed.sh ARCHIVE.tar.gz OUT_DIR [IMAGES]
#
# OUT_DIR receives: prefix/ (the install, removed at the end), shot_main.png,
# shot_about.png, classified.csv and the logs. The window part needs xvfb-run,
# xdotool and ImageMagick's import; without them it is skipped (and says so).
set -eu

archive=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=${2:?usage: check_installed.sh ARCHIVE OUT_DIR [IMAGES]}
images=${3:-}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out/unpacked" "$out/prefix" "$out/home"
mkdir -p "$out/unpacked" "$out/home"

clean() {  # run with an empty environment, as from a fresh login
    env -i HOME="$out/home" PATH=/usr/bin:/bin LANG=C.UTF-8 ${DISPLAY:+DISPLAY=$DISPLAY} "$@"
}

tar -xzf "$archive" -C "$out/unpacked"
clean sh "$out"/unpacked/*/install.sh --prefix "$out/prefix"
entry="$out/prefix/share/applications/allgui.desktop"
if command -v desktop-file-validate >/dev/null 2>&1; then
    desktop-file-validate "$entry" && echo "menu entry valid"
fi
app="$out/prefix/bin/allgui"
clean "$app" --version
clean QT_QPA_PLATFORM=offscreen "$app" --self-test

if [ -n "$images" ]; then
    model=$(ls -d "$out"/prefix/lib/allgui-*/_internal/allgui_selftest)/model.onnx
    started=$(date +%s)
    clean "$app" classify "$model" "$images" --csv "$out/classified.csv" > "$out/classify.log" 2>&1
    echo "classified in $(( $(date +%s) - started )) s: $(grep -E '^[0-9]+ classified' "$out/classify.log")"
fi

if command -v xvfb-run >/dev/null 2>&1 && command -v xdotool >/dev/null 2>&1 \
        && command -v import >/dev/null 2>&1; then
    exec_line=$(sed -n 's/^Exec=//p' "$entry")
    cat > "$out/window.sh" <<WINDOW
#!/bin/sh
eval "set -- $exec_line"
env -i HOME="$out/home" PATH=/usr/bin:/bin LANG=C.UTF-8 DISPLAY="\$DISPLAY" \
    XAUTHORITY="\${XAUTHORITY:-}" "\$@" > "$out/window.log" 2>&1 &
pid=\$!
win=
for i in \$(seq 1 60); do
    win=\$(xdotool search --onlyvisible --name '^allgui' 2>/dev/null | head -1)
    [ -n "\$win" ] && break
    sleep 1
done
[ -n "\$win" ] || { echo "no window within 60 s:"; cat "$out/window.log"; kill \$pid; exit 1; }
echo "window shown after \$i s: \$(xprop -id \$win WM_CLASS 2>/dev/null)"
sleep 3
import -window root "$out/shot_main.png"
# No window manager under Xvfb: give the window the keyboard focus first.
xdotool windowfocus --sync "\$win" 2>/dev/null
xdotool key --window "\$win" alt+h 2>/dev/null; sleep 1; xdotool key a 2>/dev/null; sleep 2  # &About (User guide is first)
import -window root "$out/shot_about.png"
about=\$(xdotool search --onlyvisible --name '^About allgui' 2>/dev/null | head -1)
kill \$pid
[ -n "\$about" ] || { echo "Help > About did not open"; exit 1; }
echo "Help > About opened"
WINDOW
    xvfb-run -a -s "-screen 0 1280x860x24" sh "$out/window.sh"
else
    echo "window check skipped: needs xvfb-run, xdotool and ImageMagick's import"
fi

clean sh "$out"/prefix/lib/allgui-*/uninstall.sh
test ! -e "$app" && test ! -e "$entry" && echo "uninstalled: nothing of allgui left in $out/prefix"
