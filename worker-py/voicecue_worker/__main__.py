"""`python3 -m voicecue_worker` runs the stdio loop."""

import sys

from .server import main

if __name__ == "__main__":
    sys.exit(main())
