"""`python -m jimeng_async` is the `jimeng-async` command."""

import sys

from .cli import main

sys.exit(main())
