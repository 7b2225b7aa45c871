-- paths.lua: wrk script that cycles through the request paths given after "--", one per request.
local paths = {}
local n = 0

function init(args)
   for i, p in ipairs(args) do
      paths[i] = p
   end
end

function request()
   n = n + 1
   return wrk.format(nil, paths[(n % #paths) + 1])
end
