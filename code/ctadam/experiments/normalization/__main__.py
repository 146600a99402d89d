"""``python -m ctadam.experiments.normalization identity --section S --out R``: the identity
check of the family, configured by the ``identity`` block of its section (rule
``normalization_identity``)."""

import argparse
import sys

from ctadam.checks import command_status
from ctadam.experiments.normalization.runs import identity_run
from ctadam.experiments.protocol import read_json_file


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ctadam.experiments.normalization",
                                     description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("identity", help="check eq:wu-correction on a simulated group")
    i.add_argument("--section", required=True, help="the family's section.json")
    i.add_argument("--out", required=True, help="the record to write")
    args = parser.parse_args(argv)

    def identity() -> None:
        from ctadam.io import write_json_atomic

        section = read_json_file(args.section)
        if "identity" not in section:
            raise ValueError(f"{args.section}: no 'identity' block (the identity check's config)")
        write_json_atomic(args.out, identity_run(section["identity"]))

    return command_status(identity, parser.prog)


if __name__ == "__main__":
    sys.exit(main())
