import sys

from pianogan.cli import main

sys.exit(main())
