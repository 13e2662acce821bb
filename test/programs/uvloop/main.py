# asyncio on uvloop: TCP and Unix-socket echo (several clients at once), a
# subprocess with pipes, a signal handler, call_later timers, loop.close().
# Prints what each part got and a CRC-32 over all of it.
import asyncio
import os
import signal
import sys
import tempfile
import zlib

import uvloop


def report_runtime():
    """Which libuv is mapped, and which kernel objects the loop uses."""
    libs = set()
    with open('/proc/self/maps') as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and '/libuv.so' in fields[5]:
                libs.add(fields[5])
    kinds = set()
    for fd in os.listdir('/proc/self/fd'):
        try:
            kinds.add(os.readlink('/proc/self/fd/' + fd))
        except OSError:
            pass
    print('libuv:', ' '.join(sorted(libs)))
    print('ring:', 'yes' if 'anon_inode:[io_uring]' in kinds else 'no')
    print('epoll:', 'yes' if 'anon_inode:[eventpoll]' in kinds else 'no')


def payload(seed, n):
    """n deterministic bytes."""
    out = bytearray(n)
    x = seed
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7fffffff
        out[i] = x >> 16 & 0xff
    return bytes(out)


async def echo(reader, writer):
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def client(open_conn, seed):
    reader, writer = await open_conn()
    data = payload(seed, 200000)
    chunks = [data[i:i + 7001] for i in range(0, len(data), 7001)]
    got = bytearray()

    async def send():
        for c in chunks:
            writer.write(c)
            await writer.drain()
        writer.write_eof()

    sender = asyncio.ensure_future(send())
    while True:
        part = await reader.read(65536)
        if not part:
            break
        got += part
    await sender
    writer.close()
    await writer.wait_closed()
    assert bytes(got) == data, 'echo mismatch (%d of %d bytes)' % (
        len(got), len(data))
    return zlib.crc32(got)


async def main(tmp):
    loop = asyncio.get_running_loop()
    assert type(loop).__module__.startswith('uvloop'), type(loop)
    report_runtime()
    crc = 0

    # TCP: four clients at once against one server.
    server = await asyncio.start_server(echo, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    sums = await asyncio.gather(*[
        client(lambda: asyncio.open_connection('127.0.0.1', port), s)
        for s in range(1, 5)])
    server.close()
    await server.wait_closed()
    print('tcp:', ' '.join('%08x' % s for s in sums))
    crc = zlib.crc32(repr(sums).encode(), crc)

    # Unix socket: the same over a path.
    path = os.path.join(tmp, 'echo.sock')
    server = await asyncio.start_unix_server(echo, path)
    sums = await asyncio.gather(*[
        client(lambda: asyncio.open_unix_connection(path), s)
        for s in range(11, 14)])
    server.close()
    await server.wait_closed()
    print('unix:', ' '.join('%08x' % s for s in sums))
    crc = zlib.crc32(repr(sums).encode(), crc)

    # A subprocess with three pipes.
    text = payload(99, 100000).hex().encode()
    proc = await asyncio.create_subprocess_exec(
        'sh', '-c', 'tr a-f A-F; echo to-stderr >&2; exit 3',
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate(text)
    assert out == text.upper(), 'subprocess stdout: %d bytes' % len(out)
    assert err == b'to-stderr\n', err
    assert proc.returncode == 3, proc.returncode
    print('subprocess: %d bytes, status %d' % (len(out), proc.returncode))
    crc = zlib.crc32(out + err + bytes([proc.returncode]), crc)

    # A signal to ourselves, twice.
    got = asyncio.Queue()
    loop.add_signal_handler(signal.SIGUSR1, lambda: got.put_nowait('usr1'))
    for _ in range(2):
        os.kill(os.getpid(), signal.SIGUSR1)
        sig = await asyncio.wait_for(got.get(), 10)
    loop.remove_signal_handler(signal.SIGUSR1)
    print('signal:', sig)
    crc = zlib.crc32(sig.encode(), crc)

    # Timers fire in the order of their deadlines, not of their creation.
    order = []
    done = loop.create_future()
    for delay, name in ((0.06, 'c'), (0.02, 'a'), (0.04, 'b')):
        loop.call_later(delay, order.append, name)
    loop.call_later(0.08, done.set_result, None)
    await done
    print('timers:', ''.join(order))
    crc = zlib.crc32(''.join(order).encode(), crc)
    return crc


def run():
    with tempfile.TemporaryDirectory() as tmp:
        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        crc = loop.run_until_complete(main(tmp))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        print('closed:', loop.is_closed())
        print('checksum: %08x' % crc)


if __name__ == '__main__':
    run()
