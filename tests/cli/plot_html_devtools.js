'use strict';
// Opens a loupe HTML heatmap in headless Chromium and checks it through the
// DevTools protocol, with a minimal WebSocket client on node's net module
// (node 20 has none built in). Usage:
//   node plot_html_devtools.js CHROMIUM PAGE.html LENS.json bottom-up|top-down [track:N]
// LENS.json is the same lens as `loupe lens --format json`: the reference for
// the number of cells and for what each tooltip must say. With track:N the
// page was drawn with --track and --metric rank --token track:N: the page
// must open on that token, and its tracked tokens are checked too.
const childProcess = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');

const [chromium, pagePath, lensPath, order, openedOn] = process.argv.slice(2);
const lens = JSON.parse(fs.readFileSync(lensPath, 'utf8'));
const pageUrl = 'file://' + path.resolve(pagePath);
let failures = 0;
function check(condition, message) {
  if (!condition) {
    failures++;
    console.error('FAIL: ' + message);
  }
}

// ---- a minimal WebSocket client (RFC 6455): text frames, masked as a client must
function connectWebSocket(url) {
  return new Promise((resolve, reject) => {
    const { hostname, port, pathname } = new URL(url);
    const socket = net.connect(Number(port), hostname);
    const key = crypto.randomBytes(16).toString('base64');
    let buffer = Buffer.alloc(0), upgraded = false, fragments = [];
    const listeners = [];
    socket.on('connect', () => {
      socket.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\n` +
                   `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    });
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!upgraded) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buffer.slice(0, end).toString();
        if (!/^HTTP\/1\.1 101/.test(head)) return reject(new Error('no WebSocket upgrade: ' + head));
        buffer = buffer.slice(end + 4);
        upgraded = true;
        resolve({ send, onMessage: (f) => listeners.push(f), close: () => socket.destroy() });
      }
      for (;;) {
        if (buffer.length < 2) return;
        const fin = (buffer[0] & 0x80) !== 0, opcode = buffer[0] & 0x0f;
        let length = buffer[1] & 0x7f, offset = 2;
        if (length === 126) {
          if (buffer.length < 4) return;
          length = buffer.readUInt16BE(2);
          offset = 4;
        } else if (length === 127) {
          if (buffer.length < 10) return;
          length = Number(buffer.readBigUInt64BE(2));
          offset = 10;
        }
        if (buffer.length < offset + length) return;
        const payload = buffer.slice(offset, offset + length);
        buffer = buffer.slice(offset + length);
        if (opcode === 0x8) { socket.destroy(); return; }
        if (opcode === 0x9 || opcode === 0xa) continue; // ping / pong
        fragments.push(payload);
        if (fin) {
          const message = Buffer.concat(fragments).toString('utf8');
          fragments = [];
          listeners.forEach((f) => f(message));
        }
      }
    });
    function send(text) {
      const payload = Buffer.from(text, 'utf8');
      const mask = crypto.randomBytes(4);
      let header;
      if (payload.length < 126) {
        header = Buffer.from([0x81, 0x80 | payload.length]);
      } else if (payload.length < 65536) {
        header = Buffer.alloc(4);
        header[0] = 0x81; header[1] = 0x80 | 126; header.writeUInt16BE(payload.length, 2);
      } else {
        header = Buffer.alloc(10);
        header[0] = 0x81; header[1] = 0x80 | 127; header.writeBigUInt64BE(BigInt(payload.length), 2);
      }
      const masked = Buffer.alloc(payload.length);
      for (let i = 0; i < payload.length; i++) masked[i] = payload[i] ^ mask[i % 4];
      socket.write(Buffer.concat([header, mask, masked]));
    }
  });
}

function getJson(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (response) => {
      let body = '';
      response.on('data', (d) => (body += d));
      response.on('end', () => { try { resolve(JSON.parse(body)); } catch (e) { reject(e); } });
    }).on('error', reject);
  });
}

