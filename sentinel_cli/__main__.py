import sys

from sentinel_cli import main

sys.exit(main())
