// Node 18 (Debian's, on the shared libuv.so.1): files through fs.promises,
// a net echo server with several clients, a request/response chat on one
// connection, child_process spawn and exec
// with pipes, dns.lookup, a worker thread posting back, timers. Prints what
// each part got and a checksum over all of it.
'use strict';
const assert = require('assert');
const childProcess = require('child_process');
const crypto = require('crypto');
const dns = require('dns');
const fs = require('fs');
const net = require('net');
const path = require('path');
const { Worker } = require('worker_threads');

const results = [];
function note(key, value) {
  results.push(`${key}: ${value}`);
  console.log(`${key}: ${value}`);
}

function digest(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex').slice(0, 16);
}

function payload(seed, n) {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = (x >>> 16) & 0xff;
  }
  return out;
}

function reportRuntime() {
  const libs = new Set();
  for (const line of fs.readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = line.match(/\s(\/\S*\/libuv\.so\S*)$/);
    if (m) libs.add(m[1]);
  }
  const kinds = new Set();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      kinds.add(fs.readlinkSync('/proc/self/fd/' + fd));
    } catch (e) { /* the directory's own fd is gone by now */ }
  }
  console.log('libuv: ' + [...libs].sort().join(' '));
  console.log('ring: ' + (kinds.has('anon_inode:[io_uring]') ? 'yes' : 'no'));
  console.log('epoll: ' + (kinds.has('anon_inode:[eventpoll]') ? 'yes' : 'no'));
}

async function files(dir) {
  const file = path.join(dir, 'node-file');
  const data = payload(5, 400000);
  await fs.promises.writeFile(file, data);
  const back = await fs.promises.readFile(file);
  assert(back.equals(data), 'read back differs');
  const fh = await fs.promises.open(file, 'r');
  const part = Buffer.alloc(1000);
  const { bytesRead } = await fh.read(part, 0, 1000, 123456);
  await fh.close();
  assert.strictEqual(bytesRead, 1000);
  assert(part.equals(data.subarray(123456, 124456)), 'positional read');
  const st = await fs.promises.stat(file);
  assert.strictEqual(st.size, data.length);
  await fs.promises.unlink(file);
  await assert.rejects(fs.promises.stat(file), { code: 'ENOENT' });
  note('files', `${back.length} ${digest(back)}`);
}

function echoClient(port, seed) {
  return new Promise((resolve, reject) => {
    const data = payload(seed, 300000);
    const got = [];
    const sock = net.connect(port, '127.0.0.1', () => {
      for (let i = 0; i < data.length; i += 9001)
        sock.write(data.subarray(i, i + 9001));
      sock.end();
    });
    sock.on('data', (chunk) => got.push(chunk));
    sock.on('error', reject);
    sock.on('close', () => {
      const all = Buffer.concat(got);
      if (!all.equals(data))
        reject(new Error(`echo: ${all.length} of ${data.length} bytes`));
      else
        resolve(digest(all));
    });
  });
}

// Request/response on one connection (the server's stream converses, and
// on io_uring reads with an armed recv op): 400 rounds, each a pair of
// requests sent together; the server pauses its reading for a moment every
// 50 rounds (the second request of the pair may be in the process by then)
// and answers each request in order.
async function chat() {
  const server = net.createServer((sock) => {
    let buf = '';
    let n = 0;
    sock.setNoDelay(true); // two answers a round: no waiting for an ACK
    sock.setEncoding('utf8');
    sock.on('data', (text) => {
      buf += text;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        sock.write(`re ${line} ${++n}\n`);
        if (n % 100 === 1) {
          sock.pause();
          setTimeout(() => sock.resume(), 5);
        }
      }
    });
    sock.on('error', () => {});
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  const replies = await new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const got = [];
    let buf = '';
    let round = 0;
    const ask = () => sock.write(`a${round}\nb${round}\n`);
    sock.setNoDelay(true);
    sock.setEncoding('utf8');
    sock.on('connect', ask);
    sock.on('error', reject);
    sock.on('data', (text) => {
      buf += text;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        got.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (got.length % 2 === 0) {
          if (++round === 400) {
            sock.end();
            resolve(got);
            return;
          }
          ask();
        }
      }
    });
  });
  await new Promise((resolve) => server.close(resolve));
  const want = [];
  for (let r = 0; r < 400; r++)
    want.push(`re a${r} ${2 * r + 1}`, `re b${r} ${2 * r + 2}`);
  assert.deepStrictEqual(replies, want);
  note('chat', `${replies.length} ${digest(Buffer.from(replies.join('\n')))}`);
}

async function network() {
  const server = net.createServer((sock) => {
    sock.pipe(sock);
    sock.on('error', () => {});
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  const sums = await Promise.all([1, 2, 3].map((s) => echoClient(port, s)));
  await new Promise((resolve) => server.close(resolve));
  note('net', sums.join(' '));
}

function spawnPipes() {
  return new Promise((resolve, reject) => {
    const input = payload(9, 100000).toString('hex');
    const child = childProcess.spawn(
      'sh', ['-c', 'tr a-f A-F; echo to-stderr >&2; exit 3'],
      { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [], err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const o = Buffer.concat(out).toString(), e = Buffer.concat(err).toString();
      try {
        assert.strictEqual(o, input.toUpperCase());
        assert.strictEqual(e, 'to-stderr\n');
        assert.strictEqual(code, 3);
        assert.strictEqual(signal, null);
      } catch (x) {
        reject(x);
        return;
      }
      resolve(`${o.length} status ${code}`);
    });
    child.stdin.end(input);
  });
}

function execPipes() {
  return new Promise((resolve, reject) => {
    childProcess.exec('echo hello; echo world >&2; exit 0',
      (error, stdout, stderr) => {
        if (error) return reject(error);
        resolve(`${JSON.stringify(stdout)} ${JSON.stringify(stderr)}`);
      });
  });
}

async function children() {
  note('spawn', await spawnPipes());
  note('exec', await execPipes());
}

async function lookup() {
  const { address, family } = await dns.promises.lookup('localhost',
                                                        { family: 4 });
  note('dns', `${address} ${family}`);
}

function worker() {
  return new Promise((resolve, reject) => {
    const w = new Worker(`
      const { parentPort, workerData } = require('worker_threads');
      let sum = 0;
      for (let i = 1; i <= workerData; i++) sum += i * i;
      parentPort.postMessage({ sum });
    `, { eval: true, workerData: 1000 });
    let msg = null;
    w.on('message', (m) => { msg = m; });
    w.on('error', reject);
    w.on('exit', (code) => {
      if (code !== 0 || msg === null)
        reject(new Error(`worker exit ${code}, message ${JSON.stringify(msg)}`));
      else
        resolve(`sum ${msg.sum} exit ${code}`);
    });
  });
}

function timers() {
  return new Promise((resolve) => {
    const order = [];
    setTimeout(() => order.push('c'), 60);
    setTimeout(() => order.push('a'), 20);
    setTimeout(() => order.push('b'), 40);
    setTimeout(() => resolve(order.join('')), 80);
  });
}

async function main() {
  console.log(`node: ${process.version} uv ${process.versions.uv}`);
  reportRuntime();
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR || '/tmp', 'n-'));
  await Promise.all([
    files(dir), network(), chat(), children(), lookup(),
    worker().then((r) => note('worker', r)),
    timers().then((r) => note('timers', r)),
  ]);
  fs.rmdirSync(dir);
}

process.on('exit', (code) => {
  if (code === 0)
    console.log('checksum: ' + digest(results.sort().join('\n')));
});
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
