-- Bearer GET with a different access token per request, cycling through a file of tokens
-- (one per line): the verified-token cache cannot serve every request from one entry.
-- wrk ... -s tokens.lua URL -- TOKENS_FILE
local tokens = {}
local next_index = 1

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  -- Each wrk thread starts at a different place in the list.
  next_index = math.random(#tokens)
end

function request()
  local token = tokens[next_index]
  next_index = next_index % #tokens + 1
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. token })
end
