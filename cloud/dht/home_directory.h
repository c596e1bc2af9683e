// Which Raft group (shard) owns a home. cloudd and gateways depend only on this interface,
// so the mapping can move from "one group hosts several ring positions" (now) to real
// multi-group sharding later without touching callers.
//
// A home's key is the first m bits of SHA-1("home/" + home_id); its group is the group
// that hosts successor(key), the Chord owner of that key.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "cloud/dht/identifier.h"

namespace homestead::dht {

using GroupId = std::uint32_t;

class HomeGroupDirectory {
 public:
  virtual ~HomeGroupDirectory() = default;
  virtual GroupId group_of(std::string_view home_id) const = 0;
};

Id home_key(const IdSpace& space, std::string_view home_id);

// Resolves from a known membership (ring position -> group), e.g. the membership a
// ChordNode's lookup returned, or a static configuration.
class RingHomeDirectory : public HomeGroupDirectory {
 public:
  // Throws std::invalid_argument if positions is empty or an id is outside the ring.
  RingHomeDirectory(IdSpace space, std::map<Id, GroupId> positions);
  GroupId group_of(std::string_view home_id) const override;
  Id owner_position(std::string_view home_id) const;

 private:
  IdSpace space_;
  std::map<Id, GroupId> positions_;
};

}  // namespace homestead::dht
