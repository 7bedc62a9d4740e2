from allgui.cli import main

raise SystemExit(main())
