#!/usr/bin/python3
"""Writes N users for timing `portcullis user import` (issue #6); not part of ctest.

Hashing 100k passwords would take hours, so every row reuses ONE bcrypt hash (of the password
"bench-import-password", cost 10) and, with --argon2, every tenth row one argon2id hash. The
import only parses, validates and stores, so reused hashes time it the same as distinct ones.

    /usr/bin/python3 bench/import/gen_users.py 100000 /tmp/users.csv
    portcullis user import /tmp/users.csv --data-dir /tmp/bench-data --json

Formats: .csv (header username,email,password_hash,roles) or .jsonl, chosen by the extension.
"""
import argparse
import csv
import json
import sys

import bcrypt

PASSWORD = b"bench-import-password"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", type=int, help="number of users")
    parser.add_argument("path", help="output file (.csv or .jsonl)")
    parser.add_argument("--argon2", action="store_true",
                        help="every tenth user gets an argon2id hash (python3-argon2)")
    parser.add_argument("--prefix", default="user", help="username prefix (default: user)")
    args = parser.parse_args()

    bcrypt_hash = bcrypt.hashpw(PASSWORD, bcrypt.gensalt(rounds=10)).decode()
    argon2_hash = None
    if args.argon2:
        import argon2
        argon2_hash = argon2.PasswordHasher().hash(PASSWORD)

    def rows():
        for i in range(args.count):
            name = f"{args.prefix}{i:07d}"
            h = argon2_hash if argon2_hash and i % 10 == 0 else bcrypt_hash
            yield name, f"{name}@example.com", h, "user"

    if args.path.endswith(".jsonl"):
        with open(args.path, "w", encoding="utf-8") as f:
            for name, email, h, role in rows():
                f.write(json.dumps({"username": name, "email": email, "password_hash": h,
                                    "roles": [role]}) + "\n")
    elif args.path.endswith(".csv"):
        with open(args.path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["username", "email", "password_hash", "roles"])
            w.writerows(rows())
    else:
        sys.exit("the output file must end in .csv or .jsonl")
    print(f"wrote {args.count} users to {args.path}", file=sys.stderr)


if __name__ == "__main__":
    main()
