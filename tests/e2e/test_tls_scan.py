"""TLS scan (issue #13): Debian's testssl.sh against Portcullis's built-in TLS; nothing may be
rated above LOW.

The server runs with an operator's certificate (tls = CERT,KEY): a leaf issued by a throwaway CA
made here, with the subjectAltName 127.0.0.1, a CRL distribution point and an OCSP URI, as any
CA-issued certificate has. The scan judges the server's TLS configuration (protocols, cipher
suites, groups, renegotiation, compression, session resumption, headers, known vulnerabilities),
so it must not be drowned in findings about a development certificate: the generated self-signed
one of tls=auto has no revocation information (testssl.sh: cert_revocation HIGH) and is not
trusted by anyone. docs/security.md ("TLS scan") records both runs. The leaf has an RSA 2048 key:
with it the server offers every suite family of its list (TLS 1.3, ECDHE-RSA and DHE-RSA, so the
finite-field DH group is scanned too); an ECDSA key only narrows it to ECDHE-ECDSA.

testssl.sh stays offline: --nodns none (no DNS at all), no --phone-out (the CRL and OCSP URIs are
never fetched), the CA given with --add-ca. Client simulations (-c) and the per-cipher listing
(-e) are left out: they rate nothing and take most of a full run. SQLite only: TLS does not touch
the store.
"""
import datetime
import ipaddress
import json
import shutil
import subprocess
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from conftest import start_server

TESTSSL = shutil.which("testssl") or shutil.which("testssl.sh")
FAILING = {"MEDIUM", "HIGH", "CRITICAL"}
# Checks run: protocols, cipher categories, forward secrecy (and the DH group), server defaults
# (certificate, extensions, session resumption), HTTP headers, every vulnerability check.
CHECKS = ["-p", "-s", "-f", "-S", "-h", "-U"]
# testssl.sh is a bash script that forks thousands of processes: about 2 minutes on an idle
# 2-core machine, up to 8 on one busy with parallel builds (docs/security.md).
SCAN_TIMEOUT_S = 720
# Findings every complete scan reports: a scan that lost its connection must not pass.
EXPECTED_IDS = {"SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3", "cipherlist_NULL",
                "cipherlist_EXPORT", "cipherlist_LOW", "PFS", "DH_groups",
                "cert_chain_of_trust", "cert_crlDistributionPoints", "HSTS_time",
                "security_headers_or_headers", "heartbleed", "CCS", "secure_renego",
                "secure_client_renego", "CRIME_TLS", "BREACH", "POODLE_SSL", "SWEET32", "FREAK",
                "DROWN", "LOGJAM", "BEAST", "LUCKY13", "RC4", "ROBOT"}


def write_certificates(directory, key_type):
    """A CA and a leaf for 127.0.0.1 and localhost issued by it (valid 90 days, a CRL
    distribution point and an OCSP URI on loopback that nothing fetches). Returns the paths of
    the CA, the chain (leaf + CA) and the leaf's key."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Portcullis e2e test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=90))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, key_cert_sign=True, crl_sign=True,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = (ec.generate_private_key(ec.SECP256R1()) if key_type == "ecdsa"
           else rsa.generate_private_key(public_exponent=65537, key_size=2048))
    loopback = "http://127.0.0.1:9"  # the discard port: never contacted (no --phone-out)
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                full_name=[x509.UniformResourceIdentifier(loopback + "/ca.crl")],
                relative_name=None, reasons=None, crl_issuer=None)]), critical=False)
            .add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier(loopback + "/ocsp"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    ca_path, chain_path, key_path = (directory / "ca.pem", directory / "chain.pem",
                                     directory / "key.pem")
    ca_path.write_bytes(ca.public_bytes(pem))
    chain_path.write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return ca_path, chain_path, key_path


def scan(server, ca_path, json_path):
    """Runs testssl.sh against the server and returns its findings (the flat JSON list)."""
    cmd = [TESTSSL, "--quiet", "--color", "0", "--warnings", "off", "--nodns", "none",
           "--connect-timeout", "10", "--openssl-timeout", "10", "--add-ca", str(ca_path),
           "--jsonfile", str(json_path), *CHECKS, f"127.0.0.1:{server.port}/healthz"]
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=SCAN_TIMEOUT_S)
    print(f"testssl.sh took {time.monotonic() - started:.0f} s (exit {done.returncode})")
    assert json_path.exists(), done.stdout + done.stderr
    return json.loads(json_path.read_text())


@pytest.mark.skipif(TESTSSL is None, reason="testssl.sh is not installed (scripts/install-deps.sh)")
def test_testssl_rates_nothing_above_low(tmp_path):
    ca_path, chain_path, key_path = write_certificates(tmp_path, "rsa")
    server = start_server(tls=f"{chain_path},{key_path}")
    try:
        findings = scan(server, ca_path, tmp_path / "testssl.json")
    finally:
        server.stop()
    for f in findings:
        if f["severity"] not in ("OK", "INFO"):
            print(f"{f['id']}: {f['severity']}: {f['finding']}")
    ids = {f["id"] for f in findings}
    # Security headers are reported one id per header found, or "security_headers" for none.
    if "X-Content-Type-Options" in ids or "security_headers" in ids:
        ids.add("security_headers_or_headers")
    assert EXPECTED_IDS <= ids, f"incomplete scan, missing {sorted(EXPECTED_IDS - ids)}"
    problems = [f for f in findings if f["id"] == "scanProblem"]
    assert not problems, problems
    too_severe = [f"{f['id']}: {f['severity']}: {f['finding']}" for f in findings
                  if f["severity"] in FAILING]
    assert not too_severe, "testssl.sh rated above LOW:\n" + "\n".join(too_severe)
