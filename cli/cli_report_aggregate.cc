// The report's counts, taken line by line (cli_report.h).  Nothing here
// keeps a line: each one adds to counters and is gone.
#include <algorithm>
#include <cstdlib>

#include "alias/response_report.h"
#include "cli/cli_report.h"

namespace mm::milter::report {
namespace {

using policy::Decision;

std::size_t decision_index(Decision d) {
    auto it = std::find(kDecisions.begin(), kDecisions.end(), d);
    return static_cast<std::size_t>(it - kDecisions.begin());
}

bool delivered(Decision d) {
    return d == Decision::accept || d == Decision::modify;
}

// A rule hit that took something out of a message that was delivered: an
// attachment under `strip`, removed links, redacted addresses and numbers.
bool strips(const policy::RuleHit& hit) {
    if (hit.id.starts_with("attachment.")) return hit.detail.ends_with("(stripped)");
    return hit.id == "links.removed" || hit.id == "privacy.redacted" ||
           hit.id == "autoreply.redacted";
}

// The detected type in an attachment hit's detail:
// part PATH "NAME" TYPE: REASON[ (stripped)].  The name may hold anything,
// so the type is the first token after a closing quote that ends in ':'.
std::string attachment_type(const std::string& detail) {
    std::size_t open = detail.find('"');
    for (std::size_t q = detail.find("\" ", open == std::string::npos ? 0 : open + 1);
         q != std::string::npos; q = detail.find("\" ", q + 1)) {
        const std::size_t start = q + 2;
        const std::size_t space = detail.find(' ', start);
        const std::size_t colon = detail.find(':', start);
        if (colon != std::string::npos && (space == std::string::npos || colon < space) &&
            colon > start)
            return detail.substr(start, colon - start);
    }
    return "(unknown)";
}

// links.removed: "N link(s): a.example, b.example" (at most eight names).
void add_links(const std::string& detail, ReportData& data) {
    data.messages_with_links_removed++;
    data.links_removed += std::strtoull(detail.c_str(), nullptr, 10);
    const std::size_t colon = detail.find(": ");
    if (colon == std::string::npos) return;
    std::string_view rest(detail);
    rest.remove_prefix(colon + 2);
    while (!rest.empty()) {
        const std::size_t comma = rest.find(", ");
        const std::string_view domain = rest.substr(0, comma);
        if (!domain.empty()) data.link_domains.add(std::string(domain));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 2);
    }
}

bool has_hit(const AuditLine& line, std::string_view id) {
    return std::any_of(line.rules.begin(), line.rules.end(),
                       [id](const policy::RuleHit& h) { return h.id == id; });
}

// Bounces and auto-replies are not the parties writing.
bool machine_generated(const AuditLine& line) {
    return std::any_of(line.rules.begin(), line.rules.end(), [](const policy::RuleHit& h) {
        return h.id.starts_with("bounce.") || h.id.starts_with("autoreply.") ||
               (h.id == "marketplace.buyer_message" && h.detail.starts_with("buyer auto-reply"));
    });
}

}  // namespace

void TopCounter::add(const std::string& key, std::uint64_t n) {
    total_ += n;
    auto it = entries_.find(key);
    if (it == entries_.end() && entries_.size() >= capacity_ && capacity_ > 0) {
        // Evict the smallest; the newcomer inherits its count as the error bound.
        auto smallest = by_count_.begin();
        const std::uint64_t floor = smallest->first;
        entries_.erase(smallest->second);
        by_count_.erase(smallest);
        ++evictions_;
        it = entries_.emplace(key, Entry{key, floor, floor}).first;
        by_count_.insert({floor, key});
    } else if (it == entries_.end()) {
        if (capacity_ == 0) return;
        it = entries_.emplace(key, Entry{key, 0, 0}).first;
        by_count_.insert({0, key});
    }
    by_count_.erase({it->second.count, key});
    it->second.count += n;
    by_count_.insert({it->second.count, key});
}

std::vector<TopCounter::Entry> TopCounter::top(std::size_t n) const {
    std::vector<Entry> out;
    for (const auto& [key, e] : entries_) out.push_back(e);
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
        return a.count != b.count ? a.count > b.count : a.key < b.key;
    });
    if (out.size() > n) out.resize(n);
    return out;
}

void Sample::add(double v) {
    ++seen_;
    if (values_.size() < capacity_) {
        values_.push_back(v);
        return;
    }
    // splitmix64: a fixed sequence, so the same log gives the same report.
    rng_ += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = rng_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    const std::uint64_t slot = z % seen_;
    if (slot < capacity_) values_[slot] = v;
}

std::optional<double> Sample::percentile(double p) const {
    if (values_.empty()) return std::nullopt;
    std::vector<double> sorted = values_;
    std::sort(sorted.begin(), sorted.end());
    return alias::percentile(sorted, p);
}

void DecisionCounts::add(Decision d) {
    n[decision_index(d)]++;
}
std::uint64_t DecisionCounts::of(Decision d) const {
    return n[decision_index(d)];
}
std::uint64_t DecisionCounts::total() const {
    std::uint64_t sum = 0;
    for (auto v : n) sum += v;
    return sum;
}

