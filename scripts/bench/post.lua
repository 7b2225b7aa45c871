-- post.lua: wrk script that POSTs the JSON bodies given after "--", one per request, in turn.
local bodies = {}
local n = 0

function init(args)
   for i, b in ipairs(args) do
      bodies[i] = b
   end
end

function request()
   n = n + 1
   return wrk.format("POST", nil, { ["Content-Type"] = "application/json" },
      bodies[(n % #bodies) + 1])
end
