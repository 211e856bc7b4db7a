// A base64 decoder that gives byte for byte what GMime 3.2.13's
// g_mime_encoding_base64_decode_step gives, several times faster: GMime
// looks every byte up and shifts it in one at a time; this decodes a group
// of four digits with four table lookups and falls back to GMime's rule
// byte by byte only around what is not a digit (line breaks, padding,
// junk).  The rule: bytes outside A-Z a-z 0-9 + / = are skipped; every four
// digits give three bytes; the first '=' ends the data (the group it closes
// gives two bytes after three digits, one after two, none after fewer) and
// everything after it is ignored; an unfinished group at the end gives
// nothing.  The result does not depend on how the input is cut into steps.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mm::policy {

// A base64 digit's value (A-Z a-z 0-9 + /), or -1 for any other byte.
constexpr int base64_rank(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

class Base64Decoder {
public:
    // The most `step` writes for `len` input bytes (four digits give three
    // bytes; the fast path stores eight bytes for six, two past them).
    static constexpr std::size_t max_output(std::size_t len) { return (len + 3) / 4 * 3 + 8; }

    // Decodes `in` after what earlier steps decoded into `out` (at least
    // max_output(len) bytes); returns the number of bytes written.
    std::size_t step(const unsigned char* in, std::size_t len, unsigned char* out);

    // The digits of the open group (0-3), or -1 once an '=' ended the data:
    // GMimeEncoding::state's meaning.
    int state() const { return n_; }
    bool ended() const { return n_ < 0; }
    // The bits of the open group: with state(), all a decoder needs to go on
    // later from where it stopped (set_state).
    std::uint32_t saved() const { return saved_; }
    void set_state(int state, std::uint32_t saved) {
        n_ = state;
        saved_ = saved;
    }

private:
    std::size_t slow(const unsigned char*& in, const unsigned char* end, unsigned char* out);

    int n_ = 0;
    std::uint32_t saved_ = 0;
};

// Whether the installed GMime decodes base64 by the rule above, asked once
// on inputs where the rules of earlier and later releases disagree, cut at
// every point.  When it does not, callers decode with GMime as before.
bool base64_decodes_like_gmime();

}  // namespace mm::policy
