import sys

from vaebench.cli.commands import main

sys.exit(main())
