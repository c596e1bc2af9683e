// `homectl --cloud ...`: the cloud REST admin API (cloudd, docs/sync-protocol.md) from the
// command line. homectl_main.cpp hands everything after `--cloud` to run_cloud_command().
//
//   homectl --cloud [--cloud-url URL[,URL...]] [--cloud-token-file FILE] [--json] COMMAND ...
//
// CLOUD_URLS (comma-separated cloudd addresses, any member) and CLOUD_TOKEN_FILE (the cloud
// admin token) are read from the environment unless the options are given. Each request
// goes to the first member that answers; "not applied" answers (503) move to the next.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace homestead::gateway {

// Exit status: 0 ok, 1 the request failed (message on `err`), 2 usage error.
int run_cloud_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// The usage text of the --cloud commands.
const char* cloud_usage();

}  // namespace homestead::gateway
