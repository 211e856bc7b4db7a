// Message-ID mapping (policy/message_ids.h) and its use by evaluate(), against
// a real store of each backend (tests/support/store_backends.h).  A "delivery" here is what the
// milter does: plan, apply the edits to a copy, commit the record.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <set>

#include "alias/alias_directory.h"
#include "alias/sqlite_store.h"
#include "policy/authorize.h"
#include "policy/evaluate.h"
#include "policy/rewrite/message_ids.h"
#include "tests/support/fake_store.h"
#include "tests/support/store_backends.h"
#include "tests/support/test_support.h"

namespace mm::policy {
namespace {

constexpr const char* kDomain = "marketplace.example";

Edits header_edits(const std::vector<HeaderEdit>& headers) {
    Edits e;
    e.headers = headers;
    return e;
}

std::string strip(const std::string& bracketed) {
    EXPECT_GE(bracketed.size(), 2u);
    EXPECT_EQ(bracketed.front(), '<');
    EXPECT_EQ(bracketed.back(), '>');
    return bracketed.substr(1, bracketed.size() - 2);
}

// A store whose Message-ID calls can be made to fail as a locked database would.
class FlakyStore : public mm::testing::ForwardingStore {
public:
    using ForwardingStore::ForwardingStore;
    bool down = false;

    Result<void> record_message_id(const alias::MessageIdRecord& r) override {
        if (down) return unavailable();
        return ForwardingStore::record_message_id(r);
    }
    Result<std::optional<alias::MessageIdRecord>> find_message_id(const std::string& id) override {
        if (down) return unavailable();
        return ForwardingStore::find_message_id(id);
    }
    Result<std::optional<alias::MessageIdRecord>> find_by_original(
        std::int64_t pair, alias::Role role, const std::string& original) override {
        if (down) return unavailable();
        return ForwardingStore::find_by_original(pair, role, original);
    }
};

class MessageIdsTest : public ::testing::TestWithParam<const char*> {
protected:
    void SetUp() override {
        backend_ = mm::testing::make_backend(GetParam());
        if (!backend_) GTEST_SKIP() << "no PostgreSQL test server (MM_TEST_PG_DIR)";
        store_ = std::shared_ptr<alias::Store>(backend_->open(5000));
        ASSERT_NE(store_, nullptr);
        bob_ = {"bob", alias::Role::buyer, "bob@gmail.example", "Bob Buyer", {}, {}};
        acme_ = {"acme", alias::Role::seller, "support@acme.example", "Acme Store", {}, {}};
        carol_ = {"carol", alias::Role::buyer, "carol@mail.example", "Carol", {}, {}};
        for (const auto* p : {&bob_, &acme_, &carol_}) ASSERT_TRUE(store_->add_party(*p));
        auto p = store_->add_pair("bob", "acme");
        auto q = store_->add_pair("carol", "acme");
        ASSERT_TRUE(p && q);
        pair_ = *p;
        other_ = *q;
    }

    // The pair as the milter resolves it for mail to `owner`.
    alias::ResolvedAlias to_buyer(const alias::Pair& pair, const alias::Party& buyer) {
        return {pair, buyer, acme_};
    }
    alias::ResolvedAlias to_seller(const alias::Pair& pair, const alias::Party& buyer) {
        return {pair, acme_, buyer};
    }

    Message message(const std::string& message_id, const std::string& in_reply_to = "",
                    const std::string& references = "") {
        Message m;
        m.headers.push_back({"From", "someone@somewhere.example"});
        m.headers.push_back({"Subject", "Order 123-4567"});
        if (!message_id.empty()) m.headers.push_back({"Message-ID", message_id});
        if (!in_reply_to.empty()) m.headers.push_back({"In-Reply-To", in_reply_to});
        if (!references.empty()) m.headers.push_back({"References", references});
        m.body = "Hello\r\n";
        return m;
    }

    // Plans, applies the edits to a copy and commits: the message as delivered.
    Message deliver(const Message& in, const alias::ResolvedAlias& pair,
                    ThreadInfo* thread = nullptr) {
        auto plan = plan_message_ids(in, pair, kDomain, *store_);
        EXPECT_TRUE(plan) << plan.error().message;
        if (!plan) return in.clone();
        Message out = in.clone();
        Envelope env;
        apply_edits(header_edits(plan->edits), out, env);
        EXPECT_TRUE(commit_message_id(*store_, plan->record));
        if (thread) *thread = plan->thread;
        return out;
    }

