// Helpers for gateway tests against real cloudd processes (tests/cloud fixture): gateway
// registration with its token file, the URL list. (Admin calls that ride out "no leader
// yet": CloudCluster::request_any.)
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/cloud/cloud_cluster.h"
#include "tests/support/process.h"

namespace homestead::testing {

// Registers `gateway` in `home` through the cloud admin API and writes its token to
// <dir>/<gateway>.token (mode 0600). Empty path (with a test failure) when the cloud refused.
inline std::filesystem::path register_gateway(cloud_testing::CloudCluster& c, const std::string& home,
                                              const std::string& gateway, const std::filesystem::path& dir) {
  const auto created = c.request_any("POST", "/api/v1/homes/" + home + "/gateways", {{"id", gateway}});
  EXPECT_EQ(created.status, 201) << created.body.dump();
  if (created.status != 201) return {};
  const auto file = dir / (gateway + ".token");
  std::ofstream(file) << created.body["token"].get<std::string>() << "\n";
  ::chmod(file.c_str(), 0600);
  return file;
}

inline nlohmann::json cloud_urls(cloud_testing::CloudCluster& c) {
  nlohmann::json urls = nlohmann::json::array();
  for (auto id : c.ids()) urls.push_back("http://127.0.0.1:" + std::to_string(c.http_port(id)));
  return urls;
}

}  // namespace homestead::testing
