// The REST API's route table and its OpenAPI 3 description. http_api.cpp registers exactly
// these routes (it refuses to start if one has no handler or a handler has no entry), so the
// description cannot drift from the server; tests/gateway checks the server answers each.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gateway/records.h"

namespace homestead::gateway {

struct RouteSpec {
  std::string method;  // "GET", "POST", "PATCH", "DELETE"
  std::string path;    // OpenAPI template: /api/v1/devices/{id}
  std::optional<Scope> scope;  // nullopt: no authentication
  std::string summary;
  int success_status = 200;
  std::vector<std::string> query;  // query parameter names (integers)
  bool body = false;               // takes a JSON body
  int other_success_status = 0;    // a second success answer (0: none)
};

const std::vector<RouteSpec>& route_specs();
nlohmann::json openapi_document();

}  // namespace homestead::gateway
