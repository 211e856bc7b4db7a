-- RCPT-time refusals: unknown alias 550 5.1.1, a sender that is not the
-- pair's other party 550 5.7.1, an alias of a second pair in one transaction
-- 452 4.5.3.
--
-- miltertest exposes only the reply command (mt.getreply: SMFIR_REPLYCODE,
-- i.e. smfi_setreply was used); the text of a reply given before EOM is read
-- and dropped (mt.eom_check(MT_SMTPREPLY) covers EOM replies only).  The code
-- and enhanced status are therefore checked in the audit line the milter
-- writes for every refusal, whose "reply" field is the reply it sent.
dofile(os.getenv("MM_PROTOCOL_DIR") .. "/common.lua")

local seller = env("MM_SELLER_ADDR")
local conn = open_connection()

-- 1. unknown alias
local before = #audit_lines()
start_transaction(conn, seller, "4QREF1")
rcpt(conn, env("MM_UNKNOWN_ALIAS"))
expect_reply(conn, SMFIR_REPLYCODE, "RCPT TO:<unknown alias>")
wait_audit(before, {'"decision":"reject"', '"reply":"550 5.1.1 '}, "unknown alias (550 5.1.1)")
ok(mt.abort(conn), "mt.abort")

-- 2. a stranger writes to the buyer's alias
before = #audit_lines()
start_transaction(conn, env("MM_STRANGER"), "4QREF2")
rcpt(conn, env("MM_BUYER_ALIAS"))
expect_reply(conn, SMFIR_REPLYCODE, "RCPT TO:<buyer alias> from a stranger")
local line = wait_audit(before, {'"decision":"reject"', '"reply":"550 5.7.1 '},
                        "stranger sender (550 5.7.1)")
check(not string.find(line, env("MM_STRANGER"), 1, true), "no sender address in the audit line")
ok(mt.abort(conn), "mt.abort")

-- 3. the owner writes to its own alias: not the counterpart either
before = #audit_lines()
start_transaction(conn, env("MM_BUYER_ADDR"), "4QREF3")
rcpt(conn, env("MM_BUYER_ALIAS"))
expect_reply(conn, SMFIR_REPLYCODE, "RCPT TO:<own alias>")
wait_audit(before, {'"decision":"reject"', '"reply":"550 5.7.1 '}, "owner to own alias (550 5.7.1)")
ok(mt.abort(conn), "mt.abort")

-- 4. two pairs in one transaction: the first alias is accepted, the second
--    one gets 452 4.5.3 (the client resends it separately)
before = #audit_lines()
start_transaction(conn, seller, "4QREF4")
rcpt(conn, env("MM_BUYER_ALIAS"))
expect_reply(conn, SMFIR_CONTINUE, "RCPT TO:<alias of pair 1>")
rcpt(conn, env("MM_BUYER2_ALIAS"))
expect_reply(conn, SMFIR_REPLYCODE, "RCPT TO:<alias of pair 2> in the same transaction")
wait_audit(before, {'"decision":"tempfail"', '"reply":"452 4.5.3 '}, "second pair (452 4.5.3)")
-- the transaction goes on with the first recipient only
send_message(conn, "Acme <" .. seller .. ">", "<" .. env("MM_BUYER_ALIAS") .. ">", "two pairs")
expect_reply(conn, SMFIR_CONTINUE, "end of message")
check(mt.eom_check(conn, MT_RCPTADD, "<" .. env("MM_BUYER_ADDR") .. ">"), "RCPTADD first buyer")
check(not mt.eom_check(conn, MT_RCPTADD, "<" .. env("MM_BUYER2_ADDR") .. ">"),
      "no RCPTADD for the refused second pair")

-- 5. a recipient outside the marketplace domain is left alone
before = #audit_lines()
start_transaction(conn, env("MM_STRANGER"), "4QREF5")
rcpt(conn, "friend@gmail.example")
expect_reply(conn, SMFIR_CONTINUE, "RCPT TO:<outside the marketplace>")
ok(mt.abort(conn), "mt.abort")

mt.disconnect(conn)
