#include "policy/attachment_rule.h"

namespace mm::policy {}  // namespace mm::policy