    static std::string header(const Message& m, const std::string& name) {
        const std::string* v = m.find(name);
        return v ? *v : std::string();
    }

    std::unique_ptr<mm::testing::StoreBackend> backend_;
    std::shared_ptr<alias::Store> store_;  // after backend_: closed before its database goes
    alias::Party bob_, acme_, carol_;
    alias::Pair pair_, other_;
};

INSTANTIATE_TEST_SUITE_P(Backends, MessageIdsTest, ::testing::ValuesIn(mm::testing::kStoreBackends),
                         [](const auto& info) { return std::string(info.param); });

TEST(MessageIdTest, NewMessageIdIsRandomHexAtTheDomain) {
    const std::regex shape("<[0-9a-f]{24}@marketplace\\.example>");
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        std::string id = new_message_id("Marketplace.Example");
        ASSERT_TRUE(std::regex_match(id, shape)) << id;
        seen.insert(id);
    }
    EXPECT_EQ(seen.size(), 1000u);
}

TEST(MessageIdTest, ParsesFoldedAndMalformedIdLists) {
    EXPECT_EQ(parse_message_ids("<a@b.example>"), (std::vector<std::string>{"a@b.example"}));
    EXPECT_EQ(parse_message_ids("<a@b.example>\r\n\t<c@d.example>\r\n <e@f.example>"),
              (std::vector<std::string>{"a@b.example", "c@d.example", "e@f.example"}));
    EXPECT_EQ(parse_message_ids("<a@b> (comment) <c@d>"), (std::vector<std::string>{"a@b", "c@d"}));
    EXPECT_TRUE(parse_message_ids("").empty());
    EXPECT_TRUE(parse_message_ids("garbage without brackets").empty());
    // One malformed entry does not hide the ones after it (GMime's list
    // parser alone would stop there).
    EXPECT_EQ(parse_message_ids("<c@d> <a b@x> <> junk <e@f>"),
              (std::vector<std::string>{"c@d", "a b@x", "", "e@f"}));
}

TEST_P(MessageIdsTest, ReplyChainBothWaysThreadsOnEachSide) {
    // 1. Acme writes to Bob.
    Message s1 = deliver(message("<orig-s1@acme.example>"), to_buyer(pair_, bob_));
    const std::string m1 = header(s1, "Message-ID");
    ASSERT_TRUE(std::regex_match(m1, std::regex("<[0-9a-f]{24}@marketplace\\.example>"))) << m1;
    EXPECT_EQ(s1.count("In-Reply-To"), 0);
    EXPECT_EQ(s1.count("References"), 0);
    auto rec = store_->find_message_id(strip(m1));
    ASSERT_TRUE(rec && rec->has_value());
    EXPECT_EQ((*rec)->original_id, "orig-s1@acme.example");
    EXPECT_EQ((*rec)->pair_id, pair_.id);
    EXPECT_EQ((*rec)->sender_role, alias::Role::seller);

    // 2. Bob replies to what he received: Acme's client threads on its own id.
    ThreadInfo t;
    Message b1 = deliver(message("<orig-b1@gmail.example>", m1, m1), to_seller(pair_, bob_), &t);
    const std::string m2 = header(b1, "Message-ID");
    EXPECT_NE(m2, m1);
    EXPECT_NE(m2.find("@marketplace.example>"), std::string::npos);
    EXPECT_EQ(header(b1, "In-Reply-To"), "<orig-s1@acme.example>");
    EXPECT_EQ(header(b1, "References"), "<orig-s1@acme.example>");
    EXPECT_TRUE(t.is_reply);
    EXPECT_EQ(t.answers_marketplace_id, strip(m1));
    EXPECT_EQ(t.answers_original_id, "orig-s1@acme.example");
    EXPECT_EQ(t.answers_sender_role, alias::Role::seller);
    EXPECT_EQ(t.thread_marketplace_id, strip(m1));

    // 3. Acme answers that: its References hold its own original and m2.
    Message s2 = deliver(message("<orig-s2@acme.example>", m2, "<orig-s1@acme.example> " + m2),
                         to_buyer(pair_, bob_), &t);
    const std::string m3 = header(s2, "Message-ID");
    EXPECT_EQ(header(s2, "In-Reply-To"), "<orig-b1@gmail.example>");
    EXPECT_EQ(header(s2, "References"), m1 + " <orig-b1@gmail.example>");
    EXPECT_TRUE(t.is_reply);
    EXPECT_EQ(t.answers_marketplace_id, strip(m2));
    EXPECT_EQ(t.answers_sender_role, alias::Role::buyer);
    EXPECT_EQ(t.thread_marketplace_id, strip(m1));

    // 4. Bob answers again, his client's References as it built them.
    Message b2 = deliver(
        message("<orig-b2@gmail.example>", m3, m1 + "\r\n\t<orig-b1@gmail.example>\r\n\t" + m3),
        to_seller(pair_, bob_), &t);
    EXPECT_EQ(header(b2, "In-Reply-To"), "<orig-s2@acme.example>");
    EXPECT_EQ(header(b2, "References"), "<orig-s1@acme.example> " + m2 + " <orig-s2@acme.example>");
    EXPECT_EQ(t.answers_marketplace_id, strip(m3));
    EXPECT_EQ(t.answers_original_id, "orig-s2@acme.example");
    EXPECT_EQ(t.thread_marketplace_id, strip(m1));
}

TEST_P(MessageIdsTest, PlanDoesNotWriteAndCommitDoes) {
    auto plan =
        plan_message_ids(message("<x@acme.example>"), to_buyer(pair_, bob_), kDomain, *store_);
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->record.original_id, "x@acme.example");
    EXPECT_EQ(plan->record.sender_role, alias::Role::seller);
    EXPECT_EQ(plan->record.pair_id, pair_.id);
    auto before = store_->find_message_id(plan->record.marketplace_id);
    ASSERT_TRUE(before);
    EXPECT_FALSE(before->has_value());
    ASSERT_TRUE(commit_message_id(*store_, plan->record));
    auto after = store_->find_message_id(plan->record.marketplace_id);
    ASSERT_TRUE(after && after->has_value());
    EXPECT_GT((*after)->created, 0);
}

