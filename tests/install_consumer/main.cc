// Built against the INSTALLED Portcullis package by ctest verifier_install_consumer.
#include <portcullis/verifier.h>

#include <cstdio>
int main() {
  portcullis::VerifierOptions o;
  o.issuer = "http://127.0.0.1:1";
  o.audiences = {"a"};
  o.jwks_url = "http://127.0.0.1:1/jwks";
  o.fetch_timeout = std::chrono::seconds(1);
  auto v = portcullis::Verifier::Create(o);
  if (!v.ok()) return 1;
  auto r = v.value->Verify("a.b.c");
  std::printf("%s\n", std::string(portcullis::ToString(r.error)).c_str());
  portcullis::Claims c;
  c.scopes = {"orders:*"};
  return c.HasPermission("orders:refund") ? 0 : 2;
}
