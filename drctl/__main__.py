from drctl.cli import main

raise SystemExit(main())
