-- wrk script for `make bench`: DPoP requests, `Authorization: DPoP <token>` (BENCH_DPOP_TOKEN) and
-- a `DPoP` proof read from BENCH_TOKENS_FILE, one proof per line. A proof is good for one request,
-- so every request sends the next line (each wrk thread takes every n-th line) and "tokens wrapped"
-- is printed at the end if a thread ran out and started over (its replays then get 401s).

local proofs = {}
for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
  proofs[#proofs + 1] = line
end
local authorization = "DPoP " .. os.getenv("BENCH_DPOP_TOKEN")

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("id", thread_count)
  table.insert(threads, thread)
end

local step, index = 1, 0
wrapped = 0

function init(args)
  step = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
  index = id - step
end

function request()
  index = index + step
  if index > #proofs then
    index = id
    wrapped = 1
  end
  return wrk.format(nil, nil, { ["Authorization"] = authorization, ["DPoP"] = proofs[index] })
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    if thread:get("wrapped") == 1 then
      io.write("tokens wrapped\n")
      return
    end
  end
end
