"""The per-platform pieces of the desktop build, kept out of the spec so that
they are tested on any machine (``tests/test_packaging_targets.py``):
executable names, the Windows version resource, the macOS Info.plist, the
Linux ``.desktop`` entry and the names of the packages ``build.py`` makes.

Only the standard library here (and Pillow for the icon): the spec imports
this module inside PyInstaller, the tests without it.
"""

from __future__ import annotations

import re
from pathlib import Path

FLAVOURS = ("classify", "full", "full-cpu")
BUNDLE_ID = "org.allgui.allgui"
DESCRIPTION = "allgui: ALL cell classifier (research use only)"
MACOS_MINIMUM = "12.0"  # when no wheel says more (Qt 6.8 supports macOS 12 and newer)

# Installed distributions whose metadata the built app carries, so that About
# and --version can name their versions without importing them.
METADATA_DISTS = {
    "classify": ("numpy", "pillow", "onnxruntime", "onnxruntime-gpu", "PySide6-Essentials",
                 "shiboken6"),
    "engine": ("torch", "torchvision", "timm", "optuna", "onnx", "onnxscript", "scikit-learn",
               "scipy", "matplotlib", "safetensors"),
}


def app_dir_name(flavour: str) -> str:
    return f"allgui-{flavour}"


def executables(system: str) -> dict[str, str]:
    """The onedir folder's executables by role: ``gui`` is what the menu starts,
    ``cli`` runs the headless commands and ``--self-test``. Windows needs two:
    a windowed program has no console to print to (its stdout is None)."""
    if system == "win32":
        return {"gui": "allgui.exe", "cli": "allgui-cli.exe"}
    return {"gui": "allgui", "cli": "allgui"}


def bundle_name(flavour: str) -> str:
    return f"allgui-{flavour}.app"


def self_test_exe(dist: Path, flavour: str, system: str) -> Path:
    """The executable the build checks itself with: on macOS the one inside the
    .app (what a user starts), elsewhere the console one of the onedir folder."""
    if system == "darwin":
        return dist / bundle_name(flavour) / "Contents" / "MacOS" / "allgui"
    return dist / app_dir_name(flavour) / executables(system)["cli"]


def version_numbers(version: str) -> tuple[int, int, int, int]:
    """``0.1.0`` -> (0, 1, 0, 0); pre-release tails (``1.2.0rc1``) are dropped,
    since Windows' file version holds four integers only."""
    parts = [int(m.group()) for m in (re.match(r"\d+", p) for p in version.split(".")[:3]) if m]
    parts += [0] * (4 - len(parts))
    return (parts[0], parts[1], parts[2], parts[3])


def windows_version_info(version: str, exe_name: str, flavour: str) -> str:
    """The text PyInstaller reads as EXE(version=...): what Windows shows under
    the file's Properties > Details."""
    numbers = version_numbers(version)
    strings = {
        "CompanyName": "allgui",
        "FileDescription": DESCRIPTION,
        "FileVersion": version,
        "InternalName": exe_name.removesuffix(".exe"),
        "LegalCopyright": "MIT licence. Research use only, not for diagnosis.",
        "OriginalFilename": exe_name,
        "ProductName": f"allgui ({flavour})",
        "ProductVersion": version,
    }
    structs = ",\n        ".join(f"StringStruct({k!r}, {v!r})" for k, v in strings.items())
    return f"""VSVersionInfo(
  ffi=FixedFileInfo(filevers={numbers}, prodvers={numbers}, mask=0x3f, flags=0x0,
                    OS=0x40004, fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([StringTable('040904B0', [
        {structs}])]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


def macos_minimum(wheel_tags: list[str], floor: str = MACOS_MINIMUM) -> str:
    """The oldest macOS the bundled wheels run on, from their tags
    (``cp39-abi3-macosx_13_0_universal2`` -> "13.0"): the newest of them."""
    found = [tuple(int(x) for x in m.groups()) for tag in wheel_tags
             if (m := re.search(r"macosx_(\d+)_(\d+)", tag))]
    newest = max([tuple(int(x) for x in floor.split(".")), *found])
    return f"{newest[0]}.{newest[1]}"


def wheel_tags(dists: tuple[str, ...]) -> list[str]:
    """The ``Tag:`` lines of the installed distributions' WHEEL files."""
    from importlib import metadata

    tags = []
    for dist in dists:
        try:
            text = metadata.distribution(dist).read_text("WHEEL") or ""
        except metadata.PackageNotFoundError:
            continue
        tags += [line.split(":", 1)[1].strip() for line in text.splitlines()
                 if line.startswith("Tag:")]
    return tags


def info_plist(version: str, flavour: str, minimum: str = MACOS_MINIMUM) -> dict:
    """Info.plist keys BUNDLE merges over its defaults (identifier, executable
    and icon names come from BUNDLE's own arguments)."""
    return {
        "CFBundleName": "allgui",
        "CFBundleDisplayName": "allgui",
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "CFBundleGetInfoString": f"allgui {version} ({flavour})",
        "LSApplicationCategoryType": "public.app-category.medical",
        "LSMinimumSystemVersion": minimum,
        "NSHighResolutionCapable": True,
        "NSRequiresAquaSystemAppearance": False,  # follows the system's dark mode
        "NSHumanReadableCopyright": "MIT licence. Research use only, not for diagnosis.",
    }


def desktop_entry(exec_path: str = "allgui", icon: str = "allgui") -> str:
    """A freedesktop.org menu entry; the Linux installer rewrites Exec/TryExec
    with the absolute path it installed to."""
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.0",
        "Name=allgui",
        "GenericName=ALL cell classifier",
        "Comment=Build, tune, validate and use an ALL classifier for blood-cell images "
        "(research use only, not for diagnosis)",
        f"TryExec={exec_path}",
        f'Exec="{exec_path}"',
        f"Icon={icon}",
        "Terminal=false",
        "Categories=Science;MedicalSoftware;",
        "Keywords=leukemia;ALL;microscopy;classifier;",
        "StartupNotify=true",
        "StartupWMClass=allgui",  # Qt's WM_CLASS: the menu entry's icon goes to the window
        "",
    ])


def package_stem(flavour: str, version: str, system: str, machine: str) -> str:
    """``allgui-classify-0.1.0-linux-x86_64``: one name per download."""
    osname = {"win32": "windows", "darwin": "macos"}.get(system, system.rstrip("0123456789"))
    arch = {"amd64": "x86_64", "aarch64": "arm64"}.get(machine.lower(), machine.lower())
    return f"allgui-{flavour}-{version}-{osname}-{arch}"


# What Pillow's ICNS writer stores (16 and 32 points at 1x and 2x, up to 512@2x).
ICNS_SIZES = (32, 64, 128, 256, 512, 1024)


def make_icns(png: Path, out: Path) -> Path:
    """The macOS icon from the app's PNG. Sizes above the PNG's own are scaled
    up by Pillow (softer, but the same picture everywhere)."""
    from PIL import Image

    source = Image.open(png).convert("RGBA")
    out.parent.mkdir(parents=True, exist_ok=True)
    larger = [source.resize((s, s), Image.Resampling.LANCZOS) for s in ICNS_SIZES if s != source.width]
    source.save(out, format="ICNS", append_images=larger)
    return out
