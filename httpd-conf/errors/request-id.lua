-- request-id.lua: lighttpd (mod_magnet, at response start): an X-Request-Id on the responses lighttpd answers itself (its errors), as the API's programs put on theirs.
local r = lighty.r
if r.resp_header["X-Request-Id"] == nil then
  r.resp_header["X-Request-Id"] = string.format("%08x%08x%08x%08x",
    math.random(0, 0x7fffffff), math.random(0, 0x7fffffff),
    math.random(0, 0x7fffffff), math.random(0, 0x7fffffff))
end
return 0
