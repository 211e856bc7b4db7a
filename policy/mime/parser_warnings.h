// Which of GMime's parser warnings mean the tree it built may differ from
// what a mail client shows (the message cannot be classified reliably), and
// how they are reported in ContentFindings::malformed.
#pragma once

#include <gmime/gmime.h>

namespace mm::policy {

// A GMimeParserWarningFunc: `user` is a std::vector<std::string>* that
// collects the critical issues, each with its byte offset, at most 16.
void on_parser_warning(gint64 offset, GMimeParserWarning code, const gchar* item, gpointer user);

}  // namespace mm::policy
