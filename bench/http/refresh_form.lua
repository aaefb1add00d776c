-- Refresh-token rotation against POST /oauth2/token (form-encoded, RFC 6749 §6).
-- Every refresh token is single-use: each wrk thread keeps a queue of live tokens; a request pops
-- one, a 200 response pushes the rotated one back. Needs >= connections/threads tokens per thread.
-- wrk -t T ... -s refresh_form.lua http://127.0.0.1:PORT/oauth2/token -- <tokens_file> <T>
local nthreads_seen = 0
function setup(thread)
  thread:set("tid", nthreads_seen)
  nthreads_seen = nthreads_seen + 1
end

function init(args)
  local nthreads = tonumber(args[2] or "1")
  queue = {}
  local i = 0
  for line in io.lines(args[1]) do
    if line ~= "" then
      if i % nthreads == tid then queue[#queue + 1] = line end
      i = i + 1
    end
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  local tok = table.remove(queue, 1) or "exhausted"
  return wrk.format("POST", nil, nil, "grant_type=refresh_token&refresh_token=" .. tok)
end

function response(status, headers, body)
  if status == 200 then
    local rt = body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if rt then queue[#queue + 1] = rt end
  end
end
