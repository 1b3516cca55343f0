"""dechunk() of tests/integration/test_bstream.py, for attack_bstream.py."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from test_bstream import dechunk  # noqa: E402,F401
