-- Helpers shared by the t-*.lua miltertest scripts (loaded with dofile from
-- $MM_PROTOCOL_DIR, which tests/protocol/run.sh sets).  Every check raises a
-- Lua error, which makes miltertest exit non-zero.

-- miltertest (2.11) exits 1 on a script error but prints nothing about it:
-- say what failed on stdout first.
local raw_error = error
function error(msg, level)
  mt.echo("FAIL: " .. tostring(msg))
  raw_error(msg, (level or 1) + 1)
end

local names = {}
for _, n in ipairs({"SMFIR_CONTINUE", "SMFIR_ACCEPT", "SMFIR_REJECT", "SMFIR_TEMPFAIL",
                    "SMFIR_DISCARD", "SMFIR_REPLYCODE", "SMFIR_SKIP"}) do
  if _G[n] ~= nil then names[_G[n]] = n end
end

function reply_name(r)
  if r == nil then return "nil" end
  if names[r] then return names[r] end
  if type(r) == "number" and r > 0 and r < 256 then
    return string.format("'%s'", string.char(r))
  end
  return tostring(r)
end

function env(name)
  local v = os.getenv(name)
  if v == nil or v == "" then
    error("environment variable " .. name .. " not set: run through tests/protocol/run.sh")
  end
  return v
end

-- mt.* functions return nil on success or an error string.
function ok(rc, what)
  if rc ~= nil then error(what .. " failed: " .. tostring(rc), 2) end
end

function check(cond, what)
  if not cond then error("check failed: " .. what, 2) end
  mt.echo("ok: " .. what)
end

function expect_reply(conn, want, what)
  local got = mt.getreply(conn)
  if got ~= want then
    error(string.format("%s: milter replied %s, expected %s", what, reply_name(got),
                        reply_name(want)), 2)
  end
  mt.echo("ok: " .. what .. " -> " .. reply_name(got))
end

-- Connects, negotiates (miltertest's defaults: every action and protocol
-- step offered, as Postfix does) and sends the connection info of a client
-- at 127.0.0.1.
function open_connection()
  local conn = mt.connect(env("MM_SOCKET"), 40, 0.25)
  if conn == nil then error("mt.connect(" .. env("MM_SOCKET") .. ") failed") end
  ok(mt.negotiate(conn, nil, nil, nil), "mt.negotiate")
  ok(mt.conninfo(conn, "localhost", "127.0.0.1"), "mt.conninfo")
  expect_reply(conn, SMFIR_CONTINUE, "connect from 127.0.0.1")
  return conn
end

-- mail from + one rcpt, with Postfix's queue id macro {i} at RCPT.
function start_transaction(conn, sender, qid)
  ok(mt.mailfrom(conn, "<" .. sender .. ">"), "mt.mailfrom")
  expect_reply(conn, SMFIR_CONTINUE, "MAIL FROM:<" .. sender .. ">")
  ok(mt.macro(conn, SMFIC_RCPT, "i", qid or "4QTEST1"), "mt.macro")
end

function rcpt(conn, addr)
  ok(mt.rcptto(conn, "<" .. addr .. ">"), "mt.rcptto")
  return mt.getreply(conn)
end

-- The audit log's complete lines (JSON text, not parsed).
function audit_lines()
  local f = io.open(env("MM_AUDIT_LOG"), "r")
  local out = {}
  if f == nil then return out end
  for line in f:lines() do
    if line ~= "" then out[#out + 1] = line end
  end
  f:close()
  return out
end

-- Waits (up to 5 s) for an audit line after the first `since` ones that
-- contains every string in `needles` (plain matching); returns it.
function wait_audit(since, needles, what)
  for _ = 1, 100 do
    local lines = audit_lines()
    for i = since + 1, #lines do
      local all = true
      for _, s in ipairs(needles) do
        if not string.find(lines[i], s, 1, true) then all = false break end
      end
      if all then
        mt.echo("ok: audit line for " .. what)
        return lines[i]
      end
    end
    mt.sleep(0.05)
  end
  local lines = audit_lines()
  error("no audit line for " .. what .. " containing " .. table.concat(needles, " & ") ..
        "; last line: " .. tostring(lines[#lines]), 2)
end

-- A message from `from_hdr` to `to_hdr`, with the identity-leaking headers
-- and a forged audit header; then eoh, body and eom.
function send_message(conn, from_hdr, to_hdr, subject)
  local headers = {
    {"From", from_hdr}, {"To", to_hdr}, {"Reply-To", from_hdr},
    {"X-Originating-IP", "[192.0.2.7]"},
    {"X-Marketplace-Audit", "id=forged00forged0; decision=accept; rules=; policy=x; hmac=" ..
                            string.rep("0", 64)},
    {"Subject", subject},
  }
  for _, h in ipairs(headers) do
    ok(mt.header(conn, h[1], h[2]), "mt.header(" .. h[1] .. ")")
    -- the milter negotiates SMFIP_NR_HDR when offered: no reply per header,
    -- miltertest then records SMFIR_CONTINUE
    expect_reply(conn, SMFIR_CONTINUE, "header " .. h[1])
  end
  ok(mt.eoh(conn), "mt.eoh")
  expect_reply(conn, SMFIR_CONTINUE, "end of headers")
  ok(mt.bodystring(conn, "Hello,\r\n\r\nwhich colour would you like for the engraving?\r\n"),
     "mt.bodystring")
  expect_reply(conn, SMFIR_CONTINUE, "body")
  ok(mt.eom(conn), "mt.eom")
end
