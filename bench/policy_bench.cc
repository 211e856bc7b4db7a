// Policy evaluation per core: parse + rules + rewrite, as the milter runs it
// at end of message (evaluate() on an authorised envelope).  The targets and
// the figures are in bench/README.md and bench/RESULTS.md; BM_Mime110K is the
// end-to-end bench's message.
//
//   build/bench/policy_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "policy/evaluate.h"
#include "policy/marketplace/marketplace_rules.h"
#include "policy/mime/mime_inspect.h"
#include "tests/support/document_samples.h"
#include "tests/support/synthetic_files.h"

namespace {

using namespace mm::policy;

constexpr const char* kDomain = "marketplace.example";

Envelope seller_to_buyer() {
    mm::alias::ResolvedAlias a;
    a.pair = {1, "bob", "acme", "3f9a0c6e1d2b4a77", "8c1e5d0b9a7f2e44", 0};
    a.owner = {"bob", mm::alias::Role::buyer, "bob@gmail.example", "Bob", {}, {}};
    a.counterpart = {"acme", mm::alias::Role::seller, "support@acme.example", "Acme", {}, {}};
    Envelope e;
    e.sender_raw = "<support@acme.example>";
    e.sender = "support@acme.example";
    e.recipients.push_back(
        {"<3f9a0c6e1d2b4a77@marketplace.example>", "3f9a0c6e1d2b4a77@marketplace.example", a});
    return e;
}

std::string headers(const std::string& content_type,
                    const std::string& subject = "Your order 123-1234567-1234567") {
    return "From: Acme <support@acme.example>\r\nTo: 3f9a0c6e1d2b4a77@marketplace.example\r\n"
           "Subject: " +
           subject +
           "\r\nDate: Mon, 23 Nov 2026 12:00:00 +0000\r\n"
           "Message-ID: <abc@acme.example>\r\nReply-To: support@acme.example\r\n"
           "MIME-Version: 1.0\r\nContent-Type: " +
           content_type + "\r\n\r\n";
}

std::string text_4k_body() {
    std::string body;
    while (body.size() < 4000)
        body +=
            "Hello Bob, your parcel left our warehouse today and should arrive on Friday. "
            "Track it at https://www.ups.com/track?tracknum=1Z999AA10123456784 .\r\n";
    return body;
}

std::string text_4k() {
    return headers("text/plain; charset=utf-8") + text_4k_body();
}

// Text4K tagged [Important]: the marketplace step reads the contact reasons
// of the same text the content rules read.
std::string text_4k_important() {
    return headers("text/plain; charset=utf-8",
                   "[Important] Your order 123-1234567-1234567: delivery") +
           text_4k_body();
}

std::string html_40k() {
    std::string html = "<html><head><style>p{color:#333}</style></head><body>";
    int i = 0;
    while (html.size() < 40000) {
        html += "<p>Item " + std::to_string(i) + ": see <a href=\"https://shop" +
                std::to_string(i % 7) + ".deals.example/p?id=" + std::to_string(i) +
                "&amp;ref=mail\">our offer</a> or track at <a href=\"https://www.ups.com/track?n=" +
                std::to_string(i) + "\">UPS</a>.</p>\r\n";
        ++i;
    }
    html += "</body></html>\r\n";
    return headers("multipart/alternative; boundary=\"alt\"") +
           "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the HTML part.\r\n"
           "--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
           html + "\r\n--alt--\r\n";
}

std::string base64(const std::string& in) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t line = 0;
    for (size_t i = 0; i < in.size(); i += 3) {
        unsigned v = static_cast<unsigned char>(in[i]) << 16;
        if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
        if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
        out += t[(v >> 18) & 63];
        out += t[(v >> 12) & 63];
        out += i + 1 < in.size() ? t[(v >> 6) & 63] : '=';
        out += i + 2 < in.size() ? t[v & 63] : '=';
        if ((line += 4) == 76) {
            out += "\r\n";
            line = 0;
        }
    }
    return out + "\r\n";
}

std::string with_attachment(const std::string& name, const std::string& type,
                            const std::string& bytes) {
    return headers("multipart/mixed; boundary=\"mix\"") +
           "--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease find the file "
           "attached.\r\n--mix\r\nContent-Type: " +
           type + "; name=\"" + name + "\"\r\nContent-Disposition: attachment; filename=\"" + name +
           "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64(bytes) + "--mix--\r\n";
}

