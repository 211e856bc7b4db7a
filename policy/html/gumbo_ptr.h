// Ownership of a gumbo parse: the tree is freed with the options it was
// parsed with.  Gumbo is kept only where the tokenizer subset does not reach
// (named references outside its table), on one attribute value or text run
// wrapped so that it parses as one element: gumbo's parse of nested markup
// grows with the square of its depth (100,000 nested <span>: 22 GB before it
// was killed), so it is never given a part's markup.  The parse is of a
// string_view the caller keeps alive for the call.
#pragma once

#include <gumbo.h>

#include <memory>
#include <string_view>

namespace mm::policy::html {

struct GumboDeleter {
    void operator()(GumboOutput* o) const { gumbo_destroy_output(&kGumboDefaultOptions, o); }
};
using GumboPtr = std::unique_ptr<GumboOutput, GumboDeleter>;

inline GumboPtr gumbo_parse_view(std::string_view html) {
    return GumboPtr(gumbo_parse_with_options(&kGumboDefaultOptions, html.data(), html.size()));
}

}  // namespace mm::policy::html
