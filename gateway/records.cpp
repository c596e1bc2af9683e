#include "gateway/records.h"

namespace homestead::gateway {

std::string_view status_name(CommandStatus status) {
  switch (status) {
    case CommandStatus::pending: return "pending";
    case CommandStatus::sent: return "sent";
    case CommandStatus::acked: return "acked";
    case CommandStatus::failed: return "failed";
    case CommandStatus::expired: return "expired";
  }
  return "pending";
}

bool parse_status(std::string_view text, CommandStatus& out) {
  for (auto s : {CommandStatus::pending, CommandStatus::sent, CommandStatus::acked, CommandStatus::failed,
                 CommandStatus::expired}) {
    if (status_name(s) == text) {
      out = s;
      return true;
    }
  }
  return false;
}

std::string_view scope_name(Scope scope) { return scope == Scope::admin ? "admin" : "read"; }

bool parse_scope(std::string_view text, Scope& out) {
  if (text == "admin") out = Scope::admin;
  else if (text == "read") out = Scope::read;
  else return false;
  return true;
}

}  // namespace homestead::gateway
