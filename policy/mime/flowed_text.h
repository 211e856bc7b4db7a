// RFC 3676 format=flowed text read as its reader sees it.  A client joins
// a line that ends in a space (a soft break) to the next one, and with
// DelSp=yes also deletes that space, so "rev <soft break>iew" is shown as
// "review": the text rules, the links and the redaction must read the joined
// text, not the lines as they were sent.
#pragma once

#include <gmime/gmime.h>

#include <optional>
#include <string>
#include <string_view>

namespace mm::policy {

// The parameters of a format=flowed text/plain part.
struct FlowedFormat {
    bool delsp = false;
};

// The part's format=flowed parameters; nullopt when the part is not
// text/plain with format=flowed (case does not matter).
std::optional<FlowedFormat> flowed_format(GMimePart* part);

// `text` as a client shows a format=flowed text (RFC 3676 4.2 to 4.5):
// each line's quote marks ('>') counted and its stuffing space removed;
// a flowed line (one ending in a space, other than the signature separator
// "-- ") joined to the next line of the same quote depth, its trailing
// space deleted under DelSp=yes; a flowed line followed by a line of
// another depth, or by none, ends its paragraph as a fixed line would.
// Each paragraph is written once, with its quote depth as ">" marks and a
// space, and the line ending its last line had ("\r\n" or "\n").
// Linear in the size of `text`.
std::string unflow(std::string_view text, bool delsp);

// After a flowed part's text was replaced by the output of unflow: its
// Content-Type loses format and delsp (the text is now fixed lines, shown
// as before), and a part that was 7bit or 8bit is given an encoding that
// fits when the joined lines are too long for it.
void mark_unflowed(GMimePart* part);

}  // namespace mm::policy
