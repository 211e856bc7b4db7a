// MessageBody (in memory, spilled, the threshold, GMime streams, the spool
// file's lifetime and failures), read_message, and the streamed decode the
// attachment rule uses (exact sizes without holding the part; sniffing of
// spooled PDF, PE and OOXML attachments).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "policy/mime/message_body.h"
#include "policy/mime/mime_inspect.h"
#include "policy/mime/mime_io.h"
#include "tests/support/test_support.h"

namespace mm::policy {
namespace {

namespace fs = std::filesystem;

std::string random_bytes(std::size_t n, unsigned seed = 7) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
}

// A PDF that a reader (and qpdf) opens, around `content` as one stream.
std::string pdf_around(const std::string& content) {
    return "%PDF-1.4\n1 0 obj\n<</Type/Catalog>>\nendobj\n2 0 obj\n<</Length " +
           std::to_string(content.size()) + ">>\nstream\n" + content +
           "\nendstream\nendobj\ntrailer\n<</Root 1 0 R>>\n%%EOF\n";
}

std::string read_stream(GMimeStream* s) {
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = g_mime_stream_read(s, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

std::string base64(std::string_view in) {
    GCharPtr b64(g_base64_encode(reinterpret_cast<const guchar*>(in.data()), in.size()));
    std::string out;
    std::string_view all(b64.get());
    for (std::size_t i = 0; i < all.size(); i += 76) out.append(all.substr(i, 76)).append("\r\n");
    return out;
}

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// What the descriptor points at: "/dir/#123 (deleted)" for an unnamed file.
std::string fd_target(int fd) {
    std::error_code ec;
    return fs::read_symlink("/proc/self/fd/" + std::to_string(fd), ec).string();
}

std::size_t entries(const fs::path& dir) {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir), {}));
}

class MessageBodyTest : public ::testing::Test {
protected:
    void SetUp() override { ensure_gmime(); }
    SpoolOptions spool(std::size_t threshold) const { return {threshold, dir_.path().string()}; }
    mm::testing::TempDir dir_;
};

TEST_F(MessageBodyTest, SmallBodyStaysInMemory) {
    MessageBody b(spool(16));
    ASSERT_TRUE(b.append("hello "));
    ASSERT_TRUE(b.append("world"));
    EXPECT_FALSE(b.spilled());
    EXPECT_EQ(b.fd(), -1);
    EXPECT_EQ(b.size(), 11u);
    EXPECT_EQ(b.str(), "hello world");
    EXPECT_EQ(b.memory(), "hello world");
}

TEST_F(MessageBodyTest, TheThresholdItselfStaysInMemoryOneByteMoreSpills) {
    const std::string bytes = random_bytes(17);
    MessageBody b(spool(16));
    ASSERT_TRUE(b.append(std::string_view(bytes).substr(0, 16)));
    EXPECT_FALSE(b.spilled());
    ASSERT_TRUE(b.append(std::string_view(bytes).substr(16)));
    EXPECT_TRUE(b.spilled());
    EXPECT_TRUE(b.memory().empty());  // the heap copy is gone
    EXPECT_EQ(b.size(), 17u);
    EXPECT_EQ(b.str(), bytes);
}

TEST_F(MessageBodyTest, SpilledBodyKeepsEveryByteInOrder) {
    const std::string bytes = random_bytes(300000);
    MessageBody b(spool(1000));
    for (std::size_t off = 0; off < bytes.size(); off += 777)
        ASSERT_TRUE(b.append(std::string_view(bytes).substr(off, 777)));
    ASSERT_TRUE(b.spilled());
    EXPECT_EQ(b.size(), bytes.size());
    EXPECT_EQ(b.str(), bytes);
    std::string chunked;
    std::size_t biggest = 0;
    ASSERT_TRUE(b.read_chunks(
        [&](std::string_view piece) {
            biggest = std::max(biggest, piece.size());
            chunked += piece;
        },
        65535));
    EXPECT_EQ(chunked, bytes);
    EXPECT_EQ(biggest, 65535u);
}

TEST_F(MessageBodyTest, ZeroThresholdSpillsTheFirstByte) {
    MessageBody b(spool(0));
    ASSERT_TRUE(b.append("x"));
    EXPECT_TRUE(b.spilled());
    EXPECT_EQ(b.str(), "x");
}

TEST_F(MessageBodyTest, FromAStringNeverSpills) {
    MessageBody b = std::string(100000, 'a');
    ASSERT_TRUE(b.append(std::string(100000, 'b')));
    EXPECT_FALSE(b.spilled());
    EXPECT_EQ(b.size(), 200000u);
}

