"""``python -m userstream``: the commands that run the pipeline on the native stack.

    python -m userstream demo   [--count N] [--batch-size B] [--source S]   # make demo
    python -m userstream evolve [--count N] [--source S] [--keep]         # make demo-evolve
    python -m userstream status [service ...]                              # make status

The top layer: it hands ops (the demo, the evolution, the pipeline view) the services the
stack runs, so neither ops nor the stack imports the other. ``status`` is the stack's own
(each service; the cluster's nodes) followed, when no service is named, by the pipeline.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from config.credentials import CredentialsError
from config.settings import SettingsError, load_settings
from stack import secure
from stack.__main__ import main as stack_main
from stack.tls import TlsError


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["demo"], ["evolve"]):
        try:
            for line in secure.prepare(os.environ):  # demo starts the stack: as `up` does
                print(line)
        except (TlsError, CredentialsError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        from userstream.demo import main as demo_main  # inner: 0.9 s of client imports

        return demo_main(args)
    if args[:1] == ["status"]:
        code = stack_main(args)
        if len(args) > 1:  # services named: theirs only
            return code
        try:
            settings = load_settings()
        except SettingsError:
            return code  # the stack's status has said why
        from ops.status import pipeline_status  # inner: 0.9 s of client imports

        print("\n".join(pipeline_status(settings)))
        return code
    print("usage: python -m userstream {demo,evolve,status} ...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
