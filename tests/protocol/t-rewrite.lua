-- The seller writes to the buyer's alias: accepted at RCPT, rewritten at EOM.
dofile(os.getenv("MM_PROTOCOL_DIR") .. "/common.lua")

local buyer_alias = env("MM_BUYER_ALIAS")
local seller_alias = env("MM_SELLER_ALIAS")
local seller = env("MM_SELLER_ADDR")
local buyer = env("MM_BUYER_ADDR")

local conn = open_connection()
start_transaction(conn, seller)
rcpt(conn, buyer_alias)
expect_reply(conn, SMFIR_CONTINUE, "RCPT TO:<buyer alias>")

local before = #audit_lines()
send_message(conn, "Acme Support <" .. seller .. ">", "<" .. buyer_alias .. ">",
             "About your order 123-4567")
expect_reply(conn, SMFIR_CONTINUE, "end of message")

-- recipients: the alias out, the buyer's real address in
check(mt.eom_check(conn, MT_RCPTDELETE, "<" .. buyer_alias .. ">"),
      "RCPTDELETE <buyer alias>")
check(mt.eom_check(conn, MT_RCPTADD, "<" .. buyer .. ">"), "RCPTADD <buyer real address>")
check(not mt.eom_check(conn, MT_RCPTADD, "<" .. seller .. ">"), "no RCPTADD of the seller")

-- From: becomes "Display Name" <seller alias>
check(mt.eom_check(conn, MT_HDRCHANGE, "From"), "HDRCHANGE From")
local name = env("MM_SELLER_NAME")
-- GMime quotes the display name only when it needs quoting (specials)
check(mt.eom_check(conn, MT_HDRCHANGE, "From", name .. " <" .. seller_alias .. ">") or
      mt.eom_check(conn, MT_HDRCHANGE, "From", '"' .. name .. '" <' .. seller_alias .. ">"),
      "From: " .. name .. " <seller alias>")

-- identity leaks and the forged audit header removed
check(mt.eom_check(conn, MT_HDRDELETE, "Reply-To"), "HDRDELETE Reply-To")
check(mt.eom_check(conn, MT_HDRDELETE, "X-Originating-IP"), "HDRDELETE X-Originating-IP")
check(mt.eom_check(conn, MT_HDRDELETE, "X-Marketplace-Audit"), "HDRDELETE forged X-Marketplace-Audit")
check(not mt.eom_check(conn, MT_HDRDELETE, "Subject"), "Subject not deleted")
check(not mt.eom_check(conn, MT_HDRCHANGE, "Subject"), "Subject not changed")

-- the milter's own audit header, at the top
check(mt.eom_check(conn, MT_HDRINSERT, "X-Marketplace-Audit"), "HDRINSERT X-Marketplace-Audit")
local line = wait_audit(before, {'"decision":"modify"', '"sender_party":"acme"',
                                 '"recipient_party":"bob"'}, "the rewritten message")
local audit_id = string.match(line, '"audit_id":"(%x+)"')
check(audit_id ~= nil, "audit line has an audit_id")
local hdr = mt.getheader(conn, "X-Marketplace-Audit", 0)
mt.echo("X-Marketplace-Audit: " .. tostring(hdr))
check(hdr ~= nil and string.find(hdr, "id=" .. audit_id .. "; decision=modify; rules=", 1, true) == 1,
      "X-Marketplace-Audit carries the audit line's id and decision")
check(string.find(hdr, "; policy=" .. env("MM_POLICY_VERSION") .. "; hmac=", 1, true) ~= nil and
      string.match(hdr, "; hmac=(%x+)$") ~= nil and #string.match(hdr, "; hmac=(%x+)$") == 64,
      "X-Marketplace-Audit names the policy version and ends with a 64-hex HMAC")
check(mt.eom_check(conn, MT_HDRINSERT, "X-Marketplace-Audit", hdr, 0),
      "X-Marketplace-Audit inserted at index 0")
check(not string.find(line, seller, 1, true) and not string.find(line, buyer, 1, true),
      "no real address in the audit line")
check(string.find(line, '"policy":"' .. env("MM_POLICY_VERSION") .. '"', 1, true) ~= nil,
      "audit line names the policy version")

-- The envelope sender change (smfi_chgfrom, SMFIR_CHGFROM) is recorded by
-- miltertest but mt.eom_check has no operation for it (miltertest 1.6 /
-- OpenDKIM 2.11: MT_HDRADD..MT_SMTPREPLY only), so it cannot be asserted
-- here; tests/integration/test_core.py checks the delivered envelope sender.
check(not mt.eom_check(conn, MT_SMTPREPLY, "550"), "no SMTP reply set at EOM")
check(not mt.eom_check(conn, MT_QUARANTINE), "not quarantined")

mt.disconnect(conn)
