#include "policy/mime/part_content.h"

#include <cstring>

#include "policy/mime/gmime_ptr.h"
#include "util/strings.h"

namespace mm::policy {
namespace {

// g_mime_text_part_set_text for ASCII text, without its charset scan
// (g_mime_charset_step, costly on HTML): for ASCII it sets
// charset=us-ascii, the bytes as they are and, unless the part is already
// base64/QP/uuencoded, the best encoding GMime finds for them.
bool set_ascii_text(GMimePart* part, const std::string& text) {
    if (!is_ascii(text) || std::memchr(text.data(), '\0', text.size()) != nullptr) return false;
    g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset", "us-ascii");
    set_decoded_content(part, text);
    if (g_mime_part_get_content_encoding(part) <= GMIME_CONTENT_ENCODING_BINARY)
        g_mime_part_set_content_encoding(
            part, g_mime_part_get_best_content_encoding(part, GMIME_ENCODING_CONSTRAINT_7BIT));
    return true;
}

bool set_text_in_original_charset(GMimePart* part, const std::string& utf8) {
    const char* charset = g_mime_text_part_get_charset(GMIME_TEXT_PART(part));
    if (charset == nullptr || iequals(charset, "utf-8") || iequals(charset, "us-ascii"))
        return false;
    iconv_t cd = g_mime_iconv_open(charset, "UTF-8");
    if (cd == reinterpret_cast<iconv_t>(-1)) return false;
    GCharPtr converted(g_mime_iconv_strndup(cd, utf8.data(), utf8.size()));
    g_mime_iconv_close(cd);
    if (!converted) return false;
    // A lossy conversion would change the words we just judged: refuse it.
    cd = g_mime_iconv_open("UTF-8", charset);
    if (cd == reinterpret_cast<iconv_t>(-1)) return false;
    GCharPtr back(g_mime_iconv_strndup(cd, converted.get(), std::strlen(converted.get())));
    g_mime_iconv_close(cd);
    if (!back || utf8 != back.get()) return false;
    GPtr<GMimeStream> stream(
        g_mime_stream_mem_new_with_buffer(converted.get(), std::strlen(converted.get())));
    GPtr<GMimeDataWrapper> content(
        g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
    g_mime_part_set_content(part, content.get());
    return true;
}

}  // namespace

void set_decoded_content(GMimePart* part, std::string_view bytes) {
    GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(bytes.data(), bytes.size()));
    GPtr<GMimeDataWrapper> content(
        g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
    g_mime_part_set_content(part, content.get());
}

void set_part_text(GMimePart* part, const std::string& text) {
    if (!GMIME_IS_TEXT_PART(GMIME_OBJECT(part))) {
        set_decoded_content(part, text);
        return;
    }
    GMimeContentEncoding enc = g_mime_part_get_content_encoding(part);
    if (!set_text_in_original_charset(part, text) && !set_ascii_text(part, text))
        g_mime_text_part_set_text(GMIME_TEXT_PART(part), text.c_str());
    if ((enc == GMIME_CONTENT_ENCODING_7BIT || enc == GMIME_CONTENT_ENCODING_DEFAULT) &&
        !is_ascii(text))
        enc = GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE;
    if (enc != GMIME_CONTENT_ENCODING_DEFAULT) g_mime_part_set_content_encoding(part, enc);
}

void replace_with_notice(const MimeLeaf& leaf, const std::string& text) {
    GPtr<GMimeTextPart> notice(g_mime_text_part_new_with_subtype("plain"));
    g_mime_text_part_set_text(notice.get(), text.c_str());
    g_mime_part_set_content_encoding(
        GMIME_PART(notice.get()),
        is_ascii(text) ? GMIME_CONTENT_ENCODING_7BIT : GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
    g_mime_object_set_disposition(GMIME_OBJECT(notice.get()), "inline");
    if (leaf.parent != nullptr) {
        // The multipart takes its own reference; the replaced part comes
        // back to us with one we must drop.
        GPtr<GMimeObject> old(
            g_mime_multipart_replace(leaf.parent, leaf.index, GMIME_OBJECT(notice.get())));
    } else {
        g_mime_message_set_mime_part(leaf.owner, GMIME_OBJECT(notice.get()));
    }
}

}  // namespace mm::policy
