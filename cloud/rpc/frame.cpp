#include "cloud/rpc/frame.h"

namespace homestead::rpc::frame {

namespace {

constexpr std::uint8_t kOneWayFlag = 1;

void put(std::string& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::uint64_t get(std::string_view in, std::size_t at, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value = (value << 8) | static_cast<unsigned char>(in[at + i]);
  return value;
}

}  // namespace

std::string encode_header(const Frame& frame, std::size_t payload_size) {
  std::string out;
  const std::size_t extra = frame.type == Type::request ? kRequestHeader + frame.method.size() : 0;
  out.reserve(kFixedHeader + extra);
  put(out, kFixedHeader - 4 + extra + payload_size, 4);
  out.push_back(static_cast<char>(frame.type));
  out.push_back(static_cast<char>(frame.codec));
  out.push_back(static_cast<char>(frame.kind));
  out.push_back(static_cast<char>(frame.type == Type::request && frame.one_way ? kOneWayFlag : 0));
  put(out, frame.request_id, 8);
  if (frame.type == Type::request) {
    put(out, frame.client_id, 8);
    put(out, frame.seq, 8);
    put(out, frame.ack, 8);
    put(out, frame.timeout_ms, 4);
    put(out, frame.method.size(), 2);
    out += frame.method;
  }
  return out;
}

std::string encode(const Frame& frame) { return encode_header(frame, frame.payload.size()) + frame.payload; }

void Reader::compact() {
  if (offset_ > 0 && offset_ * 2 >= buffer_.size()) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
}

std::optional<std::variant<Frame, Rejected>> Reader::next() {
  if (discard_ > 0) {
    const std::size_t skip = std::min<std::uint64_t>(discard_, buffered());
    offset_ += skip;
    discard_ -= skip;
    compact();
    if (discard_ > 0) return std::nullopt;
  }
  if (buffered() < kFixedHeader) return std::nullopt;
  const std::string_view data(buffer_.data() + offset_, buffered());
  const std::uint64_t length = get(data, 0, 4);
  const std::uint64_t request_id = get(data, 8, 8);
  if (length < kFixedHeader - 4) {
    // Cannot even hold its own header: skip the bytes it claims (at least the length field).
    offset_ += 4 + length;
    if (offset_ > buffer_.size()) {
      discard_ = offset_ - buffer_.size();
      offset_ = buffer_.size();
    }
    compact();
    return Rejected{ErrorKind::bad_request, 0, "frame length " + std::to_string(length) + " shorter than its header"};
  }
  if (length + 4 > max_frame_bytes_) {
    const std::uint64_t total = length + 4;
    const std::size_t now = std::min<std::uint64_t>(total, buffered());
    offset_ += now;
    discard_ = total - now;
    compact();
    return Rejected{ErrorKind::too_large, request_id,
                    "frame of " + std::to_string(total) + " bytes exceeds the limit of " +
                        std::to_string(max_frame_bytes_)};
  }
  if (buffered() < length + 4) return std::nullopt;

  const std::string_view body = data.substr(4, length);
  offset_ += 4 + length;
  Frame frame;
  frame.request_id = request_id;
  const auto type = static_cast<std::uint8_t>(body[0]);
  const auto codec = codec_from_byte(static_cast<std::uint8_t>(body[1]));
  const auto kind = static_cast<std::uint8_t>(body[2]);
  auto reject = [&](std::string reason) {
    compact();
    return std::optional<std::variant<Frame, Rejected>>(Rejected{ErrorKind::bad_request, request_id, std::move(reason)});
  };
  if (type < 1 || type > 4) return reject("unknown frame type " + std::to_string(type));
  if (!codec) return reject("unknown codec " + std::to_string(static_cast<unsigned char>(body[1])));
  if (kind > static_cast<std::uint8_t>(ErrorKind::in_progress)) return reject("unknown error kind " + std::to_string(kind));
  frame.type = static_cast<Type>(type);
  frame.codec = *codec;
  frame.kind = static_cast<ErrorKind>(kind);
  std::size_t at = kFixedHeader - 4;
  if (frame.type == Type::request) {
    if (body.size() < at + kRequestHeader) return reject("request header truncated");
    frame.client_id = get(body, at, 8);
    frame.seq = get(body, at + 8, 8);
    frame.ack = get(body, at + 16, 8);
    frame.timeout_ms = static_cast<std::uint32_t>(get(body, at + 24, 4));
    frame.one_way = (static_cast<std::uint8_t>(body[3]) & kOneWayFlag) != 0;
    const std::size_t method_length = get(body, at + 28, 2);
    at += kRequestHeader;
    if (body.size() < at + method_length) return reject("method name runs past the frame");
    frame.method = std::string(body.substr(at, method_length));
    at += method_length;
  }
  frame.payload = std::string(body.substr(at));
  compact();
  return frame;
}

}  // namespace homestead::rpc::frame
