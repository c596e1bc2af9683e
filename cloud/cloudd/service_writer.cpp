#include "cloud/cloudd/service_writer.h"

namespace homestead::cloudd {

ServiceWrite propose_service_op(RaftServer& raft, const nlohmann::json& op, std::chrono::milliseconds timeout) {
  Command command;
  command.kind = CommandKind::service;
  command.value = op.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  command.time_us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const WriteOutcome out = raft.write(std::move(command), timeout);
  ServiceWrite write;
  write.reason = out.reason;
  switch (out.status) {
    case WriteOutcome::Status::ok:
      write.status = ServiceWrite::Status::ok;
      write.result = nlohmann::json::parse(out.result);
      break;
    case WriteOutcome::Status::not_leader:
      write.status = ServiceWrite::Status::not_leader;
      if (out.leader != raft::kNoNode && out.leader != raft.id()) {
        write.leader_http = raft.http_address(out.leader).value_or("");
      }
      break;
    case WriteOutcome::Status::refused: write.status = ServiceWrite::Status::not_applied; break;
    case WriteOutcome::Status::unknown: write.status = ServiceWrite::Status::unknown; break;
  }
  return write;
}

}  // namespace homestead::cloudd
