// The route table of the public HTTP API: one reviewable list of
// {method, path, handler, auth requirement} (STYLE point 16). routes_test.cc fails if a route has
// no declared auth requirement or a duplicate.
#pragma once

#include "api/api_context.h"
#include "http/router.h"

namespace portcullis::api {

void AddRoutes(http::Router& router, ApiContext& context);

}  // namespace portcullis::api
