"""drctl: infrastructure as code and disaster-recovery drills for a two-data-centre estate."""

from pathlib import Path

__version__ = "0.1.0"

# The repository root holds the data the code works from (inventories/, roles/, runbooks/, drills/).
REPO_ROOT = Path(__file__).resolve().parent.parent
