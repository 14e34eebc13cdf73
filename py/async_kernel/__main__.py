"""``python -m async_kernel`` (what the kernelspec runs)."""

import signal
import sys

# A kernel ignores SIGINT until it can act on one (hosts.native.run installs the real handler): jupyter_client
# interrupts a kernel before it shuts it down or restarts it, possibly while the kernel is still starting.
if any(arg.startswith(("-f", "--connection-file")) for arg in sys.argv[1:]):
    signal.signal(signal.SIGINT, signal.SIG_IGN)

from .cli import main  # after the signal set-up, on purpose

sys.exit(main())
