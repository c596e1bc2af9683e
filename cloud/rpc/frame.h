// Frames of the `tcp` transport. Pure (no sockets): the encoder produces the bytes, the
// reader turns a byte stream back into frames, so malformed and oversized input is tested
// without a network.
//
// Every frame: u32 length of what follows | u8 type | u8 codec | u8 error kind | u8 flags |
// u64 request id | type-specific header | payload. Integers are big-endian. Flags (requests
// only): bit 0 = one-way, the caller wants no reply (Raft's peer traffic: a reply frame per
// call would cost a wake-up on each side for nothing). Other bits are ignored.
//   hello    (client -> server, first frame):  payload = credential
//   welcome  (server -> client):               accepted; a refusal is a `reply` with an error kind
//   request:  u64 client id | u64 seq | u64 ack | u32 timeout ms | u16 method length | method | body
//   reply:    payload = encoded response (kind ok) or the error message
// Request ids let one connection carry many calls at once and replies come back in any order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "cloud/rpc/codec.h"
#include "cloud/rpc/error.h"

namespace homestead::rpc::frame {

enum class Type : std::uint8_t { hello = 1, welcome = 2, request = 3, reply = 4 };

inline constexpr std::size_t kFixedHeader = 16;  // length + type/codec/kind/flags + request id
inline constexpr std::size_t kRequestHeader = 8 + 8 + 8 + 4 + 2;

struct Frame {
  Type type = Type::request;
  Codec codec = Codec::json;
  ErrorKind kind = ErrorKind::ok;
  std::uint64_t request_id = 0;
  // request only
  std::uint64_t client_id = 0;
  std::uint64_t seq = 0;
  std::uint64_t ack = 0;
  std::uint32_t timeout_ms = 0;
  std::string method;
  bool one_way = false;  // flags bit 0
  // all
  std::string payload;
};

// The header bytes for a frame whose payload follows separately (so a writev can send both
// without copying the payload).
std::string encode_header(const Frame& frame, std::size_t payload_size);
// Header and payload in one string (tests, small control frames).
std::string encode(const Frame& frame);

// A frame the reader could not accept; the stream stays usable (the reader skips the bad
// frame's bytes), so the server can answer with `kind` and keep serving the connection.
struct Rejected {
  ErrorKind kind = ErrorKind::bad_request;  // bad_request or too_large
  std::uint64_t request_id = 0;             // 0 when the header itself was unreadable
  std::string reason;
};

class Reader {
 public:
  explicit Reader(std::size_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete frame, a rejection, or nothing until more bytes arrive.
  std::optional<std::variant<Frame, Rejected>> next();
  std::size_t buffered() const { return buffer_.size() - offset_; }

 private:
  void compact();
  std::size_t max_frame_bytes_;
  std::string buffer_;
  std::size_t offset_ = 0;
  std::uint64_t discard_ = 0;  // bytes of an oversized frame still to skip
};

}  // namespace homestead::rpc::frame
