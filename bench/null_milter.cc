// null_milter: a libmilter filter that does no work.  It negotiates as
// marketplace-milter does (every callback but HELO/unknown; only RCPT, DATA
// and end of message answered), collects nothing and adds one header at end of
// message.  scripts/bench runs it as the "null" mode: what any filter built
// on libmilter costs Postfix and the box per message before it does anything,
// the floor under marketplace-milter's own cost.
//
// With --edits (the bench's "floor" mode) it also asks Postfix for the edits
// marketplace-milter makes to every buyer message it delivers, without
// deciding anything: a new envelope sender, the recipient swapped, From and
// Message-ID changed, an audit-sized header, and, for a body over
// kReplaceOver (the bench's mime and strip workloads, where marketplace
// strips links and attachments; not small), the body handed back unchanged
// through smfi_replacebody.  That is what Postfix charges any filter in
// marketplace-milter's place before the filter spends a cycle on policy.
//
// Usage: null_milter [--edits] SOCKET   (libmilter syntax: unix:/path, inet:PORT@HOST)

#include <libmilter/mfapi.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

bool g_edits = false;
constexpr std::size_t kReplaceOver = 16 * 1024;

// --edits only: what end of message needs from earlier callbacks.
struct Message {
    std::string rcpt;
    std::string body;
};

Message* message(SMFICTX* ctx) {
    auto* m = static_cast<Message*>(smfi_getpriv(ctx));
    if (m == nullptr) {
        m = new Message;
        smfi_setpriv(ctx, m);
    }
    return m;
}

constexpr unsigned long kActions = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT |
                                   SMFIF_DELRCPT | SMFIF_CHGFROM | SMFIF_QUARANTINE |
                                   SMFIF_SETSYMLIST;

sfsistat on_negotiate(SMFICTX* ctx, unsigned long, unsigned long f1, unsigned long, unsigned long,
                      unsigned long* pf0, unsigned long* pf1, unsigned long* pf2,
                      unsigned long* pf3) {
    *pf0 = kActions;
    *pf1 = (SMFIP_NOHELO | SMFIP_NOUNKNOWN | SMFIP_NR_CONN | SMFIP_NR_MAIL | SMFIP_NR_HDR |
            SMFIP_NR_EOH | SMFIP_NR_BODY) &
           f1;
    *pf2 = 0;
    *pf3 = 0;
    smfi_setsymlist(ctx, SMFIM_ENVFROM, const_cast<char*>("{auth_authen}"));
    smfi_setsymlist(ctx, SMFIM_ENVRCPT, const_cast<char*>("i"));
    smfi_setsymlist(ctx, SMFIM_EOM, const_cast<char*>("i"));
    return SMFIS_CONTINUE;
}

sfsistat on_continue(SMFICTX*) {
    return SMFIS_CONTINUE;
}
sfsistat on_abort(SMFICTX* ctx) {
    if (auto* m = static_cast<Message*>(smfi_getpriv(ctx))) m->body.clear();
    return SMFIS_CONTINUE;
}
sfsistat on_close(SMFICTX* ctx) {
    delete static_cast<Message*>(smfi_getpriv(ctx));
    smfi_setpriv(ctx, nullptr);
    return SMFIS_CONTINUE;
}
sfsistat on_noreply(SMFICTX*) {
    return SMFIS_NOREPLY;
}
sfsistat on_connect(SMFICTX*, char*, _SOCK_ADDR*) {
    return SMFIS_NOREPLY;
}
sfsistat on_envfrom(SMFICTX*, char**) {
    return SMFIS_NOREPLY;
}
sfsistat on_envrcpt(SMFICTX* ctx, char** argv) {
    if (g_edits) {
        // Postfix deletes the recipient it was given without the brackets.
        std::string rcpt = argv[0];
        if (rcpt.size() >= 2 && rcpt.front() == '<' && rcpt.back() == '>')
            rcpt = rcpt.substr(1, rcpt.size() - 2);
        message(ctx)->rcpt = rcpt;
    }
    return SMFIS_CONTINUE;
}
sfsistat on_header(SMFICTX*, char*, char*) {
    return SMFIS_NOREPLY;
}
sfsistat on_body(SMFICTX* ctx, unsigned char* chunk, size_t len) {
    if (g_edits) message(ctx)->body.append(reinterpret_cast<const char*>(chunk), len);
    return SMFIS_NOREPLY;
}