TEST_P(MessageIdsTest, ForeignIdsAreDropped) {
    Message s1 = deliver(message("<orig-s1@acme.example>"), to_buyer(pair_, bob_));
    const std::string m1 = header(s1, "Message-ID");
    ThreadInfo t;
    // Ids of other hosts (a mailing list, Bob's own earlier mail elsewhere) and
    // Acme's original id, which Bob can only have learnt outside the marketplace.
    Message b1 = deliver(message("<orig-b1@gmail.example>", "<list-123@lists.example>",
                                 "<list-123@lists.example> <orig-s1@acme.example> "
                                 "<old@gmail.example>"),
                         to_seller(pair_, bob_), &t);
    EXPECT_EQ(b1.count("In-Reply-To"), 0);
    EXPECT_EQ(b1.count("References"), 0);
    EXPECT_FALSE(t.is_reply);

    // Mixed: only the mappable one stays.
    b1 = deliver(message("<orig-b2@gmail.example>", "<x@elsewhere.example>",
                         "<x@elsewhere.example> " + m1 + " <y@elsewhere.example>"),
                 to_seller(pair_, bob_), &t);
    EXPECT_EQ(b1.count("In-Reply-To"), 0);
    EXPECT_EQ(header(b1, "References"), "<orig-s1@acme.example>");
    EXPECT_TRUE(t.is_reply);  // recognised through References
    EXPECT_EQ(t.answers_marketplace_id, strip(m1));
}

TEST_P(MessageIdsTest, AnotherPairsMarketplaceIdIsDropped) {
    // Acme writes to Carol; Bob quotes the id Carol got (or guesses one).
    Message to_carol = deliver(message("<orig-c@acme.example>"), to_buyer(other_, carol_));
    const std::string carol_id = header(to_carol, "Message-ID");
    ThreadInfo t;
    Message b1 = deliver(message("<orig-b1@gmail.example>", carol_id,
                                 carol_id + " <0123456789abcdef01234567@marketplace.example>"),
                         to_seller(pair_, bob_), &t);
    EXPECT_EQ(b1.count("In-Reply-To"), 0);
    EXPECT_EQ(b1.count("References"), 0);
    EXPECT_FALSE(t.is_reply);
    // Nothing of the other pair reaches Acme through Bob's message.
    for (const auto& h : b1.headers) EXPECT_EQ(h.value.find("orig-c"), std::string::npos);
}

TEST_P(MessageIdsTest, MarketplaceIdsMatchCaseInsensitively) {
    Message s1 = deliver(message("<orig-s1@acme.example>"), to_buyer(pair_, bob_));
    std::string upper = header(s1, "Message-ID");
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    ThreadInfo t;
    Message b1 = deliver(message("<orig-b1@gmail.example>", upper), to_seller(pair_, bob_), &t);
    EXPECT_EQ(header(b1, "In-Reply-To"), "<orig-s1@acme.example>");
    EXPECT_TRUE(t.is_reply);
}

