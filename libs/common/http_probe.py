"""Exit 0 if a URL answers 2xx within a timeout: container health checks use it
(the slim image has no curl)."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m libs.common.http_probe URL", file=sys.stderr)
        return 2
    try:
        with urllib.request.urlopen(args[0], timeout=3) as response:
            return 0 if 200 <= response.status < 300 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"{args[0]}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
