// A node's disk in the simulator: key -> bytes, with the page-cache semantics that matter
// for crash tests. Writes are visible to the node at once but become durable only at
// sync(); a crash throws away everything written since the last sync, so a protocol that
// acknowledges before it syncs loses data in simulation exactly as it would for real.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace homestead::sim {

class Disk {
 public:
  void put(const std::string& key, std::string value);
  void append(const std::string& key, const std::string& bytes);
  void erase(const std::string& key);
  std::optional<std::string> get(const std::string& key) const;
  bool contains(const std::string& key) const { return get(key).has_value(); }
  // Keys starting with prefix, in order, as the node currently sees them.
  std::vector<std::string> keys(const std::string& prefix = "") const;

  // Make every write so far durable (fsync).
  void sync();
  bool dirty() const { return !pending_.empty(); }
  std::uint64_t sync_count() const { return syncs_; }
  std::uint64_t bytes_written() const { return bytes_written_; }

  // Called by the simulator on a crash: unsynced writes are lost.
  void lose_unsynced() { pending_.clear(); }

 private:
  std::map<std::string, std::string> durable_;
  // nullopt = erased but not yet synced.
  std::map<std::string, std::optional<std::string>> pending_;
  std::uint64_t syncs_ = 0;
  std::uint64_t bytes_written_ = 0;
};

}  // namespace homestead::sim
