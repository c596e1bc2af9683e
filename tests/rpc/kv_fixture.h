// A KvService server for tests: an in-memory store, handlers installed on an rpc::Server,
// and a gate that Sleep calls wait on so a test can stall the server and release it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cloud/rpc/skeleton.h"
#include "tests/rpc/test_service.h"

namespace homestead::rpc::testing {

class KvStore {
 public:
  std::size_t append(const std::string& key, const std::string& value) {
    std::lock_guard lock(mutex_);
    auto& list = data_[key];
    list.push_back(value);
    return list.size();
  }
  std::vector<std::string> get(const std::string& key) const {
    std::lock_guard lock(mutex_);
    const auto found = data_.find(key);
    return found == data_.end() ? std::vector<std::string>{} : found->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<std::string>> data_;
};

// Sleep(millis) waits until `millis` passes or the gate opens, whichever is first.
class Gate {
 public:
  void open() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    changed_.notify_all();
  }
  std::uint32_t wait(std::uint32_t millis) {
    const auto start = std::chrono::steady_clock::now();
    std::unique_lock lock(mutex_);
    ++waiting_;
    changed_.notify_all();
    changed_.wait_for(lock, std::chrono::milliseconds(millis), [&] { return open_; });
    --waiting_;
    return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now() - start)
                                          .count());
  }
  int waiting() {
    std::lock_guard lock(mutex_);
    return waiting_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
  int waiting_ = 0;
};

inline void install_kv(Server& server, KvStore& store, Gate& gate) {
  Skeleton<KvService> kv;
  auto append = [&store](const AppendRequest& r) { return AppendReply{store.append(r.key, r.value)}; };
  kv.on<KvService::Append>(append)
      .on<KvService::AppendAtLeastOnce>(append)
      .on<KvService::Get>([&store](const GetRequest& r) { return GetReply{store.get(r.key)}; })
      .on<KvService::Echo>([](const EchoMessage& m, const CallContext&) { return m; })
      .on<KvService::Sleep>([&gate](const SleepRequest& r) { return SleepReply{gate.wait(r.millis)}; })
      .on<KvService::Fail>([](const GetRequest& r) -> GetReply { throw RemoteError("no such key: " + r.key); });
  kv.install(server);
}

}  // namespace homestead::rpc::testing
