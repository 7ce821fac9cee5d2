"""`python -m jimeng_async.cli`: the same as the `jimeng-async` command."""

import sys

from . import main

sys.exit(main())
