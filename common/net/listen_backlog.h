// cpp-httplib 0.11 as Debian builds it listens with a backlog of 5 and has no setting for
// it: 64 clients connecting at once overflow the accept queue and the kernel drops their
// SYNs, which the clients resend only after 1 s (raft_bench saw 92 first requests of 64
// clients take 1,039 ms). listen() again on a listening socket only changes its backlog,
// so this finds the process's listening sockets bound to `port` (in /proc/self/fd) and
// raises theirs. Returns how many sockets it changed.
#pragma once

namespace homestead::net {

int raise_listen_backlog(int port, int backlog);

}  // namespace homestead::net
