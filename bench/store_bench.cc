// Store lookups per second on each backend: the reads the milter makes per
// message (an alias resolved to its pair, the pair's parties), on SQLite
// and, when MM_BENCH_PG_DSN names a database, on PostgreSQL.  Not a test
// (see bench/README.md).
//
//   tests/support/pg_server start /tmp/pgb
//   MM_BENCH_PG_DSN="$(cat /tmp/pgb/dsn)" build/bench/store_bench
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "alias/postgres_store.h"
#include "alias/sqlite_store.h"
#include "tests/support/test_support.h"

namespace {

using namespace mm;

constexpr int kPairs = 1000;

struct Fixture {
    std::unique_ptr<alias::Store> store;
    std::vector<std::string> aliases;
    std::vector<std::string> parties;
};

template <typename T>
T must(Result<T> r, const char* what) {
    if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().message);
    return std::move(r).value();
}

// kPairs buyers, each paired with one of ten sellers; ids unique per run, so
// a PostgreSQL database can be reused.
void provision(Fixture& f) {
    const std::string run = std::to_string(getpid()) + "-" + std::to_string(std::rand());
    for (int s = 0; s < 10; ++s) {
        const std::string id = "s" + std::to_string(s) + "-" + run;
        if (auto r = f.store->add_party(
                {id, alias::Role::seller, id + "@seller.example", "Shop", {}, {}});
            !r)
            throw std::runtime_error("add seller: " + r.error().message);
    }
    for (int b = 0; b < kPairs; ++b) {
        const std::string id = "b" + std::to_string(b) + "-" + run;
        if (auto r = f.store->add_party(
                {id, alias::Role::buyer, id + "@buyer.example", "Buyer", {}, {{"optout", "off"}}});
            !r)
            throw std::runtime_error("add buyer: " + r.error().message);
        const std::string seller = "s" + std::to_string(b % 10) + "-" + run;
        auto pair = must(f.store->add_pair(id, seller), "add pair");
        f.aliases.push_back(pair.buyer_alias);
        f.parties.push_back(id);
    }
}

Fixture* sqlite_fixture() {
    static mm::testing::TempDir dir;
    static Fixture f = [] {
        Fixture x;
        x.store = must(alias::open_sqlite_store(dir.file("bench.db")), "open sqlite");
        provision(x);
        return x;
    }();
    return &f;
}

Fixture* postgres_fixture() {
    const char* dsn = std::getenv("MM_BENCH_PG_DSN");
    if (dsn == nullptr || *dsn == '\0') return nullptr;
    static Fixture f = [dsn] {
        Fixture x;
        alias::PostgresConfig config{dsn, "", 8, 5000};
        x.store =
            must(alias::open_postgres_store(config, alias::PostgresOpen::migrate), "open postgres");
        provision(x);
        return x;
    }();
    return &f;
}

// What resolving an alias costs the milter on a cache miss: the pair by its
// alias, then both parties.
void resolve(benchmark::State& state, Fixture* f) {
    if (f == nullptr) {
        state.SkipWithError("MM_BENCH_PG_DSN not set");
        return;
    }
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7919;
    for (auto _ : state) {
        const std::size_t k = i++ % f->aliases.size();
        auto pair = f->store->find_pair_by_alias(f->aliases[k]);
        if (!pair || !*pair) {
            state.SkipWithError("alias not found");
            return;
        }
        auto buyer = f->store->find_party((*pair)->buyer_id);
        auto seller = f->store->find_party((*pair)->seller_id);
        if (!buyer || !seller) {
            state.SkipWithError("party lookup failed");
            return;
        }
        benchmark::DoNotOptimize(buyer);
    }
    state.SetItemsProcessed(state.iterations());
}

void BM_ResolveSqlite(benchmark::State& state) {
    resolve(state, sqlite_fixture());
}
void BM_ResolvePostgres(benchmark::State& state) {
    resolve(state, postgres_fixture());
}

BENCHMARK(BM_ResolveSqlite)->Threads(1)->Threads(4)->UseRealTime();
BENCHMARK(BM_ResolvePostgres)->Threads(1)->Threads(4)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
