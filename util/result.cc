#include "util/result.h"

namespace mm {

const char* to_string(Errc e) {
    switch (e) {
        case Errc::invalid:
            return "invalid";
        case Errc::not_found:
            return "not_found";
        case Errc::conflict:
            return "conflict";
        case Errc::unavailable:
            return "unavailable";
        case Errc::internal:
            return "internal";
    }
    return "internal";
}

}  // namespace mm