TEST_P(MessageIdsTest, MissingMessageIdGetsOne) {
    Message in = message("");
    ASSERT_EQ(in.count("Message-ID"), 0);
    auto plan = plan_message_ids(in, to_buyer(pair_, bob_), kDomain, *store_);
    ASSERT_TRUE(plan);
    auto it = std::find_if(plan->edits.begin(), plan->edits.end(),
                           [](const HeaderEdit& e) { return e.name == "Message-ID"; });
    ASSERT_NE(it, plan->edits.end());
    EXPECT_EQ(it->op, HeaderEdit::Op::add);
    EXPECT_EQ(plan->record.original_id, "");

    Message s1 = deliver(in, to_buyer(pair_, bob_));
    const std::string m1 = header(s1, "Message-ID");
    ASSERT_NE(m1.find("@marketplace.example>"), std::string::npos);
    // A reply to it is still a reply, but there is no original id to show Acme.
    ThreadInfo t;
    Message b1 = deliver(message("<orig-b1@gmail.example>", m1, m1), to_seller(pair_, bob_), &t);
    EXPECT_EQ(b1.count("In-Reply-To"), 0);
    EXPECT_EQ(b1.count("References"), 0);
    EXPECT_TRUE(t.is_reply);
    EXPECT_EQ(t.answers_marketplace_id, strip(m1));
    EXPECT_EQ(t.answers_original_id, "");
}

TEST_P(MessageIdsTest, MalformedOriginalMessageIdIsReplacedAndNotKept) {
    // Not UTF-8: PostgreSQL's text refuses it, and no client can show it.
    for (const std::string bad : {"garbage with spaces", "<>", "<\"quoted local\"@acme.example>",
                                  "<bad\xff\xfe@acme.example>"}) {
        auto plan = plan_message_ids(message(bad), to_buyer(pair_, bob_), kDomain, *store_);
        ASSERT_TRUE(plan) << bad;
        EXPECT_EQ(plan->record.original_id, "") << bad;
        EXPECT_TRUE(commit_message_id(*store_, plan->record)) << bad;
    }
    // ... nor is it looked up when a reply names it.
    auto plan = plan_message_ids(message("<ok@acme.example>", "<bad\xff@gmail.example>"),
                                 to_buyer(pair_, bob_), kDomain, *store_);
    ASSERT_TRUE(plan) << plan.error().message;
}

TEST_P(MessageIdsTest, ExtraMessageIdAndReferenceFieldsAreRemoved) {
    Message s1 = deliver(message("<orig-s1@acme.example>"), to_buyer(pair_, bob_));
    const std::string m1 = header(s1, "Message-ID");
    Message in = message("<orig-b1@gmail.example>", m1, m1);
    in.headers.push_back({"Message-ID", "<second@gmail.example>"});
    in.headers.push_back({"In-Reply-To", "<x@elsewhere.example>"});
    in.headers.push_back({"References", "<y@elsewhere.example>"});
    Message b1 = deliver(in, to_seller(pair_, bob_));
    EXPECT_EQ(b1.count("Message-ID"), 1);
    EXPECT_EQ(b1.count("In-Reply-To"), 1);
    EXPECT_EQ(b1.count("References"), 1);
    EXPECT_NE(header(b1, "Message-ID").find("@marketplace.example>"), std::string::npos);
    EXPECT_EQ(header(b1, "In-Reply-To"), "<orig-s1@acme.example>");
    EXPECT_EQ(header(b1, "References"), "<orig-s1@acme.example>");
    for (const auto& h : b1.headers) EXPECT_EQ(h.value.find("gmail.example"), std::string::npos);
}

