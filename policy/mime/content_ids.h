// Content-IDs: an inline image's id is usually made by the sender's client
// from its own host name (<part1.06090408.01060107@laptop.seller-home.example>),
// so it names the sender's machine to the other side.  ContentIdRenamer gives
// each such id a neutral one under the marketplace domain; the parts'
// Content-ID fields, multipart/related's `start` and the HTML's cid: URLs
// (RFC 2392) are rewritten with the same map, so every image still shows.
//
// An id that names no host (no '@', or no top-level domain after it: Gmail's,
// Apple's and Outlook's ids) or one under the marketplace domain keeps its
// name, so such messages keep their bytes.  New ids are
// random (util/hex.h): nothing of the old one can be read back from them.
// Not thread-safe (one per message).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <gmime/gmime.h>

namespace mm::policy {

class ContentIdRenamer {
public:
    explicit ContentIdRenamer(std::string domain) : domain_(std::move(domain)) {}

    // Registers a part's Content-ID (without its angle brackets); the new
    // id, or nullopt when it stays as it is.
    std::optional<std::string> add(std::string_view id);
    // The new id of a registered one (ids compare case-insensitively, as
    // clients match cid: URLs); nullopt when it keeps its name.
    std::optional<std::string> renamed(std::string_view id) const;
    bool empty() const { return ids_.empty(); }

private:
    std::string domain_;
    std::unordered_map<std::string, std::string> ids_;  // lower-case old id -> new id
};

// Rewrites every cid: URL of `html` that names a renamed id (percent-encoded
// or not; the scheme in any case).  Returns how many were rewritten.
std::size_t rewrite_cid_urls(std::string& html, const ContentIdRenamer& renamer);

// A leaf part's Content-ID renamed (registered first); true if it changed.
bool rename_content_id(ContentIdRenamer& renamer, GMimeObject* part);
// A multipart/related's start parameter, for ids already registered; true
// if it changed.
bool rename_start_parameter(const ContentIdRenamer& renamer, GMimeObject* multipart);

}  // namespace mm::policy
