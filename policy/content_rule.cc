#include "policy/content_rule.h"

namespace mm::policy {}  // namespace mm::policy
