// RAII for libpq's handles, shared by the store, the transfer, the change
// listener and their tests.
#pragma once

#include <libpq-fe.h>

#include <memory>

namespace mm::alias::postgres {

struct ConnFinish {
    void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClear {
    void operator()(PGresult* r) const { PQclear(r); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnFinish>;
using ResultPtr = std::unique_ptr<PGresult, ResultClear>;

}  // namespace mm::alias::postgres
