// The ideal Chord ring of a set of live cloudd members, computed by brute force from the
// documented placement (position i of member m = first `bits` bits of SHA-1("cloudd/<m>")
// for i = 0, of "cloudd/<m>/<i>" otherwise), and a check that live members report exactly it.
// Shared by the cloudd DHT integration tests.
#pragma once

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "cloud/dht/home_directory.h"
#include "cloud/dht/identifier.h"
#include "cloud/dht/messages.h"
#include "tests/cloud/cloud_cluster.h"

namespace homestead::cloud_testing {

class DhtRingOracle {
 public:
  DhtRingOracle(unsigned bits, unsigned virtual_nodes) : space_(bits), virtual_nodes_(virtual_nodes) {}

  const dht::IdSpace& space() const { return space_; }

  dht::Id position(std::uint64_t member, unsigned index = 0) const {
    std::string name = "cloudd/" + std::to_string(member);
    if (index > 0) {
      name += '/';  // piece by piece: g++ 12 -O3 false -Wrestrict on "x" + std::string
      name += std::to_string(index);
    }
    return space_.hash(name);
  }

  // Every position of the live members, sorted by identifier.
  std::vector<dht::NodeRef> positions(const std::set<std::uint64_t>& live) const {
    std::vector<dht::NodeRef> out;
    for (auto m : live) {
      for (unsigned i = 0; i < virtual_nodes_; ++i) out.push_back({position(m, i), static_cast<dht::HostId>(m)});
    }
    std::sort(out.begin(), out.end(), [](const dht::NodeRef& a, const dht::NodeRef& b) { return a.id < b.id; });
    return out;
  }

  // successor(key): the first position at or after `key` clockwise.
  static dht::NodeRef owner(const dht::IdSpace& space, dht::Id key, const std::vector<dht::NodeRef>& ring) {
    dht::NodeRef best;
    std::uint64_t best_distance = UINT64_MAX;
    for (const auto& n : ring) {
      const std::uint64_t d = space.distance(key, n.id);
      if (d < best_distance) best_distance = d, best = n;
    }
    return best;
  }
  dht::NodeRef owner(dht::Id key, const std::set<std::uint64_t>& live) const {
    return owner(space_, key, positions(live));
  }
  dht::NodeRef home_owner(const std::string& home, const std::set<std::uint64_t>& live) const {
    return owner(dht::home_key(space_, home), live);
  }

  // "" when every live member reports, for each of its positions, the ideal predecessor and
  // the ideal successor list (the next `list_length` positions, or all others if fewer);
  // otherwise what differed first.
  std::string ring_difference(CloudCluster& cluster, const std::set<std::uint64_t>& live,
                              std::size_t list_length = 4) const {
    const auto ring = positions(live);
    const auto index_of = [&](dht::Id id) {
      return static_cast<std::size_t>(
          std::find_if(ring.begin(), ring.end(), [&](const dht::NodeRef& n) { return n.id == id; }) - ring.begin());
    };
    for (auto m : live) {
      const HttpAnswer a = cluster.request(m, "GET", "/api/v1/dht/ring");
      if (a.status != 200) return "member " + std::to_string(m) + ": HTTP " + std::to_string(a.status);
      if (!a.body.value("joined", false)) return "member " + std::to_string(m) + " not joined";
      if (a.body["positions"].size() != virtual_nodes_) return "member " + std::to_string(m) + ": position count";
      for (const auto& p : a.body["positions"]) {
        const std::size_t at = index_of(p["self"]["id"].get<dht::Id>());
        if (at == ring.size()) return "member " + std::to_string(m) + " reports an unknown position " + p.dump();
        const dht::NodeRef& before = ring[(at + ring.size() - 1) % ring.size()];
        if (p["predecessor"].is_null() || p["predecessor"]["id"] != before.id) {
          return "position " + p["self"].dump() + ": predecessor " + p["predecessor"].dump() + ", expected " +
                 std::to_string(before.id);
        }
        std::vector<dht::Id> expected, reported;
        for (std::size_t k = 1; k <= std::min(list_length, ring.size() - 1); ++k) {
          expected.push_back(ring[(at + k) % ring.size()].id);
        }
        for (const auto& s : p["successors"]) reported.push_back(s["id"].get<dht::Id>());
        if (reported != expected) return "position " + p["self"].dump() + ": successors " + p["successors"].dump();
      }
    }
    return "";
  }

 private:
  dht::IdSpace space_;
  unsigned virtual_nodes_;
};

}  // namespace homestead::cloud_testing
