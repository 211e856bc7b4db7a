// The socket of an MTA connection, which libmilter does not hand out.
//
// Why it is needed: at end of message the filter writes its edits and, for a
// message it rewrote, the whole new body (~110 KB for a typical one with a
// PDF).  libmilter waits for the socket to be writable before each packet,
// and Linux reports a unix socket writable only while the unread data is
// below a quarter of its send buffer (53 KB by default).  So the filter's
// thread waited, 2-9 ms a message at 20 sessions, for Postfix's cleanup to
// read the first 64 KB of body before it could send the rest.  A larger send
// buffer lets the whole body go into the kernel at once.  (For TCP the
// listener's buffer size would be inherited by accepted sockets; for unix
// sockets it is not.)
#pragma once

namespace mm::milter {

// The descriptor of the connection that libmilter's context `ctx` (an
// SMFICTX*) serves, or -1.  The context (libmilter's private struct
// smfi_str) has begun with the thread id and the socket since sendmail 8.12;
// what is found there is used only if it is a connected stream socket.
// Takes a plain pointer so that this file needs no libmilter.
int mta_socket(const void* ctx);

// Asks for a send buffer of `bytes` on `fd` (Linux doubles the figure and caps
// it at twice net.core.wmem_max).  Returns the size granted, or -1.
int widen_send_buffer(int fd, int bytes);

}  // namespace mm::milter
