"""The stack's component resources, one per module (type tokens `drctl:index:<Name>`)."""

from components.data_centre import DataCentreArgs, EnterpriseDataCentre
from components.front_door import FrontDoor, FrontDoorArgs
from components.offsite_backup import OffsiteBackup, OffsiteBackupArgs
from components.regional_hub import RegionalHub, RegionalHubArgs

__all__ = [
    "DataCentreArgs",
    "EnterpriseDataCentre",
    "FrontDoor",
    "FrontDoorArgs",
    "OffsiteBackup",
    "OffsiteBackupArgs",
    "RegionalHub",
    "RegionalHubArgs",
]
