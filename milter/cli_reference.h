// The command line as data: every subcommand with its options, read from the
// CLI11 definitions main() parses with, as JSON.  The build writes the
// marketplace-milter(8) manual page from it (packaging/man/make_man.py), so
// an option cannot be added without appearing there.  Printed by the hidden
// option --cli-reference.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace mm::milter {

// {"name", "description", "options": [{"names", "type", "required",
// "positional", "repeatable", "default", "description"}], "subcommands": [...]}
std::string cli_reference_json(const CLI::App& app);

}  // namespace mm::milter
