"""``python -m barge_exec_native.monitor <state_dir> [<result fd>]``: a monitor exec'd directly."""

from barge_exec_native.monitor.process import main

raise SystemExit(main())
