-- Per-message state is reset when a transaction is aborted (RSET, or the
-- client went on with a new MAIL): the next transaction on the same
-- connection is judged on its own.
dofile(os.getenv("MM_PROTOCOL_DIR") .. "/common.lua")

local seller = env("MM_SELLER_ADDR")
local conn = open_connection()

-- 1. pair 1 accepted at RCPT, then the transaction is aborted
start_transaction(conn, seller, "4QABT1")
rcpt(conn, env("MM_BUYER_ALIAS"))
expect_reply(conn, SMFIR_CONTINUE, "RCPT TO:<alias of pair 1>")
ok(mt.abort(conn), "mt.abort after RCPT")

-- 2. same connection, pair 2: had the pair of the aborted transaction been
--    kept, this would be refused as a second pair (452 4.5.3)
local before = #audit_lines()
start_transaction(conn, seller, "4QABT2")
rcpt(conn, env("MM_BUYER2_ALIAS"))
expect_reply(conn, SMFIR_CONTINUE, "RCPT TO:<alias of pair 2> after the abort")
send_message(conn, "Acme <" .. seller .. ">", "<" .. env("MM_BUYER2_ALIAS") .. ">", "after abort")
expect_reply(conn, SMFIR_CONTINUE, "end of message")
check(mt.eom_check(conn, MT_RCPTDELETE, "<" .. env("MM_BUYER2_ALIAS") .. ">"),
      "RCPTDELETE <alias of pair 2>")
check(mt.eom_check(conn, MT_RCPTADD, "<" .. env("MM_BUYER2_ADDR") .. ">"),
      "RCPTADD <buyer of pair 2>")
check(not mt.eom_check(conn, MT_RCPTADD, "<" .. env("MM_BUYER_ADDR") .. ">"),
      "no RCPTADD for the aborted transaction's buyer")
check(not mt.eom_check(conn, MT_RCPTDELETE, "<" .. env("MM_BUYER_ALIAS") .. ">"),
      "no RCPTDELETE for the aborted transaction's alias")
wait_audit(before, {'"decision":"modify"', '"recipient_party":"carol"'}, "the message after the abort")

-- 3. abort in the middle of the headers, then a message the other way round
--    (buyer -> seller alias): no header of the aborted message leaks in
start_transaction(conn, seller, "4QABT3")
rcpt(conn, env("MM_BUYER_ALIAS"))
expect_reply(conn, SMFIR_CONTINUE, "RCPT TO:<alias of pair 1>")
ok(mt.header(conn, "Reply-To", "leak@acme.example"), "mt.header")
ok(mt.abort(conn), "mt.abort after a header")

before = #audit_lines()
start_transaction(conn, env("MM_BUYER_ADDR"), "4QABT4")
rcpt(conn, env("MM_SELLER_ALIAS"))
expect_reply(conn, SMFIR_CONTINUE, "RCPT TO:<seller alias> from the buyer")
ok(mt.header(conn, "From", "Bob <" .. env("MM_BUYER_ADDR") .. ">"), "mt.header")
ok(mt.header(conn, "Subject", "only one From, no Reply-To"), "mt.header")
ok(mt.eoh(conn), "mt.eoh")
ok(mt.bodystring(conn, "Blue, please.\r\n"), "mt.bodystring")
ok(mt.eom(conn), "mt.eom")
expect_reply(conn, SMFIR_CONTINUE, "end of message")
check(mt.eom_check(conn, MT_RCPTADD, "<" .. env("MM_SELLER_ADDR") .. ">"), "RCPTADD <seller>")
check(not mt.eom_check(conn, MT_HDRDELETE, "Reply-To"),
      "no Reply-To removal: the aborted message's header was dropped")
check(mt.eom_check(conn, MT_HDRCHANGE, "From", env("MM_BUYER_NAME") .. " <" ..
                   env("MM_BUYER_ALIAS") .. ">"), "From: Bob Buyer <buyer alias>")
wait_audit(before, {'"decision":"modify"', '"sender_party":"bob"', '"recipient_party":"acme"'},
           "the buyer's message")

-- 4. a refused recipient, then a good transaction on the same connection
start_transaction(conn, env("MM_STRANGER"), "4QABT5")
rcpt(conn, env("MM_BUYER_ALIAS"))
expect_reply(conn, SMFIR_REPLYCODE, "RCPT TO:<buyer alias> from a stranger")
ok(mt.abort(conn), "mt.abort after a refusal")
start_transaction(conn, seller, "4QABT6")
rcpt(conn, env("MM_BUYER_ALIAS"))
expect_reply(conn, SMFIR_CONTINUE, "RCPT TO:<buyer alias> from the seller after a refusal")
send_message(conn, "Acme <" .. seller .. ">", "<" .. env("MM_BUYER_ALIAS") .. ">", "after refusal")
expect_reply(conn, SMFIR_CONTINUE, "end of message")
check(mt.eom_check(conn, MT_RCPTADD, "<" .. env("MM_BUYER_ADDR") .. ">"), "RCPTADD <buyer>")

mt.disconnect(conn)
