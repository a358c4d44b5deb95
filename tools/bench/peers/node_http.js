// The hello_http server on Node.js's `net` module (not `http`, which does more work): the
// same request handling and response bytes as eddy's samples/hello_http, with the parser of
// hello_parse.h written again in JavaScript. Each read's answers go out in one write.
// Usage: node node_http.js [--port N]
'use strict';
const net = require('net');

const MAX_HEADER_BYTES = 64 * 1024;
const OK = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nHello World\n');
const OK_CLOSE = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nHello World\n');
const OK_KEEP_ALIVE_10 = Buffer.from(
  'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: keep-alive\r\n\r\nHello World\n');
const BAD_REQUEST = Buffer.from('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
const NOT_IMPLEMENTED = Buffer.from('HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]*$/;
const DIGITS = /^[0-9]+$/;

function trim(s) { return s.replace(/^[ \t]+|[ \t]+$/g, ''); }
function containsToken(list, token) {
  return list.split(',').some((item) => trim(item).toLowerCase() === token);
}

// Parses one request at the front of buf (latin1 string): {kind, consumed, keepAlive, http10}.
function parse(buf) {
  const r = { kind: 'incomplete', consumed: 0, keepAlive: true, http10: false };
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) {
    if (buf.length > MAX_HEADER_BYTES) r.kind = 'bad';
    const sp = buf.indexOf(' ');
    if (!TOKEN.test(sp < 0 ? buf : buf.slice(0, sp))) r.kind = 'bad';
    return r;
  }
  if (end + 4 > MAX_HEADER_BYTES) { r.kind = 'bad'; return r; }
  const lines = buf.slice(0, end).split('\r\n');
  const line = lines[0];
  const sp1 = line.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
  if (sp1 <= 0 || sp2 < 0 || sp2 === sp1 + 1) { r.kind = 'bad'; return r; }
  const method = line.slice(0, sp1);
  const version = line.slice(sp2 + 1);
  if (!TOKEN.test(method) || (version !== 'HTTP/1.1' && version !== 'HTTP/1.0')) { r.kind = 'bad'; return r; }
  const http10 = version === 'HTTP/1.0';
  r.http10 = http10;
  r.keepAlive = !http10;
  let body = 0;
  let haveLength = false;
  for (let i = 1; i < lines.length; ++i) {
    const h = lines[i];
    const colon = h.indexOf(':');
    if (colon <= 0 || !TOKEN.test(h.slice(0, colon))) { r.kind = 'bad'; return r; }
    const name = h.slice(0, colon).toLowerCase();
    const value = trim(h.slice(colon + 1));
    if (name === 'content-length') {
      if (value.length === 0 || value.length > 12 || haveLength || !DIGITS.test(value)) { r.kind = 'bad'; return r; }
      haveLength = true;
      body = Number(value);
    } else if (name === 'transfer-encoding') {
      r.kind = 'not_implemented';
      return r;
    } else if (name === 'connection') {
      if (containsToken(value, 'close')) r.keepAlive = false;
      if (http10 && containsToken(value, 'keep-alive')) r.keepAlive = true;
    }
  }
  if (buf.length < end + 4 + body) return r;
  r.kind = 'request';
  r.consumed = end + 4 + body;
  return r;
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  let input = '';
  socket.on('data', (chunk) => {
    input += chunk.toString('latin1');
    const out = [];
    let offset = 0;
    let closeAfter = false;
    for (;;) {
      const r = parse(offset === 0 ? input : input.slice(offset));
      if (r.kind === 'incomplete') break;
      if (r.kind !== 'request') {
        out.push(r.kind === 'bad' ? BAD_REQUEST : NOT_IMPLEMENTED);
        closeAfter = true;
        break;
      }
      offset += r.consumed;
      if (!r.keepAlive) { out.push(OK_CLOSE); closeAfter = true; break; }
      out.push(r.http10 ? OK_KEEP_ALIVE_10 : OK);
    }
    input = input.slice(offset);
    if (out.length === 0) return;
    socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
    if (closeAfter) { socket.pause(); socket.end(); }
  });
  socket.on('error', () => socket.destroy());
});

const args = process.argv.slice(2);
const at = args.indexOf('--port');
const port = at >= 0 ? Number(args[at + 1]) : 8080;
server.listen(port, '127.0.0.1', 1024, () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
