-- post.lua: wrk script that POSTs the JSON bodies given after "--", one per request, in turn, with wrk's -H headers.
local bodies = {}
local headers = {}
local n = 0

function init(args)
   for i, b in ipairs(args) do
      bodies[i] = b
   end
   for k, v in pairs(wrk.headers) do
      headers[k] = v
   end
   headers["Content-Type"] = "application/json"
end

function request()
   n = n + 1
   return wrk.format("POST", nil, headers, bodies[(n % #bodies) + 1])
end