std::string deciding_rule(const AuditLine& line) {
    if (line.rules.empty()) return "(none)";
    const std::size_t at = line.reply.rfind("(rule ");
    if (at != std::string::npos) {
        const std::size_t start = at + 6;
        const std::size_t end = line.reply.find(')', start);
        if (end != std::string::npos) {
            const std::string id = line.reply.substr(start, end - start);
            if (has_hit(line, id)) return id;
        }
    }
    return line.rules.back().id;
}

Result<void> Aggregator::add_line(std::string_view text, const std::string& file,
                                  std::uint64_t line_no) {
    if (text.find_first_not_of(" \t\r") == std::string_view::npos) return {};
    data_.lines++;
    auto parsed = parse_audit_line(text);
    if (!parsed) {
        data_.bad_lines++;
        if (data_.bad_examples.size() < kMaxBadExamples)
            data_.bad_examples.push_back(
                {file + ":" + std::to_string(line_no), parsed.error().message});
        return {};
    }
    if ((options_.since_ms && parsed->time_ms < *options_.since_ms) ||
        (options_.until_ms && parsed->time_ms >= *options_.until_ms)) {
        data_.outside_dates++;
        return {};
    }
    return add_record(*parsed);
}

Result<std::optional<alias::Role>> Aggregator::role(const std::string& party) {
    if (party.empty()) return std::optional<alias::Role>{};
    if (auto it = roles_.find(party); it != roles_.end()) return it->second;
    auto found = role_of_(party);
    if (!found) return found.error();
    roles_.emplace(party, *found);
    return *found;
}

Result<void> Aggregator::add_record(const AuditLine& line) {
    data_.records++;
    if (data_.first_ms == 0 || line.time_ms < data_.first_ms) data_.first_ms = line.time_ms;
    data_.last_ms = std::max(data_.last_ms, line.time_ms);
    data_.totals.add(line.decision);
    data_.per_day[line.day].add(line.decision);
    const std::string decided_by = deciding_rule(line);
    add_rules(line, decided_by);

    auto sender = role(line.sender_party);
    if (!sender) return sender.error();
    auto recipient = role(line.recipient_party);
    if (!recipient) return recipient.error();
    if ((!line.sender_party.empty() && !*sender) || (!line.recipient_party.empty() && !*recipient))
        data_.unknown_parties++;
    if (*sender == alias::Role::seller)
        add_seller(line, line.sender_party, true, line.recipient_party, decided_by);
    else if (*recipient == alias::Role::seller)
        add_seller(line, line.recipient_party, false, line.sender_party, decided_by);
    return {};
}

void Aggregator::add_rules(const AuditLine& line, const std::string& decided_by) {
    const Decision d = line.decision;
    for (const policy::RuleHit& hit : line.rules) {
        RuleCounts& c = data_.rules[hit.id];
        c.hits++;
        if (delivered(d) && strips(hit)) c.stripped++;
        if (hit.id == "links.removed") add_links(hit.detail, data_);
        if (hit.id.starts_with("attachment.") && d != Decision::tempfail)
            (strips(hit) && delivered(d) ? data_.attachments_stripped : data_.attachments_refused)
                .add(attachment_type(hit.detail));
    }
    if (d == Decision::accept || d == Decision::modify) return;
    RuleCounts& decider = data_.rules[decided_by];
    if (d == Decision::reject) {
        decider.refused++;
        data_.refusals_per_day[line.day][decided_by]++;
    } else if (d == Decision::quarantine) {
        decider.quarantined++;
    } else {
        decider.tempfailed++;
        data_.tempfail_causes[decided_by]++;
        std::string detail;
        for (const policy::RuleHit& hit : line.rules)
            if (hit.id == decided_by) detail = hit.detail.substr(0, 160);
        data_.tempfail_details.add(decided_by + (detail.empty() ? "" : ": " + detail));
    }
}

void Aggregator::add_seller(const AuditLine& line, const std::string& seller, bool seller_sent,
                            const std::string& buyer, const std::string& decided_by) {
    SellerStats& s = data_.sellers[seller];
    const std::string pair = buyer + '\n' + seller;
    if (!seller_sent) {
        if (delivered(line.decision) && !buyer.empty() && !machine_generated(line)) {
            s.buyer_messages++;
            waiting_.try_emplace(pair, line.time_ms);
        }
        return;
    }
    s.sent++;
    if (line.decision == Decision::reject) {
        s.refused++;
        s.refused_by_rule[decided_by]++;
    }
    if (line.decision == Decision::quarantine) s.quarantined++;
    if (has_hit(line, "marketplace.critical")) s.critical++, s.tagged++;
    if (has_hit(line, "marketplace.important_misuse")) s.misuse++, s.tagged++;
    if (has_hit(line, "marketplace.important_quarantine")) s.over_threshold++;
    if (!delivered(line.decision) || machine_generated(line)) return;
    if (auto it = waiting_.find(pair); it != waiting_.end()) {
        s.answered++;
        s.reply_seconds.add(
            static_cast<double>(std::max<std::int64_t>(0, line.time_ms - it->second)) / 1000.0);
        waiting_.erase(it);
    }
}

}  // namespace mm::milter::report
