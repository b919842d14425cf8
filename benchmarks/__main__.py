"""Allow ``python -m benchmarks``."""

import sys

from benchmarks.runner import main, restart_with_quiet_threads

restart_with_quiet_threads(sys.argv[1:])
sys.exit(main())
