"""Finding (issue 10): the lab's Patroni REST API took no credentials, so any local
process can POST /switchover, /restart or /reinitialize. The lab binds it to the site's own
loopback address, which limits who can reach it but is not authentication. Production needs
`restapi.authentication` (username/password from the generated secrets) and the clients
(drctl's estate, HAProxy's checks use only GET) sending them.

Fixed: the role now sets `restapi.authentication` from the generated secret `patroni_rest`, and
drctl's estate sends it for switchovers; this test keeps it that way.
"""

from __future__ import annotations

import re

from drctl import REPO_ROOT

TEMPLATE = REPO_ROOT / "roles" / "patroni" / "templates" / "patroni.yml.j2"


def test_patroni_rest_api_requires_authentication() -> None:
    text = TEMPLATE.read_text()
    restapi = re.search(r"^restapi:\n((?:[ \t]+.*\n|\n)*)", text, re.MULTILINE)
    assert restapi is not None, "no restapi section"
    assert re.search(r"^\s+authentication:", restapi[1], re.MULTILINE)
