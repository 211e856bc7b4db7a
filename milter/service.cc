#include "milter/service.h"

#include <unistd.h>

#include <chrono>

#include "milter/log.h"

namespace mm::milter {
namespace {

// The spool directory must take files before the first large message needs
// one: a missing or read-only spool_dir is an error at start and on reload,
// not a tempfail for every large message.  (It can still vanish later; that
// tempfails the message.)
Result<void> probe_spool_dir(const Config& config) {
    auto fd = policy::open_spool_file(config.spool.spool_dir);
    if (!fd) return fail(Errc::unavailable, config.path + ": spool_dir: " + fd.error().message);
    ::close(*fd);
    return {};
}

// A spell of audit-log failures in syslog: its first failure and its end.
void report_audit_health(AuditLog::Health health, const std::string& detail) {
    if (health == AuditLog::Health::failing)
        log_msg(LOG_ERR, "%s: messages are tempfailed until it takes lines again", detail.c_str());
    else
        log_msg(LOG_NOTICE, "%s", detail.c_str());
}

double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

Result<std::shared_ptr<const Runtime>> load_runtime(const std::string& config_path, KeyFile key) {
    auto config = load_config(config_path, key);
    if (!config) return config.error();
    auto policy = policy::load_policy(config->policy_path);
    if (!policy) return policy.error();
    auto rt = std::make_shared<Runtime>();
    rt->config = std::move(config.value());
    rt->policy = std::move(policy.value());
    return std::shared_ptr<const Runtime>(std::move(rt));
}

Result<std::unique_ptr<Service>> Service::open(const std::string& config_path) {
    auto rt = load_runtime(config_path);
    if (!rt) return rt.error();
    if (auto probed = probe_spool_dir((*rt)->config); !probed) return probed.error();
    auto store = alias::make_store((*rt)->config.store);
    if (!store) return store.error();
    auto audit = AuditLog::open((*rt)->config.audit_log, report_audit_health);
    if (!audit) return audit.error();
    auto classifier = policy::AttachmentClassifier::create();
    if (!classifier) return classifier.error();

    std::unique_ptr<Service> service(new Service());
    service->config_path_ = config_path;
    service->store_ = std::make_shared<alias::CountingStore>(std::move(store.value()));
    service->directory_ =
        std::make_unique<alias::AliasDirectory>(service->store_, (*rt)->config.cache_ttl);
    service->audit_ = std::move(audit.value());
    service->classifier_ = std::move(classifier.value());
    service->gate_ = std::make_unique<EvaluationGate>(parallel_evaluations((*rt)->config));
    service->runtime_ = std::move(rt.value());
    service->metrics_ = std::make_unique<MilterMetrics>();
    service->metrics_->watch(*service->gate_, *service->store_, *service->directory_);
    service->metrics_->loaded(unix_now());
    service->audit_->set_observer(
        [m = service->metrics_.get()](const AuditRecord& r, bool written) {
            m->audited(r, written);
        });
    return service;
}

Result<void> Service::start_change_feed() {
    if (changes_) return {};
    alias::AliasDirectory* directory = directory_.get();
    auto feed = alias::make_change_feed(
        runtime()->config.store, [directory](std::string_view) { directory->invalidate(); },
        [](alias::FeedEvent event, const std::string& detail) {
            switch (event) {
                case alias::FeedEvent::connected:
                    log_msg(LOG_INFO, "store change feed: listening; caches emptied");
                    break;
                case alias::FeedEvent::dropped:
                    log_msg(LOG_WARNING,
                            "store change feed lost (%s): caches emptied, changes made meanwhile "
                            "are seen within cache_ttl_ms; reconnecting",
                            detail.c_str());
                    break;
                case alias::FeedEvent::connect_failed:
                    log_msg(LOG_WARNING,
                            "store change feed: cannot connect (%s); retrying, changes are seen "
                            "within cache_ttl_ms meanwhile",
                            detail.c_str());
                    break;
            }
        });
    if (!feed) return feed.error();
    changes_ = std::move(feed).value();
    return {};
}

std::shared_ptr<const Runtime> Service::runtime() const {
    std::lock_guard lock(mu_);
    return runtime_;
}

Result<void> Service::reload() {
    auto r = reload_files();
    metrics_->reloaded(r.ok(), unix_now());
    return r;
}

Result<void> Service::reload_files() {
    auto reopened = audit_->reopen();
    auto rt = load_runtime(config_path_);
    if (!rt) return rt.error();
    if (auto probed = probe_spool_dir((*rt)->config); !probed) return probed.error();
    {
        std::lock_guard lock(mu_);
        runtime_ = std::move(rt.value());
    }
    return reopened;
}

}  // namespace mm::milter
