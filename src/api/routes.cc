#include "api/routes.h"

#include "api/admin/admin.h"
#include "api/admin/users.h"
#include "api/apikeys/apikeys.h"
#include "api/browser/authorize.h"
#include "api/discovery/discovery.h"
#include "api/forward_auth/forward_auth.h"
#include "api/me/me.h"
#include "api/me/mfa.h"
#include "api/me/register.h"
#include "api/me/session.h"
#include "api/oauth/introspect_revoke.h"
#include "api/oauth/token_endpoint.h"
#include "api/ops/openapi.h"
#include "api/ops/ops.h"

namespace portcullis::api {

void AddRoutes(http::Router& router, ApiContext& ctx) {
  using boost::beast::http::verb;
  using http::AuthRequirement;
  ctx.router = &router;
  auto bind = [&ctx](auto fn) { return [&ctx, fn](http::Request& req) { return fn(ctx, req); }; };
  // clang-format off
  router.Add({verb::get,  "/healthz",                                 bind(HandleHealthz),   AuthRequirement::kPublic, "healthz"});
  router.Add({verb::get,  "/readyz",                                  bind(HandleReadyz),    AuthRequirement::kPublic, "readyz"});
  router.Add({verb::get,  "/metrics",                                 bind(HandleMetrics),   AuthRequirement::kPublic, "metrics"});
  router.Add({verb::get,  "/openapi.json",                            bind(HandleOpenApi),   AuthRequirement::kPublic, "openapi"});
  router.Add({verb::get,  "/.well-known/jwks.json",                   bind(HandleJwks),      AuthRequirement::kPublic, "jwks"});
  router.Add({verb::get,  "/.well-known/openid-configuration",        bind(HandleMetadata),  AuthRequirement::kPublic, "openid_configuration"});
  router.Add({verb::get,  "/.well-known/oauth-authorization-server",  bind(HandleMetadata),  AuthRequirement::kPublic, "oauth_metadata"});
  router.Add({verb::post, "/oauth2/token",                            bind(HandleToken),     AuthRequirement::kPublic, "token"});
  router.Add({verb::post, "/oauth2/introspect",                       bind(HandleIntrospect),  AuthRequirement::kPublic, "introspect"});
  router.Add({verb::post, "/oauth2/revoke",                           bind(HandleRevoke),      AuthRequirement::kPublic, "revoke"});
  router.Add({verb::get,  "/oauth2/authorize",                        bind(HandleAuthorize),   AuthRequirement::kPublic, "authorize"});
  router.Add({verb::post, "/oauth2/authorize",                        bind(HandleAuthorize),   AuthRequirement::kPublic, "authorize.post"});
  router.Add({verb::get,  "/oauth2/logout",                           bind(HandleEndSession),  AuthRequirement::kPublic, "end_session"});
  router.Add({verb::post, "/oauth2/logout",                           bind(HandleEndSession),  AuthRequirement::kPublic, "end_session.post"});
  router.Add({verb::get,  "/oauth2/userinfo",                         bind(HandleUserinfo),    AuthRequirement::kPublic, "userinfo"});
  router.Add({verb::post, "/oauth2/userinfo",                         bind(HandleUserinfo),    AuthRequirement::kPublic, "userinfo.post"});
  router.Add({verb::get,  "/assets/portcullis.css",                   bind(HandleStylesheet),  AuthRequirement::kPublic, "stylesheet"});
  router.Add({verb::post, "/v1/me/mfa/totp",                         bind(HandleStartTotp),   AuthRequirement::kAnyCredential, "me.mfa.totp.start"});
  router.Add({verb::post, "/v1/me/mfa/totp/confirm",                 bind(HandleConfirmTotp), AuthRequirement::kAnyCredential, "me.mfa.totp.confirm"});
  router.Add({verb::delete_, "/v1/me/mfa/totp",                      bind(HandleDeleteTotp),  AuthRequirement::kAnyCredential, "me.mfa.totp.delete"});
  router.Add({verb::get,  "/v1/me/sessions",                          bind(HandleListSessions), AuthRequirement::kAnyCredential, "me.sessions.list"});
  router.Add({verb::delete_, "/v1/me/sessions/{id}",                  bind(HandleDeleteSession), AuthRequirement::kAnyCredential, "me.sessions.delete"});
  router.Add({verb::get,  "/v1/me",                                   bind(HandleMe),          AuthRequirement::kAnyCredential, "me"});
  router.Add({verb::post, "/v1/me/password",                          bind(HandleChangePassword), AuthRequirement::kAnyCredential, "me.password"});
  router.Add({verb::post, "/v1/logout",                               bind(HandleLogout),      AuthRequirement::kBearer, "logout"});
  router.Add({verb::get,  "/v1/clients",                              bind(HandleListClients), AuthRequirement::kAnyCredential, "clients.list"});
  router.Add({verb::post, "/v1/clients",                              bind(HandleCreateClient), AuthRequirement::kAnyCredential, "clients.create"});
  router.Add({verb::delete_, "/v1/clients/{id}",                      bind(HandleDeleteClient), AuthRequirement::kAnyCredential, "clients.delete"});
  router.Add({verb::get,  "/v1/keys",                                 bind(HandleListKeys),    AuthRequirement::kAnyCredential, "keys.list"});
  router.Add({verb::post, "/v1/keys/rotate",                          bind(HandleRotateKeys),  AuthRequirement::kAnyCredential, "keys.rotate"});
  router.Add({verb::post, "/v1/register",                             bind(HandleRegister),    AuthRequirement::kPublic, "register"});
  router.Add({verb::get,  "/v1/users",                                bind(HandleListUsers),   AuthRequirement::kAnyCredential, "users.list"});
  router.Add({verb::post, "/v1/users",                                bind(HandleCreateUser),  AuthRequirement::kAnyCredential, "users.create"});
  router.Add({verb::get,  "/v1/users/{id}",                           bind(HandleGetUser),     AuthRequirement::kAnyCredential, "users.get"});
  router.Add({verb::patch, "/v1/users/{id}",                          bind(HandlePatchUser),   AuthRequirement::kAnyCredential, "users.patch"});
  router.Add({verb::delete_, "/v1/users/{id}",                        bind(HandleDeleteUser),  AuthRequirement::kAnyCredential, "users.delete"});
  router.Add({verb::put,  "/v1/users/{id}/roles",                     bind(HandleSetUserRoles), AuthRequirement::kAnyCredential, "users.roles"});
  router.Add({verb::get,  "/v1/roles",                                bind(HandleListRoles),   AuthRequirement::kAnyCredential, "roles.list"});
  router.Add({verb::post, "/v1/roles",                                bind(HandleCreateRole),  AuthRequirement::kAnyCredential, "roles.create"});
  router.Add({verb::get,  "/v1/roles/{name}",                         bind(HandleGetRole),     AuthRequirement::kAnyCredential, "roles.get"});
  router.Add({verb::patch, "/v1/roles/{name}",                        bind(HandlePatchRole),   AuthRequirement::kAnyCredential, "roles.patch"});
  router.Add({verb::delete_, "/v1/roles/{name}",                      bind(HandleDeleteRole),  AuthRequirement::kAnyCredential, "roles.delete"});
  router.Add({verb::get,  "/v1/access-review",                        bind(HandleAccessReview), AuthRequirement::kAnyCredential, "access_review"});
  router.Add({verb::post, "/v1/users/{id}/unlock",                   bind(HandleUnlockUser),  AuthRequirement::kAnyCredential, "users.unlock"});
  router.Add({verb::get,  "/v1/audit",                                bind(HandleListAudit),   AuthRequirement::kAnyCredential, "audit.list"});
  router.Add({verb::get,  "/v1/forward-auth",                         bind(HandleForwardAuth), AuthRequirement::kPublic, "forward_auth"});  // authenticates per rule itself
  router.Add({verb::get,  "/v1/api-keys",                            bind(HandleListApiKeys),  AuthRequirement::kAnyCredential, "apikeys.list"});
  router.Add({verb::post, "/v1/api-keys",                            bind(HandleCreateApiKey), AuthRequirement::kAnyCredential, "apikeys.create"});
  router.Add({verb::delete_, "/v1/api-keys/{id}",                    bind(HandleDeleteApiKey), AuthRequirement::kAnyCredential, "apikeys.delete"});
  // clang-format on
}

}  // namespace portcullis::api
