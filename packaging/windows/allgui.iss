; Inno Setup 6.3+ script (x64compatible): the Windows installer for one built flavour.
; build.py --package runs it as
;   ISCC.exe /DAppVersion=0.1.0 /DFlavour=classify /DAppDir=<dist\allgui-classify>
;            /DOutputDir=<dist\packages> /DOutputName=<allgui-classify-0.1.0-windows-x86_64-setup>
;            packaging\windows\allgui.iss
; It installs for the current user by default (no administrator needed; the
; dialog offers all users), adds a Start-menu entry for the windowed app and one
; for the uninstaller, and registers the uninstaller under Apps & features.
; Uninstalling removes the program folder only: projects and settings stay.

#ifndef AppVersion
  #error Pass /DAppVersion=X.Y.Z (build.py does)
#endif
#ifndef Flavour
  #define Flavour "classify"
#endif
#ifndef AppDir
  #error Pass /DAppDir=<the built dist\allgui-FLAVOUR folder>
#endif
#ifndef OutputDir
  #define OutputDir "."
#endif
#ifndef OutputName
  #define OutputName "allgui-" + Flavour + "-" + AppVersion + "-setup"
#endif

[Setup]
; One AppId per flavour, so classify and full can be installed side by side
; and each upgrades itself in place.
#if Flavour == "classify"
AppId={{6C1E3B52-4A0B-4C55-9E0B-2B1F6A1C0A11}
#elif Flavour == "full"
AppId={{6C1E3B52-4A0B-4C55-9E0B-2B1F6A1C0A12}
#else
AppId={{6C1E3B52-4A0B-4C55-9E0B-2B1F6A1C0A13}
#endif
AppName=allgui ({#Flavour})
AppVersion={#AppVersion}
AppVerName=allgui {#AppVersion} ({#Flavour})
AppPublisher=allgui
AppComments=ALL cell classifier. Research use only, not for diagnosis.
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\allgui-{#Flavour}
DefaultGroupName=allgui
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
SetupIconFile=..\..\allgui\resources\allgui.ico
UninstallDisplayIcon={app}\allgui.exe
UninstallDisplayName=allgui {#AppVersion} ({#Flavour})
OutputDir={#OutputDir}
OutputBaseFilename={#OutputName}
WizardStyle=modern
Compression=lzma2
SolidCompression=yes
#if Flavour == "full"
; The CUDA build may compress to more than the 4.2 GB one Setup.exe can hold:
; its data then goes into Setup-*.bin files, shipped beside the .exe.
DiskSpanning=yes
DiskSliceSize=max
#endif

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[InstallDelete]
; A new version's _internal folder replaces the old one whole: files a newer
; build no longer has must not linger and be picked up.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#AppDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\allgui ({#Flavour})"; Filename: "{app}\allgui.exe"; Comment: "ALL cell classifier (research use only)"
Name: "{group}\Uninstall allgui ({#Flavour})"; Filename: "{uninstallexe}"
Name: "{autodesktop}\allgui ({#Flavour})"; Filename: "{app}\allgui.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\allgui.exe"; Description: "{cm:LaunchProgram,allgui}"; Flags: nowait postinstall skipifsilent
