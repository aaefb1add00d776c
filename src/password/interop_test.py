#!/usr/bin/python3
"""Interoperability of password.Hasher with other Argon2 implementations.

Hashes written by Debian's `argon2` CLI (the reference implementation) and by python3-argon2
(argon2-cffi, p=8 or p=4 by default) must verify with our Hasher, and hashes written by our Hasher
must verify with python3-argon2.

Usage: interop_test.py PATH/TO/password_tool   (registered with ctest as password_interop_test)
"""

import base64
import subprocess
import sys
import unittest

import argon2

TOOL = None


def tool(*args, password):
    """Runs password_tool with `password` (str or bytes) on stdin; returns (exit code, stdout)."""
    data = password.encode() if isinstance(password, str) else password
    done = subprocess.run([TOOL, *args], input=data, capture_output=True, check=False)
    return done.returncode, done.stdout.decode().strip()


def argon2_cli(password, salt, *flags):
    """The encoded hash printed by Debian's argon2 CLI."""
    done = subprocess.run(["argon2", salt, *flags, "-e"], input=password.encode(),
                          capture_output=True, check=True)
    return done.stdout.decode().strip()


# The argon2 CLI reads at most 127 bytes of password.
PASSWORDS = ["correct horse battery staple", "", "p\u00e4ssw\u00f6rd \U0001f511", "x" * 120]


class TheirsVerifyWithOurs(unittest.TestCase):
    def assert_verifies(self, encoded, password):
        self.assertEqual(tool("verify", encoded, password=password), (0, "match"), encoded)
        self.assertEqual(tool("verify", encoded, password=password + "!"), (1, "mismatch"),
                         encoded)

    def test_argon2_cli_argon2id(self):
        for password in PASSWORDS:
            if not password:
                continue  # the CLI refuses an empty password
            encoded = argon2_cli(password, "saltsalt", "-id", "-t", "2", "-m", "15", "-p", "1")
            self.assertTrue(encoded.startswith("$argon2id$v=19$m=32768,t=2,p=1$"), encoded)
            self.assert_verifies(encoded, password)

    def test_argon2_cli_argon2id_with_lanes(self):
        encoded = argon2_cli("pw", "somesaltsalt", "-id", "-t", "3", "-m", "12", "-p", "4")
        self.assert_verifies(encoded, "pw")

    def test_argon2_cli_argon2i(self):
        encoded = argon2_cli("pw", "somesaltsalt", "-i", "-t", "3", "-m", "12", "-p", "2")
        self.assert_verifies(encoded, "pw")
        self.assertEqual(tool("needs-rehash", encoded, password=""), (0, "true"))

    def test_argon2_cli_argon2d_is_unsupported(self):
        encoded = argon2_cli("pw", "somesaltsalt", "-d", "-t", "2", "-m", "10", "-p", "1")
        self.assertEqual(tool("verify", encoded, password="pw"), (2, "unsupported_scheme"))

    def test_python_argon2_defaults(self):
        hasher = argon2.PasswordHasher()
        for password in PASSWORDS[:2]:
            encoded = hasher.hash(password)
            self.assertGreater(argon2.extract_parameters(encoded).parallelism, 1, encoded)
            self.assert_verifies(encoded, password)

    def test_python_argon2_p4_and_argon2i(self):
        for kind in (argon2.Type.ID, argon2.Type.I):
            hasher = argon2.PasswordHasher(time_cost=2, memory_cost=4096, parallelism=4,
                                           type=kind)
            self.assert_verifies(hasher.hash("pw"), "pw")


class OursVerifyWithTheirs(unittest.TestCase):
    def test_python_argon2_verifies_our_hashes(self):
        verifier = argon2.PasswordHasher()
        for password in PASSWORDS:
            code, encoded = tool("hash", password=password)
            self.assertEqual(code, 0)
            self.assertTrue(encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), encoded)
            self.assertTrue(verifier.verify(encoded, password))
            with self.assertRaises(argon2.exceptions.VerifyMismatchError):
                verifier.verify(encoded, password + "!")
            params = argon2.extract_parameters(encoded)
            self.assertEqual((params.memory_cost, params.time_cost, params.parallelism),
                             (19456, 2, 1))
            self.assertEqual(tool("needs-rehash", encoded, password=""), (0, "false"))

    def test_argon2_cli_reproduces_our_hash(self):
        # Same password, salt and params through the reference implementation: same bytes.
        # The CLI takes the salt as an argument, so retry until the random salt holds no NUL.
        for _ in range(100):
            code, encoded = tool("hash", "1024", "2", password="pw")
            self.assertEqual(code, 0)
            salt_b64 = encoded.split("$")[4]
            salt = base64.b64decode(salt_b64 + "=" * (-len(salt_b64) % 4))
            if b"\0" not in salt:
                break
        raw = subprocess.run(["argon2", salt, "-id", "-t", "2", "-k", "1024", "-p", "1", "-e"],
                             input=b"pw", capture_output=True, check=True).stdout
        self.assertEqual(raw.decode().strip(), encoded)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: interop_test.py PATH/TO/password_tool")
    TOOL = sys.argv.pop(1)
    unittest.main(verbosity=2)
