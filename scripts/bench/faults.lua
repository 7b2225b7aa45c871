-- faults.lua: wrk script of scripts/bench-faults.sh: counts the responses that are not 2xx, and when the first and the last came (wall clock, ms), across threads.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } timeval_t;
int gettimeofday(timeval_t *tv, void *tz);
]]
local tv = ffi.new("timeval_t")
local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + math.floor(tonumber(tv.tv_usec) / 1000)
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  token = args[1]
  bad, total, first_bad, last_bad, s503, retry_after = 0, 0, 0, 0, 0, 0
  wrk.headers["Authorization"] = "Bearer " .. token
end

function response(status, headers, body)
  total = total + 1
  if status < 200 or status > 299 then
    local t = now_ms()
    bad = bad + 1
    if first_bad == 0 then first_bad = t end
    last_bad = t
    if status == 503 then
      s503 = s503 + 1
      if headers["Retry-After"] ~= nil or headers["retry-after"] ~= nil then retry_after = retry_after + 1 end
    end
  end
end

function done(summary, latency, requests)
  local b, t, f, l, s, r = 0, 0, 0, 0, 0, 0
  for _, th in ipairs(threads) do
    b = b + th:get("bad")
    t = t + th:get("total")
    s = s + th:get("s503")
    r = r + th:get("retry_after")
    local tf, tl = th:get("first_bad"), th:get("last_bad")
    if tf > 0 and (f == 0 or tf < f) then f = tf end
    if tl > l then l = tl end
  end
  -- Connection errors are failed requests too (wrk does not call response()).
  local e = summary.errors
  local errs = e.connect + e.read + e.write + e.timeout
  io.write(string.format("FAULTS total=%d bad=%d errors=%d s503=%d retry_after=%d first_bad=%d last_bad=%d\n",
    t + errs, b, errs, s, r, f, l))
end
