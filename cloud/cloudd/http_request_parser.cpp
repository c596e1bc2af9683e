#include "cloud/cloudd/http_request_parser.h"

#include <charconv>

namespace homestead::cloudd {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Case-insensitive search for a comma-separated token ("Connection: keep-alive, Upgrade").
bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

HttpParseResult fail(int status, std::string message) {
  HttpParseResult r;
  r.status = HttpParseStatus::error;
  r.error_status = status;
  r.error = std::move(message);
  return r;
}

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 80)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      const int high = hex_value(text[i + 1]);
      const int low = hex_value(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out += static_cast<char>(high * 16 + low);
        i += 2;
        continue;
      }
    }
    out += (plus_is_space && c == '+') ? ' ' : c;
  }
  return out;
}

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return {};
}

bool HttpRequest::has_header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return true;
  }
  return false;
}

bool HttpRequest::query_param(std::string_view name, std::string& value) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (percent_decode(pair.substr(0, eq), true) == name) {
      value = eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1), true);
      return true;
    }
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return false;
}

HttpParseResult parse_http_request(std::string_view buffer, const HttpParseLimits& limits) {
  std::size_t pos = 0;
  // Empty lines before a request line are allowed (RFC 9112 2.2).
  while (pos < buffer.size() && (buffer[pos] == '\r' || buffer[pos] == '\n')) ++pos;
  const std::size_t start = pos;

  // Lines end with CRLF (a bare LF is accepted); the head ends with an empty line.
  auto next_line = [&](std::string_view& line) {
    const auto lf = buffer.find('\n', pos);
    if (lf == std::string_view::npos) return false;
    line = buffer.substr(pos, lf - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = lf + 1;
    return true;
  };
  auto head_too_large = [&] {
    return fail(431, "request head (request line and headers) is larger than " +
                         std::to_string(limits.max_header_bytes) + " bytes");
  };

  HttpParseResult result;
  HttpRequest& req = result.request;
  std::string_view line;
  if (!next_line(line)) {
    if (buffer.size() - start > limits.max_header_bytes) return head_too_large();
    return result;
  }
  // METHOD SP request-target SP HTTP-version
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos ||
      sp1 == 0 || sp2 == sp1 + 1) {
    return fail(400, "bad request line \"" + printable(line) + "\": expected METHOD TARGET HTTP/1.1");
  }
  req.method = line.substr(0, sp1);
  req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  req.version = line.substr(sp2 + 1);
  for (char c : req.method) {
    if (!is_token_char(c)) return fail(400, "bad request line: method \"" + printable(req.method) + "\" is not a token");
  }
  if (req.target.front() != '/') {
    return fail(400, "bad request line: target \"" + printable(req.target) + "\" must start with '/'");
  }
  for (char c : req.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return fail(400, "bad request line: control character in target");
  }
  if (req.version != "HTTP/1.1" && req.version != "HTTP/1.0") {
    if (req.version.substr(0, 5) == "HTTP/") {
      return fail(505, "HTTP version \"" + printable(req.version) + "\" is not supported (HTTP/1.0 and HTTP/1.1 are)");
    }
    return fail(400, "bad request line: version \"" + printable(req.version) + "\" is not HTTP/x.y");
  }
  const auto question = req.target.find('?');
  req.path = percent_decode(req.target.substr(0, question), false);
  if (question != std::string_view::npos) req.query = req.target.substr(question + 1);

  bool head_done = false;
  while (next_line(line)) {
    if (pos - start > limits.max_header_bytes) return head_too_large();
    if (line.empty()) {
      head_done = true;
      break;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return fail(400, "bad header line \"" + printable(line) + "\": expected \"Name: value\"");
    }
    const std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!is_token_char(c)) return fail(400, "bad header name \"" + printable(name) + "\"");
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    req.headers.emplace_back(name, value);
  }
  if (!head_done) {
    if (buffer.size() - start > limits.max_header_bytes) return head_too_large();
    result.request = HttpRequest{};
    return result;
  }

  if (req.has_header("Transfer-Encoding")) {
    return fail(411, "Transfer-Encoding request bodies are not supported: send the body with Content-Length");
  }
  std::size_t body_length = 0;
  bool seen_length = false;
  for (const auto& [name, value] : req.headers) {
    if (!iequals(name, "Content-Length")) continue;
    std::size_t length = 0;
    const auto parsed = std::from_chars(value.data(), value.data() + value.size(), length);
    if (value.empty() || parsed.ec != std::errc() || parsed.ptr != value.data() + value.size()) {
      if (parsed.ec == std::errc::result_out_of_range) {
        return fail(413, "Content-Length " + printable(value) + " is larger than " + std::to_string(limits.max_body_bytes) + " bytes");
      }
      return fail(400, "header Content-Length: expected an unsigned integer, got \"" + printable(value) + "\"");
    }
    if (seen_length && length != body_length) return fail(400, "header Content-Length: given twice with different values");
    seen_length = true;
    body_length = length;
  }
  if (body_length > limits.max_body_bytes) {
    return fail(413, "Content-Length " + std::to_string(body_length) + " is larger than " +
                         std::to_string(limits.max_body_bytes) + " bytes");
  }
  const std::string_view connection = req.header("Connection");
  req.keep_alive = req.version == "HTTP/1.1" ? !has_token(connection, "close") : has_token(connection, "keep-alive");
  req.expect_continue = iequals(req.header("Expect"), "100-continue");
  result.head_complete = true;
  if (buffer.size() - pos < body_length) return result;  // incomplete, head known
  req.body = buffer.substr(pos, body_length);
  req.size = pos + body_length;
  result.status = HttpParseStatus::complete;
  return result;
}

}  // namespace homestead::cloudd
