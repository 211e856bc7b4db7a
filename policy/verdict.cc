#include "policy/verdict.h"

namespace mm::policy {

// These names appear in the audit header, the audit log and syslog: keep them stable.
const char* to_string(Decision d) {
    switch (d) {
        case Decision::accept:
            return "accept";
        case Decision::modify:
            return "modify";
        case Decision::reject:
            return "reject";
        case Decision::tempfail:
            return "tempfail";
        case Decision::quarantine:
            return "quarantine";
    }
    return "tempfail";
}

}  // namespace mm::policy
