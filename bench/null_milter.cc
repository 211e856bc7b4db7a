// null_milter: a libmilter filter that does no work.  It negotiates as
// marketplace-milter does (every callback but HELO/unknown; only RCPT, DATA
// and end of message answered), collects nothing and adds one header at end of
// message.  scripts/bench runs it as the "null" mode: what any filter built
// on libmilter costs Postfix and the box per message before it does anything,
// the floor under marketplace-milter's own cost.
//
// Usage: null_milter SOCKET        (libmilter syntax: unix:/path, inet:PORT@HOST)

#include <libmilter/mfapi.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace {

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
sfsistat on_noreply(SMFICTX*) {
    return SMFIS_NOREPLY;
}
sfsistat on_connect(SMFICTX*, char*, _SOCK_ADDR*) {
    return SMFIS_NOREPLY;
}
sfsistat on_envfrom(SMFICTX*, char**) {
    return SMFIS_NOREPLY;
}
sfsistat on_envrcpt(SMFICTX*, char**) {
    return SMFIS_CONTINUE;
}
sfsistat on_header(SMFICTX*, char*, char*) {
    return SMFIS_NOREPLY;
}
sfsistat on_body(SMFICTX*, unsigned char*, size_t) {
    return SMFIS_NOREPLY;
}

sfsistat on_eom(SMFICTX* ctx) {
    smfi_insheader(ctx, 0, const_cast<char*>("X-Null-Milter"), const_cast<char*>("seen"));
    return SMFIS_CONTINUE;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: null_milter SOCKET\n");
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
    d.xxfi_abort = on_continue;
    d.xxfi_close = on_continue;
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
