// Writing zeros over a range of a file, in 1 MiB writes: how the stores preallocate their
// write-ahead logs. Written zeros rather than fallocate(): writing into fallocated
// (unwritten) extents makes every later fdatasync commit the ext4 journal, and appending
// changes the file size, which fdatasync must journal too; overwriting written blocks is a
// pure data flush (measured: cloud/cloudd/README.md, gateway/README.md).
#pragma once

#include <cstdint>

namespace homestead::fs {

// Writes zeros to [from, to) of fd (pwrite, retried on EINTR and short writes). False with
// errno set when a write fails.
bool write_zeros(int fd, std::uint64_t from, std::uint64_t to);

}  // namespace homestead::fs