TEST_F(MessageBodyTest, GMimeStreamGivesTheSameBytesInMemoryAndSpilled) {
    const std::string bytes = random_bytes(100000);
    for (std::size_t threshold : {std::size_t(1) << 20, std::size_t(10)}) {
        MessageBody b(spool(threshold));
        ASSERT_TRUE(b.append(bytes));
        EXPECT_EQ(b.spilled(), threshold < bytes.size());
        auto s = b.stream();
        ASSERT_TRUE(s) << s.error().message;
        EXPECT_EQ(g_mime_stream_length(s->get()), static_cast<gint64>(bytes.size()));
        EXPECT_EQ(read_stream(s->get()), bytes);
        // A substream (what the parser keeps per part) reads the same range.
        GPtr<GMimeStream> sub(g_mime_stream_substream(s->get(), 1000, 5000));
        EXPECT_EQ(read_stream(sub.get()), bytes.substr(1000, 4000));
        // A second stream is independent of the first's position.
        auto again = b.stream();
        ASSERT_TRUE(again);
        EXPECT_EQ(read_stream(again->get()), bytes);
    }
}

TEST_F(MessageBodyTest, SpoolFileHasNoNameAndIsGoneAfterDestruction) {
    int fd = -1;
    {
        MessageBody b(spool(4));
        ASSERT_TRUE(b.append("0123456789"));
        fd = b.fd();
        ASSERT_GE(fd, 0);
        EXPECT_NE(fd_target(fd).find(dir_.path().string()), std::string::npos) << fd_target(fd);
        EXPECT_NE(fd_target(fd).find("(deleted)"), std::string::npos) << fd_target(fd);
        EXPECT_EQ(entries(dir_.path()), 0u);  // never visible in the directory
        struct stat st {};
        ASSERT_EQ(fstat(fd, &st), 0);
        EXPECT_EQ(st.st_mode & 0777, 0600u);
        MessageBody moved = std::move(b);  // the file goes with the move
        EXPECT_EQ(moved.fd(), fd);
        EXPECT_EQ(b.fd(), -1);
    }
    EXPECT_EQ(fcntl(fd, F_GETFD), -1);  // closed: the unnamed file is freed
    EXPECT_EQ(entries(dir_.path()), 0u);
}

TEST_F(MessageBodyTest, MissingSpoolDirIsAnErrorNamingIt) {
    const std::string missing = dir_.file("no-such-dir");
    MessageBody b(SpoolOptions{4, missing});
    ASSERT_TRUE(b.append("abc"));
    auto r = b.append("defgh");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::unavailable);
    EXPECT_NE(r.error().message.find(missing), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("No such file"), std::string::npos) << r.error().message;
    // Unusable from then on: every later call says so.
    EXPECT_FALSE(b.append("x"));
    EXPECT_FALSE(b.stream());
    EXPECT_THROW((void)b.str(), std::runtime_error);
}

TEST_F(MessageBodyTest, SpoolDirThatIsAFileIsAnError) {
    const std::string file = dir_.file("plain-file");
    std::ofstream(file) << "x";
    MessageBody b(SpoolOptions{0, file});
    auto r = b.append("abc");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find(file), std::string::npos) << r.error().message;
}

TEST_F(MessageBodyTest, WriteWithGoesToTheSpoolWhenExpectedIsLarge) {
    const std::string bytes = random_bytes(50000);
    for (std::size_t expected : {std::size_t(10), std::size_t(1) << 20}) {
        auto b = MessageBody::write_with(spool(1000), expected, [&](GMimeStream* out) {
            return g_mime_stream_write(out, bytes.data(), bytes.size());
        });
        ASSERT_TRUE(b) << b.error().message;
        EXPECT_TRUE(b->spilled());  // over the threshold either way
        EXPECT_EQ(b->str(), bytes);
    }
    auto small = MessageBody::write_with(
        spool(1000), 10, [&](GMimeStream* out) { return g_mime_stream_write(out, "tiny", 4); });
    ASSERT_TRUE(small);
    EXPECT_FALSE(small->spilled());
    EXPECT_EQ(small->str(), "tiny");
}

TEST_F(MessageBodyTest, CloneCopiesIntoAFileOfItsOwn) {
    MessageBody b(spool(4));
    ASSERT_TRUE(b.append("0123456789"));
    MessageBody c = b.clone();
    EXPECT_TRUE(c.spilled());
    EXPECT_NE(c.fd(), b.fd());
    EXPECT_EQ(c.str(), "0123456789");
}

