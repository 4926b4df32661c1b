import sys

from sklkws.cli import main

sys.exit(main())
