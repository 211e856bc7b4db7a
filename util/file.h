// read_file_bounded: a whole small file (config, policy, key) into memory,
// refusing more than `max` bytes so a mistyped path such as /dev/zero can
// neither hang nor exhaust memory.  Failures say why: "cannot open: <strerror>",
// "cannot read: <strerror>", "too large (more than N bytes)".  Thread-safe.
#pragma once

#include <cstddef>
#include <string>

#include "util/result.h"

namespace mm {

Result<std::string> read_file_bounded(const std::string& path, std::size_t max);

}  // namespace mm
