// The public suffix list the link rule judges registrable domains by.
//
// Debian's publicsuffix package keeps /usr/share/publicsuffix current between
// releases of libpsl; psl_latest() takes that file when it is newer than the
// copy built into libpsl, and the built-in copy otherwise (no file, an older
// one, or one that does not load).  Loaded once, on first use, and kept for
// the life of the process: a new list needs a restart.  Thread-safe (libpsl
// lookups only read the context).
#pragma once

#include <libpsl.h>

#include <string>

namespace mm::policy {

const psl_ctx_t* public_suffixes();

// Which list that is, for --version: "built-in (<date>)" or the file's path.
std::string public_suffix_source();

}  // namespace mm::policy
