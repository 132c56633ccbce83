import sys

from rule_maker._cli import main

sys.exit(main())
