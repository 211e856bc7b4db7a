#include "policy/envelope.h"

namespace mm::policy {

const alias::ResolvedAlias* Envelope::alias_recipient() const {
    for (const auto& r : recipients)
        if (r.alias) return &*r.alias;
    return nullptr;
}

}  // namespace mm::policy
