#include "policy/link_rule.h"

namespace mm::policy {}  // namespace mm::policy
