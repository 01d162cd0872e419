"""The release this image was built as (build argument USDX_RELEASE) and what its code expects."""
from usdx_common import env

CATALOG = env("USDX_RELEASE_CATALOG", "/opt/usdx/indexer/releases.txt")


def load(path=CATALOG):
    """releases.txt -> {name: {"schema": int, "notes": str}}; comments and blank lines skipped."""
    releases = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, schema, notes = (line.split(None, 2) + [""])[:3]
            releases[name] = {"schema": int(schema), "notes": notes}
    return releases


def current():
    """{"name", "schema", "notes"} of the running release. An image built for a release the catalog does not
    know cannot tell which schema its code was written for: that is a broken build, so it fails at start."""
    name = env("USDX_RELEASE", "")
    releases = load()
    if name not in releases:
        raise RuntimeError("release %r is not in %s (known: %s)" % (name, CATALOG, ", ".join(sorted(releases))))
    return dict(releases[name], name=name)


RELEASE = current()
