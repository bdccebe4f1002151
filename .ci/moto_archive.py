"""Makes archive restores on a moto server take time, as on S3.

moto restores a GLACIER or DEEP_ARCHIVE object at once by default. With
this, a restore asked for more than SECONDS after the object was written
is "ongoing" for SECONDS, then done: the tests see the wait and can run a
command again while restores are under way.

Usage: moto_archive.py ENDPOINT SECONDS
"""

import json
import sys
import urllib.request

endpoint, seconds = sys.argv[1], int(sys.argv[2])
body = json.dumps(
    {
        "model_name": "s3::keyrestore",
        "transition": {"progression": "time", "seconds": seconds},
    }
).encode()
request = urllib.request.Request(
    endpoint + "/moto-api/state-manager/set-transition", data=body, method="POST"
)
with urllib.request.urlopen(request, timeout=10) as response:
    if response.status != 201 and response.status != 200:
        sys.exit(f"moto refused the transition: HTTP {response.status}")
