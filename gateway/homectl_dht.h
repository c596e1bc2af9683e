// `homectl --cloud dht ...`: the Chord ring of the cloud (cloud/cloudd/dht_routes.h) from the
// command line. A thin client: homectl_cloud.cpp parses the shared options (--cloud-url,
// --cloud-token-file, --json), owns the HTTP client and hands the words after "dht" here.
//
//   dht ring            this member's ring view: its positions, neighbours, known members
//   dht lookup KEY      owner and hop path of a raw ring identifier (decimal)
//   dht home HOME_ID    the Raft group owning a home: ring key, owner position, group, path
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace homestead::gateway {

// A malformed dht command line (the caller turns it into its usage error, exit status 2).
class DhtUsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// GET `path` on any cloud member and return the JSON answer (throws on HTTP errors).
using CloudGet = std::function<nlohmann::json(const std::string& path)>;
// Percent-encodes one path segment (home ids may hold '/', '?', anything): homectl_cloud's.
using PathEncoder = std::function<std::string(const std::string& segment)>;

// `words` are the arguments after "dht". Returns the exit status (0); throws DhtUsageError.
int run_dht_command(const std::vector<std::string>& words, bool json_out, const CloudGet& get,
                    const PathEncoder& encode, std::ostream& out);

}  // namespace homestead::gateway
