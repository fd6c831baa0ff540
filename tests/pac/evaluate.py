"""Evaluate a PAC file with pacparser (a SpiderMonkey-based PAC engine).

Usage: /usr/bin/python3 tests/pac/evaluate.py PAC_FILE HOSTS_FILE

HOSTS_FILE has one request per line: `URL<TAB>HOST`, or just `URL` (the host is then taken from
the URL as a browser passes it: no userinfo, no port, IPv6 without brackets). Blank lines and
lines starting with `#` are skipped. Prints one line per request: what `FindProxyForURL(URL,
HOST)` returned, or `ERROR: <message>` when the engine failed on it.

pacparser is Debian's `python3-pacparser`; it is installed into Debian's own Python, so run this
with /usr/bin/python3. Exit status 3 (with a message on stderr) when pacparser cannot be
imported, 2 on a usage error or a PAC that does not parse.
"""

import sys

MISSING = (
    "pacparser is not importable by {python}: install it with "
    "`apt-get install -y python3-pacparser` (Debian's package installs into /usr/bin/python3)"
)


def host_of(url):
    """The host a browser hands FindProxyForURL for `url`."""
    rest = url.split("://", 1)[1] if "://" in url else url
    for stop in "/?#":
        rest = rest.split(stop, 1)[0]
    rest = rest.rsplit("@", 1)[-1]
    if rest.startswith("["):
        return rest[1:].split("]", 1)[0]
    return rest.rsplit(":", 1)[0] if ":" in rest else rest


def requests(path):
    with open(path, encoding="ascii") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            url, _, host = line.partition("\t")
            yield url, host or host_of(url)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        import pacparser
    except ImportError:
        print(MISSING.format(python=sys.executable), file=sys.stderr)
        return 3
    pacparser.init()
    try:
        try:
            pacparser.parse_pac_file(argv[1])
        except Exception as e:  # pacparser raises a bare Exception on a syntax error
            print("the PAC file does not parse: {}".format(e), file=sys.stderr)
            return 2
        out = []
        for url, host in requests(argv[2]):
            try:
                out.append(pacparser.find_proxy(url, host))
            except Exception as e:
                out.append("ERROR: {}".format(e).replace("\n", " "))
        sys.stdout.write("".join(r + "\n" for r in out))
    finally:
        pacparser.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
