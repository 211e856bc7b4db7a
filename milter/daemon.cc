#include "milter/daemon.h"

#include <libmilter/mfapi.h>
#include <pthread.h>
#include <signal.h>
#include <systemd/sd-daemon.h>

#include <cstdio>
#include <thread>

#include "milter/callbacks.h"
#include "milter/log.h"
#include "policy/gmime_ptr.h"

namespace mm::milter {

int run_daemon(const std::string& config_path) {
    policy::ensure_gmime();  // before libmilter starts any thread

    auto opened = Service::open(config_path);
    if (!opened) {
        std::fprintf(stderr, "marketplace-milter: %s\n", opened.error().message.c_str());
        return opened.error().code == Errc::invalid ? 2 : 1;
    }
    Service& service = *opened.value();
    const Config& config = service.runtime()->config;
    log_open(config.log_stderr);

    // libmilter's own signal thread takes SIGHUP/SIGTERM as "stop" and SIGINT
    // as "abort", so reload is SIGUSR1 (as in OpenDKIM).  Block it here, before
    // any thread exists, so only the reloader ever receives it; SIGUSR2 is
    // the reloader's private "exit" at shutdown.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGUSR1);
    sigaddset(&signals, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    std::thread reloader([&service, signals] {
        for (;;) {
            int sig = 0;
            if (sigwait(&signals, &sig) != 0 || sig == SIGUSR2) return;
            auto r = service.reload();
            if (r)
                log_msg(LOG_INFO, "reloaded: policy version %s",
                        service.runtime()->policy->version.c_str());
            else
                log_msg(LOG_ERR, "reload failed, keeping the running config and policy: %s",
                        r.error().message.c_str());
        }
    });

    smfiDesc desc = make_filter(&service);
    int rc = 1;
    if (smfi_setconn(const_cast<char*>(config.socket.c_str())) != MI_SUCCESS ||
        smfi_settimeout(config.milter_timeout) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS) {
        log_msg(LOG_ERR, "cannot set up libmilter for %s", config.socket.c_str());
    } else if (smfi_opensocket(true) != MI_SUCCESS) {
        log_msg(LOG_ERR, "cannot listen on %s", config.socket.c_str());
    } else {
        log_msg(LOG_INFO, "ready: listening on %s, domain %s, policy version %s",
                config.socket.c_str(), config.domain.c_str(),
                service.runtime()->policy->version.c_str());
        sd_notify(0, "READY=1");
        rc = smfi_main() == MI_SUCCESS ? 0 : 1;
        sd_notify(0, "STOPPING=1");
        log_msg(LOG_INFO, "stopped");
    }
    pthread_kill(reloader.native_handle(), SIGUSR2);
    reloader.join();
    return rc;
}

}  // namespace mm::milter
