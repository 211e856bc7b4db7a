// AttachmentClassifier::detect(): the type of an attachment's bytes, from
// libmagic with the common-types database and the binary shortcut
// (type_detect.h), held to what the full libmagic scan reports.  Samples are
// real files written by tests/data/attachments/make_samples.py; the detected
// types are what Debian 12's libmagic 5.44 reports for them.
#include <gtest/gtest.h>
#include <magic.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "policy/rules/attachment_rule.h"
#include "tests/support/attachment_samples.h"
#include "tests/support/synthetic_files.h"

namespace mm::policy {
namespace {

using attachment_testing::classifier;
using attachment_testing::kDocx;
using attachment_testing::sample;

// ---- detect ----------------------------------------------------------------

struct DetectCase {
    const char* file;
    const char* type;
};

class Detect : public ::testing::TestWithParam<DetectCase> {};

TEST_P(Detect, ReportsTheTypeOfTheBytes) {
    EXPECT_EQ(classifier().detect(sample(GetParam().file)), GetParam().type);
}

INSTANTIATE_TEST_SUITE_P(
    Samples, Detect,
    ::testing::Values(DetectCase{"sample.pdf", "application/pdf"},
                      DetectCase{"sample.png", "image/png"}, DetectCase{"sample.jpg", "image/jpeg"},
                      DetectCase{"sample.gif", "image/gif"},
                      DetectCase{"sample.webp", "image/webp"},
                      DetectCase{"sample.txt", "text/plain"}, DetectCase{"sample.docx", kDocx},
                      // libmagic does not look for macros: the classifier does.
                      DetectCase{"macro.docm", kDocx}, DetectCase{"fake.docx", "application/zip"},
                      DetectCase{"late_word.docx", "application/zip"},
                      DetectCase{"plain.zip", "application/zip"},
                      DetectCase{"sample.doc", "application/msword"},
                      DetectCase{"sample.exe", "application/vnd.microsoft.portable-executable"},
                      DetectCase{"random.bin", "application/octet-stream"}),
    [](const auto& info) {
        std::string n = info.param.file;
        for (char& c : n)
            if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
        return n;
    });

TEST(DetectPrefix, LargeFilesAreStillRecognised) {
    // Beyond the 64 KiB prefix libmagic never sees the rest.
    std::string pdf = sample("sample.pdf");
    pdf.insert(pdf.find("1 0 obj"), "%" + std::string(1 << 20, 'x') + "\n");
    EXPECT_EQ(classifier().detect(pdf), "application/pdf");

    std::string png = sample("sample.png") + std::string(1 << 20, '\0');
    EXPECT_EQ(classifier().detect(png), "image/png");

    std::string jpg = sample("sample.jpg");
    jpg.insert(2, std::string("\xff\xfe\xff\xff", 4) + std::string(65531, 'c'));  // COM
    EXPECT_EQ(classifier().detect(jpg), "image/jpeg");
}

TEST(DetectPrefix, TextCutInsideAUtf8CharacterStaysText) {
    // "é" is two bytes; an odd filler puts a cut right between them.
    std::string text = "a";
    while (text.size() < 70000) text += "Grüße und schöne Grüße. ";
    for (int shift = 0; shift < 4; ++shift) {
        EXPECT_EQ(classifier().detect(std::string(shift, 'x') + text), "text/plain") << shift;
    }
}

TEST(DetectPrefix, TextWithCommasIsPlainText) {
    std::string list;
    for (int i = 0; i < 40; ++i) list += "mug, blue, large\nplate, red, small\n";
    EXPECT_EQ(classifier().detect(list), "text/plain");
    auto v = classifier().classify({"list.txt", "text/plain", list}, AttachmentPolicy{});
    EXPECT_TRUE(v.allowed) << v.reason;
}

TEST(DetectPrefix, EmptyIsItsOwnType) {
    EXPECT_EQ(classifier().detect(""), "application/x-empty");
}

// ---- detect: the binary shortcut -------------------------------------------
//
// detect() skips libmagic's text-encoding scan (and, for data with a NUL
// inside, its last text test) on content with a NUL byte.  These tests hold
// it to what one handle with every test on, as detect() used to run it,
// reports for the same bytes: the type must be identical, not just as good.

struct MagicClose {
    void operator()(magic_t m) const { magic_close(m); }
};
using MagicPtr = std::unique_ptr<std::remove_pointer_t<magic_t>, MagicClose>;

// detect() before the shortcut: every test on, the same prefix and cut.
class FullScan {
public:
    FullScan() : m_(magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR)) {
        if (!m_ || magic_load(m_.get(), nullptr) != 0)
            throw std::runtime_error("libmagic: cannot load the magic database");
    }
    std::string detect(std::string_view bytes) const {
        std::size_t n = std::min<std::size_t>(bytes.size(), 64 * 1024);
        if (n < bytes.size())  // back to a UTF-8 character boundary, as detect() cuts
            for (int back = 0; back < 3 && n > 0 && (bytes[n] & 0xC0) == 0x80; ++back) --n;
        const char* type = magic_buffer(m_.get(), bytes.data(), n);
        if (type == nullptr) return "application/octet-stream";
        std::string t = type;
        for (char& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return t == "text/csv" ? "text/plain" : t;
    }

private:
    MagicPtr m_;
};

const FullScan& full_scan() {
    static const FullScan f;
    return f;
}

void put16(std::string& s, std::size_t at, unsigned v) {
    s[at] = static_cast<char>(v & 0xff);
    s[at + 1] = static_cast<char>(v >> 8);
}
void put32(std::string& s, std::size_t at, unsigned v) {
    put16(s, at, v & 0xffff);
    put16(s, at + 2, v >> 16);
}

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
}

// bench/workloads.py pe_exe(): a PE32 with a DOS stub, COFF and optional
// headers and three sections, padded with random bytes to 8 KiB.
std::string workloads_exe() {
    std::string pe(0x400, '\0');
    pe[0] = 'M';
    pe[1] = 'Z';
    const unsigned dos[] = {0x90, 3, 0, 4, 0, 0xFFFF, 0, 0xB8, 0, 0};
    for (std::size_t i = 0; i < std::size(dos); ++i) put16(pe, 2 + 2 * i, dos[i]);
    put16(pe, 0x18, 0x40);
    put32(pe, 0x3C, 0x80);
    const std::string stub(
        "\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21"
        "This program cannot be run in DOS mode.\r\r\n$",
        14 + 44);
    pe.replace(0x40, stub.size(), stub);
    pe.replace(0x80, 4, std::string("PE\0\0", 4));
    put16(pe, 0x84, 0x14C);       // i386
    put16(pe, 0x86, 3);           // sections
    put32(pe, 0x88, 0x6553F100);  // time stamp
    put16(pe, 0x94, 0xE0);        // optional header size
    put16(pe, 0x96, 0x0102);      // executable, 32-bit
    const std::size_t opt = 0x98;
    put16(pe, opt, 0x10B);  // PE32
    pe[opt + 2] = 14;
    put32(pe, opt + 4, 0x1000);
    put32(pe, opt + 8, 0x800);
    put32(pe, opt + 16, 0x1010);  // entry point
    put32(pe, opt + 20, 0x1000);
    put32(pe, opt + 24, 0x2000);
    put32(pe, opt + 28, 0x400000);  // image base
    put32(pe, opt + 32, 0x1000);
    put32(pe, opt + 36, 0x200);
    put16(pe, opt + 40, 6);
    put16(pe, opt + 48, 6);
    put32(pe, opt + 56, 0x4000);
    put32(pe, opt + 60, 0x400);
    put16(pe, opt + 68, 2);  // Windows GUI
    put16(pe, opt + 70, 0x8140);
    put32(pe, opt + 72, 0x100000);
    put32(pe, opt + 76, 0x1000);
    put32(pe, opt + 80, 0x100000);
    put32(pe, opt + 84, 0x1000);
    put32(pe, opt + 92, 16);  // data directories
    const char* names[] = {".text", ".rdata", ".data"};
    const unsigned flags[] = {0x60000020, 0x40000040, 0xC0000040};
    for (unsigned i = 0; i < 3; ++i) {
        const std::size_t sec = opt + 0xE0 + 40 * i;
        pe.replace(sec, std::strlen(names[i]), names[i]);
        put32(pe, sec + 8, 0x800);
        put32(pe, sec + 12, 0x1000 * (i + 1));
        put32(pe, sec + 16, 0x800);
        put32(pe, sec + 20, 0x400 + 0x800 * i);
        put32(pe, sec + 36, flags[i]);
    }
    return pe + random_bytes(8192 - pe.size(), 6);
}

// A ustar archive of one small text file: the magic is at 257.
std::string tar_archive() {
    std::string h(512, '\0');
    auto field = [&](std::size_t at, const std::string& v) { h.replace(at, v.size(), v); };
    const std::string body = "hello from inside a tar archive\n";
    field(0, "notes.txt");
    field(100, "0000644");
    field(108, "0001750");
    field(116, "0001750");
    char size[12];
    std::snprintf(size, sizeof size, "%011o", static_cast<unsigned>(body.size()));
    field(124, size);
    field(136, "15123456701");
    field(156, "0");
    field(257, std::string("ustar\0"
                           "00",
                           8));
    field(265, "bob");
    field(297, "bob");
    field(148, "        ");
    unsigned sum = 0;
    for (char c : h) sum += static_cast<unsigned char>(c);
    char chk[8];
    std::snprintf(chk, sizeof chk, "%06o", sum);
    field(148, std::string(chk, 6) + std::string("\0 ", 2));
    std::string data = body;
    data.resize(512, '\0');
    return h + data + std::string(1024, '\0');
}

// An ISO 9660 image's start: 32 KiB of system area, then the primary volume
// descriptor with "CD001" at 32769, beyond any 8 KiB prefix.
std::string iso_image() {
    std::string iso(64 * 1024, '\0');
    iso.replace(32768, 7,
                "\x01"
                "CD001\x01");
    iso.replace(32768 + 8, 5, "LINUX");
    iso.replace(32768 + 40, 11, "MARKETPLACE");
    iso[34816] = static_cast<char>(0xff);  // the descriptor set terminator
    iso.replace(34817, 6, "CD001\x01");
    return iso;
}

std::string gzip_stream() {
    // RFC 1952 header (deflate, no flags, mtime, OS=Unix), then a stored
    // deflate block.
    std::string z("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10);
    const std::string body = "a gzip-compressed order list\n";
    z += std::string("\x01", 1);
    z += static_cast<char>(body.size());
    z += '\0';
    z += static_cast<char>(~body.size() & 0xff);
    z += static_cast<char>(0xff);
    z += body;
    return z + std::string(8, '\0');
}

std::string prose(std::size_t n) {
    std::string s;
    while (s.size() < n) s += "The lamp arrived yesterday; the shade is bent on one side.\n";
    return s.substr(0, n);
}

std::string utf16(const std::string& ascii, bool big_endian) {
    std::string s = big_endian ? "\xfe\xff" : "\xff\xfe";
    for (char c : ascii) {
        if (big_endian) s += '\0';
        s += c;
        if (!big_endian) s += '\0';
    }
    return s;
}

std::string ebcdic(const std::string& ascii) {
    // Upper-case letters, digits, space, period and newline only.
    std::string s;
    for (char c : ascii) {
        if (c >= 'A' && c <= 'I')
            s += static_cast<char>(0xC1 + (c - 'A'));
        else if (c >= 'J' && c <= 'R')
            s += static_cast<char>(0xD1 + (c - 'J'));
        else if (c >= 'S' && c <= 'Z')
            s += static_cast<char>(0xE2 + (c - 'S'));
        else if (c >= '0' && c <= '9')
            s += static_cast<char>(0xF0 + (c - '0'));
        else if (c == '.')
            s += static_cast<char>(0x4B);
        else if (c == '\n')
            s += static_cast<char>(0x25);
        else
            s += static_cast<char>(0x40);
    }
    return s;
}

struct Variant {
    const char* label;
    std::string bytes;
    const char* type;  // what libmagic 5.44 reports with every test on
};

std::vector<Variant> variants() {
    std::string text = prose(20000);
    std::string nul_at_5000 = text;
    nul_at_5000[5000] = '\0';
    std::string latin1;
    while (latin1.size() < 3000)
        latin1 +=
            "Gr\xfc\xdf"
            "e aus K\xf6ln, sch\xf6ne Stra\xdf"
            "e.\n";
    std::string ebc;
    while (ebc.size() < 2000) ebc += ebcdic("THE ORDER SHIPPED TODAY. 42 ITEMS.\n");
    return {
        {"bench_pdf_75k", mm::bench::synthetic_pdf(75 * 1024), "application/pdf"},
        {"bench_pdf_5m", mm::bench::synthetic_pdf(5u << 20), "application/pdf"},
        {"bench_exe", mm::bench::synthetic_exe(), "application/vnd.microsoft.portable-executable"},
        {"workloads_exe", workloads_exe(), "application/vnd.microsoft.portable-executable"},
        {"random_64k", random_bytes(64 * 1024, 1), "application/octet-stream"},
        {"random_100k", random_bytes(100 * 1024, 2), "application/octet-stream"},
        {"tar", tar_archive(), "application/x-tar"},
        {"iso9660", iso_image(), "application/x-iso9660-image"},
        {"gzip", gzip_stream(), "application/gzip"},
        {"utf16le_bom", utf16(prose(3000), false), "text/plain"},
        {"utf16be_bom", utf16(prose(3000), true), "text/plain"},
        {"latin1", latin1, "text/plain"},
        {"ebcdic", ebc, "text/plain"},
        {"text", text, "text/plain"},
        {"text_nul_at_5000", nul_at_5000, "application/octet-stream"},
        {"text_nul_padded", prose(3000) + std::string(1000, '\0'), "text/plain"},
        {"nul_then_text", std::string(1, '\0') + prose(3000), "application/octet-stream"},
        {"all_nul", std::string(4096, '\0'), "application/octet-stream"},
        {"one_nul", std::string(1, '\0'), "application/octet-stream"},
    };
}

TEST(DetectBinaryShortcut, GeneratedContentKeepsItsType) {
    for (const auto& v : variants()) {
        EXPECT_EQ(classifier().detect(v.bytes), v.type) << v.label;
        EXPECT_EQ(classifier().detect(v.bytes), full_scan().detect(v.bytes)) << v.label;
    }
}

TEST(DetectBinaryShortcut, EverySampleKeepsItsType) {
    const std::map<std::string, std::string> expected = {
        {"embedded_exe.docx", kDocx},
        {"fake.docx", "application/zip"},
        {"hidden_macro.docx", kDocx},
        {"late_word.docx", "application/zip"},
        {"macro.docm", kDocx},
        {"make_samples.py", "text/x-script.python"},
        {"many_entries.docx", kDocx},
        {"ole_object.docx", kDocx},
        {"plain.zip", "application/zip"},
        {"random.bin", "application/octet-stream"},
        {"sample.doc", "application/msword"},
        {"sample.docx", kDocx},
        {"sample.exe", "application/vnd.microsoft.portable-executable"},
        {"sample.gif", "image/gif"},
        {"sample.jpg", "image/jpeg"},
        {"sample.pdf", "application/pdf"},
        {"sample.png", "image/png"},
        {"sample.txt", "text/plain"},
        {"sample.webp", "image/webp"},
        {"size_bomb.docx", kDocx},
    };
    std::size_t seen = 0;
    for (const auto& entry :
         std::filesystem::directory_iterator(std::string(MM_TEST_DATA) + "/attachments")) {
        const std::string name = entry.path().filename().string();
        const std::string bytes = sample(name);
        auto want = expected.find(name);
        ASSERT_NE(want, expected.end()) << name << " is new: add its type here";
        EXPECT_EQ(classifier().detect(bytes), want->second) << name;
        EXPECT_EQ(classifier().detect(bytes), full_scan().detect(bytes)) << name;
        ++seen;
    }
    EXPECT_EQ(seen, expected.size());
}

// The common-types database (type_detect.h) answers only where the full one
// gives the same answer: PE files of every subsystem, machine and header
// placement, and the common headers followed by anything.
std::string pe_variant(unsigned subsystem, unsigned machine, unsigned lfanew, unsigned magic,
                       unsigned characteristics) {
    std::string pe = workloads_exe();
    pe.replace(0x80, 0x200, std::string(0x200, '\0'));
    put32(pe, 0x3C, lfanew);
    // An e_lfanew past the end of the bytes points nowhere.
    if (lfanew >= 0x100000) return pe;
    if (lfanew + 0x100 > pe.size()) pe.resize(lfanew + 0x100, '\0');
    pe.replace(lfanew, 4, std::string("PE\0\0", 4));
    put16(pe, lfanew + 4, machine);
    put16(pe, lfanew + 6, 1);
    put16(pe, lfanew + 20, magic == 0x20B ? 0xF0 : 0xE0);
    put16(pe, lfanew + 22, characteristics);
    put16(pe, lfanew + 24, magic);
    put16(pe, lfanew + 24 + 68, subsystem);
    return pe;
}

TEST(DetectCommonTypes, PortableExecutablesAgreeWithTheFullScan) {
    std::size_t named = 0;
    for (unsigned subsystem : {0u, 1u, 2u, 3u, 7u, 9u, 10u, 11u, 12u, 13u, 14u, 16u, 99u})
        for (unsigned machine : {0x14Cu, 0x8664u, 0x1C0u, 0xAA64u, 0x200u, 0u})
            for (unsigned lfanew : {0x20u, 0x3Cu, 0x40u, 0x80u, 0x400u, 0x10000u, 0xFFFFFFF0u})
                for (unsigned characteristics : {0x0102u, 0x2102u, 0x0001u})
                    for (unsigned magic : {0x10Bu, 0x20Bu, 0x107u}) {
                        const std::string pe =
                            pe_variant(subsystem, machine, lfanew, magic, characteristics);
                        const std::string got = classifier().detect(pe);
                        EXPECT_EQ(got, full_scan().detect(pe))
                            << "subsystem " << subsystem << " machine " << machine << " lfanew "
                            << lfanew << " magic " << magic;
                        named += got == "application/vnd.microsoft.portable-executable";
                    }
    EXPECT_GT(named, 0u);
}

TEST(DetectCommonTypes, CommonHeadersFollowedByAnythingAgreeWithTheFullScan) {
    const std::vector<std::string> heads = {
        std::string("\x89PNG\r\n\x1a\n", 8),
        std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16),
        "\xff\xd8\xff\xe0",
        "\xff\xd8\xff\xe1",
        "\xff\xd8",
        std::string("\xff\xd8\xff\0", 4),
        "\xff\xd8\xff\xdb",
        "\xff\xd8\xff\xff",
        "\xff\xd8\xff",
        "GIF87a",
        "GIF88a",
        "GIF8",
        "GIF89a",
        std::string("RIFF\0\0\0\0WEBPVP8 ", 16),
        std::string("RIFF\0\0\0\0WAVEfmt ", 16),
        std::string("RIFF\xff\xff\xff\xffWEBPVP8X", 16),
        std::string("RIFF\0\0\0\0WEBP", 12),
        std::string("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\0\0\0\0\0", 24),
        std::string("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x01\0\0\0\x01\0\x08\x06", 26),
        "%PDF-1.7\n",
        "%PDF-",
        "%PDF-2.0\r",
        "%PDF",
        "MZ",
    };
    const std::vector<std::string> tails = {
        std::string(1, '\0'),
        std::string(40000, '\0'),
        random_bytes(3000, 11),
        random_bytes(70000, 12),
        prose(2000),
        prose(2000) + std::string(1, '\0') + "x",
        std::string(257, '\0') + "ustar\0" + std::string(300, '\0'),
        std::string(32769, '\0') + "CD001" + std::string(64, '\0'),
        "\x1f\x8b\x08" + random_bytes(100, 13),
        "PK\x03\x04" + random_bytes(200, 14),
        std::string("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8) + random_bytes(600, 15),
        "\x7f"
        "ELF" +
            random_bytes(200, 16),
    };
    for (std::size_t h = 0; h < heads.size(); ++h)
        for (std::size_t t = 0; t < tails.size(); ++t) {
            const std::string bytes = heads[h] + tails[t];
            EXPECT_EQ(classifier().detect(bytes), full_scan().detect(bytes))
                << "head " << h << " tail " << t;
        }
}

TEST(DetectBinaryShortcut, MixturesAgreeWithTheFullScan) {
    // Text, high bytes, control bytes, BOMs and NULs in random order and
    // amounts, around the places the shortcut decides on.
    const std::vector<std::string> pieces = {
        prose(700),
        "Gr\xfc\xdf"
        "e\n",
        "Gr\xc3\xbc\xc3\x9f"
        "e\n",
        std::string("\0", 1),
        std::string(300, '\0'),
        "\x1b[1m\x07\x08\x0c",
        "\x01\x02\x03\x7f",
        "\xff\xfe",
        "\xfe\xff",
        "\xef\xbb\xbf",
        random_bytes(200, 3),
        "%PDF-1.4\n",
        "MZ",
        "PK\x03\x04",
        std::string("\x89PNG\r\n\x1a\n", 8),
        "\xff\xd8\xff\xe0",
        "GIF89a",
        std::string("RIFF\0\0\0\0WEBP", 12),
        std::string("PE\0\0", 4),
        "{\"order\": [1, 2, 3]}\n",
        "a,b,c\n1,2,3\n",
        ebcdic("HELLO WORLD.\n"),
    };
    std::mt19937 rng(20261123);
    for (int i = 0; i < 400; ++i) {
        std::string bytes;
        const int n = 1 + static_cast<int>(rng() % 8);
        for (int k = 0; k < n; ++k) bytes += pieces[rng() % pieces.size()];
        EXPECT_EQ(classifier().detect(bytes), full_scan().detect(bytes)) << "mixture " << i;
    }
}

// A one-off check against real files, not run by default (it depends on the
// machine): detect() against the full scan on the first 64 KiB of up to
// MM_DIFF_FILES (default 4000) files from each of /usr/share, /usr/lib and
// /usr/bin, spread evenly over each tree.  Run it with
// --gtest_also_run_disabled_tests --gtest_filter='*SystemFiles*'.
TEST(DetectBinaryShortcut, DISABLED_SystemFilesAgreeWithTheFullScan) {
    const char* env = std::getenv("MM_DIFF_FILES");
    const std::size_t per_root = env != nullptr ? std::strtoul(env, nullptr, 10) : 4000;
    std::size_t compared = 0, with_nul = 0, differ = 0;
    std::map<std::string, std::size_t> types;
    for (const char* root : {"/usr/share", "/usr/lib", "/usr/bin"}) {
        std::vector<std::filesystem::path> files;
        std::error_code ec;
        for (auto it = std::filesystem::recursive_directory_iterator(
                 root, std::filesystem::directory_options::skip_permission_denied, ec);
             it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
            if (ec) break;
            if (it->is_regular_file(ec) && !it->is_symlink(ec)) files.push_back(it->path());
        }
        std::sort(files.begin(), files.end());
        const std::size_t step = std::max<std::size_t>(1, files.size() / per_root);
        for (std::size_t i = 0; i < files.size(); i += step) {
            std::ifstream in(files[i], std::ios::binary);
            std::string bytes(64 * 1024, '\0');
            in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
            bytes.resize(static_cast<std::size_t>(in.gcount()));
            const std::string got = classifier().detect(bytes);
            const std::string want = full_scan().detect(bytes);
            ++compared;
            if (bytes.find('\0') != std::string::npos) ++with_nul;
            ++types[want];
            if (got != want) {
                ++differ;
                ADD_FAILURE() << files[i] << ": " << got << ", full scan " << want;
            }
        }
    }
    std::cout << compared << " files compared, " << with_nul << " with a NUL byte, " << differ
              << " differ, " << types.size() << " types\n";
    for (const auto& [type, count] : types) std::cout << "  " << count << " " << type << "\n";
}

}  // namespace
}  // namespace mm::policy
