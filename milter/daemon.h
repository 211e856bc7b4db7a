// `marketplace-milter run`: the daemon in the foreground (systemd Type=notify).
#pragma once

#include <string>

namespace mm::milter {

int run_daemon(const std::string& config_path);

}  // namespace mm::milter
