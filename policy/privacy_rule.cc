#include "policy/privacy_rule.h"

namespace mm::policy {}  // namespace mm::policy