// The edits of a delivered buyer message (milter/callbacks.cc apply()), with
// values of the same sizes.
int make_edits(SMFICTX* ctx) {
    Message* m = message(ctx);
    char audit[] =
        "v=1; id=0123456789abcdef; d=modify; r=alias.rewrite,marketplace.buyer_message; "
        "p=2026-11-23.1; h=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    int rc = smfi_insheader(ctx, 0, const_cast<char*>("X-Marketplace-Audit"), audit);
    rc |= smfi_chgheader(
        ctx, const_cast<char*>("From"), 1,
        const_cast<char*>("\"Bob via Marketplace\" <b-0123456789ab@marketplace.example>"));
    rc |=
        smfi_chgheader(ctx, const_cast<char*>("Message-ID"), 1,
                       const_cast<char*>("<0123456789abcdef0123456789abcdef@marketplace.example>"));
    rc |= smfi_chgfrom(ctx, const_cast<char*>("<b-0123456789ab@marketplace.example>"), nullptr);
    rc |= smfi_delrcpt(ctx, m->rcpt.data());
    rc |= smfi_addrcpt(ctx, const_cast<char*>("<support@acme.example>"));
    if (m->body.size() > kReplaceOver) {
        // libmilter sends at most 64 KiB a packet, as callbacks.cc does.
        for (std::size_t off = 0; off < m->body.size(); off += 65535) {
            std::size_t n = std::min<std::size_t>(65535, m->body.size() - off);
            rc |= smfi_replacebody(ctx, reinterpret_cast<unsigned char*>(m->body.data() + off),
                                   static_cast<int>(n));
        }
    }
    m->body.clear();
    return rc;
}

sfsistat on_eom(SMFICTX* ctx) {
    if (g_edits) return make_edits(ctx) == MI_SUCCESS ? SMFIS_CONTINUE : SMFIS_TEMPFAIL;
    smfi_insheader(ctx, 0, const_cast<char*>("X-Null-Milter"), const_cast<char*>("seen"));
    return SMFIS_CONTINUE;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::strcmp(argv[1], "--edits") == 0) {
        g_edits = true;
        --argc, ++argv;
    }
    if (argc != 2) {
        std::fprintf(stderr, "usage: null_milter [--edits] SOCKET\n");
        return 2;
    }
    smfiDesc d{};
    d.xxfi_name = const_cast<char*>("null-milter");
    d.xxfi_version = SMFI_VERSION;
    d.xxfi_flags = kActions;
    d.xxfi_connect = on_connect;
    d.xxfi_envfrom = on_envfrom;
    d.xxfi_envrcpt = on_envrcpt;
    d.xxfi_data = on_continue;
    d.xxfi_header = on_header;
    d.xxfi_eoh = on_noreply;
    d.xxfi_body = on_body;
    d.xxfi_eom = on_eom;
    d.xxfi_abort = on_abort;
    d.xxfi_close = on_close;
    d.xxfi_negotiate = on_negotiate;
    if (smfi_setconn(argv[1]) != MI_SUCCESS || smfi_register(d) != MI_SUCCESS ||
        smfi_opensocket(true) != MI_SUCCESS) {
        std::fprintf(stderr, "null_milter: cannot listen on %s\n", argv[1]);
        return 1;
    }
    // Postfix's smtpd runs as postfix: let it connect to a unix socket.
    if (std::strncmp(argv[1], "unix:", 5) == 0) chmod(argv[1] + 5, 0666);
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
