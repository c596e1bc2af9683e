#include "common/sim/disk.h"

namespace homestead::sim {

void Disk::put(const std::string& key, std::string value) {
  bytes_written_ += value.size();
  pending_[key] = std::move(value);
}

void Disk::append(const std::string& key, const std::string& bytes) {
  std::string value = get(key).value_or("");
  value += bytes;
  bytes_written_ += bytes.size();
  pending_[key] = std::move(value);
}

void Disk::erase(const std::string& key) { pending_[key] = std::nullopt; }

std::optional<std::string> Disk::get(const std::string& key) const {
  if (auto it = pending_.find(key); it != pending_.end()) return it->second;
  if (auto it = durable_.find(key); it != durable_.end()) return it->second;
  return std::nullopt;
}

std::vector<std::string> Disk::keys(const std::string& prefix) const {
  std::map<std::string, bool> present;
  for (auto it = durable_.lower_bound(prefix); it != durable_.end() && it->first.starts_with(prefix); ++it) {
    present[it->first] = true;
  }
  for (auto it = pending_.lower_bound(prefix); it != pending_.end() && it->first.starts_with(prefix); ++it) {
    present[it->first] = it->second.has_value();
  }
  std::vector<std::string> out;
  for (const auto& [key, exists] : present) {
    if (exists) out.push_back(key);
  }
  return out;
}

void Disk::sync() {
  ++syncs_;
  for (auto& [key, value] : pending_) {
    if (value) {
      durable_[key] = std::move(*value);
    } else {
      durable_.erase(key);
    }
  }
  pending_.clear();
}

}  // namespace homestead::sim
