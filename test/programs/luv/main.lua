-- luv (Debian's lua-luv, linked to libuv.so.1) on Lua 5.1: timers, files
-- (write, read back, stat, unlink), a TCP echo, uv.backend_fd() asked for
-- while all of that is in flight, and uv.run() returning once it is done.
local uv = require('luv')
io.stdout:setvbuf('line')

local work = assert(os.getenv('BIO_PROG_WORK'), 'BIO_PROG_WORK unset')
local results = {}
local function note(k, v)
  results[#results + 1] = k .. ': ' .. tostring(v)
  print(k .. ': ' .. tostring(v))
end

-- Adler-32 (plain arithmetic: Lua 5.1 has no bit operators).
local function adler(s, a, b)
  a, b = a or 1, b or 0
  for i = 1, #s do
    a = (a + s:byte(i)) % 65521
    b = (b + a) % 65521
  end
  return a, b
end

local function payload(seed, n)
  local t, x = {}, seed
  for i = 1, n do
    x = (x * 69069 + 1) % 4294967296
    t[i] = string.char(math.floor(x / 65536) % 256)
  end
  return table.concat(t)
end

local function report_runtime()
  local libs = {}
  for line in io.lines('/proc/self/maps') do
    local path = line:match('%s(/%S*/libuv%.so%S*)$')
    if path then libs[path] = true end
  end
  local names = {}
  for p in pairs(libs) do names[#names + 1] = p end
  table.sort(names)
  print('libuv: ' .. table.concat(names, ' '))
  local ring, epoll = 'no', 'no'
  local dir = assert(uv.fs_scandir('/proc/self/fd'))
  while true do
    local name = uv.fs_scandir_next(dir)
    if not name then break end
    local target = uv.fs_readlink('/proc/self/fd/' .. name)
    if target == 'anon_inode:[io_uring]' then ring = 'yes' end
    if target == 'anon_inode:[eventpoll]' then epoll = 'yes' end
  end
  print('ring: ' .. ring)
  print('epoll: ' .. epoll)
end

-- Timers fire in deadline order.
local order = {}
for _, t in ipairs({{30, 'c'}, {10, 'a'}, {20, 'b'}}) do
  local timer = uv.new_timer()
  timer:start(t[1], 0, function()
    order[#order + 1] = t[2]
    timer:close()
    if #order == 3 then note('timers', table.concat(order)) end
  end)
end

-- Files: write, read back, stat, unlink, stat again (ENOENT).
local path = work .. '/luv-file'
local data = payload(7, 300000)
uv.fs_open(path, 'w', tonumber('644', 8), function(err, fd)
  assert(not err, err)
  uv.fs_write(fd, data, 0, function(err, n)
    assert(not err, err)
    assert(n == #data, 'short write ' .. tostring(n))
    uv.fs_close(fd, function(err)
      assert(not err, err)
      uv.fs_open(path, 'r', 0, function(err, fd)
        assert(not err, err)
        uv.fs_read(fd, #data + 10, 0, function(err, got)
          assert(not err, err)
          assert(got == data, 'read back ' .. #got .. ' bytes, differ')
          uv.fs_close(fd, function(err)
            assert(not err, err)
            uv.fs_stat(path, function(err, st)
              assert(not err, err)
              assert(st.size == #data, 'stat size ' .. st.size)
              uv.fs_unlink(path, function(err)
                assert(not err, err)
                uv.fs_stat(path, function(err)
                  assert(err and err:match('^ENOENT'), 'stat after unlink: '
                         .. tostring(err))
                  note('fs', #got .. ' ' .. string.format('%d %d',
                       adler(got)))
                end)
              end)
            end)
          end)
        end)
      end)
    end)
  end)
end)

-- TCP echo: the client sends in chunks, shuts down, and reads until EOF.
local server = uv.new_tcp()
assert(server:bind('127.0.0.1', 0))
assert(server:listen(16, function(err)
  assert(not err, err)
  local peer = uv.new_tcp()
  assert(server:accept(peer))
  peer:read_start(function(err, chunk)
    assert(not err, err)
    if chunk then
      peer:write(chunk)
    else
      peer:shutdown(function() peer:close() end)
    end
  end)
end))
local port = server:getsockname().port
local sent = payload(3, 250000)
local client = uv.new_tcp()
local received = {}
client:connect('127.0.0.1', port, function(err)
  assert(not err, err)
  client:read_start(function(err, chunk)
    assert(not err, err)
    if chunk then
      received[#received + 1] = chunk
    else
      local got = table.concat(received)
      assert(got == sent, 'echo: ' .. #got .. ' of ' .. #sent .. ' bytes')
      note('tcp', #got .. ' ' .. string.format('%d %d', adler(got)))
      client:close()
      server:close()
    end
  end)
  for i = 1, #sent, 8191 do
    client:write(sent:sub(i, i + 8190))
  end
  client:shutdown()
  -- Everything (timers, the file chain, the echo) is in flight now.
  local fd = uv.backend_fd()
  note('backend_fd', type(fd) == 'number' and fd >= 0 and 'ok' or tostring(fd))
end)

local check = uv.new_timer()
check:start(5, 0, function()
  report_runtime()
  check:close()
end)

uv.run()
note('run', 'returned')
-- Sorted: which part finishes first is up to the scheduler.
table.sort(results)
local a, b = adler(table.concat(results, '\n'))
print(string.format('checksum: %d %d', a, b))