TEST_P(MessageIdsTest, ManyMalformedAndFoldedReferences) {
    // A long thread: 40 messages from Acme, then Bob's References lists them
    // all, with malformed entries between, folded over many lines.
    std::vector<std::string> delivered;
    for (int i = 0; i < 40; ++i) {
        Message s = deliver(message("<orig-s" + std::to_string(i) + "@acme.example>"),
                            to_buyer(pair_, bob_));
        delivered.push_back(header(s, "Message-ID"));
    }
    std::string refs;
    for (std::size_t i = 0; i < delivered.size(); ++i) {
        if (i % 5 == 0) refs += "<a b@broken> <> junk ";
        refs += delivered[i] + (i + 1 < delivered.size() ? "\r\n\t" : "");
    }
    ThreadInfo t;
    Message b1 = deliver(message("<orig-b1@gmail.example>", delivered.back(), refs),
                         to_seller(pair_, bob_), &t);
    const std::string out = header(b1, "References");
    EXPECT_LE(out.size(), 900u);
    EXPECT_EQ(out.find('\n'), std::string::npos);
    auto ids = parse_message_ids(out);
    ASSERT_GE(ids.size(), 3u);
    EXPECT_LT(ids.size(), 40u);                      // trimmed
    EXPECT_EQ(ids.front(), "orig-s0@acme.example");  // the root
    EXPECT_EQ(ids.back(), "orig-s39@acme.example");  // the parent
    EXPECT_EQ(ids[1], "orig-s" + std::to_string(40 - (ids.size() - 1)) + "@acme.example");
    for (const auto& id : ids) EXPECT_NE(id.find("@acme.example"), std::string::npos) << id;
    EXPECT_EQ(header(b1, "In-Reply-To"), "<orig-s39@acme.example>");
    EXPECT_EQ(t.answers_marketplace_id, strip(delivered.back()));
    EXPECT_EQ(t.thread_marketplace_id, strip(delivered.front()));
}

TEST_P(MessageIdsTest, UnchangedFieldsAreNotEdited) {
    // Acme following up on its own message: Bob saw m1, so References stays m1.
    Message s1 = deliver(message("<orig-s1@acme.example>"), to_buyer(pair_, bob_));
    const std::string m1 = header(s1, "Message-ID");
    auto plan = plan_message_ids(message("<orig-s2@acme.example>", "", "<orig-s1@acme.example>"),
                                 to_buyer(pair_, bob_), kDomain, *store_);
    ASSERT_TRUE(plan);
    Message out = message("<orig-s2@acme.example>", "", "<orig-s1@acme.example>");
    Envelope env;
    apply_edits(header_edits(plan->edits), out, env);
    EXPECT_EQ(header(out, "References"), m1);
    EXPECT_TRUE(plan->thread.is_reply);
    EXPECT_EQ(plan->thread.answers_sender_role, alias::Role::seller);

    auto same = plan_message_ids(message("<orig-s3@acme.example>", "", m1), to_buyer(pair_, bob_),
                                 kDomain, *store_);
    ASSERT_TRUE(same);
    EXPECT_TRUE(std::none_of(same->edits.begin(), same->edits.end(),
                             [](const HeaderEdit& e) { return e.name == "References"; }));
}

TEST_P(MessageIdsTest, StoreFailureFailsThePlanAndTheCommit) {
    Message s1 = deliver(message("<orig-s1@acme.example>"), to_buyer(pair_, bob_));
    FlakyStore flaky(store_);
    flaky.down = true;
    auto plan = plan_message_ids(message("<orig-b1@gmail.example>", header(s1, "Message-ID")),
                                 to_seller(pair_, bob_), kDomain, flaky);
    ASSERT_FALSE(plan);
    EXPECT_EQ(plan.error().code, Errc::unavailable);
    alias::MessageIdRecord r{"0123456789abcdef01234567@marketplace.example", "", pair_.id,
                             alias::Role::buyer, 0};
    auto committed = commit_message_id(flaky, r);
    ASSERT_FALSE(committed);
    EXPECT_EQ(committed.error().code, Errc::unavailable);
}

// --- evaluate() with a store ---------------------------------------------------------------

class EvaluateThreadTest : public MessageIdsTest {
protected:
    void SetUp() override {
        MessageIdsTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        directory_ = std::make_unique<alias::AliasDirectory>(store_, std::chrono::seconds(30));
    }

    Envelope envelope_for(const std::string& sender, const std::string& alias_local) {
        Envelope e;
        e.sender_raw = "<" + sender + ">";
        e.sender = sender;
        const std::string to = alias_local + "@" + kDomain;
        auto out = authorize_recipient(*directory_, kDomain, sender, "<" + to + ">", {});
        EXPECT_EQ(out.kind, RcptOutcome::Kind::accepted);
        e.recipients.push_back({"<" + to + ">", to, out.alias});
        return e;
    }

    std::shared_ptr<const AttachmentClassifier> classifier_ =
        AttachmentClassifier::create().value();
    std::unique_ptr<alias::AliasDirectory> directory_;
    Policy policy_ = default_policy();
};

