// RAII for GMime: every GObject we own lives in a GPtr, so no error path can
// leak or double-unref one.  ensure_gmime() initialises GMime exactly once
// (call it in main before libmilter starts threads; tests may rely on the
// call_once inside the parsing functions).
#pragma once

#include <gmime/gmime.h>

#include <memory>

namespace mm::policy {

struct GObjectUnref {
    void operator()(void* p) const {
        if (p) g_object_unref(p);
    }
};
template <class T>
using GPtr = std::unique_ptr<T, GObjectUnref>;

struct GFree {
    void operator()(void* p) const { g_free(p); }
};
using GCharPtr = std::unique_ptr<char, GFree>;

// GMimeParserOptions / GMimeFormatOptions are boxed structs, not GObjects.
struct ParserOptionsFree {
    void operator()(GMimeParserOptions* p) const { g_mime_parser_options_free(p); }
};
using ParserOptionsPtr = std::unique_ptr<GMimeParserOptions, ParserOptionsFree>;

void ensure_gmime();

}  // namespace mm::policy
