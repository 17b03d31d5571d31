from rtcstate_cli import main

raise SystemExit(main())