INSTANTIATE_TEST_SUITE_P(Backends, EvaluateThreadTest,
                         ::testing::ValuesIn(mm::testing::kStoreBackends),
                         [](const auto& info) { return std::string(info.param); });

TEST_P(EvaluateThreadTest, EvaluateRewritesIdsAndReportsTheReply) {
    Message s1 = deliver(message("<orig-s1@acme.example>"), to_buyer(pair_, bob_));
    const std::string m1 = header(s1, "Message-ID");
    Message reply = message("<orig-b1@gmail.example>", m1, m1);
    reply.headers[0].value = "Bob <bob@gmail.example>";

    EvalContext ctx{policy_, kDomain, *classifier_, store_.get()};
    Verdict v = evaluate(envelope_for("bob@gmail.example", pair_.seller_alias), reply, ctx);
    ASSERT_EQ(v.decision, Decision::modify) << v.reply_text;
    ASSERT_TRUE(v.message_id_record);
    EXPECT_EQ(v.message_id_record->original_id, "orig-b1@gmail.example");
    EXPECT_EQ(v.message_id_record->sender_role, alias::Role::buyer);
    EXPECT_TRUE(v.thread.is_reply);
    auto hit = std::find_if(v.rules.begin(), v.rules.end(),
                            [](const RuleHit& r) { return r.id == "thread.reply"; });
    ASSERT_NE(hit, v.rules.end());
    EXPECT_EQ(hit->detail, "answers " + m1);
    for (const auto& r : v.rules) EXPECT_EQ(r.detail.find("orig-"), std::string::npos) << r.id;

    Message out = reply.clone();
    Envelope env;
    apply_edits(v.edits, out, env);
    EXPECT_EQ(header(out, "Message-ID"), "<" + v.message_id_record->marketplace_id + ">");
    EXPECT_EQ(header(out, "In-Reply-To"), "<orig-s1@acme.example>");
    EXPECT_EQ(header(out, "References"), "<orig-s1@acme.example>");
    EXPECT_EQ(out.count("Message-ID"), 1);

    // evaluate() never writes: the record waits for the milter's commit.
    auto stored = store_->find_message_id(v.message_id_record->marketplace_id);
    ASSERT_TRUE(stored);
    EXPECT_FALSE(stored->has_value());
}

TEST_P(EvaluateThreadTest, WithoutAStoreIdsAreLeftAlone) {
    EvalContext ctx{policy_, kDomain, *classifier_};
    Message m = message("<orig-s1@acme.example>");
    Verdict v = evaluate(envelope_for("support@acme.example", pair_.buyer_alias), m, ctx);
    EXPECT_FALSE(v.message_id_record);
    EXPECT_FALSE(v.thread.is_reply);
    EXPECT_TRUE(std::none_of(v.edits.headers.begin(), v.edits.headers.end(),
                             [](const HeaderEdit& e) { return e.name == "Message-ID"; }));
}

TEST_P(EvaluateThreadTest, StoreFailureTempfails) {
    FlakyStore flaky(store_);
    flaky.down = true;
    EvalContext ctx{policy_, kDomain, *classifier_, &flaky};
    Verdict v = evaluate(envelope_for("support@acme.example", pair_.buyer_alias),
                         message("<orig-s1@acme.example>", "<x@elsewhere.example>"), ctx);
    EXPECT_EQ(v.decision, Decision::tempfail);
    EXPECT_EQ(v.smtp_code, "451");
    EXPECT_EQ(v.enhanced_code, "4.3.0");
    EXPECT_TRUE(v.edits.empty());
    EXPECT_FALSE(v.message_id_record);
}

TEST_P(EvaluateThreadTest, NotMarketplaceMailIsUntouched) {
    EvalContext ctx{policy_, kDomain, *classifier_, store_.get()};
    Envelope e;
    e.sender_raw = "<someone@acme.example>";
    e.sender = "someone@acme.example";
    e.recipients.push_back({"<friend@gmail.example>", "friend@gmail.example", std::nullopt});
    Verdict v = evaluate(e, message("<x@acme.example>"), ctx);
    EXPECT_FALSE(v.message_id_record);
    EXPECT_TRUE(std::none_of(v.edits.headers.begin(), v.edits.headers.end(),
                             [](const HeaderEdit& e) { return e.name == "Message-ID"; }));
}

}  // namespace
}  // namespace mm::policy
