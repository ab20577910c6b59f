-- wrk script for `make bench`: sends `Authorization: Bearer <token>` read from a file.
-- BENCH_TOKENS_FILE holds one token per line. BENCH_TOKENS_MODE=repeat sends the first token on
-- every request; rotate sends a different token on every request (each wrk thread takes every
-- n-th line) and prints "tokens wrapped" at the end if any thread ran out and started over.

local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
  tokens[#tokens + 1] = line
end
local mode = os.getenv("BENCH_TOKENS_MODE") or "repeat"

wrk.headers["Authorization"] = "Bearer " .. tokens[1]

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("id", thread_count)
  table.insert(threads, thread)
end

if mode == "rotate" then
  local step, index = 1, 0
  wrapped = 0

  function init(args)
    step = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
    index = id - step
  end

  function request()
    index = index + step
    if index > #tokens then
      index = id
      wrapped = 1
    end
    return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tokens[index] })
  end
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    if thread:get("wrapped") == 1 then
      io.write("tokens wrapped\n")
      return
    end
  end
end
