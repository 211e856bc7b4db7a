// The libmilter callbacks.  One Connection context per SMTP connection
// (created at negotiate/connect, freed at close); per-message state reset at
// MAIL FROM and abort.  All decisions come from policy::authorize_recipient
// and, at end of message, run_message_flow (message_flow.h) with a libmilter
// EditSink; this file only collects input and answers.
// No C++ exception crosses into libmilter: every callback answers
// SMFIS_TEMPFAIL (451 4.3.0) when something throws.
#pragma once

#include <libmilter/mfapi.h>

#include "milter/service.h"

namespace mm::milter {

// The filter description for smfi_register.  `service` must outlive smfi_main.
smfiDesc make_filter(Service* service);

}  // namespace mm::milter