// read_message with a tiny threshold splits every corpus message exactly as
// parse_message does with the whole message in memory.
TEST_F(MessageBodyTest, ReadMessageSplitsLikeParseMessage) {
    int seen = 0;
    for (const auto& entry : fs::directory_iterator(MM_TEST_DATA "/messages")) {
        if (entry.path().extension() != ".eml") continue;
        const std::string raw = file_bytes(entry.path().string());
        auto whole = parse_message(raw);
        ASSERT_TRUE(whole) << entry.path();
        int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
        ASSERT_GE(fd, 0);
        auto read = read_message(fd, spool(64), entry.path().string());
        ::close(fd);
        ASSERT_TRUE(read) << read.error().message;
        ASSERT_EQ(read->headers.size(), whole->headers.size()) << entry.path();
        for (std::size_t i = 0; i < whole->headers.size(); ++i) {
            EXPECT_EQ(read->headers[i].name, whole->headers[i].name) << entry.path();
            EXPECT_EQ(read->headers[i].value, whole->headers[i].value) << entry.path();
        }
        EXPECT_EQ(read->body.spilled(), whole->body.size() > 64) << entry.path();
        EXPECT_TRUE(read->body.str() == whole->body.str()) << entry.path();
        ++seen;
    }
    EXPECT_GT(seen, 5);
}

// ---- streamed decoding ----------------------------------------------------

class StreamedDecodeTest : public MessageBodyTest {
protected:
    // A message whose body is spooled (threshold 64 bytes), with one base64
    // attachment.
    Message spooled(const std::string& name, const std::string& type, const std::string& data) {
        const std::string body =
            "--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nsee attached\r\n"
            "--b1\r\nContent-Type: " +
            type + "; name=\"" + name + "\"\r\nContent-Disposition: attachment; filename=\"" +
            name + "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64(data) + "--b1--\r\n";
        Message m;
        m.headers = {{"From", "a@acme.example"},
                     {"Subject", "files"},
                     {"MIME-Version", "1.0"},
                     {"Content-Type", "multipart/mixed; boundary=\"b1\""}};
        m.body = MessageBody(spool(64));
        EXPECT_TRUE(m.body.append(body));
        EXPECT_TRUE(m.body.spilled());
        return m;
    }
    ContentFindings inspect(const Message& m) {
        return inspect_content(
            m, {policy_, *classifier_, "marketplace.example", Direction::seller_to_buyer});
    }
    GMimePart* attachment_of(GMimeMessage* parsed) {
        auto* mp = GMIME_MULTIPART(g_mime_message_get_mime_part(parsed));
        return GMIME_PART(g_mime_multipart_get_part(mp, 1));
    }

    Policy policy_ = default_policy();
    std::shared_ptr<const AttachmentClassifier> classifier_ =
        AttachmentClassifier::create().value();
};

TEST_F(StreamedDecodeTest, Base64SizeIsExactAndOnlyThePrefixIsKept) {
    const std::string data = random_bytes(1000003, 11);
    Message m = spooled("blob.bin", "application/octet-stream", data);
    GPtr<GMimeMessage> parsed = parse_mime(m, nullptr, nullptr);
    ASSERT_TRUE(parsed);
    DecodedPrefix d = decode_prefix(attachment_of(parsed.get()), 65536 + 8);
    EXPECT_EQ(d.size, 1000003u);
    EXPECT_EQ(d.head.size(), 65536u + 8);
    EXPECT_TRUE(d.head == data.substr(0, 65536 + 8));
    // The whole decode (the OOXML path) gives back the exact bytes, spooled.
    auto whole = decode_to_body(attachment_of(parsed.get()), m.body.options());
    ASSERT_TRUE(whole) << whole.error().message;
    EXPECT_TRUE(whole->spilled());
    EXPECT_TRUE(whole->str() == data);
    // Decoding does not disturb writing the part back unchanged.
    DecodedPrefix again = decode_prefix(attachment_of(parsed.get()), 10);
    EXPECT_EQ(again.size, 1000003u);
}

TEST_F(StreamedDecodeTest, ReportedSizeIsTheDecodedSize) {
    const std::string data = pdf_around(random_bytes(3 << 20, 3));
    ContentFindings f = inspect(spooled("big.pdf", "application/pdf", data));
    ASSERT_EQ(f.attachments.size(), 1u);
    EXPECT_EQ(f.attachments[0].detected_type, "application/pdf");
    EXPECT_EQ(f.attachments[0].size, data.size());
    EXPECT_EQ(f.attachment_bytes, data.size());
    EXPECT_TRUE(f.attachments[0].kept);
    EXPECT_FALSE(f.new_body);
}

