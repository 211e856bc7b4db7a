#include "policy/limits.h"

#include <algorithm>
#include <ctime>
#include <utility>

namespace mm::policy {
namespace {

// The innermost LimitScope of this thread (limits.h says why per thread).
thread_local LimitScope* t_scope = nullptr;

std::chrono::nanoseconds thread_cpu_now() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

LimitRefusal refusal(std::string text, std::string rule, std::string detail) {
    LimitRefusal r;
    r.text = std::move(text);
    r.rule = {std::move(rule), std::move(detail)};
    return r;
}

std::string header_subject(std::string_view where) {
    return where.empty() ? "Message header" : "The header of " + std::string(where);
}

std::string in_where(std::string_view where) {
    return where.empty() ? "" : " in " + std::string(where);
}

}  // namespace

LimitRefusal header_count_refusal(std::size_t limit, std::string_view where) {
    const std::string n = std::to_string(limit);
    return refusal(
        header_subject(where) + " exceeds " + n + " headers (limit limits.max_header_count)",
        "limits.max_header_count", "more than " + n + " header fields" + in_where(where));
}

LimitRefusal header_bytes_refusal(std::size_t limit, std::string_view where) {
    const std::string n = std::to_string(limit);
    return refusal(
        header_subject(where) + " exceeds " + n + " bytes (limit limits.max_header_bytes)",
        "limits.max_header_bytes", "more than " + n + " header bytes" + in_where(where));
}

LimitRefusal mime_parts_refusal(std::size_t limit) {
    const std::string n = std::to_string(limit);
    return refusal("Message has more than " + n + " MIME parts (limit limits.max_mime_parts)",
                   "limits.max_mime_parts", "more than " + n + " MIME parts");
}

LimitRefusal mime_depth_refusal(std::size_t limit) {
    const std::string n = std::to_string(limit);
    return refusal(
        "Message MIME structure nests deeper than " + n + " levels (limit limits.max_mime_depth)",
        "limits.max_mime_depth", "MIME nesting deeper than " + n + " levels");
}

LimitRefusal text_words_refusal(std::size_t limit) {
    const std::string n = std::to_string(limit);
    return refusal(
        "Message text has more than " + n + " words to check (limit limits.max_text_words)",
        "limits.max_text_words", "more than " + n + " words of text");
}

LimitRefusal redactions_refusal(std::size_t limit) {
    const std::string n = std::to_string(limit);
    return refusal("Message text has more than " + n +
                       " email addresses and phone numbers to redact (limit limits.max_redactions)",
                   "limits.max_redactions", "more than " + n + " contact details to redact");
}

LimitRefusal cpu_budget_refusal(std::chrono::milliseconds budget) {
    return refusal(
        "Message too complex to check within the time limit (limit limits.cpu_budget_ms)",
        "limits.cpu_budget_ms",
        "evaluation used more than " + std::to_string(budget.count()) + " ms of CPU");
}

LimitExceeded::LimitExceeded(LimitRefusal refusal)
    : std::runtime_error(refusal.rule.id + ": " + refusal.rule.detail),
      refusal_(std::move(refusal)) {}

HeaderTally::HeaderTally(const MessageLimits& limits, std::string_view where)
    : max_count_(limits.max_header_count), max_bytes_(limits.max_header_bytes), where_(where) {}

bool HeaderTally::add(std::size_t bytes) {
    if (exceeded_) return false;
    ++count_;
    bytes_ += bytes;
    if (count_ > max_count_)
        exceeded_ = header_count_refusal(max_count_, where_);
    else if (bytes_ > max_bytes_ || bytes_ < bytes)  // the sum wrapped: over any bound
        exceeded_ = header_bytes_refusal(max_bytes_, where_);
    return !exceeded_;
}

LimitScope::LimitScope(const MessageLimits& limits) : limits_(limits), outer_(t_scope) {
    if (limits_.cpu_budget.count() > 0) deadline_ = thread_cpu_now() + limits_.cpu_budget;
    t_scope = this;
}

LimitScope::~LimitScope() {
    t_scope = outer_;
}

const MessageLimits* active_limits() {
    return t_scope != nullptr ? &t_scope->limits_ : nullptr;
}

std::size_t text_words_left() {
    const LimitScope* scope = t_scope;
    if (scope == nullptr) return MessageLimits::kUnlimited;
    const std::size_t max = scope->limits_.max_text_words;
    return max > scope->text_words_ ? max - scope->text_words_ : 0;
}

void charge_text_words(std::size_t words) {
    if (LimitScope* scope = t_scope) scope->text_words_ += words;
}

void check_redactions(std::size_t found) {
    const LimitScope* scope = t_scope;
    if (scope == nullptr) return;
    const std::size_t max = scope->limits_.max_redactions;
    if (found > max || scope->redactions_ > max - found) throw LimitExceeded(redactions_refusal(max));
}

void charge_redactions(std::size_t made) {
    if (LimitScope* scope = t_scope) scope->redactions_ += made;
}

void check_cpu_budget() {
    const LimitScope* scope = t_scope;
    if (scope == nullptr || scope->deadline_.count() == 0) return;
    if (thread_cpu_now() > scope->deadline_)
        throw BudgetExceeded(cpu_budget_refusal(scope->limits_.cpu_budget));
}

CpuAllowance::CpuAllowance(double share) {
    const LimitScope* scope = t_scope;
    if (scope == nullptr || scope->deadline_.count() == 0) return;
    const auto now = thread_cpu_now();
    const auto left = std::max(scope->deadline_ - now, std::chrono::nanoseconds(1));
    deadline_ = now + std::chrono::duration_cast<std::chrono::nanoseconds>(left * share);
}

bool CpuAllowance::spent() const {
    return deadline_.count() != 0 && thread_cpu_now() > deadline_;
}

}  // namespace mm::policy
