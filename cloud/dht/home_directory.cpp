#include "cloud/dht/home_directory.h"

#include <stdexcept>

namespace homestead::dht {

Id home_key(const IdSpace& space, std::string_view home_id) { return space.hash("home/" + std::string(home_id)); }

RingHomeDirectory::RingHomeDirectory(IdSpace space, std::map<Id, GroupId> positions)
    : space_(space), positions_(std::move(positions)) {
  if (positions_.empty()) throw std::invalid_argument("positions: need at least one ring position");
  for (const auto& [id, group] : positions_) {
    if (!space_.contains(id)) throw std::invalid_argument("positions: id " + std::to_string(id) + " outside the ring");
  }
}

Id RingHomeDirectory::owner_position(std::string_view home_id) const {
  const auto it = positions_.lower_bound(home_key(space_, home_id));
  return it == positions_.end() ? positions_.begin()->first : it->first;
}

GroupId RingHomeDirectory::group_of(std::string_view home_id) const { return positions_.at(owner_position(home_id)); }

}  // namespace homestead::dht