TEST_F(StreamedDecodeTest, SpooledSamplesAreSniffedAsBefore) {
    struct Case {
        const char* file;
        const char* declared;
        const char* detected;
        bool kept;
    } cases[] = {
        {"sample.pdf", "application/pdf", "application/pdf", true},
        {"sample.exe", "application/octet-stream", nullptr, false},
        {"sample.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document", true},
        {"hidden_macro.docx",
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document", nullptr, false},
        {"embedded_exe.docx",
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document", nullptr, false},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.file);
        const std::string data = file_bytes(std::string(MM_TEST_DATA "/attachments/") + c.file);
        ASSERT_FALSE(data.empty());
        // The same verdict as the classifier gives the whole bytes in memory.
        AttachmentVerdict direct =
            classifier_->classify({c.file, c.declared, data}, policy_.attachments);
        ContentFindings f = inspect(spooled(c.file, c.declared, data));
        ASSERT_EQ(f.attachments.size(), 1u);
        EXPECT_EQ(f.attachments[0].kept, c.kept);
        EXPECT_EQ(f.attachments[0].kept, direct.allowed);
        EXPECT_EQ(f.attachments[0].detected_type, direct.detected_type);
        EXPECT_EQ(f.attachments[0].rule_id, direct.rule_id);
        if (c.detected != nullptr) {
            EXPECT_EQ(f.attachments[0].detected_type, c.detected);
        }
        EXPECT_EQ(f.attachments[0].size, data.size());
        EXPECT_EQ(f.new_body.has_value(), !c.kept);
    }
}

// An OOXML package larger than any 64 KiB prefix: libzip must read the whole
// (spooled) package to find the macro project listed at its end.
TEST_F(StreamedDecodeTest, LargeDocxIsOpenedWholeFromTheSpool) {
    std::string docx = file_bytes(MM_TEST_DATA "/attachments/hidden_macro.docx");
    ASSERT_FALSE(docx.empty());
    // Grown past the sniffed prefix with a zip comment (after the central
    // directory), so the package stays valid and only a whole read finds it.
    if (docx.size() < 200000) {
        const std::size_t pad = 65000;
        // End-of-central-directory record: last 22 bytes when no comment.
        ASSERT_EQ(docx.compare(docx.size() - 22, 4, "PK\x05\x06"), 0);
        docx[docx.size() - 2] = static_cast<char>(pad & 0xff);
        docx[docx.size() - 1] = static_cast<char>(pad >> 8);
        docx += std::string(pad, ' ');
    }
    ASSERT_GT(docx.size(), 65536u + 8);
    const char* type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    AttachmentVerdict direct = classifier_->classify({"x.docx", type, docx}, policy_.attachments);
    ContentFindings f = inspect(spooled("x.docx", type, docx));
    ASSERT_EQ(f.attachments.size(), 1u);
    EXPECT_FALSE(f.attachments[0].kept);
    EXPECT_EQ(f.attachments[0].rule_id, "attachment.macro") << f.attachments[0].reason;
    EXPECT_EQ(f.attachments[0].rule_id, direct.rule_id);
    EXPECT_EQ(f.attachments[0].size, docx.size());
}

TEST_F(StreamedDecodeTest, RewrittenLargeBodyIsSpooledAndKeepsThePdf) {
    const std::string pdf = pdf_around(random_bytes(200000, 5));
    Message m = spooled("a.pdf", "application/pdf", pdf);
    // Add a link to cut: the text part changes, the PDF must keep its bytes.
    Message with_link;
    with_link.headers = m.headers;
    with_link.body = MessageBody(spool(1024));
    std::string body = m.body.str();
    body.replace(body.find("see attached"), 12, "see https://deals.example/x");
    ASSERT_TRUE(with_link.body.append(body));
    ContentFindings f = inspect(with_link);
    ASSERT_TRUE(f.new_body);
    EXPECT_TRUE(f.new_body->spilled());
    const std::string out = f.new_body->str();
    EXPECT_EQ(out.find("deals.example"), std::string::npos);
    EXPECT_NE(out.find(base64(pdf)), std::string::npos);  // the part's bytes as received
}

}  // namespace
}  // namespace mm::policy
