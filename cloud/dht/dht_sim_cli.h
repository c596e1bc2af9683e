// The dht-sim command line, as a function so tests can run it in-process:
//   dht-sim ring --bits M (--nodes 0,1,3 | --random N [--seed S]) [--virtual V]
//                [--successors R] [--mode iterative|recursive] [--join ID]... [--leave ID]...
//                (--fingers NODE | --owner KEY | --lookup KEY --from NODE)
//   dht-sim experiment (path|load|failures|churn|all)... [--seed S] [--quick] [--plot DIR]
// Returns the process exit code: 0 ok, 1 run failed, 2 bad usage.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace homestead::dht {

int run_dht_sim(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace homestead::dht