// Kills chromium and its helper processes (the whole process group), then
// waits for the main process to be gone.
async function stopBrowser(browser) {
  const exited = browser.exitCode !== null || browser.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => browser.once('exit', resolve));
  try { process.kill(-browser.pid, 'SIGKILL'); } catch (e) { browser.kill('SIGKILL'); }
  await exited;
}

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'loupe-chromium-'));
  const browser = childProcess.spawn(chromium, [
    '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-default-apps',
    '--disable-extensions', '--user-data-dir=' + profile, '--remote-debugging-port=0',
    '--remote-debugging-address=127.0.0.1', 'about:blank',
  ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true }); // its own process group: see stopBrowser
  const timer = setTimeout(() => { console.error('FAIL: timed out'); browser.kill('SIGKILL'); process.exit(1); }, 60000);
  try {
    const port = await new Promise((resolve, reject) => {
      let text = '';
      browser.stderr.on('data', (d) => {
        text += d;
        const match = /DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//.exec(text);
        if (match) resolve(match[1]);
      });
      browser.on('exit', (code) => reject(new Error('chromium exited with ' + code + ': ' + text)));
    });
    const targets = await getJson(`http://127.0.0.1:${port}/json/list`);
    const page = targets.find((t) => t.type === 'page');
    const ws = await connectWebSocket(page.webSocketDebuggerUrl);
    let nextId = 1;
    const pending = new Map(), events = [];
    ws.onMessage((text) => {
      const message = JSON.parse(text);
      if (message.id && pending.has(message.id)) {
        pending.get(message.id)(message);
        pending.delete(message.id);
      } else if (message.method) {
        events.push(message);
      }
    });
    const call = (method, params = {}) => new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, (m) => (m.error ? reject(new Error(method + ': ' + JSON.stringify(m.error))) : resolve(m.result)));
      ws.send(JSON.stringify({ id, method, params }));
    });
    const evaluate = async (expression) => {
      const result = await call('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
      if (result.exceptionDetails) throw new Error('evaluate: ' + JSON.stringify(result.exceptionDetails));
      return result.result.value;
    };
    await call('Network.enable');
    await call('Runtime.enable');
    await call('Log.enable');
    await call('Page.enable');
    // a headless window never has the system focus: emulate it, as a user's
    // window would have it, so that focus events fire
    await call('Emulation.setFocusEmulationEnabled', { enabled: true });
    events.length = 0; // only what the page does from here on
    await call('Page.navigate', { url: pageUrl });
    for (let i = 0; i < 200 && !events.some((e) => e.method === 'Page.loadEventFired'); i++)
      await new Promise((r) => setTimeout(r, 50));
    check(events.some((e) => e.method === 'Page.loadEventFired'), 'the page never finished loading');

    const R = lens.layers.length, P = lens.tokens.length;
    // 1. one cell per layer x position, row names and input tokens in order
    const count = await evaluate("document.querySelectorAll('table.lens td.cell').length");
    check(count === R * P, `${count} cells, expected ${R} layers x ${P} positions`);
    const names = await evaluate("Array.from(document.querySelectorAll('th.layer')).map((th) => th.textContent)");
    const expectedNames = order === 'top-down' ? lens.layers.slice() : lens.layers.slice().reverse();
    check(JSON.stringify(names) === JSON.stringify(expectedNames), `row names ${names} != ${expectedNames}`);
    // every line of the grid has its own label: the input-token axis is not named like the input (embedding) row
    const labels = await evaluate("Array.from(document.querySelectorAll('table.lens tr')).map((tr) => tr.cells[0].textContent)");
    check(new Set(labels).size === labels.length, `two lines of the grid share a label: ${labels}`);
    check(labels[0] === 'next token' && labels[labels.length - 1] === 'input token',
          `the axes are labelled ${labels[0]} and ${labels[labels.length - 1]}, expected next token and input token`);

    // 2. focusing a cell shows its tooltip with the JSON's numbers
    const line = Math.min(1, R - 1), column = Math.min(2, P - 1);
    const row = order === 'top-down' ? line : R - 1 - line;
    const cell = lens.cells[row][column];
    const tip = await evaluate(`(() => {
      const td = document.querySelector('td.cell[data-line="${line}"][data-column="${column}"]');
      td.focus();
      const tip = document.getElementById('tip');
      return { display: getComputedStyle(tip).display, active: document.activeElement === td,
               rows: Array.from(tip.querySelectorAll('tr')).map((tr) => Array.from(tr.cells).map((c) => c.textContent)),
               head: tip.firstChild ? tip.firstChild.textContent : '' };
    })()`);
    check(tip.active, 'the cell did not take the focus');
    check(tip.display !== 'none', 'the tooltip is hidden after focusing a cell');
    const value = (label) => { const r = tip.rows.find((x) => x[0] === label); return r ? r[1] : undefined; };
    const close = (text, expected) => text !== undefined && Math.abs(parseFloat(text) - expected) <= 1e-3 * Math.max(1, Math.abs(expected));
    check(close(value('entropy (nats)'), cell.entropy), `tooltip entropy ${value('entropy (nats)')} != ${cell.entropy}`);
    check(close(value('KL(final || row)'), cell.kl_final), 'tooltip KL(final || row)');
    check(close(value('KL(row || final)'), cell.kl_final_rev), 'tooltip KL(row || final)');
    check(close(value('KL(input || row)'), cell.kl_first), 'tooltip KL(input || row)');
    check(close(value('KL(row || input)'), cell.kl_first_rev), 'tooltip KL(row || input)');
    const inputRank = value('input token rank');
    check(inputRank !== undefined && inputRank.startsWith(cell.input.rank + ' '), `input rank ${inputRank} != ${cell.input.rank}`);
    const targetRank = value('true next token rank');
    if (cell.target) check(targetRank !== undefined && targetRank.startsWith(cell.target.rank + ' '), `target rank ${targetRank} != ${cell.target.rank}`);
    const tops = tip.rows.filter((x) => /^top \d+: /.test(x[0]));
    check(tops.length === cell.top.length, `${tops.length} top tokens in the tooltip, expected ${cell.top.length}`);
    tops.forEach((x, k) => check(close(x[1], cell.top[k][1]), `top ${k + 1} prob ${x[1]} != ${cell.top[k][1]}`));
    check(tip.head.includes(lens.layers[row]) && tip.head.includes('position ' + (lens.positions[0] + column)),
          `tooltip heading '${tip.head}' does not name ${lens.layers[row]} and position ${lens.positions[0] + column}`);

    // 2b. the tracked tokens: the tooltip's ranks, the control the page opens on,
    // and each tracked token's values when the reader picks it
    const tracked = (lens.options && lens.options.track) || [];
    if (openedOn) {
      check(tracked.length >= 2, 'a tracked page test needs two tracked tokens');
      const n = Number(openedOn.split(':')[1]);
      const opened = await evaluate("document.getElementById('token').value");
      check(opened === openedOn, `the page opens following ${opened}, not ${openedOn}`);
      check(value('rank of the tracked token (1 = top)') === String(cell.tracked[n - 1].rank),
            `tooltip metric value ${value('rank of the tracked token (1 = top)')} != tracked rank ${cell.tracked[n - 1].rank}`);
      tracked.forEach((id, k) => {
        const r = tip.rows.find((x) => x[0].startsWith('track:' + (k + 1) + ' ') && x[0].endsWith(' rank'));
        check(r && r[1].startsWith(cell.tracked[k].rank + ' '), `tooltip track:${k + 1} rank ${r && r[1]} != ${cell.tracked[k].rank}`);
      });
      const options = await evaluate("Array.from(document.querySelectorAll('#token option')).map((o) => o.value)");
      check(JSON.stringify(options) === JSON.stringify(['final-top', 'target'].concat(tracked.map((id, k) => 'track:' + (k + 1)))),
            `the token control offers ${options}`);
      for (let k = 0; k < tracked.length; k++) {
        const picked = await evaluate(`(() => {
          const s = document.getElementById('metric'); s.value = 'prob'; s.dispatchEvent(new Event('change'));
          const t = document.getElementById('token'); t.value = 'track:${k + 1}'; t.dispatchEvent(new Event('change'));
          const td = document.querySelector('td.cell[data-line="${line}"][data-column="${column}"]');
          td.focus();
          const rows = Array.from(document.getElementById('tip').querySelectorAll('tr')).map((tr) => Array.from(tr.cells).map((c) => c.textContent));
          return { title: document.getElementById('title').textContent, rows,
                   colours: new Set(Array.from(document.querySelectorAll('td.cell')).map((td) => td.style.background)).size };
        })()`);
        const shown = picked.rows.find((x) => x[0] === 'probability of the tracked token');
        check(shown && Math.abs(parseFloat(shown[1]) - cell.tracked[k].prob) <= 0.005 + 1e-9,
              `track:${k + 1} probability in the tooltip ${shown && shown[1]} != ${cell.tracked[k].prob}`);
        check(picked.title.includes(`track:${k + 1} = `) && picked.title.includes(`(id ${tracked[k]})`),
              `title after picking track:${k + 1}: ${picked.title}`);
      }
      // back to where the rest of the test expects the page
      await evaluate(`(() => { const t = document.getElementById('token'); t.value = 'final-top'; t.dispatchEvent(new Event('change'));
        document.querySelector('td.cell[data-line="${line}"][data-column="${column}"]').focus(); })()`);
    }

    // 2c. a grid wider than the window scrolls in its own box, the row names staying in view
    const wide = await evaluate(`(() => {
      const grid = document.getElementById('grid');
      const overflows = grid.scrollWidth > grid.clientWidth;
      grid.scrollLeft = grid.scrollWidth;
      const name = document.querySelector('th.layer').getBoundingClientRect(), box = grid.getBoundingClientRect();
      const last = document.querySelector('td.cell[data-line="0"][data-column="${P - 1}"]');
      grid.scrollLeft = 0;
      last.focus();
      const shown = last.getBoundingClientRect();
      const tip = document.getElementById('tip').getBoundingClientRect();
      return { overflows, nameLeft: name.left - box.left, page: document.documentElement.scrollWidth,
               window: document.documentElement.clientWidth, lastRight: shown.right - box.right,
               scrolled: grid.scrollLeft, tipRight: tip.right };
    })()`);
    if (P > 40) check(wide.overflows, `a grid of ${P} positions fits the window: a test of scrolling needs more`);
    if (wide.overflows) {
      check(Math.abs(wide.nameLeft) <= 2, `the row names scrolled out of view (${wide.nameLeft}px from the grid's left)`);
      check(wide.page <= wide.window + 1, `the page itself scrolls sideways (${wide.page} > ${wide.window})`);
      check(wide.scrolled > 0 && wide.lastRight <= 1, 'focusing the last cell did not scroll it into view');
      check(wide.tipRight <= wide.window + 1, `the tooltip runs past the window (${wide.tipRight} > ${wide.window})`);
    }
    await evaluate(`document.querySelector('td.cell[data-line="${line}"][data-column="${column}"]').focus()`);

    // 3. the keyboard: ArrowRight moves the focus (and the tooltip) one column on
    if (P > column + 1) {
      await call('Input.dispatchKeyEvent', { type: 'keyDown', key: 'ArrowRight', code: 'ArrowRight', windowsVirtualKeyCode: 39 });
      await call('Input.dispatchKeyEvent', { type: 'keyUp', key: 'ArrowRight', code: 'ArrowRight', windowsVirtualKeyCode: 39 });
      const moved = await evaluate(`(() => ({ column: document.activeElement.dataset.column,
        head: document.getElementById('tip').firstChild.textContent }))()`);
      check(moved.column === String(column + 1), `ArrowRight left the focus on column ${moved.column}`);
      check(moved.head.includes('position ' + (lens.positions[0] + column + 1)), 'the tooltip did not follow the focus');
    }

    // 4. switching the metric in the page repaints and retitles it
    const switched = await evaluate(`(() => {
      const before = Array.from(document.querySelectorAll('td.cell')).map((td) => td.style.background).join();
      const s = document.getElementById('metric'); s.value = 'rank'; s.dispatchEvent(new Event('change'));
      const v = document.getElementById('vs'); v.value = 'first'; v.dispatchEvent(new Event('change'));
      const after = Array.from(document.querySelectorAll('td.cell')).map((td) => td.style.background).join();
      return { changed: before !== after, title: document.getElementById('title').textContent };
    })()`);
    check(switched.changed, 'switching to rank vs first changed no cell colour');
    check(switched.title.includes('rank of the input token'), `title after switching: ${switched.title}`);

    await new Promise((r) => setTimeout(r, 200));
    // 5. no console errors, no exceptions
    for (const e of events) {
      if (e.method === 'Runtime.exceptionThrown') check(false, 'exception: ' + JSON.stringify(e.params.exceptionDetails));
      if (e.method === 'Runtime.consoleAPICalled' && (e.params.type === 'error' || e.params.type === 'assert'))
        check(false, 'console error: ' + JSON.stringify(e.params.args));
      if (e.method === 'Log.entryAdded' && e.params.entry.level === 'error') check(false, 'log error: ' + e.params.entry.text);
    }
    // 6. no network: the only request is the page's own file
    const requests = events.filter((e) => e.method === 'Network.requestWillBeSent').map((e) => e.params.request.url);
    const foreign = requests.filter((url) => url !== pageUrl && !url.startsWith('data:'));
    check(foreign.length === 0, 'requests beyond the page: ' + foreign.join(', '));
    check(requests.includes(pageUrl), 'the DevTools network log did not see the page itself (is it watching?)');
    ws.close();
  } finally {
    clearTimeout(timer);
    await stopBrowser(browser);
    // Chromium's helper processes may still be flushing the profile for a moment.
    fs.rmSync(profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  }
  if (failures) process.exit(1);
  console.log(`${pagePath}: ok`);
}

main().catch((e) => { console.error('FAIL: ' + (e.stack || e)); process.exit(1); });