// The end-to-end bench's "mime" message (bench/workloads.py): ~110 KB of
// multipart/mixed holding a multipart/alternative (text with a link to strip
// and a carrier link; an HTML part with 24 links, every sixth to a carrier,
// and two remote images) and a PDF of ~100 KB of base64.
std::string mime_110k() {
    std::string text = "Hello,\r\n\r\n";
    while (text.size() < 900)
        text += "The lamp arrived yesterday and the shade is slightly bent on one side.\r\n";
    text +=
        "The shop page: https://www.shop-example.net/lamps/b2\r\nTracking: "
        "https://www.ups.com/track?tracknum=1Z999AA10123456784\r\n\r\nKind regards,\r\nBob\r\n";
    std::string html =
        "<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\">\r\n<style>p{font-family:Arial,"
        "sans-serif;font-size:14px}</style></head><body>\r\n<p>Hello,</p>\r\n";
    for (int i = 0; i < 24; ++i) {
        std::string url =
            i % 6 == 5 ? "https://www.ups.com/track?tracknum=1Z999AA1012345678" + std::to_string(i)
                       : "https://www.shop-example.net/p/" + std::to_string(i) +
                             "?utm_source=mail&amp;utm_medium=email";
        html += "<p>Could you tell me whether the replacement shade fits the B2 base? <a href=\"" +
                url + "\" target=\"_blank\">this page</a></p>\r\n";
        if (i % 12 == 3)
            html += "<p><img src=\"https://img.shop-example.net/p/" + std::to_string(i) +
                    ".jpg\" width=\"320\" height=\"240\" alt=\"photo\"></p>\r\n";
    }
    html += "<p>Kind regards,<br>Bob</p>\r\n</body></html>\r\n";
    return headers("multipart/mixed; boundary=\"mix\"") +
           "--mix\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
           "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n" +
           text +
           "--alt\r\nContent-Type: text/html; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n" +
           html +
           "--alt--\r\n--mix\r\nContent-Type: application/pdf; name=\"invoice.pdf\"\r\n"
           "Content-Disposition: attachment; filename=\"invoice.pdf\"\r\n"
           "Content-Transfer-Encoding: base64\r\n\r\n" +
           base64(mm::bench::synthetic_pdf(75 * 1024)) + "--mix--\r\n";
}

// A PDF of 50 pages, each as full of text as it holds (108 lines of 180
// characters): about 1 MB, every page's text read by the content rules.
std::string text_pdf_50_pages() {
    const std::string words =
        "Brass table lamp B2 with linen shade, 230 V, E27 socket, ships within two days. ";
    std::string line;
    while (line.size() < 180) line += words;
    line.resize(180);
    std::vector<std::string> pages(50);
    for (std::string& page : pages)
        for (int i = 0; i < 108; ++i) page += line + "\n";
    return mm::testing::text_pdf(pages);
}

// One message as the milter evaluates it, on the policy of MM_POLICY (else
// etc/policy.yaml).
class Evaluation {
public:
    explicit Evaluation(const std::string& raw)
        : env_(seller_to_buyer()),
          ctx_{policy(), kDomain, classifier()},
          received_(parse_message(raw).value()),
          received_body_(received_.body.str()) {}

