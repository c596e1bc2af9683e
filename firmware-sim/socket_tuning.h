// Finding and tuning the TCP socket of each Paho client. Paho C 1.3 exposes no socket and
// never sets TCP_NODELAY, which costs ~88 ms per QoS 1 command -> ack round trip (Nagle;
// DESIGN.md section 5). Paho's protocol trace, however, logs every CONNECT it sends as
// "<fd> <client id> -> CONNECT ...", from the thread that just connected the socket. A
// process-wide trace callback turns that into: TCP_NODELAY on the socket at once (so every
// reconnect gets it too) and a client id -> socket map, which lets a fault cut exactly one
// device's connection (shutdown, no DISCONNECT, so the broker publishes its LWT).
// Unlike scanning /proc/self/fd for sockets to the broker, this stays unambiguous when
// hundreds of devices connect at once.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace homestead::firmware {

struct BrokerAddress {
  std::string host;
  int port = 0;
};

// Parses "host:port", "tcp://host:port" or "mqtt://host:port"; false on anything else.
bool parse_broker(const std::string& text, BrokerAddress& out);

class PahoSockets {
 public:
  // Installs the trace callback (idempotent). Call before the first connect.
  static void install();
  // Shuts down (both directions) the socket of the client's latest connection, if it is
  // still that socket (same inode); false otherwise.
  static bool cut(const std::string& client_id);
  // How many sockets got TCP_NODELAY so far (for the summary and tests).
  static std::uint64_t nodelay_count();
  // Parses one trace line; exposed for unit tests. Returns false if it is not a CONNECT.
  static bool parse_connect_line(std::string_view line, int& fd, std::string& client_id);
};

}  // namespace homestead::firmware