    void once() const {
        // The milter receives headers and body already split by the MTA and
        // copies them into a Message; the copy stands for that collection.
        Message message;
        message.headers = received_.headers;
        message.body = MessageBody(received_body_);
        Verdict v = evaluate(env_, message, ctx_);
        if (marketplace_) decide_twice(v);
        benchmark::DoNotOptimize(v);
    }
    // Also run the marketplace rules as the daemon does for a seller's
    // message: once read-only in evaluate() and once when it commits (no
    // store here: decide() on a thread the buyer started).  MM_BENCH_NO_SHARE
    // set: each run scans the texts afresh, as before the scans were shared.
    void with_marketplace() { marketplace_ = true; }

private:
    void decide_twice(const Verdict& v) const {
        const ContentFindings& f = *v.findings;
        const mm::alias::ResolvedAlias& pair = *env_.recipients.front().alias;
        mm::alias::ThreadState state;
        state.exists = true;
        state.started_by = mm::alias::Role::buyer;
        MarketplaceFacts facts{.writer = mm::alias::Role::seller,
                               .sender = pair.counterpart,
                               .recipient = pair.owner,
                               .subject = f.subject,
                               .texts = f.texts,
                               .document_texts = f.document_texts,
                               .scans = std::getenv("MM_BENCH_NO_SHARE") ? nullptr : f.scans.get()};
        for (int run = 0; run < 2; ++run) {
            MarketplaceDecision d = decide(facts, state, policy().marketplace);
            benchmark::DoNotOptimize(d);
        }
    }
    static const AttachmentClassifier& classifier() {
        static const auto c = AttachmentClassifier::create().value();
        return *c;
    }
    static const Policy& policy() {
        static const Policy p = [] {
            const char* path = std::getenv("MM_POLICY");
            if (path != nullptr) return *load_policy(path).value();
            return *load_policy(MM_SOURCE_DIR "/etc/policy.yaml").value();
        }();
        return p;
    }
    const Envelope env_;
    const EvalContext ctx_;
    const Message received_;
    const std::string received_body_;
    bool marketplace_ = false;
};

void run(benchmark::State& state, const std::string& raw) {
    const Evaluation evaluation(raw);
    for (auto _ : state) evaluation.once();
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw.size()));
}

void BM_Text4K(benchmark::State& s) {
    run(s, text_4k());
}
void BM_Html40KLinks(benchmark::State& s) {
    run(s, html_40k());
}
void BM_Text4KImportant(benchmark::State& s) {
    Evaluation evaluation(text_4k_important());
    evaluation.with_marketplace();
    for (auto _ : s) evaluation.once();
    s.SetItemsProcessed(s.iterations());
}

// `--repeat Text4K N`: N evaluations after one to warm up (the ICU tables,
// the stemmers), inside measured_evaluations(), for
// `valgrind --tool=callgrind --collect-atstart=no
// --toggle-collect='*measured_evaluations*'`: instruction counts that the
// machine's load does not change.
[[gnu::noinline]] void measured_evaluations(const Evaluation& e, long n) {
    for (long i = 0; i < n; ++i) e.once();
}

int repeat(const std::string& name, long n) {
    std::string raw;
    if (name == "Text4K")
        raw = text_4k();
    else if (name == "Text4KImportant")
        raw = text_4k_important();
    else if (name == "Html40KLinks")
        raw = html_40k();
    else if (name == "Mime110K")
        raw = mime_110k();
    else if (name == "ExeStrip")
        raw = with_attachment("setup.exe", "application/octet-stream", mm::bench::synthetic_exe());
    else
        return 2;
    Evaluation e(raw);
    if (name == "Text4KImportant") e.with_marketplace();
    e.once();
    measured_evaluations(e, n);
    return 0;
}
void BM_Mime110K(benchmark::State& s) {
    run(s, mime_110k());
}
void BM_Pdf5M(benchmark::State& s) {
    run(s, with_attachment("catalogue.pdf", "application/pdf", mm::bench::synthetic_pdf(5u << 20)));
}
void BM_PdfText1M50Pages(benchmark::State& s) {
    run(s, with_attachment("catalogue.pdf", "application/pdf", text_pdf_50_pages()));
}
void BM_ExeStrip(benchmark::State& s) {
    run(s, with_attachment("setup.exe", "application/octet-stream", mm::bench::synthetic_exe()));
}

BENCHMARK(BM_Text4K);
BENCHMARK(BM_Text4KImportant);
BENCHMARK(BM_Html40KLinks);
BENCHMARK(BM_Mime110K);
BENCHMARK(BM_Pdf5M)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PdfText1M50Pages)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ExeStrip);

}  // namespace

int main(int argc, char** argv) {
    if (argc == 4 && std::string(argv[1]) == "--repeat") {
        const int rc = repeat(argv[2], std::strtol(argv[3], nullptr, 10));
        if (rc != 0)
            std::fprintf(stderr,
                         "--repeat: Text4K, Text4KImportant, Html40KLinks, Mime110K or ExeStrip\n");
        return rc;
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
